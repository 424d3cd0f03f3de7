//! The `host_assisted_unwrap` policy (off by default, DESIGN 6): for tokens that refuse
//! RSA-OAEP with SHA-256, such as SoftHSM2 2.6.1, the OAEP-SHA-256 (and AES-KWP) decryption
//! of imported material is done on the host, and the CMK object is created from the result
//! with the attribute policy of every imported CMK.
//!
//! This is weaker than unwrapping in the token, and says so:
//!
//! - Every RSA wrapping key of the backend is generated on the host. Its private half goes
//!   into the token as a key object with the policy of one the token generates (`import`:
//!   unwrap only, with CKM_RSA_PKCS_OAEP, into sensitive, never-extractable keys; no
//!   decrypt, sign, sign-recover or derive; not copyable or modifiable), so
//!   RSAES_OAEP_SHA_1 and RSA_AES_KEY_WRAP_SHA_1 still unwrap in the token.
//! - The host keeps a copy of it: PKCS#8, sealed with AES-GCM under a token key (CKA_ID
//!   `kms-host-assisted-unwrap`, which encrypts and decrypts like a CMK), in a data object
//!   beside it, and decrypts SHA-256 imports with that copy. So under this policy the PIN
//!   alone does give the wrapping private key: whoever holds the PIN can decrypt the sealed
//!   copy with the sealing key and then, on any host, every `encrypted_key_material`
//!   wrapped to that key while it exists (until its import token is used). The token
//!   object's restrictions bind the token object only.
//! - The material (and RSA_AES_KEY_WRAP_SHA_256's temporary AES key) passes through host
//!   memory.
//!
//! Host copies of secrets this code owns are wiped: the material and temporary keys
//! (`SecretBytes`), the PKCS#8 documents (`SecretDocument`, the decrypted one in
//! `Zeroizing`), the RSA components handed to C_CreateObject (a `Template`, wiped when
//! dropped), the CRT coefficient computed for them, and the `rsa::PrivateKey` (zeroized on
//! drop by the crate). What the crates leave in freed heap memory: `rsa` 0.10's big-integer
//! temporaries of key generation, decryption and PKCS#1/PKCS#8 encoding and decoding
//! (copies of the primes, d mod (p-1), d mod (q-1), q^-1 mod p; its precomputed qinv is
//! never zeroized), and stack temporaries of big-integer encoding. Only a zero-on-free
//! allocator in the binary wipes those.

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

/// `value` big-endian without leading zeros, trimmed in place: crypto-bigint's
/// `to_be_bytes_trimmed_vartime` leaves an untrimmed copy behind, unwiped.
pub(crate) fn be_bytes(value: &rsa::BoxedUint) -> Vec<u8> {
    let mut bytes = value.to_be_bytes().into_vec();
    let zeros = bytes.iter().take_while(|byte| **byte == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// Generates an RSA wrapping key of `bits` on the host, stores its private half in the
/// token (the policy of every wrapping key, CKA_ID `id`) and a sealed copy as a data object
/// (CKA_LABEL `id`: data objects have no CKA_ID), and returns the public key's SPKI DER.
pub(crate) fn create_wrapping_key(
    session: &Session,
    bits: usize,
    id: &[u8],
) -> core::result::Result<Result<Vec<u8>>, Error> {
    let host = || KmsError::Backend("generating a host-assisted wrapping key".into());
    let Ok(key) = rsa::PrivateKey::new(&mut getrandom::SysRng, bits) else {
        return Ok(Err(host()));
    };
    // Computed on each call (the key keeps it in Montgomery form): wiped on drop.
    let qinv = Zeroizing::new(key.crt_coefficient());
    let (Some(dp), Some(dq), Some(qinv), [p, q]) =
        (key.dp(), key.dq(), qinv.as_ref(), key.primes())
    else {
        return Ok(Err(host()));
    };
    let (Ok(pkcs8), Ok(spki)) = (key.to_pkcs8_der(), key.to_public_key().to_public_key_der())
    else {
        return Ok(Err(host()));
    };
    // Wiped when dropped, whatever C_CreateObject answers.
    let private = wrapping_private_key_template(id).with([
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Modulus(be_bytes(key.n())),
        Attribute::PublicExponent(be_bytes(key.e())),
        Attribute::PrivateExponent(be_bytes(key.d())),
        Attribute::Prime1(be_bytes(p.as_ref())),
        Attribute::Prime2(be_bytes(q.as_ref())),
        Attribute::Exponent1(be_bytes(dp)),
        Attribute::Exponent2(be_bytes(dq)),
        Attribute::Coefficient(be_bytes(qinv)),
    ]);
    session.create_object(private.attributes())?;
    drop(private);
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

/// Creates the CMK `target` from `material`, with the attribute policy of every imported
/// CMK.
pub(crate) fn create_cmk(
    session: &Session,
    target: &ImportedCmk<'_>,
    material: &SecretBytes,
) -> core::result::Result<(), Error> {
    // Wiped when dropped.
    let template = unwrapped_cmk_template(target.id, target.key_id)
        .with([Attribute::Value(material.expose_secret().to_vec())]);
    session.create_object(template.attributes()).map(drop)
}
