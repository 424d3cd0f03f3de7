//! Import inside the token (DESIGN 5 and 6): RSA wrapping keys whose private half can only
//! unwrap, and C_UnwrapKey straight into a CMK object, so imported material never sits in
//! host memory.
//!
//! RSAES_OAEP_* is one C_UnwrapKey. RSA_AES_KEY_WRAP_* (CKM_RSA_AES_KEY_WRAP is not in
//! SoftHSM2 2.6.1) is composed: C_UnwrapKey of the temporary AES key with OAEP into a
//! session object, then C_UnwrapKey of the material with CKM_AES_KEY_WRAP_PAD.
//!
//! A token need not say how long an unwrapped key is (SoftHSM2 leaves CKA_VALUE_LEN at 0),
//! and an AES_256 CMK must not quietly become AES-128. So material is first unwrapped into
//! a session object, measured by wrapping it with CKM_AES_KEY_WRAP (RFC 3394: exactly 8
//! bytes longer than the key) under a session key, and only a key of the right length is
//! unwrapped from that into the CMK. Nothing leaves the token. Every way the wrapped
//! material can be wrong gives the one opaque [`KmsError::UnwrapFailed`].

use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use kms_core::{KmsError, Result, WrappedMaterial, WrappingAlgorithm, WrappingKeySpec};
use pkcs8::EncodePublicKey;

/// Errors of C_UnwrapKey that say the token cannot do the mechanism, rather than that the
/// wrapped material is wrong. SoftHSM2 2.6.1 answers OAEP with SHA-256 with
/// CKR_ARGUMENTS_BAD.
fn mechanism_refused(error: &Error) -> bool {
    matches!(
        error,
        Error::Pkcs11(
            RvError::MechanismInvalid | RvError::MechanismParamInvalid | RvError::ArgumentsBad,
            _
        )
    )
}

/// The OAEP parameters of `algorithm`, if it is an OAEP one with SHA-1 or SHA-256.
pub(crate) fn oaep_params(algorithm: WrappingAlgorithm) -> Option<PkcsOaepParams<'static>> {
    let (hash, mgf) = match algorithm {
        WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaAesKeyWrapSha1 => {
            (MechanismType::SHA1, PkcsMgfType::MGF1_SHA1)
        }
        WrappingAlgorithm::RsaesOaepSha256 | WrappingAlgorithm::RsaAesKeyWrapSha256 => {
            (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256)
        }
        WrappingAlgorithm::Sm2Encrypt => return None,
    };
    Some(PkcsOaepParams::new(hash, mgf, PkcsOaepSource::empty()))
}

/// The policy of a wrapping private key with CKA_ID `id`: a sensitive, never-extractable
/// token object that can only unwrap.
pub(crate) fn wrapping_private_key_template(id: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Unwrap(true),
        Attribute::Decrypt(false),
        Attribute::Sign(false),
        Attribute::Id(id.to_vec()),
    ]
}

/// Generates an RSA wrapping key pair of `spec` as token objects with CKA_ID `id` (so a
/// later process can import with it), and returns the public key's SPKI DER.
pub(crate) fn create_wrapping_key(
    session: &Session,
    spec: WrappingKeySpec,
    id: &[u8],
) -> core::result::Result<Result<Vec<u8>>, Error> {
    let Some(bits) = spec.rsa_bits() else {
        return Ok(Err(KmsError::BackendUnsupported(format!(
            "wrapping key spec {}",
            spec.as_str()
        ))));
    };
    let public_template = [
        Attribute::Token(true),
        Attribute::ModulusBits((bits as u64).into()),
        Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
        Attribute::Encrypt(true),
        Attribute::Wrap(false),
        Attribute::Id(id.to_vec()),
    ];
    let private_template = wrapping_private_key_template(id);
    let (public, _private) = session.generate_key_pair(
        &Mechanism::RsaPkcsKeyPairGen,
        &public_template,
        &private_template,
    )?;
    let attributes = session.get_attributes(
        public,
        &[AttributeType::Modulus, AttributeType::PublicExponent],
    )?;
    let (mut modulus, mut exponent) = (None, None);
    for attribute in attributes {
        match attribute {
            Attribute::Modulus(value) => modulus = Some(value),
            Attribute::PublicExponent(value) => exponent = Some(value),
            _ => {}
        }
    }
    let spki = modulus.zip(exponent).and_then(|(n, e)| {
        let n = rsa::BoxedUint::from_be_slice_vartime(&n);
        let e = rsa::BoxedUint::from_be_slice_vartime(&e);
        rsa::PublicKey::new(n, e).ok()?.to_public_key_der().ok()
    });
    Ok(spki
        .map(|document| document.into_vec())
        .ok_or_else(|| KmsError::Backend("the token's RSA public key does not encode".into())))
}

/// Secret-key templates of the session objects an import passes through. Objects to be
/// measured are extractable (only ever wrapped under the session carrier key) and encrypt
/// (one probe block).
fn session_key_template(wrap: bool, unwrap: bool, measurable: bool) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Sensitive(true),
        Attribute::Extractable(measurable),
        Attribute::Wrap(wrap),
        Attribute::Unwrap(unwrap),
        Attribute::Encrypt(measurable),
        Attribute::Decrypt(false),
    ]
}

/// The template of the CMK an import ends in: as a generated one, but its length comes
/// from the material.
pub(crate) fn unwrapped_cmk_template(id: &[u8], key_id: &[u8]) -> Vec<Attribute> {
    crate::cmk::cmk_template(id, key_id)
        .into_iter()
        .filter(|attribute| !matches!(attribute, Attribute::ValueLen(_)))
        .collect()
}

/// The modulus length in bytes of RSA key `key`.
fn modulus_len(session: &Session, key: ObjectHandle) -> core::result::Result<usize, Error> {
    let attributes = session.get_attributes(key, &[AttributeType::Modulus])?;
    Ok(attributes
        .into_iter()
        .find_map(|attribute| match attribute {
            Attribute::Modulus(modulus) => Some(modulus.len()),
            _ => None,
        })
        .unwrap_or(0))
}

/// A session AES key that wraps and unwraps, to measure and move unwrapped keys.
struct Carrier(ObjectHandle);

impl Carrier {
    fn new(session: &Session) -> core::result::Result<Self, Error> {
        let mut template = session_key_template(true, true, false);
        template.push(Attribute::ValueLen(32u64.into()));
        session
            .generate_key(&Mechanism::AesKeyGen, &template)
            .map(Self)
    }

    /// `key` wrapped with CKM_AES_KEY_WRAP if its length is one of `lengths`, else `None`.
    ///
    /// CKM_AES_KEY_WRAP gives 8 bytes more than the key rounded up to a multiple of 8
    /// (SoftHSM2 pads a key that is not one), and a key that encrypts a block with
    /// CKM_AES_ECB is 16, 24 or 32 bytes long: together they pin the length down exactly
    /// (the block's ciphertext, a key check value, is dropped).
    fn measure(&self, session: &Session, key: ObjectHandle, lengths: &[usize]) -> Option<Vec<u8>> {
        session.encrypt(&Mechanism::AesEcb, key, &[0; 16]).ok()?;
        let wrapped = session.wrap_key(&Mechanism::AesKeyWrap, self.0, key).ok()?;
        lengths
            .iter()
            .any(|len| wrapped.len() == len + 8)
            .then_some(wrapped)
    }
}

/// The CMK object an import makes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ImportedCmk<'a> {
    /// Its CKA_ID, of its own.
    pub(crate) id: &'a [u8],
    /// The key ID, its CKA_LABEL.
    pub(crate) key_id: &'a [u8],
    /// The material's length in bytes.
    pub(crate) material_len: usize,
}

/// Unwraps `wrapped` with the private key `wrapping` into the CMK `target`. The outer
/// error is the session's; the inner one the import's.
pub(crate) fn unwrap_cmk(
    session: &Session,
    token: &str,
    wrapping: ObjectHandle,
    algorithm: WrappingAlgorithm,
    wrapped: &WrappedMaterial<'_>,
    target: &ImportedCmk<'_>,
) -> core::result::Result<Result<()>, Error> {
    let Some(oaep) = oaep_params(algorithm) else {
        return Ok(Err(KmsError::BackendUnsupported(format!(
            "wrapping algorithm {} on {token}",
            algorithm.as_str()
        ))));
    };
    let carrier = Carrier::new(session)?;
    let outcome = unwrap_measured(
        session,
        &carrier,
        wrapping,
        algorithm,
        oaep,
        wrapped,
        target.material_len,
    )
    .map(|measured| match measured {
        Err(error) if mechanism_refused(&error) => Err(KmsError::BackendUnsupported(format!(
            "C_UnwrapKey with CKM_RSA_PKCS_OAEP for {} refused by {token}",
            algorithm.as_str()
        ))),
        Err(_) => Err(KmsError::UnwrapFailed),
        Ok(None) => Err(KmsError::UnwrapFailed),
        Ok(Some(measured)) => session
            .unwrap_key(
                &Mechanism::AesKeyWrap,
                carrier.0,
                &measured,
                &unwrapped_cmk_template(target.id, target.key_id),
            )
            .map(drop)
            .map_err(|_| KmsError::UnwrapFailed),
    });
    session.destroy_object(carrier.0)?;
    outcome
}

/// The material unwrapped into a session object, measured and wrapped under `carrier`
/// (`None` when its length is wrong). The middle error is the unwrap's, for the caller to
/// tell a refused mechanism from bad material.
fn unwrap_measured(
    session: &Session,
    carrier: &Carrier,
    wrapping: ObjectHandle,
    algorithm: WrappingAlgorithm,
    oaep: PkcsOaepParams<'_>,
    wrapped: &WrappedMaterial<'_>,
    material_len: usize,
) -> core::result::Result<core::result::Result<Option<Vec<u8>>, Error>, Error> {
    let measurable = session_key_template(false, false, true);
    let material = match algorithm {
        WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaesOaepSha256 => {
            if wrapped.encrypted_privatekey.is_some() {
                return Ok(Ok(None));
            }
            match session.unwrap_key(
                &Mechanism::RsaPkcsOaep(oaep),
                wrapping,
                wrapped.encrypted_key_material,
                &measurable,
            ) {
                Ok(material) => material,
                Err(error) => return Ok(Err(error)),
            }
        }
        _ => {
            let (oaep_part, kwp_part) = match wrapped.encrypted_privatekey {
                Some(kwp_part) => (wrapped.encrypted_key_material, kwp_part),
                None => match wrapped
                    .encrypted_key_material
                    .split_at_checked(modulus_len(session, wrapping)?)
                {
                    Some(parts) => parts,
                    None => return Ok(Ok(None)),
                },
            };
            let temporary_template = session_key_template(false, true, true);
            let temporary = match session.unwrap_key(
                &Mechanism::RsaPkcsOaep(oaep),
                wrapping,
                oaep_part,
                &temporary_template,
            ) {
                Ok(temporary) => temporary,
                Err(error) => return Ok(Err(error)),
            };
            // The temporary AES key must be 16 or 32 bytes (the aes-kw limits aside).
            let usable = carrier.measure(session, temporary, &[16, 32]).is_some();
            let material = usable
                .then(|| {
                    session
                        .unwrap_key(&Mechanism::AesKeyWrapPad, temporary, kwp_part, &measurable)
                        .ok()
                })
                .flatten();
            session.destroy_object(temporary)?;
            match material {
                Some(material) => material,
                None => return Ok(Ok(None)),
            }
        }
    };
    let measured = carrier.measure(session, material, &[material_len]);
    session.destroy_object(material)?;
    Ok(Ok(measured))
}
