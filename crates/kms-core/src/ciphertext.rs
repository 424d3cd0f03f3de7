//! Ciphertext blob v1 (DESIGN 4), the format of `cipher_text` and `private_key_cipher_text`:
//!
//! ```text
//! 0   1   version = 0x01
//! 1   1   algorithm: 0x01 AES-256-GCM, 0x02 SM4-GCM
//! 2   36  key_id, ASCII
//! 38  4   material generation, u32 big-endian
//! 42  12  nonce
//! 54  n   ciphertext of the DEK
//! ..  16  tag
//! ```
//!
//! The AEAD's associated data is the 54 header bytes, the caller's AAD length as a u32
//! big-endian, then the caller's AAD. It is never empty, and it binds every header field.
//! A blob sealed with an `encryption_context` has the context's canonical form (see
//! [`canonical_encryption_context`]) appended, after its own u32 big-endian length: the
//! AAD's length prefix fixes where the AAD ends, so "no context" (nothing follows) and any
//! context (at least four bytes follow) can never give the same associated data, and a
//! blob sealed without a context opens exactly as before.
//!
//! Every way a blob can fail to open gives the one opaque [`KmsError::InvalidCipherText`].

use crate::backend::{CmkHandle, NONCE_LEN, TAG_LEN};
use crate::error::{KmsError, Result};
use crate::key_id::{KEY_ID_LEN, KeyId};
use crate::secret::SecretBytes;
use crate::spec::CmkSpec;

/// Blob format version written by this engine.
pub const BLOB_VERSION: u8 = 0x01;
/// Length of the blob header in bytes.
pub const HEADER_LEN: usize = 54;
/// Bytes a blob adds to its plaintext.
pub const BLOB_OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// Longest caller AAD (`additional_authenticated_data`) in bytes.
pub const MAX_AAD_LEN: usize = 128;
/// Longest `encryption_context`, in characters of its canonical form.
pub const MAX_ENCRYPTION_CONTEXT_LEN: usize = 8192;

const KEY_ID_AT: usize = 2;
const GENERATION_AT: usize = KEY_ID_AT + KEY_ID_LEN;
const NONCE_AT: usize = GENERATION_AT + 4;
const ASSOCIATED_DATA_MAX: usize = HEADER_LEN + 4 + MAX_AAD_LEN;

/// The algorithm byte of a blob for CMKs of `spec`.
fn algorithm_byte(spec: CmkSpec) -> u8 {
    match spec {
        CmkSpec::Aes256 => 0x01,
        CmkSpec::Sm4 => 0x02,
    }
}

/// The fixed header of a blob.
struct Header([u8; HEADER_LEN]);

impl Header {
    fn new(spec: CmkSpec, key_id: &KeyId, generation: u32, nonce: &[u8; NONCE_LEN]) -> Self {
        let mut bytes = [0u8; HEADER_LEN];
        let (version_and_algorithm, rest) = bytes.split_at_mut(KEY_ID_AT);
        version_and_algorithm.copy_from_slice(&[BLOB_VERSION, algorithm_byte(spec)]);
        let (id, rest) = rest.split_at_mut(KEY_ID_LEN);
        id.copy_from_slice(key_id.as_bytes());
        let (gen_bytes, nonce_bytes) = rest.split_at_mut(4);
        gen_bytes.copy_from_slice(&generation.to_be_bytes());
        nonce_bytes.copy_from_slice(nonce);
        Self(bytes)
    }

    fn nonce(&self) -> [u8; NONCE_LEN] {
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(self.0.get(NONCE_AT..).unwrap_or_default());
        nonce
    }

    /// Header bytes, the caller's AAD length (u32 BE) and the AAD, then, when there is an
    /// encryption context, its length (u32 BE) and its canonical form.
    fn associated_data_with_context(
        &self,
        aad: &[u8],
        context: Option<&[u8]>,
    ) -> Result<AssociatedData> {
        let plain = self.associated_data(aad)?;
        let Some(context) = context else {
            return Ok(plain);
        };
        let context_len = u32::try_from(context.len())
            .map_err(|_| KmsError::InvalidEncryptionContext("too long"))?;
        let mut joined = Vec::with_capacity(plain.len + 4 + context.len());
        joined.extend_from_slice(plain.as_slice());
        joined.extend_from_slice(&context_len.to_be_bytes());
        joined.extend_from_slice(context);
        Ok(AssociatedData {
            buffer: plain.buffer,
            len: 0,
            joined: Some(joined),
        })
    }

    /// Header bytes, then the caller's AAD length (u32 BE) and the AAD, on the stack.
    fn associated_data(&self, aad: &[u8]) -> Result<AssociatedData> {
        if aad.len() > MAX_AAD_LEN {
            return Err(KmsError::InvalidParameter(format!(
                "additional_authenticated_data is longer than {MAX_AAD_LEN} bytes"
            )));
        }
        let mut buffer = [0u8; ASSOCIATED_DATA_MAX];
        let len = HEADER_LEN + 4 + aad.len();
        let (header, rest) = buffer.split_at_mut(HEADER_LEN);
        header.copy_from_slice(&self.0);
        let (aad_len, aad_bytes) = rest.split_at_mut(4);
        // Bounded by MAX_AAD_LEN above, so the cast is exact.
        aad_len.copy_from_slice(&(aad.len() as u32).to_be_bytes());
        aad_bytes
            .get_mut(..aad.len())
            .ok_or(KmsError::InvalidCipherText)?
            .copy_from_slice(aad);
        Ok(AssociatedData {
            buffer,
            len,
            joined: None,
        })
    }
}

/// The associated data: on the stack without an encryption context, joined on the heap
/// with one.
struct AssociatedData {
    buffer: [u8; ASSOCIATED_DATA_MAX],
    len: usize,
    joined: Option<Vec<u8>>,
}

impl AssociatedData {
    fn as_slice(&self) -> &[u8] {
        match &self.joined {
            Some(joined) => joined,
            None => self.buffer.get(..self.len).unwrap_or_default(),
        }
    }
}

/// The canonical form of an `encryption_context` bound into a blob: the compact JSON of
/// the object with its keys in byte order (`{"a":"b","c":"d"}`), every value a string.
/// JSON is unambiguous, so two contexts have the same form only when they hold the same
/// pairs, whatever order or spacing the client sent them in.
///
/// # Errors
/// [`KmsError::InvalidEncryptionContext`] (KMS.0208) when `context` is not an object of
/// strings or its canonical form is longer than [`MAX_ENCRYPTION_CONTEXT_LEN`] characters.
/// The message never holds a value of the context.
pub fn canonical_encryption_context(context: &serde_json::Value) -> Result<Option<Vec<u8>>> {
    let object = context
        .as_object()
        .ok_or(KmsError::InvalidEncryptionContext(
            "it must be a JSON object",
        ))?;
    if object.is_empty() {
        // `{}` binds nothing: the blob is the same as one sealed without a context.
        return Ok(None);
    }
    let mut sorted = std::collections::BTreeMap::new();
    for (name, value) in object {
        let value = value.as_str().ok_or(KmsError::InvalidEncryptionContext(
            "every value must be a string",
        ))?;
        sorted.insert(name.as_str(), value);
    }
    let canonical = serde_json::to_string(&sorted)
        .map_err(|_| KmsError::InvalidEncryptionContext("it cannot be serialized"))?;
    if canonical.chars().count() > MAX_ENCRYPTION_CONTEXT_LEN {
        return Err(KmsError::InvalidEncryptionContext(
            "it must be at most 8192 characters",
        ));
    }
    Ok(Some(canonical.into_bytes()))
}

/// Who a blob is for: the CMK's ID, spec and material generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobKey {
    /// The CMK's ID, written into the header.
    pub key_id: KeyId,
    /// The CMK's spec, which picks the AEAD.
    pub spec: CmkSpec,
    /// The generation of the CMK's material.
    pub generation: u32,
}

/// Seals `plaintext` into a v1 blob under `cmk`, binding `aad`.
///
/// # Errors
/// [`KmsError::InvalidParameter`] when `aad` is longer than [`MAX_AAD_LEN`];
/// [`KmsError::Backend`] when the backend fails.
pub fn seal_blob(
    cmk: &dyn CmkHandle,
    key: &BlobKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    seal_blob_with_context(cmk, key, nonce, aad, None, plaintext)
}

/// Seals `plaintext` into a v1 blob under `cmk`, binding `aad` and, when given, the
/// canonical encryption context `context` (from [`canonical_encryption_context`]).
///
/// # Errors
/// As [`seal_blob`].
pub fn seal_blob_with_context(
    cmk: &dyn CmkHandle,
    key: &BlobKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    context: Option<&[u8]>,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let header = Header::new(key.spec, &key.key_id, key.generation, nonce);
    let associated_data = header.associated_data_with_context(aad, context)?;
    let mut blob = Vec::with_capacity(BLOB_OVERHEAD + plaintext.len());
    blob.extend_from_slice(&header.0);
    blob.extend_from_slice(plaintext);
    let body = blob.get_mut(HEADER_LEN..).unwrap_or_default();
    let tag = cmk.seal_in_place(nonce, associated_data.as_slice(), body)?;
    blob.extend_from_slice(&tag);
    Ok(blob)
}

/// The key ID a blob's header names, when the blob is long enough to be one and the ID is
/// well formed. Not authenticated: the blob opens only under that key, which is what a
/// caller that reads it does next.
#[must_use]
pub fn blob_key_id(blob: &[u8]) -> Option<KeyId> {
    if blob.len() < BLOB_OVERHEAD {
        return None;
    }
    let id: [u8; KEY_ID_LEN] = blob.get(KEY_ID_AT..GENERATION_AT)?.try_into().ok()?;
    KeyId::from_bytes(id).ok()
}

/// The material generation a blob's header names, when the blob is long enough to be one.
/// Not authenticated: the blob opens only under that generation's material.
#[must_use]
pub fn blob_generation(blob: &[u8]) -> Option<u32> {
    if blob.len() < BLOB_OVERHEAD {
        return None;
    }
    let bytes: [u8; 4] = blob.get(GENERATION_AT..NONCE_AT)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

/// Opens a v1 blob made by [`seal_blob`] for the same `key` and `aad`.
///
/// # Errors
/// [`KmsError::InvalidCipherText`] for every way the blob can be wrong: too short, another
/// version, algorithm, key ID or generation, a flipped bit, another AAD.
/// [`KmsError::Backend`] when the backend fails.
pub fn open_blob(
    cmk: &dyn CmkHandle,
    key: &BlobKey,
    aad: &[u8],
    blob: &[u8],
) -> Result<SecretBytes> {
    open_blob_with_context(cmk, key, aad, None, blob)
}

/// Opens a v1 blob made by [`seal_blob_with_context`] for the same `key`, `aad` and
/// `context`: a blob sealed with a context opens only with the same one, and a blob sealed
/// without one only without one.
///
/// # Errors
/// As [`open_blob`]: another context is one more way to get the one opaque
/// [`KmsError::InvalidCipherText`].
pub fn open_blob_with_context(
    cmk: &dyn CmkHandle,
    key: &BlobKey,
    aad: &[u8],
    context: Option<&[u8]>,
    blob: &[u8],
) -> Result<SecretBytes> {
    if blob.len() < BLOB_OVERHEAD {
        return Err(KmsError::InvalidCipherText);
    }
    let (header_bytes, rest) = blob.split_at(HEADER_LEN);
    let (body, tag_bytes) = rest.split_at(rest.len() - TAG_LEN);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(tag_bytes);
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(header_bytes.get(NONCE_AT..).unwrap_or_default());
    // The expected header, rebuilt from the key: any difference in version, algorithm, key
    // ID or generation then fails authentication like any other tampering.
    let expected = Header::new(key.spec, &key.key_id, key.generation, &nonce);
    if expected.0.as_slice() != header_bytes {
        return Err(KmsError::InvalidCipherText);
    }
    let associated_data = expected.associated_data_with_context(aad, context)?;
    let mut plaintext = SecretBytes::new(body.to_vec());
    // On failure `plaintext` drops here and is wiped.
    cmk.open_in_place(
        &expected.nonce(),
        associated_data.as_slice(),
        plaintext.expose_secret_mut(),
        &tag,
    )
    .map_err(|error| match error {
        KmsError::Backend(_) => error,
        _ => KmsError::InvalidCipherText,
    })?;
    Ok(plaintext)
}

/// The DEK length a blob of `blob_len` bytes holds, if it can hold one.
#[must_use]
pub fn plaintext_len(blob_len: usize) -> Option<usize> {
    blob_len.checked_sub(BLOB_OVERHEAD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lays_out_every_field_at_its_design_offset() {
        let key_id = KeyId::parse("0d0466b0-e727-4d9c-b35d-f84bb474a37f").unwrap();
        let header = Header::new(CmkSpec::Sm4, &key_id, 0x0102_0304, &[0xEE; NONCE_LEN]);
        assert_eq!(header.0[0], 0x01);
        assert_eq!(header.0[1], 0x02);
        assert_eq!(&header.0[2..38], key_id.as_bytes());
        assert_eq!(&header.0[38..42], &[1, 2, 3, 4]);
        assert_eq!(&header.0[42..54], &[0xEE; 12]);
    }

    #[test]
    fn associated_data_is_header_then_length_then_aad() {
        let key_id = KeyId::parse("0d0466b0-e727-4d9c-b35d-f84bb474a37f").unwrap();
        let header = Header::new(CmkSpec::Aes256, &key_id, 0, &[0; NONCE_LEN]);
        let ad = header.associated_data(b"aad").unwrap();
        assert_eq!(ad.as_slice().len(), HEADER_LEN + 4 + 3);
        assert_eq!(&ad.as_slice()[..HEADER_LEN], &header.0);
        assert_eq!(
            &ad.as_slice()[HEADER_LEN..],
            &[0, 0, 0, 3, b'a', b'a', b'd']
        );
        let empty = header.associated_data(b"").unwrap();
        assert_eq!(empty.as_slice().len(), HEADER_LEN + 4);
    }

    #[test]
    fn a_context_follows_the_aad_with_its_own_length() {
        let key_id = KeyId::parse("0d0466b0-e727-4d9c-b35d-f84bb474a37f").unwrap();
        let header = Header::new(CmkSpec::Aes256, &key_id, 0, &[0; NONCE_LEN]);
        let context = canonical_encryption_context(&serde_json::json!({"b": "2", "a": "1"}))
            .unwrap()
            .unwrap();
        assert_eq!(context, br#"{"a":"1","b":"2"}"#);
        let ad = header
            .associated_data_with_context(b"x", Some(&context))
            .unwrap();
        let plain = header.associated_data(b"x").unwrap();
        assert_eq!(&ad.as_slice()[..plain.as_slice().len()], plain.as_slice());
        let rest = &ad.as_slice()[plain.as_slice().len()..];
        assert_eq!(&rest[..4], &(context.len() as u32).to_be_bytes());
        assert_eq!(&rest[4..], context.as_slice());
        let none = header.associated_data_with_context(b"x", None).unwrap();
        assert_eq!(none.as_slice(), plain.as_slice());
    }

    #[test]
    fn encryption_context_must_be_an_object_of_strings_of_8192_characters() {
        let code =
            |value: serde_json::Value| canonical_encryption_context(&value).unwrap_err().code();
        assert_eq!(code(serde_json::json!("a")), "KMS.0208");
        assert_eq!(code(serde_json::json!(["a"])), "KMS.0208");
        assert_eq!(code(serde_json::json!({"a": 1})), "KMS.0208");
        assert_eq!(code(serde_json::json!({"a": {"b": "c"}})), "KMS.0208");
        assert_eq!(
            canonical_encryption_context(&serde_json::json!({})).unwrap(),
            None
        );
        // {"a":"…"} is 8 characters around the value.
        let fits = serde_json::json!({ "a": "x".repeat(8192 - 8) });
        assert!(canonical_encryption_context(&fits).unwrap().is_some());
        let over = serde_json::json!({ "a": "x".repeat(8192 - 7) });
        assert_eq!(code(over), "KMS.0208");
    }

    #[test]
    fn associated_data_refuses_aad_over_128_bytes() {
        let key_id = KeyId::parse("0d0466b0-e727-4d9c-b35d-f84bb474a37f").unwrap();
        let header = Header::new(CmkSpec::Aes256, &key_id, 0, &[0; NONCE_LEN]);
        assert!(header.associated_data(&[0; 128]).is_ok());
        let err = header.associated_data(&[0; 129]).err().unwrap();
        assert_eq!(err.code(), "KMS.0308");
    }
}
