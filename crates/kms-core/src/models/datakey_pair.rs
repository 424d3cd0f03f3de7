//! Data key pairs: create-ec-datakey-pair and create-rsa-datakey-pair.

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};

use super::fields::{aad, key_id, refuse_level4_fields, required, sequence};
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::secret::SecretString;
use crate::spec::{KeyPairSpec, WrappingAlgorithm};

/// Body of `create-ec-datakey-pair`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEcDatakeyPairRequest {
    /// The CMK that seals the private key.
    pub key_id: Option<String>,
    /// `ECC_NIST_P256`, `ECC_NIST_P384`, `ECC_NIST_P521`, `ECC_SECG_P256K1` or `SM2`.
    pub key_spec: Option<String>,
    /// Whether to return the plaintext private key (default true).
    pub with_plain_text: Option<bool>,
    /// Caller AAD bound to the sealed private key, at most 128 bytes.
    pub additional_authenticated_data: Option<String>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
    /// Level-4 testing scenario: not supported.
    pub pin: Option<SecretString>,
    /// Level-4 testing scenario: not supported.
    pub pin_type: Option<String>,
    /// Extension: base64 SPKI DER of the key to wrap the private key to (RSA >= 2048 bits
    /// or SM2). The response then carries `wrapped_private_key` instead of
    /// `private_key_plain_text`.
    pub recipient_public_key: Option<String>,
    /// Extension: `RSA_AES_KEY_WRAP_SHA_256`, `RSAES_OAEP_SHA_256` (small keys only) or
    /// `SM2_ENCRYPT`; required with `recipient_public_key`.
    pub recipient_algorithm: Option<String>,
}

/// Body of `create-rsa-datakey-pair`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRsaDatakeyPairRequest {
    /// The CMK that seals the private key.
    pub key_id: Option<String>,
    /// `RSA_2048`, `RSA_3072` or `RSA_4096`.
    pub key_spec: Option<String>,
    /// Whether to return the plaintext private key (default true).
    pub with_plain_text: Option<bool>,
    /// Caller AAD bound to the sealed private key, at most 128 bytes.
    pub additional_authenticated_data: Option<String>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
    /// Extension: as in [`CreateEcDatakeyPairRequest::recipient_public_key`].
    pub recipient_public_key: Option<String>,
    /// Extension: as in [`CreateEcDatakeyPairRequest::recipient_algorithm`].
    pub recipient_algorithm: Option<String>,
}

/// Whom a private key is wrapped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// SubjectPublicKeyInfo DER of the recipient's key (checked by the backend).
    pub public_key_spki: Vec<u8>,
    /// How to wrap to it.
    pub algorithm: WrappingAlgorithm,
}

/// Algorithms a private key can be wrapped to a recipient with.
const RECIPIENT_ALGORITHMS: [WrappingAlgorithm; 3] = [
    WrappingAlgorithm::RsaAesKeyWrapSha256,
    WrappingAlgorithm::RsaesOaepSha256,
    WrappingAlgorithm::Sm2Encrypt,
];

fn recipient(public_key: Option<&str>, algorithm: Option<&str>) -> Result<Option<Recipient>> {
    let (public_key, algorithm) = match (public_key, algorithm) {
        (None, None) => return Ok(None),
        (Some(_), None) => return Err(KmsError::MissingParameter("recipient_algorithm")),
        (None, Some(_)) => return Err(KmsError::MissingParameter("recipient_public_key")),
        (Some(public_key), Some(algorithm)) => (public_key, algorithm),
    };
    let algorithm = WrappingAlgorithm::from_wire(algorithm)
        .filter(|algorithm| RECIPIENT_ALGORITHMS.contains(algorithm))
        .ok_or_else(|| {
            KmsError::InvalidParameter(
                "recipient_algorithm must be RSA_AES_KEY_WRAP_SHA_256, RSAES_OAEP_SHA_256 or SM2_ENCRYPT"
                    .into(),
            )
        })?;
    let public_key_spki = Base64::decode_vec(public_key).map_err(|_| {
        KmsError::InvalidParameter("recipient_public_key must be base64 of SPKI DER".into())
    })?;
    Ok(Some(Recipient {
        public_key_spki,
        algorithm,
    }))
}

/// A validated data key pair request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKeyPair<'a> {
    /// The CMK.
    pub key_id: KeyId,
    /// The pair's spec.
    pub spec: KeyPairSpec,
    /// Whether the response carries the plaintext private key.
    pub with_plain_text: bool,
    /// Caller AAD.
    pub aad: &'a [u8],
    /// Whom to wrap the private key to, instead of returning it in plaintext.
    pub recipient: Option<Recipient>,
}

/// The fields both requests share.
struct PairFields<'a> {
    key_id: Option<&'a str>,
    key_spec: Option<&'a str>,
    with_plain_text: Option<bool>,
    aad: Option<&'a str>,
    recipient_public_key: Option<&'a str>,
    recipient_algorithm: Option<&'a str>,
}

/// The shared rules of both requests; `ec` picks which family of specs is allowed.
fn validate_pair(fields: PairFields<'_>, ec: bool) -> Result<NewKeyPair<'_>> {
    let key_id = key_id(fields.key_id)?;
    let spec = KeyPairSpec::from_wire(required(fields.key_spec, "key_spec")?)
        .filter(|spec| spec.is_ec() == ec)
        .ok_or_else(|| {
            KmsError::InvalidParameter(if ec {
                "key_spec must be ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, \
                 ECC_SECG_P256K1 or SM2"
                    .into()
            } else {
                "key_spec must be RSA_2048, RSA_3072 or RSA_4096".into()
            })
        })?;
    Ok(NewKeyPair {
        key_id,
        spec,
        with_plain_text: fields.with_plain_text.unwrap_or(true),
        aad: aad(fields.aad)?,
        recipient: recipient(fields.recipient_public_key, fields.recipient_algorithm)?,
    })
}

impl CreateEcDatakeyPairRequest {
    /// Validates every field.
    ///
    /// # Errors
    /// KMS.0204, KMS.0205, KMS.0206; KMS.0308 for a spec that is not an EC spec or a long
    /// AAD; KMS.9001 for `pin` / `pin_type`.
    pub fn validate(&self) -> Result<NewKeyPair<'_>> {
        sequence(self.sequence.as_deref())?;
        refuse_level4_fields(self.pin.as_ref(), self.pin_type.as_deref(), None)?;
        validate_pair(
            PairFields {
                key_id: self.key_id.as_deref(),
                key_spec: self.key_spec.as_deref(),
                with_plain_text: self.with_plain_text,
                aad: self.additional_authenticated_data.as_deref(),
                recipient_public_key: self.recipient_public_key.as_deref(),
                recipient_algorithm: self.recipient_algorithm.as_deref(),
            },
            true,
        )
    }
}

impl CreateRsaDatakeyPairRequest {
    /// Validates every field.
    ///
    /// # Errors
    /// KMS.0204, KMS.0205, KMS.0206; KMS.0308 for a spec that is not an RSA spec or a long
    /// AAD.
    pub fn validate(&self) -> Result<NewKeyPair<'_>> {
        sequence(self.sequence.as_deref())?;
        validate_pair(
            PairFields {
                key_id: self.key_id.as_deref(),
                key_spec: self.key_spec.as_deref(),
                with_plain_text: self.with_plain_text,
                aad: self.additional_authenticated_data.as_deref(),
                recipient_public_key: self.recipient_public_key.as_deref(),
                recipient_algorithm: self.recipient_algorithm.as_deref(),
            },
            false,
        )
    }
}

/// Response of `create-ec-datakey-pair` and `create-rsa-datakey-pair`.
#[derive(Debug, Serialize, Deserialize)]
pub struct DatakeyPairResponse {
    /// The CMK.
    pub key_id: String,
    /// The pair's spec.
    pub key_spec: String,
    /// Base64 of the SubjectPublicKeyInfo DER.
    pub public_key: String,
    /// The PKCS#8 DER private key sealed under the CMK: a v1 blob in upper-case hex, which
    /// decrypt-datakey opens with the same AAD.
    pub private_key_cipher_text: String,
    /// Base64 of the PKCS#8 DER private key, only when `with_plain_text` is true and no
    /// recipient is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_plain_text: Option<SecretString>,
    /// Base64 of the PKCS#8 DER private key wrapped to the recipient, only when one is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrapped_private_key: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";

    #[test]
    fn with_plain_text_defaults_to_true() {
        let request: CreateEcDatakeyPairRequest =
            serde_json::from_str(&format!(r#"{{"key_id":"{KEY}","key_spec":"SM2"}}"#)).unwrap();
        assert!(request.validate().unwrap().with_plain_text);
    }

    #[test]
    fn each_operation_takes_only_its_own_family_of_specs() {
        let ec = CreateEcDatakeyPairRequest {
            key_id: Some(KEY.into()),
            key_spec: Some("RSA_2048".into()),
            ..CreateEcDatakeyPairRequest::default()
        };
        assert_eq!(ec.validate().unwrap_err().code(), "KMS.0308");
        let rsa = CreateRsaDatakeyPairRequest {
            key_id: Some(KEY.into()),
            key_spec: Some("ECC_NIST_P256".into()),
            ..CreateRsaDatakeyPairRequest::default()
        };
        assert_eq!(rsa.validate().unwrap_err().code(), "KMS.0308");
    }

    #[test]
    fn recipient_key_and_algorithm_come_together() {
        let pair = |public_key: Option<&str>, algorithm: Option<&str>| {
            CreateEcDatakeyPairRequest {
                key_id: Some(KEY.into()),
                key_spec: Some("SM2".into()),
                recipient_public_key: public_key.map(Into::into),
                recipient_algorithm: algorithm.map(Into::into),
                ..CreateEcDatakeyPairRequest::default()
            }
            .validate()
            .map(|valid| valid.recipient)
        };
        assert_eq!(pair(None, None).unwrap(), None);
        let err = pair(Some("AAAA"), None).unwrap_err();
        assert_eq!(
            (err.code(), err.to_string().contains("recipient_algorithm")),
            ("KMS.0204", true)
        );
        assert_eq!(
            pair(None, Some("SM2_ENCRYPT")).unwrap_err().code(),
            "KMS.0204"
        );
        assert_eq!(
            pair(Some("AAAA"), Some("RSAES_OAEP_SHA_1"))
                .unwrap_err()
                .code(),
            "KMS.0308"
        );
        assert_eq!(
            pair(Some("not base64"), Some("SM2_ENCRYPT"))
                .unwrap_err()
                .code(),
            "KMS.0308"
        );
        let recipient = pair(Some("AAAA"), Some("SM2_ENCRYPT")).unwrap().unwrap();
        assert_eq!(recipient.public_key_spki, vec![0, 0, 0]);
    }
}
