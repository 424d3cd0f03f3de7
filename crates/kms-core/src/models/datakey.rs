//! DEK envelope encryption: create-datakey, create-datakey-without-plaintext,
//! encrypt-datakey, decrypt-datakey.

use serde::{Deserialize, Serialize};

use super::fields::{
    aad, decimal, key_id, number_or_string, refuse_level4_fields, required, sequence,
};
use crate::ciphertext::{BLOB_OVERHEAD, canonical_encryption_context};
use crate::codec::{HexError, decode_hex, decode_hex_secret};
use crate::dek_digest::DEK_DIGEST_LEN;
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::secret::{SecretBytes, SecretString};

/// Longest DEK encrypt-datakey accepts, in bytes.
pub const MAX_PLAIN_DEK_LEN: u32 = 1024;
/// Longest DEK decrypt-datakey returns, in bytes: room for an RSA_4096 PKCS#8 private key
/// (about 2.4 KB) sealed by create-rsa-datakey-pair.
pub const MAX_CIPHER_DEK_LEN: u32 = 4096;
/// DEK length of a create-datakey with neither `key_spec` nor `datakey_length`: 256 bits.
pub const DEFAULT_DATAKEY_BYTES: usize = 32;
/// Shortest and longest `datakey_length` of create-datakey, in bits.
pub const DATAKEY_BITS: core::ops::RangeInclusive<u32> = 8..=8192;

/// Body of `create-datakey` and `create-datakey-without-plaintext`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDatakeyRequest {
    /// The CMK.
    pub key_id: Option<String>,
    /// `AES_256` (32 bytes) or `AES_128` (16 bytes); or give `datakey_length`.
    pub key_spec: Option<String>,
    /// DEK length in bits, 8..=8192, a multiple of 8 (a string or a JSON integer).
    #[serde(default, deserialize_with = "number_or_string")]
    pub datakey_length: Option<String>,
    /// Caller AAD bound to the ciphertext, at most 128 bytes.
    pub additional_authenticated_data: Option<String>,
    /// Key-value pairs (strings) bound to the ciphertext like AAD, at most 8192 characters;
    /// the same pairs are needed to decrypt.
    pub encryption_context: Option<serde_json::Value>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
    /// Level-4 testing scenario: not supported.
    pub pin: Option<SecretString>,
    /// Level-4 testing scenario: not supported.
    pub pin_type: Option<String>,
}

/// A validated create-datakey request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDatakey<'a> {
    /// The CMK.
    pub key_id: KeyId,
    /// DEK length in bytes.
    pub len: usize,
    /// Caller AAD.
    pub aad: &'a [u8],
    /// The canonical encryption context, when one is given.
    pub context: Option<Vec<u8>>,
}

/// The canonical form of an optional `encryption_context` (KMS.0208 when invalid).
fn context(value: Option<&serde_json::Value>) -> Result<Option<Vec<u8>>> {
    value.map_or(Ok(None), canonical_encryption_context)
}

impl CreateDatakeyRequest {
    /// Validates every field. With neither `key_spec` nor `datakey_length` the DEK is 256
    /// bits, as the cloud makes it; with both, `datakey_length` wins (`key_spec` must still
    /// be a valid spec).
    ///
    /// # Errors
    /// KMS.1902 bad `key_spec`; KMS.1901 / KMS.1903 bad `datakey_length`; KMS.0308 when the
    /// AAD is too long; KMS.0208 for a bad `encryption_context`; KMS.0205, KMS.0206;
    /// KMS.9001 for `pin` / `pin_type`.
    pub fn validate(&self) -> Result<NewDatakey<'_>> {
        sequence(self.sequence.as_deref())?;
        refuse_level4_fields(self.pin.as_ref(), self.pin_type.as_deref(), None)?;
        let key_id = key_id(self.key_id.as_deref())?;
        let from_spec = self
            .key_spec
            .as_deref()
            .map(|spec| match spec {
                "AES_256" => Ok(32),
                "AES_128" => Ok(16),
                _ => Err(KmsError::InvalidDatakeySpec),
            })
            .transpose()?;
        let from_bits = self
            .datakey_length
            .as_deref()
            .map(datakey_bytes)
            .transpose()?;
        let len = from_bits.or(from_spec).unwrap_or(DEFAULT_DATAKEY_BYTES);
        Ok(NewDatakey {
            key_id,
            len,
            aad: aad(self.additional_authenticated_data.as_deref())?,
            context: context(self.encryption_context.as_ref())?,
        })
    }
}

/// `datakey_length` in bits to bytes: 8..=8192 (KMS.1901), a multiple of 8 (KMS.1903).
fn datakey_bytes(bits: &str) -> Result<usize> {
    let bits = decimal(bits)
        .filter(|bits| DATAKEY_BITS.contains(bits))
        .ok_or(KmsError::DatakeyLengthOutOfRange)?;
    if !bits.is_multiple_of(8) {
        return Err(KmsError::DatakeyLengthNotByteAligned);
    }
    Ok((bits / 8) as usize)
}

/// Response of `create-datakey`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateDatakeyResponse {
    /// The CMK.
    pub key_id: String,
    /// The DEK, upper-case hex.
    pub plain_text: SecretString,
    /// The DEK sealed under the CMK: a v1 blob in upper-case hex.
    pub cipher_text: String,
}

/// Response of `create-datakey-without-plaintext`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateDatakeyWithoutPlaintextResponse {
    /// The CMK.
    pub key_id: String,
    /// The DEK sealed under the CMK: a v1 blob in upper-case hex.
    pub cipher_text: String,
}

/// Body of `encrypt-datakey`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptDatakeyRequest {
    /// The CMK.
    pub key_id: Option<String>,
    /// Hex of the DEK followed by its SHA-256 (AES CMK) or SM3 (SM4 CMK) digest.
    pub plain_text: Option<SecretString>,
    /// DEK length in bytes, 1..=1024 (a string or a JSON integer).
    #[serde(default, deserialize_with = "number_or_string")]
    pub datakey_plain_length: Option<String>,
    /// Caller AAD bound to the ciphertext, at most 128 bytes.
    pub additional_authenticated_data: Option<String>,
    /// Key-value pairs (strings) bound to the ciphertext like AAD, at most 8192 characters;
    /// the same pairs are needed to decrypt.
    pub encryption_context: Option<serde_json::Value>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
    /// Level-4 testing scenario: not supported.
    pub pin: Option<SecretString>,
    /// Level-4 testing scenario: not supported.
    pub pin_type: Option<String>,
    /// Level-4 testing scenario: not supported.
    pub key_spec: Option<String>,
}

/// A validated encrypt-datakey request: the DEK and the digest the caller appended.
#[derive(Debug)]
pub struct DekToEncrypt<'a> {
    /// The CMK.
    pub key_id: KeyId,
    /// DEK followed by its claimed digest.
    dek_and_digest: SecretBytes,
    /// Caller AAD.
    pub aad: &'a [u8],
    /// The canonical encryption context, when one is given.
    pub context: Option<Vec<u8>>,
}

impl DekToEncrypt<'_> {
    /// The DEK.
    #[must_use]
    pub fn dek(&self) -> &[u8] {
        let bytes = self.dek_and_digest.expose_secret();
        bytes
            .get(..bytes.len() - DEK_DIGEST_LEN)
            .unwrap_or_default()
    }

    /// The digest the caller appended to the DEK.
    #[must_use]
    pub fn claimed_digest(&self) -> &[u8] {
        let bytes = self.dek_and_digest.expose_secret();
        bytes
            .get(bytes.len() - DEK_DIGEST_LEN..)
            .unwrap_or_default()
    }
}

impl EncryptDatakeyRequest {
    /// Validates every field (the digest itself is checked against the CMK's algorithm by
    /// the engine).
    ///
    /// # Errors
    /// KMS.0204, KMS.0205, KMS.0206; KMS.2102 for a `datakey_plain_length` outside 1..=1024;
    /// KMS.0308 for a long AAD; KMS.0208 for a bad `encryption_context`; KMS.2101 for odd-length or non-hex `plain_text`; KMS.2104 when it does not
    /// hold `datakey_plain_length` + 32 bytes; KMS.9001 for the level-4 fields.
    pub fn validate(&self) -> Result<DekToEncrypt<'_>> {
        sequence(self.sequence.as_deref())?;
        refuse_level4_fields(
            self.pin.as_ref(),
            self.pin_type.as_deref(),
            self.key_spec.as_deref(),
        )?;
        let key_id = key_id(self.key_id.as_deref())?;
        let dek_len = decimal(required(
            self.datakey_plain_length.as_deref(),
            "datakey_plain_length",
        )?)
        .filter(|len| (1..=MAX_PLAIN_DEK_LEN).contains(len))
        .ok_or(KmsError::DatakeyPlainLengthOutOfRange)? as usize;
        let hex = self
            .plain_text
            .as_ref()
            .ok_or(KmsError::MissingParameter("plain_text"))?
            .expose_secret();
        if !hex.len().is_multiple_of(2) {
            return Err(KmsError::InvalidPlainText("odd number of hex digits"));
        }
        if hex.len() != 2 * (dek_len + DEK_DIGEST_LEN) {
            return Err(KmsError::PlainTextLengthMismatch);
        }
        let dek_and_digest = decode_hex_secret(hex).map_err(|error| match error {
            HexError::OddLength => KmsError::InvalidPlainText("odd number of hex digits"),
            HexError::NotHex => KmsError::InvalidPlainText("not hexadecimal"),
        })?;
        Ok(DekToEncrypt {
            key_id,
            dek_and_digest,
            aad: aad(self.additional_authenticated_data.as_deref())?,
            context: context(self.encryption_context.as_ref())?,
        })
    }
}

/// Response of `encrypt-datakey`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptDatakeyResponse {
    /// The CMK.
    pub key_id: String,
    /// The DEK sealed under the CMK: a v1 blob in upper-case hex.
    pub cipher_text: String,
    /// DEK length in bytes.
    pub datakey_length: String,
}

/// Body of `decrypt-datakey`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecryptDatakeyRequest {
    /// The CMK.
    pub key_id: Option<String>,
    /// The blob from create-datakey, encrypt-datakey or a data key pair, hex.
    pub cipher_text: Option<String>,
    /// The DEK's length in bytes, 1..=4096 (a string or a JSON integer).
    #[serde(default, deserialize_with = "number_or_string")]
    pub datakey_cipher_length: Option<String>,
    /// The AAD given when the blob was made.
    pub additional_authenticated_data: Option<String>,
    /// Key-value pairs (strings) bound to the ciphertext like AAD, at most 8192 characters;
    /// the same pairs are needed to decrypt.
    pub encryption_context: Option<serde_json::Value>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
}

/// A validated decrypt-datakey request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobToDecrypt<'a> {
    /// The CMK.
    pub key_id: KeyId,
    /// The blob's bytes.
    pub blob: Vec<u8>,
    /// The DEK length the caller expects.
    pub dek_len: usize,
    /// Caller AAD.
    pub aad: &'a [u8],
    /// The canonical encryption context, when one is given.
    pub context: Option<Vec<u8>>,
}

impl DecryptDatakeyRequest {
    /// Validates every field.
    ///
    /// # Errors
    /// KMS.0204, KMS.0205, KMS.0206; KMS.2202 for a `datakey_cipher_length` outside
    /// 1..=4096; KMS.0308 for a long AAD; KMS.2201 when `cipher_text` is not hex of a possible blob.
    pub fn validate(&self) -> Result<BlobToDecrypt<'_>> {
        sequence(self.sequence.as_deref())?;
        let key_id = key_id(self.key_id.as_deref())?;
        let dek_len = decimal(required(
            self.datakey_cipher_length.as_deref(),
            "datakey_cipher_length",
        )?)
        .filter(|len| (1..=MAX_CIPHER_DEK_LEN).contains(len))
        .ok_or(KmsError::DatakeyCipherLengthOutOfRange)? as usize;
        let hex = required(self.cipher_text.as_deref(), "cipher_text")?;
        if hex.len() > 2 * (MAX_CIPHER_DEK_LEN as usize + BLOB_OVERHEAD) {
            return Err(KmsError::InvalidCipherText);
        }
        let blob = decode_hex(hex).map_err(|_| KmsError::InvalidCipherText)?;
        Ok(BlobToDecrypt {
            key_id,
            blob,
            dek_len,
            aad: aad(self.additional_authenticated_data.as_deref())?,
            context: context(self.encryption_context.as_ref())?,
        })
    }
}

/// Response of `decrypt-datakey`.
#[derive(Debug, Serialize, Deserialize)]
pub struct DecryptDatakeyResponse {
    /// The DEK, upper-case hex.
    pub data_key: SecretString,
    /// DEK length in bytes.
    pub datakey_length: String,
    /// SHA-256 (AES CMK) or SM3 (SM4 CMK) of the DEK, upper-case hex.
    pub datakey_dgst: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";

    fn new_datakey(spec: Option<&str>, bits: Option<&str>) -> Result<usize> {
        let request = CreateDatakeyRequest {
            key_id: Some(KEY.into()),
            key_spec: spec.map(Into::into),
            datakey_length: bits.map(Into::into),
            ..CreateDatakeyRequest::default()
        };
        request.validate().map(|valid| valid.len)
    }

    #[test]
    fn create_datakey_takes_a_spec_or_a_bit_length() {
        assert_eq!(new_datakey(Some("AES_256"), None).unwrap(), 32);
        assert_eq!(new_datakey(Some("AES_128"), None).unwrap(), 16);
        assert_eq!(new_datakey(None, Some("8")).unwrap(), 1);
        assert_eq!(new_datakey(None, Some("8192")).unwrap(), 1024);
        assert_eq!(new_datakey(Some("AES_256"), Some("256")).unwrap(), 32);
    }

    #[test]
    fn create_datakey_defaults_to_256_bits_and_datakey_length_wins() {
        assert_eq!(new_datakey(None, None).unwrap(), 32);
        assert_eq!(new_datakey(Some("AES_128"), Some("512")).unwrap(), 64);
        assert_eq!(new_datakey(Some("AES_128"), Some("256")).unwrap(), 32);
        // A bad spec is still refused when datakey_length is given.
        assert_eq!(
            new_datakey(Some("SM4"), Some("256")).unwrap_err().code(),
            "KMS.1902"
        );
    }

    #[test]
    fn create_datakey_length_rules_have_their_codes() {
        assert_eq!(
            new_datakey(Some("SM4"), None).unwrap_err().code(),
            "KMS.1902"
        );
        assert_eq!(new_datakey(None, Some("0")).unwrap_err().code(), "KMS.1901");
        assert_eq!(
            new_datakey(None, Some("8200")).unwrap_err().code(),
            "KMS.1901"
        );
        assert_eq!(
            new_datakey(None, Some("12")).unwrap_err().code(),
            "KMS.1903"
        );
        assert_eq!(new_datakey(None, Some("x")).unwrap_err().code(), "KMS.1901");
    }

    fn encrypt(plain_text: &str, len: &str) -> Result<()> {
        EncryptDatakeyRequest {
            key_id: Some(KEY.into()),
            plain_text: Some(SecretString::from(plain_text)),
            datakey_plain_length: Some(len.into()),
            ..EncryptDatakeyRequest::default()
        }
        .validate()
        .map(drop)
    }

    #[test]
    fn encrypt_datakey_plain_text_rules_have_their_codes() {
        let good = "ab".repeat(1 + 32);
        assert!(encrypt(&good, "1").is_ok());
        assert_eq!(encrypt(&good[1..], "1").unwrap_err().code(), "KMS.2101");
        let not_hex = format!("zz{}", &good[2..]);
        assert_eq!(encrypt(&not_hex, "1").unwrap_err().code(), "KMS.2101");
        assert_eq!(encrypt(&good, "2").unwrap_err().code(), "KMS.2104");
        assert_eq!(encrypt(&good, "0").unwrap_err().code(), "KMS.2102");
        assert_eq!(encrypt(&good, "1025").unwrap_err().code(), "KMS.2102");
        assert_eq!(encrypt(&good, "-").unwrap_err().code(), "KMS.2102");
    }

    #[test]
    fn encrypt_datakey_splits_dek_and_digest() {
        let request = EncryptDatakeyRequest {
            key_id: Some(KEY.into()),
            plain_text: Some(SecretString::new(format!("0102{}", "ff".repeat(32)))),
            datakey_plain_length: Some("2".into()),
            ..EncryptDatakeyRequest::default()
        };
        let valid = request.validate().unwrap();
        assert_eq!(valid.dek(), &[1, 2]);
        assert_eq!(valid.claimed_digest(), &[0xFF; 32]);
    }

    #[test]
    fn decrypt_datakey_rejects_non_hex_and_oversized_cipher_text_opaquely() {
        let decrypt = |cipher_text: String| {
            DecryptDatakeyRequest {
                key_id: Some(KEY.into()),
                cipher_text: Some(cipher_text),
                datakey_cipher_length: Some("32".into()),
                ..DecryptDatakeyRequest::default()
            }
            .validate()
            .map(drop)
        };
        assert_eq!(decrypt("0".into()).unwrap_err().code(), "KMS.2201");
        assert_eq!(decrypt("xx".into()).unwrap_err().code(), "KMS.2201");
        assert_eq!(decrypt("00".repeat(5000)).unwrap_err().code(), "KMS.2201");
    }
}
