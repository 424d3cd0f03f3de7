//! The public half of an asymmetric CMK: verification and encryption, on the host. The
//! engine's verify path runs through [`SoftPublicKey::verify`] for soft keys, and outside
//! vectors (Wycheproof, GB/T 32918.2) check it the same way.

use kms_core::{
    AsymmetricEncryption, KmsError, Result, SecretBytes, SignatureScheme, SignedData,
    SigningAlgorithm, WrappingAlgorithm,
};
use pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use rsa::signature::hazmat::PrehashVerifier;

/// The user ID SM2 signatures bind when none is agreed (GB/T 35276, GM/T 0009): what
/// OpenSSL and the SDKs use by default.
pub const SM2_DEFAULT_USER_ID: &str = "1234567812345678";

/// A public key that verifies signatures of one of the signing schemes.
#[derive(Debug, Clone)]
pub enum SoftPublicKey {
    /// RSA.
    Rsa(rsa::PublicKey),
    /// ECDSA over P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// ECDSA over P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// ECDSA over secp256k1.
    K256(k256::ecdsa::VerifyingKey),
    /// SM2.
    Sm2(sm2::PublicKey),
}

/// Runs `$body` with `$digest` bound to the sha2 type of `$hash`; `$otherwise` for SM3.
macro_rules! with_sha2 {
    ($hash:expr, $digest:ident => $body:expr, $otherwise:expr) => {
        match $hash {
            kms_core::HashAlgorithm::Sha256 => {
                type $digest = sha2::Sha256;
                $body
            }
            kms_core::HashAlgorithm::Sha384 => {
                type $digest = sha2::Sha384;
                $body
            }
            kms_core::HashAlgorithm::Sha512 => {
                type $digest = sha2::Sha512;
                $body
            }
            kms_core::HashAlgorithm::Sm3 => $otherwise,
        }
    };
}
pub(crate) use with_sha2;

impl SoftPublicKey {
    /// The key in a SubjectPublicKeyInfo DER.
    ///
    /// # Errors
    /// [`KmsError::InvalidParameter`] for a key of no kind here, or malformed.
    pub fn from_spki(spki: &[u8]) -> Result<Self> {
        let invalid =
            || KmsError::InvalidParameter("public key is not one of this engine's".into());
        rsa::PublicKey::from_public_key_der(spki)
            .map(Self::Rsa)
            .or_else(|_| p256::ecdsa::VerifyingKey::from_public_key_der(spki).map(Self::P256))
            .or_else(|_| p384::ecdsa::VerifyingKey::from_public_key_der(spki).map(Self::P384))
            .or_else(|_| k256::ecdsa::VerifyingKey::from_public_key_der(spki).map(Self::K256))
            .or_else(|_| sm2::PublicKey::from_public_key_der(spki).map(Self::Sm2))
            .map_err(|_| invalid())
    }

    /// Whether `signature` is a valid signature of `data` under `algorithm`: `false` for
    /// every signature that is not, whatever is wrong with it.
    ///
    /// # Errors
    /// [`KmsError::BackendUnsupported`] for an algorithm of no soft key (Ed25519).
    pub fn verify(
        &self,
        algorithm: SigningAlgorithm,
        data: SignedData<'_>,
        signature: &[u8],
    ) -> Result<bool> {
        let hash = algorithm.hash();
        let unsupported = || {
            KmsError::BackendUnsupported(format!(
                "signing algorithm {} on backend soft",
                algorithm.as_str()
            ))
        };
        let valid = match (self, algorithm.scheme(), data) {
            (Self::Rsa(key), SignatureScheme::RsaPkcs1V15, SignedData::Digest(digest)) => {
                let Ok(signature) = rsa::pkcs1v15::Signature::try_from(signature) else {
                    return Ok(false);
                };
                with_sha2!(hash, D => rsa::pkcs1v15::VerifyingKey::<D>::new(key.clone())
                    .verify_prehash(digest, &signature)
                    .is_ok(), return Err(unsupported()))
            }
            (Self::Rsa(key), SignatureScheme::RsaPss, SignedData::Digest(digest)) => {
                let Ok(signature) = rsa::pss::Signature::try_from(signature) else {
                    return Ok(false);
                };
                with_sha2!(hash, D => rsa::pss::VerifyingKey::<D>::new_with_salt_len(
                        key.clone(),
                        hash.digest_len(),
                    )
                    .verify_prehash(digest, &signature)
                    .is_ok(), return Err(unsupported()))
            }
            (Self::P256(key), SignatureScheme::Ecdsa, SignedData::Digest(digest)) => {
                p256::ecdsa::Signature::from_der(signature)
                    .is_ok_and(|signature| key.verify_prehash(digest, &signature).is_ok())
            }
            (Self::P384(key), SignatureScheme::Ecdsa, SignedData::Digest(digest)) => {
                p384::ecdsa::Signature::from_der(signature)
                    .is_ok_and(|signature| key.verify_prehash(digest, &signature).is_ok())
            }
            // ECDSA accepts both s and n - s; k256 alone insists on the low one (a Bitcoin
            // rule), so the signature is normalised first.
            (Self::K256(key), SignatureScheme::Ecdsa, SignedData::Digest(digest)) => {
                k256::ecdsa::Signature::from_der(signature).is_ok_and(|signature| {
                    key.verify_prehash(digest, &signature.normalize_s()).is_ok()
                })
            }
            (Self::Sm2(key), SignatureScheme::Sm2, data) => {
                let Ok(signature) = sm2::dsa::Signature::from_der(signature) else {
                    return Ok(false);
                };
                let key = sm2::dsa::VerifyingKey::new(SM2_DEFAULT_USER_ID, *key)
                    .map_err(|_| KmsError::Backend("SM2 verifying key".into()))?;
                match data {
                    SignedData::Digest(digest) => key.verify_prehash(digest, &signature).is_ok(),
                    SignedData::Sm2Message(message) => key.verify(message, &signature).is_ok(),
                }
            }
            _ => return Err(unsupported()),
        };
        Ok(valid)
    }

    /// Encrypts `plaintext` to this key with `algorithm`.
    ///
    /// # Errors
    /// [`KmsError::BackendUnsupported`] for an algorithm that is not this key's;
    /// [`KmsError::Backend`] when encryption fails.
    pub fn encrypt(
        &self,
        spki: &[u8],
        algorithm: AsymmetricEncryption,
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        let wrapping = match (self, algorithm) {
            (Self::Rsa(_), AsymmetricEncryption::RsaesOaepSha256) => {
                WrappingAlgorithm::RsaesOaepSha256
            }
            (Self::Sm2(_), AsymmetricEncryption::Sm2Encrypt) => WrappingAlgorithm::Sm2Encrypt,
            _ => {
                return Err(KmsError::BackendUnsupported(format!(
                    "encryption algorithm {} for this key on backend soft",
                    algorithm.as_str()
                )));
            }
        };
        crate::recipient::wrap(spki, wrapping, &SecretBytes::new(plaintext.to_vec()))
    }
}
