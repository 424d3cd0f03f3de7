//! Key import: get-parameters-for-import, import-key-material, delete-imported-key-material.

use core::fmt;

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};

use super::fields::{key_id, required, sequence};
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::spec::{WrappingAlgorithm, WrappingKeySpec};

/// Body of `get-parameters-for-import`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetParametersForImportRequest {
    /// The external key that will receive material.
    pub key_id: Option<String>,
    /// `RSAES_OAEP_SHA_256` (default), `RSAES_OAEP_SHA_1`, `SM2_ENCRYPT`,
    /// `RSA_AES_KEY_WRAP_SHA_256` or `RSA_AES_KEY_WRAP_SHA_1`.
    pub wrapping_algorithm: Option<String>,
    /// Extension: `RSA_2048` (default for RSA algorithms), `RSA_3072`, `RSA_4096`, or `SM2`
    /// (the only and default spec for `SM2_ENCRYPT`).
    pub wrapping_key_spec: Option<String>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
}

/// A validated get-parameters-for-import request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportParameters {
    /// The key.
    pub key_id: KeyId,
    /// The wrapping algorithm.
    pub algorithm: WrappingAlgorithm,
    /// The wrapping key spec.
    pub wrapping_key_spec: WrappingKeySpec,
}

impl GetParametersForImportRequest {
    /// Validates every field.
    ///
    /// # Errors
    /// KMS.0204, KMS.0205, KMS.0206; KMS.0308 for an unknown algorithm or spec, or a spec
    /// the algorithm cannot use.
    pub fn validate(&self) -> Result<ImportParameters> {
        sequence(self.sequence.as_deref())?;
        let key_id = key_id(self.key_id.as_deref())?;
        let algorithm = match self.wrapping_algorithm.as_deref() {
            None => WrappingAlgorithm::RsaesOaepSha256,
            Some(text) => WrappingAlgorithm::from_wire(text).ok_or_else(|| {
                KmsError::InvalidParameter(
                    "wrapping_algorithm must be RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1, \
                     SM2_ENCRYPT, RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1"
                        .into(),
                )
            })?,
        };
        let wrapping_key_spec = match self.wrapping_key_spec.as_deref() {
            None => algorithm.default_key_spec(),
            Some(text) => WrappingKeySpec::from_wire(text)
                .filter(|spec| algorithm.accepts(*spec))
                .ok_or_else(|| {
                    KmsError::InvalidParameter(format!(
                        "wrapping_key_spec {text} cannot be used with {}",
                        algorithm.as_str()
                    ))
                })?,
        };
        Ok(ImportParameters {
            key_id,
            algorithm,
            wrapping_key_spec,
        })
    }
}

/// Response of `get-parameters-for-import`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetParametersForImportResponse {
    /// The key.
    pub key_id: String,
    /// The single-use token import-key-material must present.
    pub import_token: String,
    /// When the token and the wrapping key expire, epoch seconds.
    pub expiration_time: u64,
    /// Base64 of the wrapping public key's SubjectPublicKeyInfo DER.
    pub public_key: String,
}

/// A number sent either as a JSON number or as a decimal string.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum NumberOrString {
    /// `1700000000`
    Number(u64),
    /// `"1700000000"`
    Text(String),
}

impl NumberOrString {
    fn value(&self) -> Option<u64> {
        match self {
            Self::Number(number) => Some(*number),
            Self::Text(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                text.parse().ok()
            }
            Self::Text(_) => None,
        }
    }
}

/// Body of `import-key-material`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportKeyMaterialRequest {
    /// The external key.
    pub key_id: Option<String>,
    /// The token from get-parameters-for-import.
    pub import_token: Option<String>,
    /// Base64 of the wrapped material (see [`WrappedMaterial`](crate::WrappedMaterial)).
    pub encrypted_key_material: Option<String>,
    /// Base64 of the AES-KWP-wrapped material, for RSA_AES_KEY_WRAP sent in two fields.
    pub encrypted_privatekey: Option<String>,
    /// When the material expires, epoch seconds (a number or a decimal string).
    pub expiration_time: Option<NumberOrString>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
}

/// An import-key-material request whose key ID and token are present: what the engine
/// needs for its token checks, which come before anything else in the body is looked at.
#[derive(Clone, Copy)]
pub struct MaterialToImport<'a> {
    /// The key.
    pub key_id: KeyId,
    /// The token text.
    pub import_token: &'a str,
    request: &'a ImportKeyMaterialRequest,
}

/// The wrapped material and expiry of an import-key-material request, decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct DecodedMaterial {
    /// `encrypted_key_material`, decoded.
    pub encrypted_key_material: Vec<u8>,
    /// `encrypted_privatekey`, decoded.
    pub encrypted_privatekey: Option<Vec<u8>>,
    /// Material expiry, epoch seconds.
    pub expiration_time: Option<u64>,
}

impl ImportKeyMaterialRequest {
    /// Checks the fields the token checks need: `sequence`, `key_id` and that
    /// `import_token` is present. The rest of the body is decoded by
    /// [`MaterialToImport::decode`], after the engine has checked the token.
    ///
    /// # Errors
    /// KMS.0204, KMS.0205, KMS.0206.
    pub fn validate(&self) -> Result<MaterialToImport<'_>> {
        sequence(self.sequence.as_deref())?;
        let key_id = key_id(self.key_id.as_deref())?;
        let import_token = required(self.import_token.as_deref(), "import_token")?;
        Ok(MaterialToImport {
            key_id,
            import_token,
            request: self,
        })
    }
}

impl MaterialToImport<'_> {
    /// Decodes the wrapped material and the material expiry.
    ///
    /// # Errors
    /// KMS.0204 without `encrypted_key_material`; KMS.0308 for an `expiration_time` that is
    /// not a number; KMS.0311 when the wrapped material is not base64 (the same error as
    /// every other way it can be wrong).
    pub fn decode(&self) -> Result<DecodedMaterial> {
        let decode = |text: &str| Base64::decode_vec(text).map_err(|_| KmsError::UnwrapFailed);
        let encrypted_key_material = decode(required(
            self.request.encrypted_key_material.as_deref(),
            "encrypted_key_material",
        )?)?;
        let encrypted_privatekey = self
            .request
            .encrypted_privatekey
            .as_deref()
            .map(decode)
            .transpose()?;
        let expiration_time = self
            .request
            .expiration_time
            .as_ref()
            .map(|time| {
                time.value().ok_or_else(|| {
                    KmsError::InvalidParameter("expiration_time must be epoch seconds".into())
                })
            })
            .transpose()?;
        Ok(DecodedMaterial {
            encrypted_key_material,
            encrypted_privatekey,
            expiration_time,
        })
    }
}

// The import token authorizes one import into its key: like the wrapped material, it is
// never shown by `Debug` (a log line holding one would let its reader import material of
// their choosing), only the key ID and which fields are present.
impl fmt::Debug for ImportKeyMaterialRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportKeyMaterialRequest")
            .field("key_id", &self.key_id)
            .field(
                "import_token",
                &self.import_token.as_ref().map(|_| REDACTED),
            )
            .field(
                "encrypted_key_material",
                &self.encrypted_key_material.as_ref().map(|_| REDACTED),
            )
            .field(
                "encrypted_privatekey",
                &self.encrypted_privatekey.as_ref().map(|_| REDACTED),
            )
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for MaterialToImport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaterialToImport")
            .field("key_id", &self.key_id)
            .field("import_token", &REDACTED)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for DecodedMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodedMaterial")
            .field(
                "encrypted_key_material_len",
                &self.encrypted_key_material.len(),
            )
            .field(
                "encrypted_privatekey_len",
                &self.encrypted_privatekey.as_ref().map(Vec::len),
            )
            .field("expiration_time", &self.expiration_time)
            .finish()
    }
}

const REDACTED: &str = "[REDACTED]";

/// Response of `import-key-material` and `delete-imported-key-material`: an empty object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EmptyResponse {}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";

    fn parameters(algorithm: Option<&str>, spec: Option<&str>) -> Result<ImportParameters> {
        GetParametersForImportRequest {
            key_id: Some(KEY.into()),
            wrapping_algorithm: algorithm.map(Into::into),
            wrapping_key_spec: spec.map(Into::into),
            sequence: None,
        }
        .validate()
    }

    #[test]
    fn wrapping_defaults_to_rsaes_oaep_sha_256_with_rsa_2048() {
        let valid = parameters(None, None).unwrap();
        assert_eq!(valid.algorithm, WrappingAlgorithm::RsaesOaepSha256);
        assert_eq!(valid.wrapping_key_spec, WrappingKeySpec::Rsa2048);
        let sm2 = parameters(Some("SM2_ENCRYPT"), None).unwrap();
        assert_eq!(sm2.wrapping_key_spec, WrappingKeySpec::Sm2);
    }

    #[test]
    fn wrapping_key_spec_must_suit_the_algorithm() {
        assert_eq!(
            parameters(Some("SM2_ENCRYPT"), Some("RSA_2048"))
                .unwrap_err()
                .code(),
            "KMS.0308"
        );
        assert_eq!(
            parameters(Some("RSAES_OAEP_SHA_1"), Some("SM2"))
                .unwrap_err()
                .code(),
            "KMS.0308"
        );
        assert_eq!(
            parameters(Some("RSAES_PKCS1_V1_5"), None)
                .unwrap_err()
                .code(),
            "KMS.0308"
        );
        assert!(parameters(Some("RSA_AES_KEY_WRAP_SHA_1"), Some("RSA_4096")).is_ok());
    }

    #[test]
    fn expiration_time_is_a_number_or_a_decimal_string() {
        let parse = |json: &str| -> Result<Option<u64>> {
            let body = format!(
                r#"{{"key_id":"{KEY}","import_token":"t","encrypted_key_material":"AAAA","expiration_time":{json}}}"#
            );
            crate::parse::<ImportKeyMaterialRequest>(&body)?
                .validate()?
                .decode()
                .map(|decoded| decoded.expiration_time)
        };
        assert_eq!(parse("1900000000").unwrap(), Some(1_900_000_000));
        assert_eq!(parse(r#""1900000000""#).unwrap(), Some(1_900_000_000));
        assert_eq!(parse(r#""19e8""#).unwrap_err().code(), "KMS.0308");
        assert_eq!(parse("-1").unwrap_err().code(), "KMS.0202");
    }

    #[test]
    fn material_that_is_not_base64_is_the_uniform_unwrap_error() {
        let request = ImportKeyMaterialRequest {
            key_id: Some(KEY.into()),
            import_token: Some("t".into()),
            encrypted_key_material: Some("not base64!".into()),
            ..ImportKeyMaterialRequest::default()
        };
        let valid = request.validate().unwrap();
        assert_eq!(valid.decode().unwrap_err().code(), "KMS.0311");
    }
}
