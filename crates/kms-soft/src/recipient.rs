//! Wrapping a data key pair's private key to a recipient's public key, so that only the
//! recipient can read it.

use aes_kw::{KeyInit, KwpAes256};
use kms_core::{KmsError, Result, SecretBytes, WrappingAlgorithm};
use pkcs8::DecodePublicKey;
use pkcs8::der::asn1::ObjectIdentifier;
use rsa::Oaep;
use rsa::traits::PublicKeyParts;
use sha2::Sha256;
use sm2::pke::EncryptingKey;
use spki::SubjectPublicKeyInfoRef;

use crate::rng::{self, with_thread_rng};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SM2_CURVE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.301");
/// Smallest RSA modulus a private key is wrapped to, in bits.
const MIN_RSA_BITS: u32 = 2048;
/// Bytes OAEP with SHA-256 takes from the modulus: 2 × 32 + 2.
const OAEP_SHA256_OVERHEAD: usize = 66;
/// Randomness drawn per wrap, counted towards the next reseed.
const WRAP_DRAW: usize = 256;

/// A recipient's public key, parsed and checked against the recipient algorithm.
pub(crate) enum RecipientKey {
    Sm2(sm2::PublicKey),
    Rsa {
        key: Box<rsa::PublicKey>,
        algorithm: WrappingAlgorithm,
    },
}

/// Parses the key in `spki` for `algorithm`, before any key pair is generated for it.
///
/// # Errors
/// [`KmsError::InvalidParameter`] for a key that is malformed, off its curve, of the wrong
/// kind for `algorithm` or RSA under 2048 bits.
pub(crate) fn parse(spki: &[u8], algorithm: WrappingAlgorithm) -> Result<RecipientKey> {
    let info = SubjectPublicKeyInfoRef::try_from(spki)
        .map_err(|_| invalid("is not SubjectPublicKeyInfo DER"))?;
    let is_sm2 = info.algorithm.oid == ID_EC_PUBLIC_KEY
        && info.algorithm.parameters_oid().ok() == Some(SM2_CURVE);
    let is_rsa = info.algorithm.oid == RSA_ENCRYPTION;
    match algorithm {
        WrappingAlgorithm::Sm2Encrypt if is_sm2 => sm2::PublicKey::from_public_key_der(spki)
            .map(RecipientKey::Sm2)
            .map_err(|_| invalid("is not a point on the SM2 curve")),
        WrappingAlgorithm::RsaesOaepSha256 | WrappingAlgorithm::RsaAesKeyWrapSha256 if is_rsa => {
            let key = rsa::PublicKey::from_public_key_der(spki)
                .map_err(|_| invalid("is not a valid RSA key"))?;
            if key.n().bit_width() < MIN_RSA_BITS {
                return Err(invalid("is an RSA key under 2048 bits"));
            }
            Ok(RecipientKey::Rsa {
                key: Box::new(key),
                algorithm,
            })
        }
        _ => Err(invalid(&format!(
            "does not suit recipient_algorithm {}",
            algorithm.as_str()
        ))),
    }
}

/// Wraps `plaintext` to the key in `spki` with `algorithm`.
///
/// # Errors
/// As [`parse`]; [`KmsError::RecipientWrapTooLong`] when `plaintext` does not fit
/// RSAES_OAEP_SHA_256.
pub(crate) fn wrap(
    spki: &[u8],
    algorithm: WrappingAlgorithm,
    plaintext: &SecretBytes,
) -> Result<Vec<u8>> {
    match parse(spki, algorithm)? {
        RecipientKey::Sm2(key) => with_thread_rng(WRAP_DRAW, |rng| {
            EncryptingKey::new(key).encrypt_der(rng, plaintext.expose_secret())
        })?
        .map_err(|_| KmsError::Backend("SM2 encryption to the recipient".into())),
        RecipientKey::Rsa { key, algorithm } => {
            if algorithm == WrappingAlgorithm::RsaesOaepSha256 {
                oaep_sha256(&key, plaintext.expose_secret())
            } else {
                rsa_aes_key_wrap(&key, plaintext)
            }
        }
    }
}

fn invalid(what: &str) -> KmsError {
    KmsError::InvalidParameter(format!("recipient_public_key {what}"))
}

fn oaep_sha256(key: &rsa::PublicKey, message: &[u8]) -> Result<Vec<u8>> {
    let capacity = key.size().saturating_sub(OAEP_SHA256_OVERHEAD);
    if message.len() > capacity {
        return Err(KmsError::RecipientWrapTooLong(format!(
            "a {}-byte private key does not fit RSAES_OAEP_SHA_256 under a {}-bit key (at most {capacity} bytes); use RSA_AES_KEY_WRAP_SHA_256",
            message.len(),
            key.n().bit_width()
        )));
    }
    with_thread_rng(WRAP_DRAW, |rng| {
        key.encrypt(rng, Oaep::<Sha256>::new(), message)
    })?
    .map_err(|_| KmsError::Backend("RSA-OAEP encryption to the recipient".into()))
}

/// A fresh AES-256 key under RSA-OAEP-SHA-256, then AES-KWP (RFC 5649) of the message.
fn rsa_aes_key_wrap(key: &rsa::PublicKey, message: &SecretBytes) -> Result<Vec<u8>> {
    let mut temporary_key = SecretBytes::zeroed(32);
    rng::fill(temporary_key.expose_secret_mut())?;
    let mut wrapped = oaep_sha256(key, temporary_key.expose_secret())?;
    let kwp = KwpAes256::new_from_slice(temporary_key.expose_secret())
        .map_err(|_| KmsError::Backend("AES-KWP key".into()))?;
    let mut buffer = vec![0u8; message.len().div_ceil(8) * 8 + 8];
    let kwp_part = kwp
        .wrap_key(message.expose_secret(), &mut buffer)
        .map_err(|_| KmsError::Backend("AES-KWP wrap".into()))?;
    wrapped.extend_from_slice(kwp_part);
    Ok(wrapped)
}
