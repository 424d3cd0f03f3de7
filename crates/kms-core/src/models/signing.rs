//! The operations of asymmetric and HMAC keys: get-publickey, sign, verify, generate-mac
//! and verify-mac.

use serde::{Deserialize, Serialize};

use super::fields::{key_id, required, sequence};
use crate::codec::decode_base64;
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::key_spec::{MacAlgorithm, MessageType, SigningAlgorithm};

/// Longest `message` of sign, verify, generate-mac and verify-mac, in decoded bytes.
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Longest `signature` or `mac` verify and verify-mac read, in decoded bytes: an RSA-4096
/// signature. A longer one is no signature of any key here, and is refused unread.
pub const MAX_SIGNATURE_LEN: usize = 512;

/// The decoded base64 `field`, of 1 to `max` bytes.
fn base64_field(value: Option<&str>, field: &'static str, max: usize) -> Result<Vec<u8>> {
    let text = required(value, field)?;
    // Four base64 characters carry three bytes: a longer text is refused before decoding.
    if text.len() > max.div_ceil(3) * 4 {
        return Err(too_long(field, max));
    }
    let bytes = decode_base64(text)
        .map_err(|_| KmsError::InvalidParameter(format!("{field} must be base64")))?;
    if bytes.is_empty() || bytes.len() > max {
        return Err(too_long(field, max));
    }
    Ok(bytes)
}

fn too_long(field: &str, max: usize) -> KmsError {
    KmsError::InvalidParameter(format!("{field} must be base64 of 1 to {max} bytes"))
}

/// The `signing_algorithm` field.
fn signing_algorithm(value: Option<&str>) -> Result<SigningAlgorithm> {
    let text = required(value, "signing_algorithm")?;
    SigningAlgorithm::from_wire(text).ok_or_else(|| {
        KmsError::InvalidParameter(
            "signing_algorithm must be a signing algorithm of the API".into(),
        )
    })
}

/// The `message_type` field: DIGEST when absent.
fn message_type(value: Option<&str>) -> Result<MessageType> {
    match value {
        None => Ok(MessageType::Digest),
        Some(text) => MessageType::from_wire(text)
            .ok_or_else(|| KmsError::InvalidParameter("message_type must be DIGEST or RAW".into())),
    }
}

/// The `mac_algorithm` field.
fn mac_algorithm(value: Option<&str>) -> Result<MacAlgorithm> {
    let text = required(value, "mac_algorithm")?;
    MacAlgorithm::from_wire(text).ok_or_else(|| {
        KmsError::InvalidParameter(
            "mac_algorithm must be HMAC_SHA_256, HMAC_SHA_384, HMAC_SHA_512 or HMAC_SM3".into(),
        )
    })
}

/// Response of `get-publickey`.
#[derive(Debug, Serialize, Deserialize)]
pub struct GetPublicKeyResponse {
    /// The key.
    pub key_id: String,
    /// Its public half: SubjectPublicKeyInfo DER, base64.
    pub public_key: String,
}

/// Body of `sign`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// The asymmetric SIGN_VERIFY key.
    pub key_id: Option<String>,
    /// The digest (DIGEST) or message (RAW), base64 of 1 to 4096 bytes.
    pub message: Option<String>,
    /// One of the key's signing algorithms.
    pub signing_algorithm: Option<String>,
    /// `DIGEST` (the default) or `RAW`.
    pub message_type: Option<String>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
}

/// A validated sign or verify request.
#[derive(Debug)]
pub struct ToSign {
    /// The key.
    pub key_id: KeyId,
    /// The digest or message.
    pub message: Vec<u8>,
    /// The algorithm.
    pub algorithm: SigningAlgorithm,
    /// What `message` is.
    pub message_type: MessageType,
}

impl SignRequest {
    /// Validates every field.
    ///
    /// # Errors
    /// KMS.0204 missing field; KMS.0205 bad key ID; KMS.0206 bad sequence; KMS.0308 for a
    /// message that is not base64 of 1 to 4096 bytes, or an unknown algorithm or type.
    pub fn validate(&self) -> Result<ToSign> {
        ToSign::validate(
            self.key_id.as_deref(),
            self.message.as_deref(),
            self.signing_algorithm.as_deref(),
            self.message_type.as_deref(),
            self.sequence.as_deref(),
        )
    }
}

impl ToSign {
    /// The fields sign and verify share, validated.
    fn validate(
        key: Option<&str>,
        message: Option<&str>,
        algorithm: Option<&str>,
        kind: Option<&str>,
        serial: Option<&str>,
    ) -> Result<Self> {
        sequence(serial)?;
        Ok(Self {
            key_id: key_id(key)?,
            message: base64_field(message, "message", MAX_MESSAGE_LEN)?,
            algorithm: signing_algorithm(algorithm)?,
            message_type: message_type(kind)?,
        })
    }
}

/// Response of `sign`.
#[derive(Debug, Serialize, Deserialize)]
pub struct SignResponse {
    /// The key.
    pub key_id: String,
    /// The signature, base64: DER for ECDSA and SM2, the modulus-sized octets for RSA.
    pub signature: String,
}

/// Body of `verify`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The asymmetric SIGN_VERIFY key.
    pub key_id: Option<String>,
    /// The digest (DIGEST) or message (RAW), base64 of 1 to 4096 bytes.
    pub message: Option<String>,
    /// The signature, base64.
    pub signature: Option<String>,
    /// One of the key's signing algorithms.
    pub signing_algorithm: Option<String>,
    /// `DIGEST` (the default) or `RAW`.
    pub message_type: Option<String>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
}

impl VerifyRequest {
    /// Validates every field.
    ///
    /// # Errors
    /// As [`SignRequest::validate`]; KMS.0308 for a signature that is not base64 of 1 to
    /// 512 bytes.
    pub fn validate(&self) -> Result<(ToSign, Vec<u8>)> {
        let to_sign = ToSign::validate(
            self.key_id.as_deref(),
            self.message.as_deref(),
            self.signing_algorithm.as_deref(),
            self.message_type.as_deref(),
            self.sequence.as_deref(),
        )?;
        let signature = base64_field(self.signature.as_deref(), "signature", MAX_SIGNATURE_LEN)?;
        Ok((to_sign, signature))
    }
}

/// Response of `verify`.
#[derive(Debug, Serialize, Deserialize)]
pub struct VerifyResponse {
    /// The key.
    pub key_id: String,
    /// `"true"` or `"false"`, a string as the API has it.
    pub signature_valid: String,
}

/// Body of `generate-mac`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateMacRequest {
    /// The HMAC key.
    pub key_id: Option<String>,
    /// The key's MAC algorithm.
    pub mac_algorithm: Option<String>,
    /// The message, base64 of 1 to 4096 bytes.
    pub message: Option<String>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
}

/// A validated generate-mac or verify-mac request.
#[derive(Debug)]
pub struct ToMac {
    /// The key.
    pub key_id: KeyId,
    /// The algorithm the caller names (it must be the key's).
    pub algorithm: MacAlgorithm,
    /// The message.
    pub message: Vec<u8>,
}

impl GenerateMacRequest {
    /// Validates every field.
    ///
    /// # Errors
    /// KMS.0204 missing field; KMS.0205 bad key ID; KMS.0206 bad sequence; KMS.0308 for an
    /// unknown algorithm or a message that is not base64 of 1 to 4096 bytes.
    pub fn validate(&self) -> Result<ToMac> {
        ToMac::validate(
            self.key_id.as_deref(),
            self.mac_algorithm.as_deref(),
            self.message.as_deref(),
            self.sequence.as_deref(),
        )
    }
}

impl ToMac {
    /// The fields generate-mac and verify-mac share, validated.
    fn validate(
        key: Option<&str>,
        algorithm: Option<&str>,
        message: Option<&str>,
        serial: Option<&str>,
    ) -> Result<Self> {
        sequence(serial)?;
        Ok(Self {
            key_id: key_id(key)?,
            algorithm: mac_algorithm(algorithm)?,
            message: base64_field(message, "message", MAX_MESSAGE_LEN)?,
        })
    }
}

/// Response of `generate-mac`.
#[derive(Debug, Serialize, Deserialize)]
pub struct GenerateMacResponse {
    /// The key.
    pub key_id: String,
    /// The algorithm.
    pub mac_algorithm: String,
    /// The MAC, base64.
    pub mac: String,
}

/// Body of `verify-mac`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyMacRequest {
    /// The HMAC key.
    pub key_id: Option<String>,
    /// The key's MAC algorithm.
    pub mac_algorithm: Option<String>,
    /// The message, base64 of 1 to 4096 bytes.
    pub message: Option<String>,
    /// The MAC to check, base64.
    pub mac: Option<String>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
}

impl VerifyMacRequest {
    /// Validates every field.
    ///
    /// # Errors
    /// As [`GenerateMacRequest::validate`]; KMS.0308 for a MAC that is not base64 of 1 to
    /// 512 bytes.
    pub fn validate(&self) -> Result<(ToMac, Vec<u8>)> {
        let to_mac = ToMac::validate(
            self.key_id.as_deref(),
            self.mac_algorithm.as_deref(),
            self.message.as_deref(),
            self.sequence.as_deref(),
        )?;
        let mac = base64_field(self.mac.as_deref(), "mac", MAX_SIGNATURE_LEN)?;
        Ok((to_mac, mac))
    }
}

/// Response of `verify-mac`.
#[derive(Debug, Serialize, Deserialize)]
pub struct VerifyMacResponse {
    /// The key.
    pub key_id: String,
    /// The algorithm.
    pub mac_algorithm: String,
    /// Whether the MAC is the message's.
    pub mac_valid: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";

    fn sign(json: serde_json::Value) -> Result<ToSign> {
        serde_json::from_value::<SignRequest>(json)
            .unwrap()
            .validate()
    }

    #[test]
    fn sign_fields_are_checked_and_message_type_defaults_to_digest() {
        let ok = sign(serde_json::json!({
            "key_id": KEY, "message": "AAEC", "signing_algorithm": "ECDSA_SHA_256"
        }))
        .unwrap();
        assert_eq!(
            (ok.message, ok.message_type),
            (vec![0, 1, 2], MessageType::Digest)
        );
        let code = |json| sign(json).unwrap_err().code();
        assert_eq!(
            code(serde_json::json!({"key_id": KEY, "message": "AAEC"})),
            "KMS.0204"
        );
        let base = |message: &str, algorithm: &str, message_type: &str| {
            serde_json::json!({"key_id": KEY, "message": message,
                "signing_algorithm": algorithm, "message_type": message_type})
        };
        for bad in [
            base("", "ECDSA_SHA_256", "RAW"),
            base("@@@@", "ECDSA_SHA_256", "RAW"),
            base(&"A".repeat(5464), "ECDSA_SHA_256", "RAW"),
            base("AAEC", "ecdsa_sha_256", "RAW"),
            base("AAEC", "ECDSA_SHA_256", "raw"),
        ] {
            assert_eq!(code(bad.clone()), "KMS.0308", "{bad}");
        }
        let longest = crate::codec::encode_base64(&[7; MAX_MESSAGE_LEN]);
        assert!(sign(base(&longest, "SM2DSA_SM3", "RAW")).is_ok());
        let over = crate::codec::encode_base64(&[7; MAX_MESSAGE_LEN + 1]);
        assert_eq!(code(base(&over, "SM2DSA_SM3", "RAW")), "KMS.0308");
    }

    #[test]
    fn mac_requests_need_a_known_algorithm_and_a_base64_mac() {
        let request = VerifyMacRequest {
            key_id: Some(KEY.into()),
            mac_algorithm: Some("HMAC_SM3".into()),
            message: Some("aGk=".into()),
            mac: Some("not base64!".into()),
            sequence: None,
        };
        assert_eq!(request.validate().unwrap_err().code(), "KMS.0308");
        let request = VerifyMacRequest {
            mac_algorithm: Some("HMAC_MD5".into()),
            mac: Some("aGk=".into()),
            ..request
        };
        assert_eq!(request.validate().unwrap_err().code(), "KMS.0308");
    }
}
