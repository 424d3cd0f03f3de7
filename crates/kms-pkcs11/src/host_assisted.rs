//! The `host_assisted_unwrap` policy (off by default, DESIGN 6): for tokens that refuse
//! RSA-OAEP with SHA-256, such as SoftHSM2 2.6.1, the OAEP-SHA-256 (and AES-KWP) decryption
//! of imported material is done on the host, and the CMK object is created from the result
//! with the same attribute policy as any CMK.
//!
//! This is weaker than unwrapping in the token, and says so: the wrapping key pair is
//! generated on the host; its private half goes into the token as an unwrap-only object
//! (so RSAES_OAEP_SHA_1 still unwraps in the token) and, for the host's own use, a copy
//! sealed with AES-GCM under a token key is kept as a data object beside it. Material and
//! private keys on the host live in buffers that are wiped.

use aes_kw::{KeyInit, KwpAes128, KwpAes256};
use cryptoki::error::Error;
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use kms_core::{KmsError, NONCE_LEN, Result, SecretBytes, WrappedMaterial, WrappingAlgorithm};
use pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::Oaep;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::cmk::{cmk_template, find_key};
use crate::import::{ImportedCmk, unwrapped_cmk_template, wrapping_private_key_template};

/// CKA_ID of the token key that seals host copies of wrapping private keys.
const SEALING_KEY_ID: &[u8] = b"kms-host-assisted-unwrap";
const TAG_BITS: u64 = 128;

/// The sealing key, created on first use.
fn sealing_key(session: &Session) -> core::result::Result<ObjectHandle, Error> {
    match find_key(session, ObjectClass::SECRET_KEY, SEALING_KEY_ID)? {
        Some(key) => Ok(key),
        None => session.generate_key(
            &Mechanism::AesKeyGen,
            &cmk_template(SEALING_KEY_ID, SEALING_KEY_ID),
        ),
    }
}

/// Every sealing key: two processes that started at once may each have made one.
fn sealing_keys(session: &Session) -> core::result::Result<Vec<ObjectHandle>, Error> {
    session.find_objects(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::Id(SEALING_KEY_ID.to_vec()),
    ])
}

fn trimmed(value: &rsa::BoxedUint) -> Vec<u8> {
    value.to_be_bytes_trimmed_vartime().into_vec()
}

/// Generates an RSA wrapping key of `bits` on the host, stores its private half in the
/// token (unwrap only, CKA_ID `id`) and a sealed copy as a data object (CKA_LABEL `id`:
/// data objects have no CKA_ID), and returns the public key's SPKI DER.
pub(crate) fn create_wrapping_key(
    session: &Session,
    bits: usize,
    id: &[u8],
) -> core::result::Result<Result<Vec<u8>>, Error> {
    let host = || KmsError::Backend("generating a host-assisted wrapping key".into());
    let Ok(key) = rsa::PrivateKey::new(&mut getrandom::SysRng, bits) else {
        return Ok(Err(host()));
    };
    let (Some(dp), Some(dq), Some(qinv), [p, q]) =
        (key.dp(), key.dq(), key.crt_coefficient(), key.primes())
    else {
        return Ok(Err(host()));
    };
    let (Ok(pkcs8), Ok(spki)) = (key.to_pkcs8_der(), key.to_public_key().to_public_key_der())
    else {
        return Ok(Err(host()));
    };
    let mut private = wrapping_private_key_template(id);
    private.extend([
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Modulus(trimmed(key.n())),
        Attribute::PublicExponent(trimmed(key.e())),
        Attribute::PrivateExponent(trimmed(key.d())),
        Attribute::Prime1(trimmed(p.as_ref())),
        Attribute::Prime2(trimmed(q.as_ref())),
        Attribute::Exponent1(trimmed(dp)),
        Attribute::Exponent2(trimmed(dq)),
        Attribute::Coefficient(trimmed(&qinv)),
    ]);
    session.create_object(&private)?;
    let sealing = sealing_key(session)?;
    let mut nonce = [0u8; NONCE_LEN];
    session.generate_random_slice(&mut nonce)?;
    let mut iv = nonce;
    let sealed = session.encrypt(
        &Mechanism::AesGcm(GcmParams::new(&mut iv, id, TAG_BITS.into())?),
        sealing,
        pkcs8.as_bytes(),
    )?;
    session.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Label(id.to_vec()),
        Attribute::Value([nonce.as_slice(), &sealed].concat()),
    ])?;
    Ok(Ok(spki.into_vec()))
}

/// The host copy of wrapping key `id`, unsealed.
fn host_copy(session: &Session, id: &[u8]) -> core::result::Result<Option<rsa::PrivateKey>, Error> {
    let Some(data) = session
        .find_objects(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Label(id.to_vec()),
        ])?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let sealed = session
        .get_attributes(data, &[AttributeType::Value])?
        .into_iter()
        .find_map(|attribute| match attribute {
            Attribute::Value(value) => Some(value),
            _ => None,
        })
        .unwrap_or_default();
    let Some((nonce, ciphertext)) = sealed.split_at_checked(NONCE_LEN) else {
        return Ok(None);
    };
    for sealing in sealing_keys(session)? {
        let mut iv: [u8; NONCE_LEN] = nonce.try_into().unwrap_or_default();
        let params = GcmParams::new(&mut iv, id, TAG_BITS.into())?;
        if let Ok(pkcs8) = session.decrypt(&Mechanism::AesGcm(params), sealing, ciphertext) {
            let pkcs8 = Zeroizing::new(pkcs8);
            return Ok(rsa::PrivateKey::from_pkcs8_der(&pkcs8).ok());
        }
    }
    Ok(None)
}

/// The imported material, decrypted on the host: exactly `material_len` bytes, or
/// [`KmsError::UnwrapFailed`].
pub(crate) fn unwrap_material(
    session: &Session,
    id: &[u8],
    algorithm: WrappingAlgorithm,
    wrapped: &WrappedMaterial<'_>,
    material_len: usize,
) -> core::result::Result<Result<SecretBytes>, Error> {
    let Some(key) = host_copy(session, id)? else {
        return Ok(Err(KmsError::Backend(
            "the host copy of the wrapping key is missing or damaged".into(),
        )));
    };
    let oaep = |ciphertext: &[u8]| {
        key.decrypt(Oaep::<Sha256>::new(), ciphertext)
            .ok()
            .map(SecretBytes::new)
    };
    let material = match (algorithm, wrapped.encrypted_privatekey) {
        (WrappingAlgorithm::RsaesOaepSha256, None) => oaep(wrapped.encrypted_key_material),
        (WrappingAlgorithm::RsaAesKeyWrapSha256, second) => {
            let parts = match second {
                Some(kwp_part) => Some((wrapped.encrypted_key_material, kwp_part)),
                None => wrapped.encrypted_key_material.split_at_checked(key.size()),
            };
            parts.and_then(|(oaep_part, kwp_part)| {
                let temporary = oaep(oaep_part)?;
                let mut buffer = SecretBytes::zeroed(kwp_part.len());
                let len = match temporary.len() {
                    16 => KwpAes128::new_from_slice(temporary.expose_secret())
                        .ok()?
                        .unwrap_key(kwp_part, buffer.expose_secret_mut())
                        .ok()?
                        .len(),
                    32 => KwpAes256::new_from_slice(temporary.expose_secret())
                        .ok()?
                        .unwrap_key(kwp_part, buffer.expose_secret_mut())
                        .ok()?
                        .len(),
                    _ => return None,
                };
                buffer
                    .expose_secret()
                    .get(..len)
                    .map(|material| SecretBytes::new(material.to_vec()))
            })
        }
        _ => None,
    };
    Ok(material
        .filter(|material| material.len() == material_len)
        .ok_or(KmsError::UnwrapFailed))
}

/// Creates the CMK `target` from `material`, with the attribute policy of every CMK.
pub(crate) fn create_cmk(
    session: &Session,
    target: &ImportedCmk<'_>,
    material: &SecretBytes,
) -> core::result::Result<(), Error> {
    let mut template = unwrapped_cmk_template(target.id, target.key_id);
    template.push(Attribute::Value(material.expose_secret().to_vec()));
    let created = session.create_object(&template);
    if let Some(Attribute::Value(value)) = template.last_mut() {
        zeroize::Zeroize::zeroize(value);
    }
    created.map(drop)
}
