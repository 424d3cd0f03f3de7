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
        Ok(AssociatedData { buffer, len })
    }
}

struct AssociatedData {
    buffer: [u8; ASSOCIATED_DATA_MAX],
    len: usize,
}

impl AssociatedData {
    fn as_slice(&self) -> &[u8] {
        self.buffer.get(..self.len).unwrap_or_default()
    }
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
    let header = Header::new(key.spec, &key.key_id, key.generation, nonce);
    let associated_data = header.associated_data(aad)?;
    let mut blob = Vec::with_capacity(BLOB_OVERHEAD + plaintext.len());
    blob.extend_from_slice(&header.0);
    blob.extend_from_slice(plaintext);
    let body = blob.get_mut(HEADER_LEN..).unwrap_or_default();
    let tag = cmk.seal_in_place(nonce, associated_data.as_slice(), body)?;
    blob.extend_from_slice(&tag);
    Ok(blob)
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
    let associated_data = expected.associated_data(aad)?;
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
    fn associated_data_refuses_aad_over_128_bytes() {
        let key_id = KeyId::parse("0d0466b0-e727-4d9c-b35d-f84bb474a37f").unwrap();
        let header = Header::new(CmkSpec::Aes256, &key_id, 0, &[0; NONCE_LEN]);
        assert!(header.associated_data(&[0; 128]).is_ok());
        let err = header.associated_data(&[0; 129]).err().unwrap();
        assert_eq!(err.code(), "KMS.0308");
    }
}
