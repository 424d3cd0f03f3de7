//! HMAC CMKs in the token (DESIGN 12): generic secrets made with
//! CKM_GENERIC_SECRET_KEY_GEN as token objects that are sensitive, never extractable, and
//! can sign and verify only; used with CKM_SHA256_HMAC, CKM_SHA384_HMAC or
//! CKM_SHA512_HMAC. HMAC_SM3 needs a vendor mechanism this backend does not use.

use std::sync::Arc;

use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use kms_core::{KmsError, MacKeyHandle, MacSpec, Result};

use crate::session_pool::SessionPool;
use crate::token_object::TokenObject;

/// The HMAC mechanism of `spec`, if the backend has one.
pub(crate) fn mechanism(spec: MacSpec) -> Option<MechanismType> {
    match spec {
        MacSpec::Hmac256 => Some(MechanismType::SHA256_HMAC),
        MacSpec::Hmac384 => Some(MechanismType::SHA384_HMAC),
        MacSpec::Hmac512 => Some(MechanismType::SHA512_HMAC),
        MacSpec::HmacSm3 => None,
    }
}

/// What a token lacks for HMAC_SM3, for the capabilities' `missing`.
pub(crate) const HMAC_SM3_MISSING: &str =
    "CKM_SM3_HMAC (a vendor mechanism, which this backend does not use)";

fn signing_mechanism(spec: MacSpec) -> Option<Mechanism<'static>> {
    match spec {
        MacSpec::Hmac256 => Some(Mechanism::Sha256Hmac),
        MacSpec::Hmac384 => Some(Mechanism::Sha384Hmac),
        MacSpec::Hmac512 => Some(Mechanism::Sha512Hmac),
        MacSpec::HmacSm3 => None,
    }
}

/// The template of a new HMAC CMK of `spec` with CKA_ID `id` and CKA_LABEL `key_id`: a
/// sensitive, never-extractable generic secret token object that signs and verifies only.
pub(crate) fn template(spec: MacSpec, id: &[u8], key_id: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::ValueLen((spec.material_len() as u64).into()),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Verify(true),
        Attribute::Encrypt(false),
        Attribute::Decrypt(false),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(key_id.to_vec()),
    ]
}

/// An HMAC CMK in the token, ready for use.
pub(crate) struct Pkcs11MacKey {
    pool: Arc<SessionPool>,
    spec: MacSpec,
    key: TokenObject,
}

impl core::fmt::Debug for Pkcs11MacKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pkcs11MacKey")
            .field("spec", &self.spec.as_str())
            .field("handle", &self.key.handle())
            .finish_non_exhaustive()
    }
}

impl Pkcs11MacKey {
    pub(crate) fn new(pool: Arc<SessionPool>, spec: MacSpec, key: TokenObject) -> Self {
        Self { pool, spec, key }
    }

    fn mechanism(&self) -> Result<Mechanism<'static>> {
        signing_mechanism(self.spec).ok_or_else(|| {
            KmsError::BackendUnsupported(format!(
                "CMK spec {} on backend {} (needs {HMAC_SM3_MISSING})",
                self.spec.as_str(),
                self.pool.token()
            ))
        })
    }
}

impl MacKeyHandle for Pkcs11MacKey {
    fn mac(&self, message: &[u8]) -> Result<Vec<u8>> {
        let mechanism = self.mechanism()?;
        self.pool.with_session(|session| {
            self.key
                .with(session, |key| session.sign(&mechanism, key, message))
        })
    }

    fn verify(&self, message: &[u8], mac: &[u8]) -> Result<bool> {
        let mechanism = self.mechanism()?;
        self.pool.with_session(|session| {
            match self
                .key
                .with(session, |key| session.verify(&mechanism, key, message, mac))
            {
                Ok(()) => Ok(true),
                Err(Error::Pkcs11(RvError::SignatureInvalid | RvError::SignatureLenRange, _)) => {
                    Ok(false)
                }
                Err(error) => Err(error),
            }
        })
    }
}
