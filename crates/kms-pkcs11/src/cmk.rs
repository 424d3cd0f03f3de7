//! CMKs in the token: created as token objects that can encrypt and decrypt and nothing
//! else (DESIGN 6), and used with CKM_AES_GCM (AES_256) or the vendor's SM4-GCM (SM4).

use std::sync::{Arc, RwLock};

use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use kms_core::{CmkHandle, KmsError, NONCE_LEN, Result, TAG_LEN};
use zeroize::Zeroizing;

use crate::session_pool::SessionPool;
use crate::vendor::Gcm;

/// Bytes of an AES-256 key.
const AES_256_LEN: u64 = 32;
/// Bytes of an SM4 key.
pub(crate) const SM4_LEN: u64 = 16;
/// GCM tag length in bits.
const TAG_BITS: u64 = TAG_LEN as u64 * 8;

/// The template of a new AES-256 CMK with CKA_ID `id`: a sensitive, never-extractable token
/// object that encrypts and decrypts only.
/// CKA_LABEL is the key ID too, so a CMK can be found by key whatever its CKA_ID.
#[must_use]
pub fn cmk_template(id: &[u8], key_id: &[u8]) -> Vec<Attribute> {
    secret_key_template(KeyType::AES, AES_256_LEN, id, key_id)
}

/// The template of a new CMK of `key_type` and `len` bytes, with the policy of
/// [`cmk_template`].
pub(crate) fn secret_key_template(
    key_type: KeyType,
    len: u64,
    id: &[u8],
    key_id: &[u8],
) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(key_type),
        Attribute::ValueLen(len.into()),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Sign(false),
        Attribute::Verify(false),
        Attribute::Derive(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(key_id.to_vec()),
    ]
}

/// The handle of the object of `class` whose CKA_ID is `id`.
pub(crate) fn find_key(
    session: &Session,
    class: ObjectClass,
    id: &[u8],
) -> core::result::Result<Option<ObjectHandle>, Error> {
    let template = [Attribute::Class(class), Attribute::Id(id.to_vec())];
    Ok(session.find_objects(&template)?.into_iter().next())
}

/// A CMK in the token, ready for use. Its object handle is looked up again by CKA_ID when
/// the token says it is no longer valid (the object was re-created, the token restarted).
#[derive(Debug)]
pub(crate) struct Pkcs11Cmk {
    pool: Arc<SessionPool>,
    id: Vec<u8>,
    key: RwLock<ObjectHandle>,
    gcm: Gcm,
}

impl Pkcs11Cmk {
    pub(crate) fn new(pool: Arc<SessionPool>, id: Vec<u8>, key: ObjectHandle, gcm: Gcm) -> Self {
        Self {
            pool,
            id,
            key: RwLock::new(key),
            gcm,
        }
    }

    /// Runs `call` with the key's handle, once more with a fresh handle if it was stale.
    fn with_key<T>(
        &self,
        mut call: impl FnMut(&Session, ObjectHandle) -> core::result::Result<T, Error>,
    ) -> Result<T> {
        let key = *self
            .key
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.pool.with_session(|session| match call(session, key) {
            Err(Error::Pkcs11(RvError::KeyHandleInvalid | RvError::ObjectHandleInvalid, _)) => {
                let Some(fresh) = find_key(session, ObjectClass::SECRET_KEY, &self.id)? else {
                    return call(session, key);
                };
                *self
                    .key
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
                call(session, fresh)
            }
            other => other,
        })
    }
}

impl CmkHandle for Pkcs11Cmk {
    fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        associated_data: &[u8],
        buffer: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let sealed = self.with_key(|session, key| {
            let mut iv = *nonce;
            let params = GcmParams::new(&mut iv, associated_data, TAG_BITS.into())?;
            self.gcm
                .with(params, |mechanism| session.encrypt(mechanism, key, buffer))
        })?;
        let (ciphertext, tag) = sealed.split_at_checked(buffer.len()).ok_or_else(|| {
            KmsError::Backend(format!(
                "C_Encrypt on {} returned too little",
                self.pool.token()
            ))
        })?;
        buffer.copy_from_slice(ciphertext);
        tag.try_into().map_err(|_| {
            KmsError::Backend(format!(
                "C_Encrypt on {} returned a tag of the wrong size",
                self.pool.token()
            ))
        })
    }

    fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        associated_data: &[u8],
        buffer: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        let input = [&*buffer, tag.as_slice()].concat();
        let opened = self.with_key(|session, key| {
            let mut iv = *nonce;
            let params = GcmParams::new(&mut iv, associated_data, TAG_BITS.into())?;
            match self
                .gcm
                .with(params, |mechanism| session.decrypt(mechanism, key, &input))
            {
                Ok(plaintext) => Ok(Ok(Zeroizing::new(plaintext))),
                // A failed tag is the caller's ciphertext, not the token's fault. SoftHSM2
                // 2.6.1 reports it as CKR_GENERAL_ERROR, not CKR_ENCRYPTED_DATA_INVALID.
                Err(Error::Pkcs11(
                    RvError::EncryptedDataInvalid
                    | RvError::EncryptedDataLenRange
                    | RvError::GeneralError,
                    _,
                )) => Ok(Err(KmsError::InvalidCipherText)),
                Err(error) => Err(error),
            }
        })?;
        let plaintext = opened?;
        if plaintext.len() != buffer.len() {
            return Err(KmsError::InvalidCipherText);
        }
        buffer.copy_from_slice(&plaintext);
        Ok(())
    }
}
