//! How long a key the wrapping key unwrapped is, found without extracting it (DESIGN 6): an
//! AES_256 CMK must not quietly become AES-128, and the temporary key of RSA_AES_KEY_WRAP
//! must be AES-128 or AES-256, as in the soft backend.
//!
//! Every such key is sensitive and never extractable (`template`), so its length can be
//! neither read nor measured by wrapping it out. What tells it instead, in this order:
//!
//! 1. CKA_VALUE_LEN, when the token sets it on unwrapped keys. SoftHSM2 2.6.1 leaves it at
//!    0, and refuses it in a C_UnwrapKey template (CKR_ATTRIBUTE_READ_ONLY), so the token
//!    cannot be asked to check it either.
//! 2. Otherwise, what the token lets the key do. The same wrapped bytes are unwrapped once
//!    more, as a generic secret under the same policy (sensitive, never extractable, a
//!    session object destroyed at once), which signs one byte with CKM_SHA256_HMAC and, if
//!    that is refused, CKM_SHA_1_HMAC. A token that enforces 32- and 20-byte minimum keys
//!    for them (SoftHSM2 answers CKR_KEY_SIZE_RANGE below) so tells 32 bytes from 20 to 31
//!    from fewer. That the key is 16, 24 or 32 bytes at all is checked by using it: a CMK
//!    encrypts one block with CKM_AES_GCM (SoftHSM2 refuses every other length there,
//!    though its CKM_AES_ECB takes a 25-byte key), and a temporary key shows it in the
//!    AES-KWP unwrap. Whether the token enforces those minimums is checked on first need
//!    (and remembered once it does) with throwaway generic secrets one byte short of them
//!    and of them exactly: what C_GetMechanismInfo advertises is not relied on (its units
//!    differ between tokens). A PIN holder may make such HMAC copies too: an HMAC key
//!    signs, and reveals nothing of itself.
//!
//! A token that gives neither cannot have material imported: KMS.9002 saying so, rather
//! than an unchecked length.

use std::sync::OnceLock;

use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use kms_core::{KmsError, NONCE_LEN, Result};

use crate::errors::session_lost;
use crate::template::Template;

/// Whether the token enforces the minimum key sizes of HMAC that tell key lengths apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HmacFloors {
    /// CKM_SHA256_HMAC refuses keys under 32 bytes.
    sha256: bool,
    /// CKM_SHA_1_HMAC refuses keys under 20 bytes.
    sha1: bool,
}

impl HmacFloors {
    /// Whether both floors tell lengths apart.
    fn enforced(self) -> bool {
        self.sha256 && self.sha1
    }

    /// Tries each floor with throwaway keys.
    fn probe(session: &Session) -> core::result::Result<Self, Error> {
        Ok(Self {
            sha256: enforced(session, &Mechanism::Sha256Hmac, 32)?,
            sha1: enforced(session, &Mechanism::Sha1Hmac, 20)?,
        })
    }
}

/// Whether `mechanism` refuses a generic secret of `floor - 1` bytes as too short and
/// takes one of `floor` bytes.
fn enforced(
    session: &Session,
    mechanism: &Mechanism<'_>,
    floor: u64,
) -> core::result::Result<bool, Error> {
    let signs_with = |len: u64| -> core::result::Result<Option<bool>, Error> {
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Token(false),
            Attribute::ValueLen(len.into()),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
        ];
        let key = match session.generate_key(&Mechanism::GenericSecretKeyGen, &template) {
            Ok(key) => key,
            Err(error) if session_lost(&error) => return Err(error),
            Err(_) => return Ok(None),
        };
        let signed = signs(session, mechanism, key);
        session.destroy_object(key)?;
        match signed {
            Ok(signed) => Ok(Some(signed)),
            Err(error) if session_lost(&error) => Err(error),
            Err(_) => Ok(None),
        }
    };
    Ok(signs_with(floor - 1)? == Some(false) && signs_with(floor)? == Some(true))
}

/// Whether `key` signs one byte with `mechanism`: false when the token refuses the key as
/// too short (CKR_KEY_SIZE_RANGE).
fn signs(
    session: &Session,
    mechanism: &Mechanism<'_>,
    key: ObjectHandle,
) -> core::result::Result<bool, Error> {
    match session.sign(mechanism, key, &[0]) {
        Ok(_) => Ok(true),
        Err(Error::Pkcs11(RvError::KeySizeRange, _)) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Measures unwrapped keys on one session of the token named `token`.
pub(crate) struct Meter<'a> {
    pub(crate) session: &'a Session,
    pub(crate) token: &'a str,
    /// The token's HMAC floors, probed on first need and then kept.
    pub(crate) floors: &'a OnceLock<HmacFloors>,
}

impl Meter<'_> {
    /// The token's HMAC floors. Only a token found to enforce both is remembered as such:
    /// one probe that fails for another reason (a busy token) must not refuse every later
    /// import.
    fn floors(&self) -> core::result::Result<HmacFloors, Error> {
        if let Some(floors) = self.floors.get() {
            return Ok(*floors);
        }
        let floors = HmacFloors::probe(self.session)?;
        if floors.enforced() {
            let _ = self.floors.set(floors);
        }
        Ok(floors)
    }

    /// The length of `key`, which the token takes as an AES key: 16, 24 or 32 bytes, as
    /// CKA_VALUE_LEN says or else as the HMAC floors tell of a generic-secret copy that
    /// `copy` unwraps from the same wrapped bytes into the template it is given. The outer
    /// error is the session's; the inner one [`KmsError::UnwrapFailed`] when the copy does
    /// not unwrap, or [`KmsError::BackendUnsupported`] when the token gives no way to tell.
    pub(crate) fn aes_key_len(
        &self,
        key: ObjectHandle,
        copy: impl FnOnce(&[Attribute]) -> core::result::Result<ObjectHandle, Error>,
    ) -> core::result::Result<Result<usize>, Error> {
        let reported = self
            .session
            .get_attributes(key, &[AttributeType::ValueLen])?
            .into_iter()
            .find_map(|attribute| match attribute {
                Attribute::ValueLen(len) => Some(usize::from(len)),
                _ => None,
            })
            .unwrap_or(0);
        if reported > 0 {
            return Ok(Ok(reported));
        }
        if !self.floors()?.enforced() {
            return Ok(Err(KmsError::BackendUnsupported(format!(
                "import on {}: the token reports no CKA_VALUE_LEN for unwrapped keys and does \
                 not enforce 32- and 20-byte minimum keys for CKM_SHA256_HMAC and \
                 CKM_SHA_1_HMAC, so the length of the material cannot be checked without \
                 extracting it",
                self.token
            ))));
        }
        let template = generic_copy_template();
        let copy = match copy(template.attributes()) {
            Ok(copy) => copy,
            Err(error) if session_lost(&error) => return Err(error),
            Err(_) => return Ok(Err(KmsError::UnwrapFailed)),
        };
        let len = self.floor_len(copy);
        self.session.destroy_object(copy)?;
        Ok(Ok(len?))
    }

    /// 32, 24 or 16, as the HMAC floors tell of the generic secret `copy`.
    fn floor_len(&self, copy: ObjectHandle) -> core::result::Result<usize, Error> {
        Ok(if signs(self.session, &Mechanism::Sha256Hmac, copy)? {
            32
        } else if signs(self.session, &Mechanism::Sha1Hmac, copy)? {
            24
        } else {
            16
        })
    }

    /// Whether the AES key `key` encrypts one block with CKM_AES_GCM: only a 16-, 24- or
    /// 32-byte one does.
    pub(crate) fn gcm_accepts(&self, key: ObjectHandle) -> core::result::Result<bool, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        self.session.generate_random_slice(&mut nonce)?;
        let params = GcmParams::new(&mut nonce, b"kms import length check", 128u64.into())?;
        match self
            .session
            .encrypt(&Mechanism::AesGcm(params), key, &[0; 16])
        {
            Ok(_) => Ok(true),
            Err(error) if session_lost(&error) => Err(error),
            Err(_) => Ok(false),
        }
    }
}

/// The generic secret a key's bytes are unwrapped into once more to be measured: it can
/// only sign (HMAC), under the unwrapped-key policy.
fn generic_copy_template() -> Template {
    Template::new(vec![
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sign(true),
        Attribute::Verify(false),
        Attribute::Encrypt(false),
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
    ])
    .under_unwrap_policy()
}
