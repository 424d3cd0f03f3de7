//! The soft backend's root key and the CMK blobs sealed under it: the software counterpart
//! of an HSM's key blob. A stolen key store without the root key reveals no CMK.
//!
//! CMK blob: `0x01 ‖ nonce (12) ‖ AES-256-GCM(material) ‖ tag (16)`, with associated data
//! `"kms-soft-cmk-v1" ‖ key_id ‖ spec`, so a blob cannot be moved to another key or spec.

use core::fmt;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use kms_core::{CmkSpec, KeyBlob, KeyId, KmsError, NONCE_LEN, Result, SecretBytes, TAG_LEN};

use crate::rng;

/// Length of the root key in bytes.
pub const ROOT_KEY_LEN: usize = 32;
const BLOB_VERSION: u8 = 0x01;
const DOMAIN: &[u8] = b"kms-soft-cmk-v1";

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

    /// Seals CMK material for key `id` of `spec`.
    pub(crate) fn seal(
        &self,
        id: &KeyId,
        spec: CmkSpec,
        material: &SecretBytes,
    ) -> Result<KeyBlob> {
        let mut nonce = [0u8; NONCE_LEN];
        rng::fill(&mut nonce)?;
        let mut blob = Vec::with_capacity(1 + NONCE_LEN + material.len() + TAG_LEN);
        blob.push(BLOB_VERSION);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(material.expose_secret());
        let body = blob.get_mut(1 + NONCE_LEN..).unwrap_or_default();
        let tag = self
            .0
            .encrypt_inout_detached(&Nonce::from(nonce), &associated_data(id, spec), body.into())
            .map_err(|_| KmsError::Backend("sealing a CMK under the root key".into()))?;
        blob.extend_from_slice(&tag);
        Ok(KeyBlob::new(blob))
    }

    /// Opens a CMK blob made by [`seal`](Self::seal) for the same key and spec.
    pub(crate) fn open(&self, id: &KeyId, spec: CmkSpec, blob: &KeyBlob) -> Result<SecretBytes> {
        let damaged = || {
            KmsError::Backend(format!(
                "the CMK blob of key {id} does not open under this root key"
            ))
        };
        let bytes = blob.as_bytes();
        if bytes.len() != 1 + NONCE_LEN + spec.material_len() + TAG_LEN
            || bytes.first() != Some(&BLOB_VERSION)
        {
            return Err(damaged());
        }
        let (nonce, rest) = bytes.get(1..).unwrap_or_default().split_at(NONCE_LEN);
        let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
        let mut material = SecretBytes::new(body.to_vec());
        let nonce = Nonce::try_from(nonce).map_err(|_| damaged())?;
        let tag = Tag::try_from(tag).map_err(|_| damaged())?;
        self.0
            .decrypt_inout_detached(
                &nonce,
                &associated_data(id, spec),
                material.expose_secret_mut().into(),
                &tag,
            )
            .map_err(|_| damaged())?;
        Ok(material)
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey([REDACTED])")
    }
}

fn associated_data(id: &KeyId, spec: CmkSpec) -> Vec<u8> {
    [DOMAIN, id.as_bytes(), spec.as_str().as_bytes()].concat()
}
