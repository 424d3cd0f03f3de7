//! Import inside the token (DESIGN 5 and 6): C_UnwrapKey straight into a CMK object, so
//! imported material never sits in host memory, with RSA wrapping keys that are no unwrap
//! oracle for whoever else holds the PIN.
//!
//! The wrapping private key (a token object) can only unwrap, only with CKM_RSA_PKCS_OAEP
//! (CKA_ALLOWED_MECHANISMS), and only into keys under the unwrapped-key policy of
//! `template` (its CKA_UNWRAP_TEMPLATE: sensitive, never extractable, no wrap, derive, copy
//! or change, CKM_AES_GCM, CKM_AES_KEY_WRAP_PAD or HMAC only). CKA_DECRYPT, CKA_SIGN,
//! CKA_SIGN_RECOVER, CKA_DERIVE, CKA_COPYABLE and CKA_MODIFIABLE are false, so it cannot
//! decrypt a customer's `encrypted_key_material` either, or be changed or copied into a key
//! that would. The softhsm-tests `wrapping_key_policy` check each refusal as another
//! session with the PIN meets it.
//!
//! RSAES_OAEP_* is one C_UnwrapKey into the CMK. RSA_AES_KEY_WRAP_* (CKM_RSA_AES_KEY_WRAP
//! is in neither SoftHSM2 2.6.1 nor cryptoki 0.12) is composed: C_UnwrapKey of the
//! temporary AES key with OAEP into a session object under the policy, which carries the
//! policy as its own CKA_UNWRAP_TEMPLATE and can only unwrap (CKM_AES_KEY_WRAP_PAD), then
//! C_UnwrapKey of the material with it into the CMK. No object an import makes is ever
//! extractable; their lengths are checked inside the token without extracting them
//! (`measure`): exactly 32 bytes for an AES_256 CMK, 16 or 32 for a temporary key. Every
//! way the wrapped material can be wrong gives the one opaque [`KmsError::UnwrapFailed`].
//!
//! What remains, for RSA_AES_KEY_WRAP_* only: the temporary key's unwrap template binds the
//! engine's copy of it, not one a PIN holder unwraps from the same `encrypted_key_material`
//! while its wrapping key exists (from get-parameters-for-import until the import, which
//! destroys the key). The wrapping key's policy still holds for that copy (it cannot
//! decrypt, so no AES block oracle to run AES-KWP on the host), but it can unwrap the
//! material with CKM_AES_KEY_WRAP_PAD into a key of the holder's choosing, extractable
//! included. Closing this needs the wrapping key's unwrap template to give the keys it
//! unwraps an unwrap template of their own (a nested CKA_UNWRAP_TEMPLATE), which SoftHSM2
//! 2.6.1 refuses with CKR_ATTRIBUTE_VALUE_INVALID, or CKM_RSA_AES_KEY_WRAP in the token,
//! which never makes the temporary key an object. RSAES_OAEP_* has no such gap. The
//! softhsm-tests `what_remains_...` test shows the gap as it stands.

use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use kms_core::{KmsError, Result, WrappedMaterial, WrappingAlgorithm, WrappingKeySpec};

use crate::errors::session_lost;
use crate::measure::Meter;
use crate::template::Template;

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

/// The modulus of the public key [`oaep_sha256_offered`] encrypts to: any RSA-2048 key
/// does (a throwaway one made with `openssl genrsa 2048`; its private half was never kept).
const PROBE_MODULUS: &str = "\
    c687f11a41ef0a422545bf9c66ee110f9b35624507564698f8cc2a8649a60a74\
    0145b9b5c65501f20fb6425a4fcf0f841ad67638649103518777fc011804a6fa\
    bc797122a83ab41a06069ed58620111d42c689dd5eee50d71f70823e4ac49c28\
    99aae887811f614b7400ced47dff67a96a60901a758ee06b63d237d59c7e91ce\
    14c3014c987e22554aa658b5a9b39b8a05005595430655ae5fbe1b81526e451f\
    770cff5f75b2a8c64851d34a1dec3ee5714018b6a671937826d6b1c98c870808\
    2400e7b5e7ff796dea6d5d6a55f0bb387eb9dacf531d6375b50f83c8729443ec\
    102b47d02bbf2652d238a264d04582268b9477aee5e56dfa9a59b58905354d49";

/// Whether the token does CKM_RSA_PKCS_OAEP with SHA-256 (its mechanism list cannot say:
/// SoftHSM2 2.6.1 lists OAEP and refuses every hash but SHA-1 with CKR_ARGUMENTS_BAD),
/// found by encrypting one byte to a session public key object made from a fixed modulus,
/// destroyed after. No key is generated, so opening the token stays fast.
pub(crate) fn oaep_sha256_offered(session: &Session) -> core::result::Result<bool, Error> {
    // A constant that decodes (tested); were it not to, the token refuses the empty
    // modulus and the error names the call.
    let modulus = kms_core::decode_hex(PROBE_MODULUS).unwrap_or_default();
    let key = session.create_object(&[
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(false),
        Attribute::Encrypt(true),
        Attribute::Modulus(modulus),
        Attribute::PublicExponent(crate::key_pair::RSA_PUBLIC_EXPONENT.to_vec()),
    ])?;
    let params = oaep_params(WrappingAlgorithm::RsaesOaepSha256);
    let outcome = params.map_or(Ok(false), |params| {
        match session.encrypt(&Mechanism::RsaPkcsOaep(params), key, &[0]) {
            Ok(_) => Ok(true),
            Err(error) if mechanism_refused(&error) => Ok(false),
            Err(error) => Err(error),
        }
    });
    session.destroy_object(key)?;
    outcome
}

/// The policy of a wrapping private key with CKA_ID `id` (module docs): a sensitive,
/// never-extractable token object that can only unwrap, only with CKM_RSA_PKCS_OAEP, only
/// into keys under the unwrapped-key policy, and cannot be changed or copied.
pub(crate) fn wrapping_private_key_template(id: &[u8]) -> Template {
    Template::new(vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Unwrap(true),
        Attribute::AllowedMechanisms(vec![MechanismType::RSA_PKCS_OAEP]),
        Attribute::Decrypt(false),
        Attribute::Sign(false),
        Attribute::SignRecover(false),
        Attribute::Derive(false),
        Attribute::Copyable(false),
        Attribute::Modifiable(false),
        Attribute::Id(id.to_vec()),
    ])
    .unwrapping_under_policy()
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
        Attribute::PublicExponent(crate::key_pair::RSA_PUBLIC_EXPONENT.to_vec()),
        Attribute::Encrypt(true),
        Attribute::Wrap(false),
        Attribute::Id(id.to_vec()),
    ];
    let private_template = wrapping_private_key_template(id);
    let (public, _private) = session.generate_key_pair(
        &Mechanism::RsaPkcsKeyPairGen,
        &public_template,
        private_template.attributes(),
    )?;
    Ok(crate::key_pair::rsa_public_key_spki(session, public)?
        .ok_or_else(|| KmsError::Backend("the token's RSA public key does not encode".into())))
}

/// The object IDs starting with `prefix` of the token's wrapping keys, each once: private
/// keys by CKA_ID, and the sealed copies of host-assisted ones (data objects) by CKA_LABEL,
/// so that a key whose private half is gone but whose copy is left is found too.
pub(crate) fn wrapping_keys(
    session: &Session,
    prefix: &[u8],
) -> core::result::Result<Vec<Vec<u8>>, Error> {
    let mut found = std::collections::BTreeSet::new();
    for (class, name) in [
        (ObjectClass::PRIVATE_KEY, AttributeType::Id),
        (ObjectClass::DATA, AttributeType::Label),
    ] {
        for object in session.find_objects(&[Attribute::Class(class)])? {
            for attribute in session.get_attributes(object, &[name])? {
                if let Attribute::Id(value) | Attribute::Label(value) = attribute
                    && value.starts_with(prefix)
                {
                    found.insert(value);
                }
            }
        }
    }
    Ok(found.into_iter().collect())
}

/// The template of the CMK an import ends in: as a generated one (its length comes from
/// the material), under the unwrapped-key policy.
pub(crate) fn unwrapped_cmk_template(id: &[u8], key_id: &[u8]) -> Template {
    let mut template = crate::cmk::cmk_template(id, key_id);
    template.retain(|attribute| !matches!(attribute, Attribute::ValueLen(_)));
    Template::new(template).under_unwrap_policy()
}

/// The template of RSA_AES_KEY_WRAP's temporary AES key: a session object under the
/// unwrapped-key policy that can only unwrap (so only with CKM_AES_KEY_WRAP_PAD, its one
/// unwrap mechanism there), and only into keys under that policy.
fn temporary_key_template() -> Template {
    Template::new(vec![
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Unwrap(true),
        Attribute::Encrypt(false),
        Attribute::Decrypt(false),
        Attribute::Sign(false),
        Attribute::Verify(false),
    ])
    .under_unwrap_policy()
    .unwrapping_under_policy()
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

/// An object an import made, destroyed when this is dropped unless kept: a failed import,
/// whichever way it fails, leaves nothing behind (a token CMK only if the session is lost
/// meanwhile, and then under an object ID nothing refers to).
struct Made<'a> {
    session: &'a Session,
    handle: Option<ObjectHandle>,
}

impl<'a> Made<'a> {
    fn new(session: &'a Session, handle: ObjectHandle) -> Self {
        Self {
            session,
            handle: Some(handle),
        }
    }

    fn handle(&self) -> ObjectHandle {
        self.handle
            .unwrap_or_else(|| unreachable!("kept objects are not used"))
    }

    fn keep(mut self) {
        self.handle = None;
    }
}

impl Drop for Made<'_> {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            // Best effort: a session object goes with its session anyway.
            let _ = self.session.destroy_object(handle);
        }
    }
}

/// The outcome of a C_UnwrapKey whose failure means bad wrapped material, unless the
/// session is lost (the outer error) or, when `refused` is given, the token refuses the
/// mechanism (that error).
fn unwrapped(
    result: core::result::Result<ObjectHandle, Error>,
    refused: Option<&dyn Fn() -> KmsError>,
) -> core::result::Result<Result<ObjectHandle>, Error> {
    match result {
        Ok(handle) => Ok(Ok(handle)),
        Err(error) if session_lost(&error) => Err(error),
        Err(error) => Ok(Err(match refused {
            Some(refused) if mechanism_refused(&error) => refused(),
            _ => KmsError::UnwrapFailed,
        })),
    }
}

/// Unwraps `wrapped` with the private key `wrapping` into the CMK `target`, measuring with
/// `meter`. The outer error is the session's; the inner one the import's.
pub(crate) fn unwrap_cmk(
    meter: &Meter<'_>,
    wrapping: ObjectHandle,
    algorithm: WrappingAlgorithm,
    wrapped: &WrappedMaterial<'_>,
    target: &ImportedCmk<'_>,
) -> core::result::Result<Result<()>, Error> {
    let session = meter.session;
    let Some(oaep) = oaep_params(algorithm) else {
        return Ok(Err(KmsError::BackendUnsupported(format!(
            "wrapping algorithm {} on {}",
            algorithm.as_str(),
            meter.token
        ))));
    };
    let oaep = Mechanism::RsaPkcsOaep(oaep);
    let refused = || {
        KmsError::BackendUnsupported(format!(
            "C_UnwrapKey with CKM_RSA_PKCS_OAEP for {} refused by {}",
            algorithm.as_str(),
            meter.token
        ))
    };
    let cmk_template = unwrapped_cmk_template(target.id, target.key_id);
    if let WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaesOaepSha256 = algorithm {
        if wrapped.encrypted_privatekey.is_some() {
            return Ok(Err(KmsError::UnwrapFailed));
        }
        let unwrap = |template: &[Attribute]| {
            session.unwrap_key(&oaep, wrapping, wrapped.encrypted_key_material, template)
        };
        let cmk = match unwrapped(unwrap(cmk_template.attributes()), Some(&refused))? {
            Ok(cmk) => Made::new(session, cmk),
            Err(error) => return Ok(Err(error)),
        };
        return keep_if_len(meter, cmk, unwrap, target.material_len);
    }
    let (oaep_part, kwp_part) = match wrapped.encrypted_privatekey {
        Some(kwp_part) => (wrapped.encrypted_key_material, kwp_part),
        None => match wrapped
            .encrypted_key_material
            .split_at_checked(modulus_len(session, wrapping)?)
        {
            Some(parts) => parts,
            None => return Ok(Err(KmsError::UnwrapFailed)),
        },
    };
    let unwrap_temporary =
        |template: &[Attribute]| session.unwrap_key(&oaep, wrapping, oaep_part, template);
    let temporary_template = temporary_key_template();
    let temporary = match unwrapped(
        unwrap_temporary(temporary_template.attributes()),
        Some(&refused),
    )? {
        Ok(temporary) => Made::new(session, temporary),
        Err(error) => return Ok(Err(error)),
    };
    // AES-128 or AES-256, as in the soft backend.
    match meter.aes_key_len(temporary.handle(), unwrap_temporary)? {
        Ok(16 | 32) => {}
        Ok(_) => return Ok(Err(KmsError::UnwrapFailed)),
        Err(error) => return Ok(Err(error)),
    }
    let unwrap = |template: &[Attribute]| {
        session.unwrap_key(
            &Mechanism::AesKeyWrapPad,
            temporary.handle(),
            kwp_part,
            template,
        )
    };
    let cmk = match unwrapped(unwrap(cmk_template.attributes()), None)? {
        Ok(cmk) => Made::new(session, cmk),
        Err(error) => return Ok(Err(error)),
    };
    keep_if_len(meter, cmk, unwrap, target.material_len)
}

/// Keeps the CMK `cmk` if it is a `len`-byte AES key (`copy` unwraps its bytes once more,
/// to measure them); destroys it otherwise.
fn keep_if_len(
    meter: &Meter<'_>,
    cmk: Made<'_>,
    copy: impl FnOnce(&[Attribute]) -> core::result::Result<ObjectHandle, Error>,
    len: usize,
) -> core::result::Result<Result<()>, Error> {
    if !meter.gcm_accepts(cmk.handle())? {
        return Ok(Err(KmsError::UnwrapFailed));
    }
    Ok(match meter.aes_key_len(cmk.handle(), copy)? {
        Ok(measured) if measured == len => {
            cmk.keep();
            Ok(())
        }
        Ok(_) => Err(KmsError::UnwrapFailed),
        Err(error) => Err(error),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_modulus_is_2048_bits() {
        let modulus = kms_core::decode_hex(PROBE_MODULUS).unwrap();
        assert_eq!(modulus.len(), 256);
        assert!(modulus.first().is_some_and(|byte| *byte >= 0x80));
    }
}
