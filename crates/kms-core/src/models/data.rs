//! Small secrets under a CMK and re-encryption: encrypt-data, decrypt-data, re-encrypt, and
//! random bytes: gen-random.

use serde::{Deserialize, Serialize};

use super::fields::{aad, decimal, key_id, number_or_string, required, sequence};
use crate::ciphertext::BLOB_OVERHEAD;
use crate::codec::decode_hex;
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::key_spec::AsymmetricEncryption;
use crate::models::datakey::MAX_CIPHER_DEK_LEN;
use crate::secret::SecretString;

/// Longest plaintext of encrypt-data, in bytes of its UTF-8.
pub const MAX_DATA_LEN: usize = 4096;
/// The one encryption algorithm of symmetric CMKs.
pub const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";
/// Shortest and longest `random_data_length` of gen-random, in bits.
pub const RANDOM_BITS: core::ops::RangeInclusive<u32> = 8..=8192;
/// Longest `cipher_text` decrypt-data and re-encrypt read for an encrypt-data blob: the
/// documented `^[0-9a-zA-Z+/=]{128,5648}$`.
pub const MAX_DATA_CIPHER_TEXT_LEN: usize = 5648;

/// Body of `encrypt-data`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptDataRequest {
    /// The CMK.
    pub key_id: Option<String>,
    /// The text to encrypt, 1 to 4096 bytes of UTF-8.
    pub plain_text: Option<SecretString>,
    /// `SYMMETRIC_DEFAULT` (the default) for AES_256 and SM4 CMKs; `RSAES_OAEP_SHA_256`
    /// or `SM2_ENCRYPT` for an asymmetric ENCRYPT_DECRYPT key.
    pub encryption_algorithm: Option<String>,
    /// Caller AAD bound to the ciphertext, at most 128 bytes.
    pub additional_authenticated_data: Option<String>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
}

/// A validated encrypt-data request.
#[derive(Debug)]
pub struct DataToEncrypt<'a> {
    /// The CMK.
    pub key_id: KeyId,
    /// The plaintext's bytes.
    pub plain_text: &'a [u8],
    /// The asymmetric algorithm, or `None` for `SYMMETRIC_DEFAULT`.
    pub algorithm: Option<AsymmetricEncryption>,
    /// Caller AAD.
    pub aad: &'a [u8],
}

/// An algorithm of re-encrypt: only `SYMMETRIC_DEFAULT` (also when absent).
fn symmetric_algorithm(value: Option<&str>, field: &str) -> Result<()> {
    match value {
        None | Some(SYMMETRIC_DEFAULT) => Ok(()),
        Some(_) => Err(KmsError::InvalidParameter(format!(
            "{field} must be {SYMMETRIC_DEFAULT}: re-encrypt moves blobs of symmetric keys"
        ))),
    }
}

/// The `encryption_algorithm` of encrypt-data and decrypt-data: `None` for
/// `SYMMETRIC_DEFAULT` (also when absent), else the asymmetric algorithm it names; then
/// the AAD, which only symmetric keys bind.
fn data_algorithm<'a>(
    value: Option<&str>,
    aad_field: Option<&'a str>,
) -> Result<(Option<AsymmetricEncryption>, &'a [u8])> {
    let algorithm = match value {
        None | Some(SYMMETRIC_DEFAULT) => None,
        Some(text) => Some(AsymmetricEncryption::from_wire(text).ok_or_else(|| {
            KmsError::InvalidParameter(
                "encryption_algorithm must be SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_256 or \
                 SM2_ENCRYPT"
                    .into(),
            )
        })?),
    };
    if algorithm.is_some() && aad_field.is_some() {
        return Err(KmsError::InvalidParameter(
            "additional_authenticated_data is bound by symmetric keys only".into(),
        ));
    }
    Ok((algorithm, aad(aad_field)?))
}

impl EncryptDataRequest {
    /// Validates every field.
    ///
    /// # Errors
    /// KMS.0204 missing field; KMS.0205 bad key ID; KMS.0206 bad sequence; KMS.2101 for a
    /// plaintext that is empty or longer than 4096 bytes; KMS.0308 for another algorithm or
    /// a long AAD.
    pub fn validate(&self) -> Result<DataToEncrypt<'_>> {
        sequence(self.sequence.as_deref())?;
        let key_id = key_id(self.key_id.as_deref())?;
        let plain_text = self
            .plain_text
            .as_ref()
            .ok_or(KmsError::MissingParameter("plain_text"))?
            .expose_secret()
            .as_bytes();
        if plain_text.is_empty() || plain_text.len() > MAX_DATA_LEN {
            return Err(KmsError::InvalidPlainText("it must be 1 to 4096 bytes"));
        }
        let (algorithm, aad) = data_algorithm(
            self.encryption_algorithm.as_deref(),
            self.additional_authenticated_data.as_deref(),
        )?;
        Ok(DataToEncrypt {
            key_id,
            plain_text,
            algorithm,
            aad,
        })
    }
}

/// Response of `encrypt-data`.
#[derive(Debug, Serialize, Deserialize)]
pub struct EncryptDataResponse {
    /// The CMK.
    pub key_id: String,
    /// The blob, base64.
    pub cipher_text: String,
}

/// Body of `decrypt-data`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecryptDataRequest {
    /// The blob of encrypt-data, base64.
    pub cipher_text: Option<String>,
    /// `SYMMETRIC_DEFAULT` (the default).
    pub encryption_algorithm: Option<String>,
    /// The CMK; optional (the blob names it), and when given it must be the blob's.
    pub key_id: Option<String>,
    /// The AAD the blob was sealed with.
    pub additional_authenticated_data: Option<String>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
}

/// A validated decrypt-data request.
#[derive(Debug)]
pub struct DataToDecrypt<'a> {
    /// The CMK the request names, if it names one.
    pub key_id: Option<KeyId>,
    /// The blob, or the asymmetric ciphertext.
    pub blob: Vec<u8>,
    /// The asymmetric algorithm, or `None` for `SYMMETRIC_DEFAULT`.
    pub algorithm: Option<AsymmetricEncryption>,
    /// Caller AAD.
    pub aad: &'a [u8],
}

/// An encrypt-data blob from its base64 form: KMS.2201 (the one opaque error) for anything
/// that is not the base64 of a possible blob.
fn data_blob(text: &str) -> Result<Vec<u8>> {
    if text.len() > MAX_DATA_CIPHER_TEXT_LEN {
        return Err(KmsError::InvalidCipherText);
    }
    crate::codec::decode_base64(text).map_err(|_| KmsError::InvalidCipherText)
}

impl DecryptDataRequest {
    /// Validates every field.
    ///
    /// # Errors
    /// KMS.0204 missing `cipher_text`; KMS.0205 bad key ID; KMS.0206 bad sequence; KMS.0308
    /// for another algorithm or a long AAD; KMS.2201 when `cipher_text` is not base64 of a
    /// possible blob.
    pub fn validate(&self) -> Result<DataToDecrypt<'_>> {
        sequence(self.sequence.as_deref())?;
        let key_id = self
            .key_id
            .as_deref()
            .map(|id| key_id(Some(id)))
            .transpose()?;
        let (algorithm, aad) = data_algorithm(
            self.encryption_algorithm.as_deref(),
            self.additional_authenticated_data.as_deref(),
        )?;
        let blob = data_blob(required(self.cipher_text.as_deref(), "cipher_text")?)?;
        Ok(DataToDecrypt {
            key_id,
            blob,
            algorithm,
            aad,
        })
    }
}

/// Response of `decrypt-data`.
#[derive(Debug, Serialize, Deserialize)]
pub struct DecryptDataResponse {
    /// The CMK that opened the blob.
    pub key_id: String,
    /// The plaintext, as it was given to encrypt-data.
    pub plain_text: SecretString,
    /// The plaintext, base64.
    pub plain_text_base64: SecretString,
}

/// Body of `re-encrypt`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReEncryptRequest {
    /// The CMK the blob is sealed under; optional (the blob names it), and when given it
    /// must be the blob's.
    pub source_key_id: Option<String>,
    /// The AAD the blob was sealed with.
    pub source_additional_authenticated_data: Option<String>,
    /// `SYMMETRIC_DEFAULT` (the default).
    pub source_encryption_algorithm: Option<String>,
    /// The CMK to seal under.
    pub destination_key_id: Option<String>,
    /// The AAD to bind to the new blob.
    pub destination_additional_authenticated_data: Option<String>,
    /// `SYMMETRIC_DEFAULT` (the default).
    pub destination_encryption_algorithm: Option<String>,
    /// For a data-key blob (hex, from the data-key operations): the DEK's length in bytes,
    /// 1 to 4096. Absent for an encrypt-data blob (base64).
    #[serde(default, deserialize_with = "number_or_string")]
    pub datakey_cipher_length: Option<String>,
    /// The blob.
    pub cipher_text: Option<String>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
}

/// Which kind of blob a re-encrypt moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobKind {
    /// A data-key blob of this many plaintext bytes (hex on the wire).
    DataKey(usize),
    /// An encrypt-data blob (base64 on the wire).
    Data,
}

/// A validated re-encrypt request.
#[derive(Debug)]
pub struct ReEncryption<'a> {
    /// The source CMK the request names, if it names one.
    pub source_key_id: Option<KeyId>,
    /// The source AAD.
    pub source_aad: &'a [u8],
    /// The destination CMK.
    pub destination_key_id: KeyId,
    /// The destination AAD.
    pub destination_aad: &'a [u8],
    /// The kind of blob.
    pub kind: BlobKind,
    /// The blob.
    pub blob: Vec<u8>,
}

impl ReEncryptRequest {
    /// Validates every field.
    ///
    /// # Errors
    /// KMS.0204 missing field; KMS.0205 bad key ID; KMS.0206 bad sequence; KMS.0308 for
    /// another algorithm or a long AAD; KMS.2202 for a `datakey_cipher_length` outside
    /// 1..=4096; KMS.2201 when `cipher_text` is not a possible blob of its kind.
    pub fn validate(&self) -> Result<ReEncryption<'_>> {
        sequence(self.sequence.as_deref())?;
        let source_key_id = self
            .source_key_id
            .as_deref()
            .map(|id| key_id(Some(id)))
            .transpose()?;
        let destination_key_id = key_id(Some(required(
            self.destination_key_id.as_deref(),
            "destination_key_id",
        )?))?;
        symmetric_algorithm(
            self.source_encryption_algorithm.as_deref(),
            "source_encryption_algorithm",
        )?;
        symmetric_algorithm(
            self.destination_encryption_algorithm.as_deref(),
            "destination_encryption_algorithm",
        )?;
        let source_aad = aad(self.source_additional_authenticated_data.as_deref())?;
        let destination_aad = aad(self.destination_additional_authenticated_data.as_deref())?;
        let text = required(self.cipher_text.as_deref(), "cipher_text")?;
        let (kind, blob) = match self.datakey_cipher_length.as_deref() {
            Some(length) => {
                let len = decimal(length)
                    .filter(|len| (1..=MAX_CIPHER_DEK_LEN).contains(len))
                    .ok_or(KmsError::DatakeyCipherLengthOutOfRange)?
                    as usize;
                if text.len() > 2 * (MAX_CIPHER_DEK_LEN as usize + BLOB_OVERHEAD) {
                    return Err(KmsError::InvalidCipherText);
                }
                let blob = decode_hex(text).map_err(|_| KmsError::InvalidCipherText)?;
                (BlobKind::DataKey(len), blob)
            }
            None => (BlobKind::Data, data_blob(text)?),
        };
        Ok(ReEncryption {
            source_key_id,
            source_aad,
            destination_key_id,
            destination_aad,
            kind,
            blob,
        })
    }
}

/// Response of `re-encrypt`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReEncryptResponse {
    /// The destination CMK.
    pub key_id: String,
    /// The CMK the blob was sealed under.
    pub source_key_id: String,
    /// `SYMMETRIC_DEFAULT`.
    pub source_encryption_algorithm: String,
    /// `SYMMETRIC_DEFAULT`.
    pub destination_encryption_algorithm: String,
    /// The new blob, in the form of the one given (hex or base64).
    pub cipher_text: String,
}

/// Body of `gen-random`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenRandomRequest {
    /// How many random bits, 8 to 8192 and a multiple of 8 (a string or a JSON integer).
    #[serde(default, deserialize_with = "number_or_string")]
    pub random_data_length: Option<String>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
}

impl GenRandomRequest {
    /// Validates every field; the number of random bytes.
    ///
    /// # Errors
    /// KMS.0204 missing length; KMS.1801 outside 8..=8192 bits; KMS.1802 not a multiple of
    /// 8; KMS.0206 bad sequence.
    pub fn validate(&self) -> Result<usize> {
        sequence(self.sequence.as_deref())?;
        let bits = decimal(required(
            self.random_data_length.as_deref(),
            "random_data_length",
        )?)
        .filter(|bits| RANDOM_BITS.contains(bits))
        .ok_or(KmsError::RandomLengthOutOfRange)?;
        if !bits.is_multiple_of(8) {
            return Err(KmsError::RandomLengthNotByteAligned);
        }
        Ok(bits as usize / 8)
    }
}

/// Response of `gen-random`.
#[derive(Debug, Serialize, Deserialize)]
pub struct GenRandomResponse {
    /// The random bytes, upper-case hex.
    pub random_data: SecretString,
}
