//! Data key pairs: create-ec-datakey-pair and create-rsa-datakey-pair.

use serde::{Deserialize, Serialize};

use super::fields::{aad, key_id, refuse_level4_fields, required, sequence};
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::secret::SecretString;
use crate::spec::KeyPairSpec;

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
    /// Request serial number, 36 bytes.
    pub sequence: Option<String>,
    /// Level-4 testing scenario: not supported.
    pub pin: Option<SecretString>,
    /// Level-4 testing scenario: not supported.
    pub pin_type: Option<String>,
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
    /// Request serial number, 36 bytes.
    pub sequence: Option<String>,
}

/// A validated data key pair request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewKeyPair<'a> {
    /// The CMK.
    pub key_id: KeyId,
    /// The pair's spec.
    pub spec: KeyPairSpec,
    /// Whether the response carries the plaintext private key.
    pub with_plain_text: bool,
    /// Caller AAD.
    pub aad: &'a [u8],
}

/// The shared rules of both requests; `ec` picks which family of specs is allowed.
fn validate_pair<'a>(
    key_id_field: Option<&str>,
    spec_field: Option<&str>,
    with_plain_text: Option<bool>,
    aad_field: Option<&'a str>,
    ec: bool,
) -> Result<NewKeyPair<'a>> {
    let key_id = key_id(key_id_field)?;
    let spec = KeyPairSpec::from_wire(required(spec_field, "key_spec")?)
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
        with_plain_text: with_plain_text.unwrap_or(true),
        aad: aad(aad_field)?,
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
            self.key_id.as_deref(),
            self.key_spec.as_deref(),
            self.with_plain_text,
            self.additional_authenticated_data.as_deref(),
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
            self.key_id.as_deref(),
            self.key_spec.as_deref(),
            self.with_plain_text,
            self.additional_authenticated_data.as_deref(),
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
    /// Base64 of the PKCS#8 DER private key, only when `with_plain_text` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_plain_text: Option<SecretString>,
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
}
