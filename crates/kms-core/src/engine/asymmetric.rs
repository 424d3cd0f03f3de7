//! The operations of asymmetric CMKs (DESIGN 12): get-publickey, sign, verify, and
//! encrypt-data / decrypt-data with RSAES_OAEP_SHA_256 or SM2_ENCRYPT. The private half
//! stays in the backend; every call loads the key's record, so a state change is honoured
//! at once on every engine.

use super::Kms;
use super::key_cache::require_enabled;
use crate::backend::PrivateKeyHandle;
use crate::codec::encode_base64;
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::key_spec::{AsymmetricEncryption, AsymmetricSpec, KeySpec, SignedData};
use crate::models::{
    GetPublicKeyResponse, KeyIdRequest, SignRequest, SignResponse, ToSign, VerifyRequest,
    VerifyResponse,
};
use crate::secret::SecretBytes;
use crate::spec::KeyUsage;
use crate::tenant::Tenant;

/// A loaded asymmetric CMK.
struct PrivateKey {
    spec: AsymmetricSpec,
    usage: KeyUsage,
    handle: Box<dyn PrivateKeyHandle>,
}

impl PrivateKey {
    /// Refuses to sign with a key that encrypts (KMS.0334) or with an algorithm its spec
    /// cannot use (KMS.0332), before the backend is asked.
    fn require_signing(&self, request: &ToSign) -> Result<()> {
        if self.usage != KeyUsage::SignVerify {
            return Err(KmsError::KeyUsedForEncryption);
        }
        if !self.spec.signing_algorithms().contains(&request.algorithm) {
            return Err(KmsError::SigningAlgorithmUnsupported(format!(
                "{} (a {} key signs with {})",
                request.algorithm.as_str(),
                self.spec.as_str(),
                self.spec
                    .signing_algorithms()
                    .iter()
                    .map(|algorithm| algorithm.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(())
    }

    /// Refuses to encrypt or decrypt with a key that signs (KMS.0335) or with an algorithm
    /// that is not its spec's (KMS.2106), before the backend is asked.
    fn require_encryption(&self, algorithm: AsymmetricEncryption) -> Result<()> {
        if self.usage != KeyUsage::EncryptDecrypt {
            return Err(KmsError::KeyUsedForSigning);
        }
        if self.spec.encryption_algorithm() != Some(algorithm) {
            return Err(KmsError::AsymmetricKeyAlgorithm(format!(
                "{} (a {} key)",
                algorithm.as_str(),
                self.spec.as_str()
            )));
        }
        Ok(())
    }
}

impl Kms {
    /// `tenant`'s enabled asymmetric key `key_id`, loaded. A symmetric key is refused with
    /// `symmetric` (the code of the operation), an HMAC key with KMS.0341.
    fn private_key(
        &self,
        tenant: &Tenant,
        key_id: &KeyId,
        symmetric: KmsError,
    ) -> Result<PrivateKey> {
        let record = self.current_key(tenant, key_id)?;
        let spec = match record.spec {
            KeySpec::Asymmetric(spec) => spec,
            KeySpec::Symmetric(_) => return Err(symmetric),
            KeySpec::Mac(_) => return Err(KmsError::MacKeyUnsupported),
        };
        require_enabled(record.state)?;
        let blob = record.key_blob.as_ref().ok_or(KmsError::KeyNotEnabled)?;
        Ok(PrivateKey {
            spec,
            usage: record.usage,
            handle: self
                .backend
                .load_private_key(key_id, spec, record.usage, blob)?,
        })
    }

    /// `get-publickey`: the public half of an asymmetric key, SPKI DER in base64.
    ///
    /// # Errors
    /// KMS.0204, KMS.0205, KMS.0206; KMS.0207 unknown key; KMS.0331 for a symmetric key,
    /// KMS.0341 for an HMAC key; the code of a state other than enabled; backend failures.
    pub fn get_public_key(
        &self,
        tenant: &Tenant,
        request: &KeyIdRequest,
    ) -> Result<GetPublicKeyResponse> {
        let key_id = request.validate()?;
        let key = self.private_key(tenant, &key_id, KmsError::SymmetricKeyUnsupported)?;
        Ok(GetPublicKeyResponse {
            key_id: key_id.to_string(),
            public_key: encode_base64(key.handle.public_key_spki()),
        })
    }

    /// `sign`: signs a digest, or a message the engine hashes, in the backend.
    ///
    /// # Errors
    /// The validation errors of [`SignRequest::validate`]; KMS.0207 unknown key; KMS.1115
    /// for a symmetric key, KMS.0341 for an HMAC key; KMS.0334 for an ENCRYPT_DECRYPT key;
    /// KMS.0332 for an algorithm the key cannot use; KMS.0329 for a digest of the wrong
    /// length; the code of a state other than enabled; KMS.9002 for a mechanism the
    /// backend lacks; backend failures.
    pub fn sign(&self, tenant: &Tenant, request: &SignRequest) -> Result<SignResponse> {
        let valid = request.validate()?;
        let key = self.private_key(tenant, &valid.key_id, KmsError::SymmetricKeySigning)?;
        key.require_signing(&valid)?;
        let mut digest = Vec::new();
        let data = SignedData::prepare(
            valid.algorithm,
            valid.message_type,
            &valid.message,
            &mut digest,
        )?;
        let signature = key.handle.sign(valid.algorithm, data)?;
        Ok(SignResponse {
            key_id: valid.key_id.to_string(),
            signature: encode_base64(&signature),
        })
    }

    /// `verify`: `"true"` when the signature is the key's over the digest or message,
    /// `"false"` for any other signature.
    ///
    /// # Errors
    /// As [`sign`](Self::sign), for the request itself only: a wrong signature is no error.
    pub fn verify(&self, tenant: &Tenant, request: &VerifyRequest) -> Result<VerifyResponse> {
        let (valid, signature) = request.validate()?;
        let key = self.private_key(tenant, &valid.key_id, KmsError::SymmetricKeySigning)?;
        key.require_signing(&valid)?;
        let mut digest = Vec::new();
        let data = SignedData::prepare(
            valid.algorithm,
            valid.message_type,
            &valid.message,
            &mut digest,
        )?;
        let valid_signature = key.handle.verify(valid.algorithm, data, &signature)?;
        Ok(VerifyResponse {
            key_id: valid.key_id.to_string(),
            signature_valid: valid_signature.to_string(),
        })
    }

    /// encrypt-data under an asymmetric ENCRYPT_DECRYPT key: the ciphertext of `plaintext`
    /// (RSA-OAEP octets, or SM2's GM/T 0009 DER).
    pub(super) fn encrypt_asymmetric(
        &self,
        tenant: &Tenant,
        key_id: &KeyId,
        algorithm: AsymmetricEncryption,
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        let key = self.private_key(tenant, key_id, KmsError::SymmetricKeyAlgorithm)?;
        key.require_encryption(algorithm)?;
        let most = key.spec.max_plaintext_len();
        if plaintext.len() > most {
            return Err(KmsError::AsymmetricPlainTextTooLong(most));
        }
        key.handle.encrypt(algorithm, plaintext)
    }

    /// decrypt-data under an asymmetric ENCRYPT_DECRYPT key.
    pub(super) fn decrypt_asymmetric(
        &self,
        tenant: &Tenant,
        key_id: &KeyId,
        algorithm: AsymmetricEncryption,
        ciphertext: &[u8],
    ) -> Result<SecretBytes> {
        let key = self.private_key(tenant, key_id, KmsError::SymmetricKeyAlgorithm)?;
        key.require_encryption(algorithm)?;
        key.handle.decrypt(algorithm, ciphertext)
    }
}
