//! Wrapping keys for import, and unwrapping imported material with them (DESIGN 5).
//!
//! Every way wrapped material can be wrong (padding, hash, label, length, point, C3, a
//! temporary key of the wrong size, material of the wrong size) gives the one opaque
//! [`KmsError::UnwrapFailed`], and every buffer that held plaintext is wiped.

use aes_kw::{KeyInit, KwpAes128, KwpAes256};
use kms_core::{
    KeyBlob, KeyPairSpec, KmsError, Result, SecretBytes, WrappedMaterial, WrappingAlgorithm,
    WrappingKey, WrappingKeySpec,
};
use pkcs8::DecodePrivateKey;
use pkcs8::der::Decode;
use rsa::Oaep;
use rsa::traits::PublicKeyParts;
use sha1::Sha1;
use sha2::Sha256;
use sm2::pke::{Cipher, DecryptingKey, Mode};
use sm3::Sm3;

use crate::key_pair;
use crate::root_key::{RootKey, wrapping_label};

/// Shortest AES-KWP plaintext accepted (aes-kw itself unwraps shorter ones).
const MIN_KWP_PLAINTEXT: usize = 16;
/// First byte of GM/T 0009 DER (a SEQUENCE) and of a raw uncompressed C1.
const DER_SEQUENCE: u8 = 0x30;
const UNCOMPRESSED_POINT: u8 = 0x04;

/// A wrapping private key, opened for one unwrap.
pub(crate) enum WrappingPrivateKey {
    Rsa(Box<rsa::PrivateKey>),
    Sm2(DecryptingKey),
}

/// Creates a wrapping key pair of `spec`, its private key sealed under the root key.
pub(crate) fn create(root_key: &RootKey, spec: WrappingKeySpec) -> Result<WrappingKey> {
    let pair_spec = match spec {
        WrappingKeySpec::Rsa2048 => KeyPairSpec::Rsa2048,
        WrappingKeySpec::Rsa3072 => KeyPairSpec::Rsa3072,
        WrappingKeySpec::Rsa4096 => KeyPairSpec::Rsa4096,
        WrappingKeySpec::Sm2 => KeyPairSpec::Sm2,
    };
    let pair = key_pair::generate(pair_spec)?;
    Ok(WrappingKey {
        private_key: root_key.seal(&wrapping_label(spec), &pair.private_key_pkcs8)?,
        public_key_spki: pair.public_key_spki,
    })
}

/// Opens a wrapping private key sealed by [`create`].
pub(crate) fn open(
    root_key: &RootKey,
    blob: &KeyBlob,
    spec: WrappingKeySpec,
) -> Result<WrappingPrivateKey> {
    let pkcs8 = root_key.open(&wrapping_label(spec), blob, "a wrapping key")?;
    let damaged =
        || KmsError::Backend(format!("the {} wrapping key does not parse", spec.as_str()));
    match spec {
        WrappingKeySpec::Sm2 => sm2::SecretKey::from_pkcs8_der(pkcs8.expose_secret())
            .map(|key| WrappingPrivateKey::Sm2(DecryptingKey::new(key)))
            .map_err(|_| damaged()),
        _ => rsa::PrivateKey::from_pkcs8_der(pkcs8.expose_secret())
            .map(|key| WrappingPrivateKey::Rsa(Box::new(key)))
            .map_err(|_| damaged()),
    }
}

/// Unwraps material of exactly `material_len` bytes.
///
/// # Errors
/// [`KmsError::UnwrapFailed`] for anything else.
pub(crate) fn unwrap(
    key: &WrappingPrivateKey,
    algorithm: WrappingAlgorithm,
    wrapped: &WrappedMaterial<'_>,
    material_len: usize,
) -> Result<SecretBytes> {
    let single = || match wrapped.encrypted_privatekey {
        None => Ok(wrapped.encrypted_key_material),
        Some(_) => Err(KmsError::UnwrapFailed),
    };
    let material = match (algorithm, key) {
        (WrappingAlgorithm::RsaesOaepSha256, WrappingPrivateKey::Rsa(key)) => key
            .decrypt(Oaep::<Sha256>::new(), single()?)
            .map(SecretBytes::new)
            .map_err(|_| KmsError::UnwrapFailed),
        (WrappingAlgorithm::RsaesOaepSha1, WrappingPrivateKey::Rsa(key)) => key
            .decrypt(Oaep::<Sha1>::new(), single()?)
            .map(SecretBytes::new)
            .map_err(|_| KmsError::UnwrapFailed),
        (WrappingAlgorithm::RsaAesKeyWrapSha256, WrappingPrivateKey::Rsa(key)) => {
            rsa_aes_unwrap(key, wrapped, |part| {
                key.decrypt(Oaep::<Sha256>::new(), part)
            })
        }
        (WrappingAlgorithm::RsaAesKeyWrapSha1, WrappingPrivateKey::Rsa(key)) => {
            rsa_aes_unwrap(key, wrapped, |part| key.decrypt(Oaep::<Sha1>::new(), part))
        }
        (WrappingAlgorithm::Sm2Encrypt, WrappingPrivateKey::Sm2(key)) => {
            sm2_decrypt(key, single()?)
        }
        _ => Err(KmsError::UnwrapFailed),
    }?;
    if material.len() == material_len {
        Ok(material)
    } else {
        Err(KmsError::UnwrapFailed)
    }
}

/// RSA_AES_KEY_WRAP: the temporary AES key under OAEP (`oaep_decrypt`), then AES-KWP of
/// the material under it. The two parts come as two fields, or concatenated in one with
/// the OAEP part first (its length is the modulus size).
fn rsa_aes_unwrap(
    key: &rsa::PrivateKey,
    wrapped: &WrappedMaterial<'_>,
    oaep_decrypt: impl Fn(&[u8]) -> rsa::Result<Vec<u8>>,
) -> Result<SecretBytes> {
    let (oaep_part, kwp_part) = match wrapped.encrypted_privatekey {
        Some(kwp_part) => (wrapped.encrypted_key_material, kwp_part),
        None => wrapped
            .encrypted_key_material
            .split_at_checked(key.size())
            .ok_or(KmsError::UnwrapFailed)?,
    };
    let temporary_key =
        SecretBytes::new(oaep_decrypt(oaep_part).map_err(|_| KmsError::UnwrapFailed)?);
    let mut buffer = SecretBytes::zeroed(kwp_part.len());
    let unwrapped_len = match temporary_key.len() {
        16 => KwpAes128::new_from_slice(temporary_key.expose_secret())
            .map_err(|_| KmsError::UnwrapFailed)?
            .unwrap_key(kwp_part, buffer.expose_secret_mut())
            .map(<[u8]>::len),
        32 => KwpAes256::new_from_slice(temporary_key.expose_secret())
            .map_err(|_| KmsError::UnwrapFailed)?
            .unwrap_key(kwp_part, buffer.expose_secret_mut())
            .map(<[u8]>::len),
        _ => return Err(KmsError::UnwrapFailed),
    }
    .map_err(|_| KmsError::UnwrapFailed)?;
    if unwrapped_len < MIN_KWP_PLAINTEXT {
        return Err(KmsError::UnwrapFailed);
    }
    let material = buffer
        .expose_secret()
        .get(..unwrapped_len)
        .unwrap_or_default()
        .to_vec();
    Ok(SecretBytes::new(material))
}

/// SM2 decryption of GM/T 0009 DER or raw `04 ‖ x ‖ y ‖ C3 ‖ C2`, into a buffer that is
/// wiped whatever happens (the sm2 crate writes plaintext before it checks C3).
fn sm2_decrypt(key: &DecryptingKey, ciphertext: &[u8]) -> Result<SecretBytes> {
    // Only these two encodings: a raw C1 that is not an uncompressed point (such as the
    // point at infinity) must never reach the decryption.
    let cipher = match ciphertext.first() {
        Some(&DER_SEQUENCE) => Cipher::<sm2::Sm2, Sm3>::from_der(ciphertext).ok(),
        Some(&UNCOMPRESSED_POINT) => {
            Cipher::<sm2::Sm2, Sm3>::from_slice(ciphertext, Mode::C1C3C2).ok()
        }
        _ => None,
    }
    .ok_or(KmsError::UnwrapFailed)?;
    let mut buffer = SecretBytes::zeroed(ciphertext.len());
    let plaintext_len = key
        .decrypt_cipher_with_buf::<Sm3>(&cipher, buffer.expose_secret_mut())
        .map_err(|_| KmsError::UnwrapFailed)?;
    let plaintext = buffer
        .expose_secret()
        .get(..plaintext_len)
        .unwrap_or_default()
        .to_vec();
    Ok(SecretBytes::new(plaintext))
}
