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
use pkcs8::der::Decode;
use pkcs8::{AssociatedOid, DecodePrivateKey};
use rsa::Oaep;
use rsa::traits::PublicKeyParts;
use sha1::Sha1;
use sha2::Sha256;
use sm2::NonZeroScalar;
use sm2::pke::{Cipher, Mode};
use sm3::Sm3;

use crate::key_pair;
use crate::root_key::{RootKey, wrapping_label};
use crate::sm2_decrypt;

/// Shortest AES-KWP plaintext accepted (aes-kw itself unwraps shorter ones).
const MIN_KWP_PLAINTEXT: usize = 16;
/// First byte of GM/T 0009 DER (a SEQUENCE) and of a raw uncompressed C1.
const DER_SEQUENCE: u8 = 0x30;
const UNCOMPRESSED_POINT: u8 = 0x04;
/// id-ecPublicKey (RFC 5480): the algorithm of an SM2 key's PKCS#8, with the SM2 curve.
const ID_EC_PUBLIC_KEY: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// A wrapping private key, opened for one unwrap. An SM2 key is its private scalar alone:
/// decryption needs nothing else.
pub(crate) enum WrappingPrivateKey {
    Rsa(Box<rsa::PrivateKey>),
    Sm2(NonZeroScalar),
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
        WrappingKeySpec::Sm2 => sm2_scalar(pkcs8.expose_secret())
            .map(WrappingPrivateKey::Sm2)
            .ok_or_else(damaged),
        _ => rsa::PrivateKey::from_pkcs8_der(pkcs8.expose_secret())
            .map(|key| WrappingPrivateKey::Rsa(Box::new(key)))
            .map_err(|_| damaged()),
    }
}

/// The private scalar of an SM2 key's PKCS#8, read without computing the public point
/// (decoding it as a `SecretKey` would, twice over with a `DecryptingKey`). The key was
/// sealed by [`create`], so the root key's AEAD has vouched for it.
fn sm2_scalar(pkcs8: &[u8]) -> Option<NonZeroScalar> {
    let info = pkcs8::PrivateKeyInfoRef::from_der(pkcs8).ok()?;
    let curve = info.algorithm.parameters_oid().ok()?;
    if info.algorithm.oid != ID_EC_PUBLIC_KEY || curve != sm2::Sm2::OID {
        return None;
    }
    let ec_private_key = sec1::EcPrivateKey::from_der(info.private_key.as_bytes()).ok()?;
    NonZeroScalar::try_from(ec_private_key.private_key).ok()
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
    kwp_unwrap(&temporary_key, kwp_part)
}

/// The AES-KWP (RFC 5649) step of RSA_AES_KEY_WRAP: `kwp_part` unwrapped under the
/// temporary key, which must be AES-128 or AES-256, into at least 16 bytes.
///
/// # Errors
/// [`KmsError::UnwrapFailed`] for anything else.
pub(crate) fn kwp_unwrap(temporary_key: &SecretBytes, kwp_part: &[u8]) -> Result<SecretBytes> {
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
/// wiped whatever happens (the key stream is applied before C3 is checked).
pub(crate) fn sm2_decrypt(secret: &NonZeroScalar, ciphertext: &[u8]) -> Result<SecretBytes> {
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
    let mut plaintext = SecretBytes::zeroed(cipher.c2().len());
    if sm2_decrypt::decrypt(secret, &cipher, plaintext.expose_secret_mut()) {
        Ok(plaintext)
    } else {
        Err(KmsError::UnwrapFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GB/T 32918.5-2017 Annex C (GM/T 0003.5-2012): key, message and ciphertext fields.
    const ANNEX_C_KEY: &str = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
    const ANNEX_C_X: &str = "04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73";
    const ANNEX_C_Y: &str = "E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0";
    const ANNEX_C_C3: &str = "59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766";
    const ANNEX_C_C2: &str = "21886CA989CA9C7D58087307CA93092D651EFA";
    const MESSAGE: &[u8] = b"encryption standard";

    fn hex(text: &str) -> Vec<u8> {
        kms_core::decode_hex(text).unwrap()
    }

    fn annex_c_key() -> WrappingPrivateKey {
        let secret = sm2::SecretKey::from_slice(&hex(ANNEX_C_KEY)).unwrap();
        WrappingPrivateKey::Sm2(secret.to_nonzero_scalar())
    }

    /// GM/T 0009 DER: SEQUENCE { INTEGER x, INTEGER y, OCTET STRING C3, OCTET STRING C2 }.
    fn annex_c_der() -> Vec<u8> {
        hex(&format!(
            "307C0220{ANNEX_C_X}022100{ANNEX_C_Y}0420{ANNEX_C_C3}0413{ANNEX_C_C2}"
        ))
    }

    fn annex_c_raw(c3: &str, c2: &str) -> Vec<u8> {
        hex(&format!("04{ANNEX_C_X}{ANNEX_C_Y}{c3}{c2}"))
    }

    fn sm2_unwrap(ciphertext: &[u8]) -> Result<SecretBytes> {
        let wrapped = WrappedMaterial {
            encrypted_key_material: ciphertext,
            encrypted_privatekey: None,
        };
        unwrap(
            &annex_c_key(),
            WrappingAlgorithm::Sm2Encrypt,
            &wrapped,
            MESSAGE.len(),
        )
    }

    #[test]
    fn sm2_annex_c_ciphertext_decrypts_in_der_and_raw_form() {
        assert_eq!(sm2_unwrap(&annex_c_der()).unwrap().expose_secret(), MESSAGE);
        let raw = annex_c_raw(ANNEX_C_C3, ANNEX_C_C2);
        assert_eq!(sm2_unwrap(&raw).unwrap().expose_secret(), MESSAGE);
    }

    #[test]
    fn sm2_annex_c_bytes_read_as_c1c2c3_fail() {
        let swapped = annex_c_raw(ANNEX_C_C2, ANNEX_C_C3);
        assert_eq!(sm2_unwrap(&swapped).unwrap_err().code(), "KMS.0311");
    }

    #[test]
    fn sm2_a_flipped_bit_in_c3_or_c2_fails() {
        let raw = annex_c_raw(ANNEX_C_C3, ANNEX_C_C2);
        for at in [1 + 64, 1 + 64 + 31, 1 + 64 + 32, raw.len() - 1] {
            let mut tampered = raw.clone();
            tampered[at] ^= 0x01;
            assert_eq!(
                sm2_unwrap(&tampered).unwrap_err().code(),
                "KMS.0311",
                "byte {at}"
            );
        }
    }

    #[test]
    fn sm2_a_c1_off_the_curve_or_at_infinity_fails_without_panicking() {
        let mut off_curve = annex_c_raw(ANNEX_C_C3, ANNEX_C_C2);
        off_curve[64] ^= 0x01;
        assert_eq!(sm2_unwrap(&off_curve).unwrap_err().code(), "KMS.0311");
        let mut der_off_curve = annex_c_der();
        let last_of_y = 4 + 32 + 3 + 32;
        der_off_curve[last_of_y] ^= 0x01;
        assert_eq!(sm2_unwrap(&der_off_curve).unwrap_err().code(), "KMS.0311");
        let infinity = [vec![0x00], hex(ANNEX_C_C3), hex(ANNEX_C_C2)].concat();
        assert_eq!(sm2_unwrap(&infinity).unwrap_err().code(), "KMS.0311");
        let compressed = [vec![0x02], hex(ANNEX_C_X), hex(ANNEX_C_C3), hex(ANNEX_C_C2)].concat();
        assert_eq!(sm2_unwrap(&compressed).unwrap_err().code(), "KMS.0311");
    }

    #[test]
    fn sm2_material_of_the_wrong_length_fails_like_any_other_error() {
        let wrapped = WrappedMaterial {
            encrypted_key_material: &annex_c_der(),
            encrypted_privatekey: None,
        };
        let err = unwrap(&annex_c_key(), WrappingAlgorithm::Sm2Encrypt, &wrapped, 16).unwrap_err();
        assert_eq!(err.code(), "KMS.0311");
    }

    #[test]
    fn an_algorithm_for_another_kind_of_key_fails_like_any_other_error() {
        let wrapped = WrappedMaterial {
            encrypted_key_material: &annex_c_der(),
            encrypted_privatekey: None,
        };
        let err = unwrap(
            &annex_c_key(),
            WrappingAlgorithm::RsaesOaepSha256,
            &wrapped,
            19,
        )
        .unwrap_err();
        assert_eq!(err.code(), "KMS.0311");
    }
}
