//! The soft backend's root key and the key blobs sealed under it: the software counterpart
//! of an HSM's key blobs. A stolen key store without the root key reveals no key.
//!
//! Blob: `0x01 ‖ nonce (12) ‖ AES-256-GCM(secret) ‖ tag (16)`, with a label as associated
//! data that names what the secret is: `"kms-soft-cmk-v1" ‖ key_id ‖ spec` for a CMK, so a
//! blob cannot be moved to another key or spec, and `"kms-soft-wrapping-v1" ‖ spec` for the
//! PKCS#8 private key of a wrapping key.

use core::fmt;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use kms_core::{
    CmkSpec, KeyBlob, KeyId, KmsError, NONCE_LEN, Result, SecretBytes, TAG_LEN, WrappingKeySpec,
};

use crate::rng;

/// Length of the root key in bytes.
pub const ROOT_KEY_LEN: usize = 32;
const BLOB_VERSION: u8 = 0x01;

/// The label of CMK `id` of `spec`.
pub(crate) fn cmk_label(id: &KeyId, spec: CmkSpec) -> Vec<u8> {
    [
        b"kms-soft-cmk-v1".as_slice(),
        id.as_bytes(),
        spec.as_str().as_bytes(),
    ]
    .concat()
}

/// The label of a wrapping private key of `spec`.
pub(crate) fn wrapping_label(spec: WrappingKeySpec) -> Vec<u8> {
    [b"kms-soft-wrapping-v1".as_slice(), spec.as_str().as_bytes()].concat()
}

/// The key that seals every soft CMK. Keep it outside the key store (a file readable only
/// by the service, a secrets manager); production deployments keep CMKs in an HSM instead.
pub struct RootKey(Aes256Gcm);

impl RootKey {
    /// A root key from 32 bytes.
    ///
    /// # Errors
    /// [`KmsError::InvalidParameter`] unless `bytes` is 32 bytes long.
    pub fn from_bytes(bytes: &SecretBytes) -> Result<Self> {
        Aes256Gcm::new_from_slice(bytes.expose_secret())
            .map(Self)
            .map_err(|_| {
                KmsError::InvalidParameter(format!("the root key must be {ROOT_KEY_LEN} bytes"))
            })
    }

    /// A fresh random root key (for tests and throwaway engines; persist it to keep keys).
    ///
    /// # Errors
    /// [`KmsError::Backend`] when the OS random source fails.
    pub fn generate() -> Result<Self> {
        let mut bytes = SecretBytes::zeroed(ROOT_KEY_LEN);
        getrandom::fill(bytes.expose_secret_mut())
            .map_err(|error| KmsError::Backend(format!("OS random source: {error}")))?;
        Self::from_bytes(&bytes)
    }

    /// Seals `secret` under the root key, bound to `label`.
    pub(crate) fn seal(&self, label: &[u8], secret: &SecretBytes) -> Result<KeyBlob> {
        let mut nonce = [0u8; NONCE_LEN];
        rng::fill(&mut nonce)?;
        let mut blob = Vec::with_capacity(1 + NONCE_LEN + secret.len() + TAG_LEN);
        blob.push(BLOB_VERSION);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(secret.expose_secret());
        let body = blob.get_mut(1 + NONCE_LEN..).unwrap_or_default();
        let tag = self
            .0
            .encrypt_inout_detached(&Nonce::from(nonce), label, body.into())
            .map_err(|_| KmsError::Backend("sealing a key under the root key".into()))?;
        blob.extend_from_slice(&tag);
        Ok(KeyBlob::new(blob))
    }

    /// Opens a blob made by [`seal`](Self::seal) with the same label; `what` names the key
    /// in the error.
    pub(crate) fn open(&self, label: &[u8], blob: &KeyBlob, what: &str) -> Result<SecretBytes> {
        let damaged = || {
            KmsError::Backend(format!(
                "the blob of {what} does not open under this root key"
            ))
        };
        let bytes = blob.as_bytes();
        if bytes.len() < 1 + NONCE_LEN + TAG_LEN || bytes.first() != Some(&BLOB_VERSION) {
            return Err(damaged());
        }
        let (nonce, rest) = bytes.get(1..).unwrap_or_default().split_at(NONCE_LEN);
        let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
        let mut secret = SecretBytes::new(body.to_vec());
        let nonce = Nonce::try_from(nonce).map_err(|_| damaged())?;
        let tag = Tag::try_from(tag).map_err(|_| damaged())?;
        self.0
            .decrypt_inout_detached(&nonce, label, secret.expose_secret_mut().into(), &tag)
            .map_err(|_| damaged())?;
        Ok(secret)
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey([REDACTED])")
    }
}
