//! The one error type of the engine, its KMS error codes and its JSON shape (DESIGN 7).
//!
//! Codes follow the Huawei Cloud KMS table where one fits. Codes the engine adds live in the
//! `KMS.9xxx` range, documented on each variant. Cryptographic failures are opaque on purpose:
//! every way a ciphertext can be wrong gives [`KmsError::InvalidCipherText`] with the same
//! message, so no caller learns which check failed.

use serde::Serialize;

/// A convenient alias for results of this crate.
pub type Result<T, E = KmsError> = core::result::Result<T, E>;

/// Every failure the engine reports.
///
/// Each variant has a stable [`code`](KmsError::code), an HTTP [`status`](KmsError::status)
/// and a message. Messages name the offending field or value where that leaks nothing secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KmsError {
    /// KMS.0201: the request URL names no operation of this API, or the method is not
    /// the operation's (the message says what was asked for and what is expected).
    #[error("Invalid request URL: {0}")]
    InvalidUrl(String),
    /// KMS.0203: the request body is longer than the server accepts.
    #[error("Request message too long: at most {0} bytes.")]
    RequestTooLong(usize),
    /// KMS.0202: the request is not valid JSON, has a field of the wrong JSON type, or has a
    /// field this API does not know (the message names it).
    #[error("Invalid JSON format of the request message: {0}")]
    InvalidJson(String),
    /// KMS.0204: a mandatory field is absent.
    #[error("Parameters missing in the request message: {0}")]
    MissingParameter(&'static str),
    /// KMS.0205: `key_id` does not match `^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$`.
    #[error("Invalid key ID.")]
    InvalidKeyId,
    /// KMS.0206: `sequence` is empty or longer than 36 bytes.
    #[error("Invalid sequence number.")]
    InvalidSequence,
    /// KMS.0207: no key with this ID.
    #[error("The key does not exist.")]
    KeyNotFound,
    /// KMS.0209: the key is disabled.
    #[error("The key has been disabled.")]
    KeyDisabled,
    /// KMS.0210: the key is scheduled for deletion.
    #[error("The key is in Scheduled deletion state and cannot be used.")]
    KeyPendingDeletion,
    /// KMS.0208: `encryption_context` is not an object of strings, or its canonical form is
    /// longer than 8192 characters (the message says which, never a value of it).
    #[error("Invalid value of value encryption_context: {0}.")]
    InvalidEncryptionContext(&'static str),
    /// KMS.0308: a field holds a value outside its range or enumeration (the message says which).
    #[error("Invalid parameter: {0}")]
    InvalidParameter(String),
    /// KMS.0309: the operation needs a key of origin `external`.
    #[error("External keys required.")]
    NotExternalKey,
    /// KMS.0310: the key is not waiting for imported material.
    #[error("The key is not in Pending import state.")]
    NotPendingImport,
    /// KMS.0311: the wrapped key material could not be unwrapped. One message for every
    /// cause (padding, hash, label, length, point, C3, wrapping key, garbage), so the import
    /// path is no padding oracle.
    #[error("Failed to decrypt the key material with the wrapping key.")]
    UnwrapFailed,
    /// KMS.0312: rotation of a key of origin `external` (its material comes from the
    /// customer, who rotates it by importing into a new key).
    #[error("External keys cannot be rotated.")]
    ExternalKeyRotation,
    /// KMS.0313: update-key-rotation-interval on a key whose rotation is not enabled.
    #[error("Key rotation is not enabled.")]
    RotationNotEnabled,
    /// KMS.3001: `rotation_interval` is not a whole number of days in 30..=365.
    #[error("Invalid rotation_interval: it must be 30 to 365 days.")]
    InvalidRotationInterval,
    /// KMS.0324: rotation of an RSA key (asymmetric keys do not rotate).
    #[error("RSA keys cannot be rotated.")]
    RsaKeyRotation,
    /// KMS.0325: an operation of symmetric keys (data keys, rotation, import) on an
    /// asymmetric key.
    #[error("The asymmetric key does not support this operation.")]
    AsymmetricKeyUnsupported,
    /// KMS.0329: a `message_type` DIGEST whose length is not that of the algorithm's hash.
    #[error("Hash algorithm does not match the digest length.")]
    DigestLengthMismatch,
    /// KMS.0331: an operation of asymmetric or HMAC keys (get-publickey, MACs) on a
    /// symmetric key.
    #[error("The symmetric key does not support this operation.")]
    SymmetricKeyUnsupported,
    /// KMS.0332: a `signing_algorithm` the key's spec cannot use.
    #[error("This key does not support the signing algorithm {0}.")]
    SigningAlgorithmUnsupported(String),
    /// KMS.0334: sign or verify with a key whose usage is ENCRYPT_DECRYPT.
    #[error("The cmk is used to encrypt and decrypt.")]
    KeyUsedForEncryption,
    /// KMS.0335: encrypt or decrypt with a key whose usage is SIGN_VERIFY.
    #[error("The cmk is used to sign and verify.")]
    KeyUsedForSigning,
    /// KMS.0341: an operation other than generate-mac and verify-mac on an HMAC key, or a
    /// `mac_algorithm` that is not the key's.
    #[error("The HMAC key does not support this operation.")]
    MacKeyUnsupported,
    /// KMS.1114: create-key of an EC spec with `key_usage` ENCRYPT_DECRYPT.
    #[error("EC keys do not support to encrypt/decrypt.")]
    EcKeyEncryption,
    /// KMS.1115: sign or verify with a symmetric key.
    #[error("Symmetric keys do not support to sign/verify.")]
    SymmetricKeySigning,
    /// KMS.2105: an asymmetric `encryption_algorithm` with a symmetric key.
    #[error("The symmetric key does not support this encryption algorithm.")]
    SymmetricKeyAlgorithm,
    /// KMS.2106: an `encryption_algorithm` the asymmetric key cannot use.
    #[error("The asymmetric key does not support the encryption algorithm {0}.")]
    AsymmetricKeyAlgorithm(String),
    /// KMS.2108: a plaintext longer than the asymmetric key encrypts.
    #[error("The plain_text is over length: this key encrypts at most {0} bytes.")]
    AsymmetricPlainTextTooLong(usize),
    /// KMS.0401: a tag request with no tags.
    #[error("Tag list cannot be empty.")]
    EmptyTagList,
    /// KMS.0404: the tag action is neither `create` nor `delete`.
    #[error("Invalid action: it must be create or delete.")]
    InvalidTagAction,
    /// KMS.0405: a tag value holds a character that tags may not (ASCII 0-31, `* < > \ =`).
    #[error("Invalid tag value.")]
    InvalidTagValue,
    /// KMS.0406: a tag key holds a character that tags may not (ASCII 0-31, `* < > \ =`).
    #[error("Invalid tag key.")]
    InvalidTagKey,
    /// KMS.0407: one request names more tags than a key may hold.
    #[error("Invalid tag list size: at most {0} tags in one request.")]
    InvalidTagListSize(usize),
    /// KMS.0409: the key would hold more tags than the limit.
    #[error("Too many tags: a key holds at most {0}.")]
    TooManyTags(usize),
    /// KMS.0410: a tag value is longer than 43 characters.
    #[error("Invalid tag value length: at most 43 characters.")]
    InvalidTagValueLength,
    /// KMS.0411: a tag key is empty or longer than 36 characters.
    #[error("Invalid tag key length: 1 to 36 characters.")]
    InvalidTagKeyLength,
    /// KMS.0412: one request names the same tag key twice.
    #[error("Invalid tag list: a tag key appears twice.")]
    DuplicateTagKey,
    /// KMS.1101: `key_alias` is empty, too long, or has characters outside `[a-zA-Z0-9:/_-]`.
    #[error("Invalid key_alias.")]
    InvalidKeyAlias,
    /// KMS.1102: create-key's `realm` is not the engine's realm (`KmsConfig::region_id`).
    #[error("Invalid realm.")]
    InvalidRealm,
    /// KMS.1103: `key_description` is longer than 255 characters.
    #[error("Invalid key_description.")]
    InvalidKeyDescription,
    /// KMS.1104: another key already has this alias.
    #[error("Duplicate key aliases.")]
    DuplicateKeyAlias,
    /// KMS.1201: enable-key on a key that is not disabled.
    #[error("The key is not disabled.")]
    KeyNotDisabled,
    /// KMS.1301: the key is not enabled (for example it still waits for imported material).
    #[error("The key is not enabled.")]
    KeyNotEnabled,
    /// KMS.1401: `pending_days` outside 7..=1096.
    #[error("Set the pending deletion period between 7 to 1096 days.")]
    InvalidPendingDays,
    /// KMS.1402: schedule-key-deletion on a key already pending deletion.
    #[error("The key is already in Pending deletion state.")]
    AlreadyPendingDeletion,
    /// KMS.1501: cancel-key-deletion on a key that is not pending deletion.
    #[error("The key is not in Pending deletion state.")]
    NotPendingDeletion,
    /// KMS.1601: `limit` of list-keys outside 1..=1000 or not a number.
    #[error("Invalid limit.")]
    InvalidLimit,
    /// KMS.1602: `marker` of list-keys is not a non-negative number.
    #[error("marker must be greater than or equals 0.")]
    InvalidMarker,
    /// KMS.1801: `random_data_length` of gen-random outside 8..=8192 bits.
    #[error("random_data_length must be in the range 8 bits to 8,192 bits.")]
    RandomLengthOutOfRange,
    /// KMS.1802: `random_data_length` of gen-random is not a multiple of 8.
    #[error("random_data_length must be a multiple of 8.")]
    RandomLengthNotByteAligned,
    /// KMS.1901: `datakey_length` outside 8..=8192 bits.
    #[error("datakey_length must be in the range 8 bits to 8,192 bits.")]
    DatakeyLengthOutOfRange,
    /// KMS.1902: `key_spec` of create-datakey is not AES_128 or AES_256.
    #[error("key_spec can only be AES_128 or AES_256.")]
    InvalidDatakeySpec,
    /// KMS.1903: `datakey_length` is not a multiple of 8.
    #[error("datakey_length must be a multiple of 8.")]
    DatakeyLengthNotByteAligned,
    /// KMS.2101: `plain_text` is not hex, or `datakey_plain_length` is not in 1..=1024.
    #[error("Invalid plain_text: {0}")]
    InvalidPlainText(&'static str),
    /// KMS.2102: `datakey_plain_length` of encrypt-datakey is not a whole number in 1..=1024
    /// (the cloud's code for it; its table text names the 64-byte case).
    #[error("datakey_plain_length must be 1 to 1024 bytes.")]
    DatakeyPlainLengthOutOfRange,
    /// KMS.2103: the digest appended to the DEK does not match it.
    #[error("Failed to verify the DEK hash.")]
    DekDigestMismatch,
    /// KMS.2104: `plain_text` does not hold `datakey_plain_length` bytes plus a 32-byte digest.
    #[error("The length of plain_text does not match datakey_plain_length.")]
    PlainTextLengthMismatch,
    /// KMS.1904: the private key is too long for RSAES_OAEP_SHA_256 under the recipient's
    /// key (the message gives the sizes and the algorithm to use instead).
    #[error("The rsa wrapping data key is over length: {0}")]
    RecipientWrapTooLong(String),
    /// KMS.2201: the ciphertext cannot be opened with this key and AAD. One message for every
    /// cause (malformed, tampered, wrong key, wrong AAD, truncated), so it is no oracle.
    #[error("Invalid cipher_text.")]
    InvalidCipherText,
    /// KMS.2202: `datakey_cipher_length` of decrypt-datakey is not a whole number in
    /// 1..=4096 (the cloud's code for it; its table text names the 64-byte case).
    #[error("datakey_cipher_length must be 1 to 4096 bytes.")]
    DatakeyCipherLengthOutOfRange,
    /// KMS.2204: the ciphertext opened, but its DEK is not `datakey_cipher_length` bytes.
    #[error("The length of cipher_text does not match datakey_cipher_length.")]
    CipherTextLengthMismatch,
    /// KMS.2601: the import token has expired.
    #[error("Token expired.")]
    ImportTokenExpired,
    /// KMS.2602: `expiration_time` of import-key-material is not in the future.
    #[error("Key expiration time must be later than the current time.")]
    MaterialExpiryInPast,
    /// KMS.2603: the import token was issued for another key.
    #[error("Key IDs in the imported key and token do not match.")]
    ImportTokenKeyMismatch,
    /// KMS.2605: the import token is malformed, forged, tampered with or already used.
    #[error("Token verification failed.")]
    ImportTokenInvalid,
    /// KMS.2606: re-import after delete-imported-key-material must present the same material.
    #[error(
        "You are importing a deleted key again. The imported plaintext must be the same as the deleted key plaintext."
    )]
    MaterialMismatch,
    /// KMS.2701: delete-imported-key-material on a key without material.
    #[error("Key material is not in Enabled or Disabled state and cannot be deleted.")]
    MaterialNotDeletable,
    /// KMS.9001: a field or feature this engine does not offer (the message says which).
    #[error("Not supported by this engine: {0}")]
    Unsupported(String),
    /// KMS.9002: the backend cannot do this operation or key spec (the message names it).
    #[error("Not supported by the backend: {0}")]
    BackendUnsupported(String),
    /// KMS.9003: the CMK reached the number of encryptions one key may safely do with random
    /// 96-bit nonces (NIST SP 800-38D: 2^32); rotate or re-create it.
    #[error("The key has reached its encryption limit; create a new key.")]
    KeyUsageLimitReached,
    /// KMS.0103: the backend failed (an HSM error, the OS random source); the message says
    /// which operation, never any key material.
    #[error("A system exception occurred in the crypto backend: {0}")]
    Backend(String),
    /// KMS.0102: the key store failed.
    #[error("Abnormal KMS I/O: {0}")]
    Store(String),
}

impl KmsError {
    /// The KMS error code, such as `"KMS.0205"`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidUrl(_) => "KMS.0201",
            Self::InvalidJson(_) => "KMS.0202",
            Self::RequestTooLong(_) => "KMS.0203",
            Self::MissingParameter(_) => "KMS.0204",
            Self::InvalidKeyId => "KMS.0205",
            Self::InvalidSequence => "KMS.0206",
            Self::KeyNotFound => "KMS.0207",
            Self::KeyDisabled => "KMS.0209",
            Self::KeyPendingDeletion => "KMS.0210",
            Self::InvalidEncryptionContext(_) => "KMS.0208",
            Self::InvalidParameter(_) => "KMS.0308",
            Self::NotExternalKey => "KMS.0309",
            Self::NotPendingImport => "KMS.0310",
            Self::UnwrapFailed => "KMS.0311",
            Self::ExternalKeyRotation => "KMS.0312",
            Self::RotationNotEnabled => "KMS.0313",
            Self::InvalidRotationInterval => "KMS.3001",
            Self::RsaKeyRotation => "KMS.0324",
            Self::AsymmetricKeyUnsupported => "KMS.0325",
            Self::DigestLengthMismatch => "KMS.0329",
            Self::SymmetricKeyUnsupported => "KMS.0331",
            Self::SigningAlgorithmUnsupported(_) => "KMS.0332",
            Self::KeyUsedForEncryption => "KMS.0334",
            Self::KeyUsedForSigning => "KMS.0335",
            Self::MacKeyUnsupported => "KMS.0341",
            Self::EcKeyEncryption => "KMS.1114",
            Self::SymmetricKeySigning => "KMS.1115",
            Self::SymmetricKeyAlgorithm => "KMS.2105",
            Self::AsymmetricKeyAlgorithm(_) => "KMS.2106",
            Self::AsymmetricPlainTextTooLong(_) => "KMS.2108",
            Self::EmptyTagList => "KMS.0401",
            Self::InvalidTagAction => "KMS.0404",
            Self::InvalidTagValue => "KMS.0405",
            Self::InvalidTagKey => "KMS.0406",
            Self::InvalidTagListSize(_) => "KMS.0407",
            Self::TooManyTags(_) => "KMS.0409",
            Self::InvalidTagValueLength => "KMS.0410",
            Self::InvalidTagKeyLength => "KMS.0411",
            Self::DuplicateTagKey => "KMS.0412",
            Self::InvalidKeyAlias => "KMS.1101",
            Self::InvalidRealm => "KMS.1102",
            Self::InvalidKeyDescription => "KMS.1103",
            Self::DuplicateKeyAlias => "KMS.1104",
            Self::KeyNotDisabled => "KMS.1201",
            Self::KeyNotEnabled => "KMS.1301",
            Self::InvalidPendingDays => "KMS.1401",
            Self::AlreadyPendingDeletion => "KMS.1402",
            Self::NotPendingDeletion => "KMS.1501",
            Self::InvalidLimit => "KMS.1601",
            Self::InvalidMarker => "KMS.1602",
            Self::DatakeyLengthOutOfRange => "KMS.1901",
            Self::InvalidDatakeySpec => "KMS.1902",
            Self::DatakeyLengthNotByteAligned => "KMS.1903",
            Self::InvalidPlainText(_) => "KMS.2101",
            Self::RandomLengthOutOfRange => "KMS.1801",
            Self::RandomLengthNotByteAligned => "KMS.1802",
            Self::DatakeyPlainLengthOutOfRange => "KMS.2102",
            Self::DekDigestMismatch => "KMS.2103",
            Self::PlainTextLengthMismatch => "KMS.2104",
            Self::RecipientWrapTooLong(_) => "KMS.1904",
            Self::InvalidCipherText => "KMS.2201",
            Self::DatakeyCipherLengthOutOfRange => "KMS.2202",
            Self::CipherTextLengthMismatch => "KMS.2204",
            Self::ImportTokenExpired => "KMS.2601",
            Self::MaterialExpiryInPast => "KMS.2602",
            Self::ImportTokenKeyMismatch => "KMS.2603",
            Self::ImportTokenInvalid => "KMS.2605",
            Self::MaterialMismatch => "KMS.2606",
            Self::MaterialNotDeletable => "KMS.2701",
            Self::Unsupported(_) => "KMS.9001",
            Self::BackendUnsupported(_) => "KMS.9002",
            Self::KeyUsageLimitReached => "KMS.9003",
            Self::Backend(_) => "KMS.0103",
            Self::Store(_) => "KMS.0102",
        }
    }

    /// The HTTP status a server would answer with: 404 for a missing key, 500 for backend and
    /// store failures, 400 for everything the caller can fix.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::KeyNotFound => 404,
            Self::Backend(_) | Self::Store(_) => 500,
            _ => 400,
        }
    }

    /// The error as the API's JSON body: `{"error":{"error_code":...,"error_msg":...}}`.
    #[must_use]
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            error_code: &'a str,
            error_msg: String,
        }
        let body = Body {
            error: Inner {
                error_code: self.code(),
                error_msg: self.to_string(),
            },
        };
        // Serializing two strings into a String cannot fail; fall back to a fixed body anyway
        // so this path can never panic.
        serde_json::to_string(&body).unwrap_or_else(|_| {
            String::from(r#"{"error":{"error_code":"KMS.0103","error_msg":"error"}}"#)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_json_has_the_api_shape() {
        let json: serde_json::Value =
            serde_json::from_str(&KmsError::KeyDisabled.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {
                "error_code": "KMS.0209",
                "error_msg": "The key has been disabled."
            }})
        );
    }

    #[test]
    fn server_side_failures_are_5xx_and_missing_keys_404() {
        assert_eq!(KmsError::Backend("C_Encrypt".into()).status(), 500);
        assert_eq!(KmsError::Store("disk".into()).status(), 500);
        assert_eq!(KmsError::KeyNotFound.status(), 404);
        assert_eq!(KmsError::InvalidCipherText.status(), 400);
    }
}
