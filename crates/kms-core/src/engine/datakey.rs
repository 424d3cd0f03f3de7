//! DEK envelope operations: the hot path.

use super::Kms;
use super::key_cache::HotKey;
use crate::backend::NONCE_LEN;
use crate::ciphertext::seal_blob_with_context;
use crate::codec::{encode_hex, encode_hex_secret};
use crate::dek_digest::{dek_digest, verify_dek_digest};
use crate::error::{KmsError, Result};
use crate::models::{
    CreateDatakeyRequest, CreateDatakeyResponse, CreateDatakeyWithoutPlaintextResponse,
    DecryptDatakeyRequest, DecryptDatakeyResponse, EncryptDatakeyRequest, EncryptDatakeyResponse,
};
use crate::secret::SecretBytes;
use crate::tenant::Tenant;

impl Kms {
    /// `create-datakey`: a random DEK, returned in plaintext and sealed under the CMK.
    ///
    /// # Errors
    /// The validation errors of [`CreateDatakeyRequest::validate`]; KMS.0207 unknown key;
    /// KMS.0209 / KMS.0210 / KMS.1301 for a key that is not enabled; backend failures.
    pub fn create_datakey(
        &self,
        tenant: &Tenant,
        request: &CreateDatakeyRequest,
    ) -> Result<CreateDatakeyResponse> {
        let (dek, cipher_text) = self.new_datakey(tenant, request)?;
        Ok(CreateDatakeyResponse {
            key_id: request.key_id.clone().unwrap_or_default(),
            plain_text: encode_hex_secret(&dek),
            cipher_text,
        })
    }

    /// `create-datakey-without-plaintext`: a random DEK, returned only sealed under the CMK.
    ///
    /// # Errors
    /// As [`create_datakey`](Self::create_datakey).
    pub fn create_datakey_without_plaintext(
        &self,
        tenant: &Tenant,
        request: &CreateDatakeyRequest,
    ) -> Result<CreateDatakeyWithoutPlaintextResponse> {
        let (_dek, cipher_text) = self.new_datakey(tenant, request)?;
        Ok(CreateDatakeyWithoutPlaintextResponse {
            key_id: request.key_id.clone().unwrap_or_default(),
            cipher_text,
        })
    }

    fn new_datakey(
        &self,
        tenant: &Tenant,
        request: &CreateDatakeyRequest,
    ) -> Result<(SecretBytes, String)> {
        let valid = request.validate()?;
        let (dek, blob) = self.with_enabled_key(tenant, &valid.key_id, |key| {
            let mut dek = SecretBytes::zeroed(valid.len);
            self.backend.random(dek.expose_secret_mut())?;
            let blob = self.seal_with_context(
                key,
                valid.aad,
                valid.context.as_deref(),
                dek.expose_secret(),
            )?;
            Ok((dek, blob))
        })?;
        Ok((dek, encode_hex(&blob)))
    }

    /// `encrypt-datakey`: checks the digest appended to the DEK (SHA-256 for AES CMKs, SM3
    /// for SM4 CMKs, compared in constant time) and seals the DEK under the CMK.
    ///
    /// # Errors
    /// The validation errors of [`EncryptDatakeyRequest::validate`]; KMS.2103 for a wrong
    /// digest; KMS.0207 unknown key; KMS.0209 / KMS.0210 / KMS.1301 for a key that is not
    /// enabled; backend failures.
    pub fn encrypt_datakey(
        &self,
        tenant: &Tenant,
        request: &EncryptDatakeyRequest,
    ) -> Result<EncryptDatakeyResponse> {
        let valid = request.validate()?;
        let blob = self.with_enabled_key(tenant, &valid.key_id, |key| {
            verify_dek_digest(key.blob_key.spec, valid.dek(), valid.claimed_digest())?;
            self.seal_with_context(key, valid.aad, valid.context.as_deref(), valid.dek())
        })?;
        Ok(EncryptDatakeyResponse {
            key_id: valid.key_id.to_string(),
            cipher_text: encode_hex(&blob),
            datakey_length: valid.dek().len().to_string(),
        })
    }

    /// `decrypt-datakey`: opens a blob with the CMK and the AAD it was sealed with, and
    /// returns the DEK with its digest.
    ///
    /// # Errors
    /// The validation errors of [`DecryptDatakeyRequest::validate`]; KMS.2201 (one opaque
    /// error) for a blob that does not open; KMS.2204 when it opens to a DEK of another
    /// length than `datakey_cipher_length`; KMS.0207 unknown key; KMS.0209 / KMS.0210 /
    /// KMS.1301 for a key that is not enabled; backend failures.
    pub fn decrypt_datakey(
        &self,
        tenant: &Tenant,
        request: &DecryptDatakeyRequest,
    ) -> Result<DecryptDatakeyResponse> {
        let valid = request.validate()?;
        let (dek, spec) = self.open_blob(
            tenant,
            &valid.key_id,
            valid.aad,
            valid.context.as_deref(),
            &valid.blob,
        )?;
        if dek.len() != valid.dek_len {
            return Err(KmsError::CipherTextLengthMismatch);
        }
        Ok(DecryptDatakeyResponse {
            datakey_dgst: encode_hex(&dek_digest(spec, dek.expose_secret())),
            datakey_length: dek.len().to_string(),
            data_key: encode_hex_secret(&dek),
        })
    }

    /// Seals `plaintext` under `key` as `Kms::seal` does, binding the canonical encryption
    /// context too when there is one (a blob without one is the same as `Kms::seal` makes).
    pub(super) fn seal_with_context(
        &self,
        key: &HotKey,
        aad: &[u8],
        context: Option<&[u8]>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        self.count_seal(key)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.backend.random(&mut nonce)?;
        seal_blob_with_context(
            key.handle.as_ref(),
            &key.blob_key,
            &nonce,
            aad,
            context,
            plaintext,
        )
    }
}
