//! Vendor-defined mechanisms for the Chinese algorithms. PKCS#11 2.40 and 3.0 define no SM4,
//! SM3 or SM2 mechanisms, so each HSM vendor numbers them (and their key types) itself, at
//! or above 0x80000000 (CKM_VENDOR_DEFINED, CKK_VENDOR_DEFINED). [`VendorMechanisms`] says
//! which numbers a token uses; the backend offers SM4 CMKs and SM2 data key pairs only when
//! the map names them and the token lists them.
//!
//! What the backend expects of them: SM4 key generation makes a 16-byte secret key of the
//! SM4 key type; SM4-GCM takes the standard CK_GCM_PARAMS (96-bit IV, the AAD, a 128-bit
//! tag) as CKM_AES_GCM does; SM2 key pair generation takes CKA_EC_PARAMS = the DER of the
//! SM2 curve OID (1.2.156.10197.1.301) and leaves the private scalar readable as CKA_VALUE
//! of an extractable, non-sensitive session key. SM3 needs no token mechanism here: DEK
//! digests are computed on the host.

use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::KeyType;
use kms_core::{KmsError, Result};
use serde::Deserialize;

/// SM4 CMKs: the vendor's SM4 key type, SM4 key generation, and SM4-GCM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sm4Mechanisms {
    /// The SM4 key type (CKA_KEY_TYPE).
    pub key_type: u64,
    /// SM4 key generation.
    pub key_gen: u64,
    /// SM4 in GCM mode, taking CK_GCM_PARAMS.
    pub gcm: u64,
}

/// SM2 data key pairs: the vendor's SM2 key type and SM2 key pair generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sm2Mechanisms {
    /// The SM2 key type (CKA_KEY_TYPE).
    pub key_type: u64,
    /// SM2 key pair generation.
    pub key_pair_gen: u64,
}

/// A token's vendor-defined numbers for SM4 and SM2; none by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorMechanisms {
    /// SM4 CMKs, if the token has them.
    pub sm4: Option<Sm4Mechanisms>,
    /// SM2 data key pairs, if the token has them.
    pub sm2: Option<Sm2Mechanisms>,
}

/// The SM4 numbers as cryptoki types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sm4 {
    pub(crate) key_type: KeyType,
    pub(crate) key_gen: MechanismType,
    pub(crate) gcm: MechanismType,
}

/// The SM2 numbers as cryptoki types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sm2 {
    pub(crate) key_type: KeyType,
    pub(crate) key_pair_gen: MechanismType,
}

/// A checked [`VendorMechanisms`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Vendor {
    pub(crate) sm4: Option<Sm4>,
    pub(crate) sm2: Option<Sm2>,
}

impl Vendor {
    /// Every mechanism the map names.
    pub(crate) fn mechanisms(&self) -> impl Iterator<Item = MechanismType> {
        let sm4 = self.sm4.map(|sm4| [sm4.key_gen, sm4.gcm]);
        let sm2 = self.sm2.map(|sm2| sm2.key_pair_gen);
        sm4.into_iter().flatten().chain(sm2)
    }
}

impl VendorMechanisms {
    /// Checks every number is a vendor-defined one.
    ///
    /// # Errors
    /// [`KmsError::InvalidParameter`] naming the entry below 0x80000000.
    pub(crate) fn check(&self) -> Result<Vendor> {
        let sm4 = self
            .sm4
            .map(|sm4| -> Result<Sm4> {
                Ok(Sm4 {
                    key_type: key_type("sm4.key_type", sm4.key_type)?,
                    key_gen: mechanism("sm4.key_gen", sm4.key_gen)?,
                    gcm: mechanism("sm4.gcm", sm4.gcm)?,
                })
            })
            .transpose()?;
        let sm2 = self
            .sm2
            .map(|sm2| -> Result<Sm2> {
                Ok(Sm2 {
                    key_type: key_type("sm2.key_type", sm2.key_type)?,
                    key_pair_gen: mechanism("sm2.key_pair_gen", sm2.key_pair_gen)?,
                })
            })
            .transpose()?;
        Ok(Vendor { sm4, sm2 })
    }
}

fn not_vendor_defined(entry: &str, value: u64) -> KmsError {
    KmsError::InvalidParameter(format!(
        "vendor mechanism map: {entry} = {value:#x} is not a vendor-defined number (0x80000000 or above)"
    ))
}

fn mechanism(entry: &str, value: u64) -> Result<MechanismType> {
    MechanismType::new_vendor_defined(value).map_err(|_| not_vendor_defined(entry, value))
}

fn key_type(entry: &str, value: u64) -> Result<KeyType> {
    KeyType::new_vendor_defined(value).map_err(|_| not_vendor_defined(entry, value))
}

/// The GCM mechanism of a CMK: CKM_AES_GCM, or a vendor's SM4-GCM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gcm {
    Aes,
    Vendor(MechanismType),
}

impl Gcm {
    /// Calls `use_mechanism` with this GCM mechanism carrying `params`.
    pub(crate) fn with<T>(
        self,
        params: GcmParams<'_>,
        use_mechanism: impl FnOnce(&Mechanism<'_>) -> T,
    ) -> T {
        match self {
            Self::Aes => use_mechanism(&Mechanism::AesGcm(params)),
            Self::Vendor(mechanism) => use_mechanism(&Mechanism::VendorDefined(
                VendorDefinedMechanism::new(mechanism, Some(&params)),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_below_the_vendor_range_are_refused_by_name() {
        let map = VendorMechanisms {
            sm4: Some(Sm4Mechanisms {
                key_type: 0x8000_0001,
                key_gen: 0x8000_0002,
                gcm: 0x1087,
            }),
            sm2: None,
        };
        let err = map.check().unwrap_err();
        assert_eq!(err.code(), "KMS.0308");
        assert!(err.to_string().contains("sm4.gcm = 0x1087"), "{err}");
        let map = VendorMechanisms {
            sm4: None,
            sm2: Some(Sm2Mechanisms {
                key_type: 3,
                key_pair_gen: 0x8000_0003,
            }),
        };
        assert!(
            map.check()
                .unwrap_err()
                .to_string()
                .contains("sm2.key_type")
        );
        assert_eq!(
            VendorMechanisms::default().check().unwrap(),
            Vendor::default()
        );
    }
}
