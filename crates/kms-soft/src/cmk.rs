//! A loaded soft CMK: the AEAD of its spec with the key schedule expanded once, wiped on drop.

use core::fmt;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, AesGcm, Nonce, Tag};
use kms_core::{CmkHandle, CmkSpec, KmsError, NONCE_LEN, Result, SecretBytes, TAG_LEN};
use sm4::Sm4;

/// SM4-GCM (RFC 8998): GCM over the SM4 block cipher with a 96-bit nonce.
pub type Sm4Gcm = AesGcm<Sm4, U12>;

/// A soft CMK ready for use.
#[allow(
    clippy::large_enum_variant,
    reason = "always boxed as a `dyn CmkHandle`; the expanded AES schedule is the point"
)]
pub enum SoftCmk {
    /// An AES_256 CMK.
    Aes256(Aes256Gcm),
    /// An SM4 CMK.
    Sm4(Sm4Gcm),
}

impl SoftCmk {
    /// Expands `material` for `spec`.
    ///
    /// # Errors
    /// [`KmsError::Backend`] when the material has the wrong length for the spec.
    pub fn new(spec: CmkSpec, material: &SecretBytes) -> Result<Self> {
        let key = material.expose_secret();
        let cmk = match spec {
            CmkSpec::Aes256 => Aes256Gcm::new_from_slice(key).map(Self::Aes256),
            CmkSpec::Sm4 => Sm4Gcm::new_from_slice(key).map(Self::Sm4),
        };
        cmk.map_err(|_| {
            KmsError::Backend(format!("{} material of the wrong length", spec.as_str()))
        })
    }
}

impl fmt::Debug for SoftCmk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Aes256(_) => "SoftCmk(AES_256, [REDACTED])",
            Self::Sm4(_) => "SoftCmk(SM4, [REDACTED])",
        })
    }
}

impl CmkHandle for SoftCmk {
    fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        associated_data: &[u8],
        buffer: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let nonce = Nonce::from(*nonce);
        let tag = match self {
            Self::Aes256(cipher) => {
                cipher.encrypt_inout_detached(&nonce, associated_data, buffer.into())
            }
            Self::Sm4(cipher) => {
                cipher.encrypt_inout_detached(&nonce, associated_data, buffer.into())
            }
        };
        tag.map(Into::into)
            .map_err(|_| KmsError::Backend("AEAD seal: message too long".into()))
    }

    fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        associated_data: &[u8],
        buffer: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        let nonce = Nonce::from(*nonce);
        let tag = Tag::from(*tag);
        let opened = match self {
            Self::Aes256(cipher) => {
                cipher.decrypt_inout_detached(&nonce, associated_data, buffer.into(), &tag)
            }
            Self::Sm4(cipher) => {
                cipher.decrypt_inout_detached(&nonce, associated_data, buffer.into(), &tag)
            }
        };
        opened.map_err(|_| KmsError::InvalidCipherText)
    }
}
