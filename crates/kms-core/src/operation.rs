//! Dispatch by operation name: a request body as JSON text in, a response body as JSON
//! text out. This is what a CLI, an HTTP front end or a fuzzer drives.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::engine::Kms;
use crate::error::{KmsError, Result};
use crate::secret::SecretString;

wire_enum! {
    /// An operation of the API, named as in its URI.
    Operation {
        /// `create-key`
        CreateKey = "create-key",
        /// `describe-key`
        DescribeKey = "describe-key",
        /// `list-keys`
        ListKeys = "list-keys",
        /// `enable-key`
        EnableKey = "enable-key",
        /// `disable-key`
        DisableKey = "disable-key",
        /// `schedule-key-deletion`
        ScheduleKeyDeletion = "schedule-key-deletion",
        /// `cancel-key-deletion`
        CancelKeyDeletion = "cancel-key-deletion",
        /// `create-datakey`
        CreateDatakey = "create-datakey",
        /// `create-datakey-without-plaintext`
        CreateDatakeyWithoutPlaintext = "create-datakey-without-plaintext",
        /// `encrypt-datakey`
        EncryptDatakey = "encrypt-datakey",
        /// `decrypt-datakey`
        DecryptDatakey = "decrypt-datakey",
        /// `create-ec-datakey-pair`
        CreateEcDatakeyPair = "create-ec-datakey-pair",
        /// `create-rsa-datakey-pair`
        CreateRsaDatakeyPair = "create-rsa-datakey-pair",
        /// `get-parameters-for-import`
        GetParametersForImport = "get-parameters-for-import",
        /// `import-key-material`
        ImportKeyMaterial = "import-key-material",
        /// `delete-imported-key-material`
        DeleteImportedKeyMaterial = "delete-imported-key-material",
    }
}

impl Kms {
    /// Runs `operation` on a JSON request body and returns the JSON response body.
    ///
    /// The response is a [`SecretString`] because several responses carry plaintext keys.
    ///
    /// # Errors
    /// KMS.0202 when `body` is not a JSON object of the operation's fields (see [`parse`]);
    /// otherwise the operation's own errors.
    pub fn call_json(&self, operation: Operation, body: &str) -> Result<SecretString> {
        match operation {
            Operation::CreateKey => respond(self.create_key(&parse(body)?)),
            Operation::DescribeKey => respond(self.describe_key(&parse(body)?)),
            Operation::ListKeys => respond(self.list_keys(&parse(body)?)),
            Operation::EnableKey => respond(self.enable_key(&parse(body)?)),
            Operation::DisableKey => respond(self.disable_key(&parse(body)?)),
            Operation::ScheduleKeyDeletion => respond(self.schedule_key_deletion(&parse(body)?)),
            Operation::CancelKeyDeletion => respond(self.cancel_key_deletion(&parse(body)?)),
            Operation::CreateDatakey => respond(self.create_datakey(&parse(body)?)),
            Operation::CreateDatakeyWithoutPlaintext => {
                respond(self.create_datakey_without_plaintext(&parse(body)?))
            }
            Operation::EncryptDatakey => respond(self.encrypt_datakey(&parse(body)?)),
            Operation::DecryptDatakey => respond(self.decrypt_datakey(&parse(body)?)),
            Operation::CreateEcDatakeyPair => respond(self.create_ec_datakey_pair(&parse(body)?)),
            Operation::CreateRsaDatakeyPair => respond(self.create_rsa_datakey_pair(&parse(body)?)),
            Operation::GetParametersForImport => {
                respond(self.get_parameters_for_import(&parse(body)?))
            }
            Operation::ImportKeyMaterial => respond(self.import_key_material(&parse(body)?)),
            Operation::DeleteImportedKeyMaterial => {
                respond(self.delete_imported_key_material(&parse(body)?))
            }
        }
    }
}

/// Request fields whose values are secrets: a malformed one is never echoed in an error.
const SECRET_FIELDS: &[&str] = &[
    "plain_text",
    "pin",
    "encrypted_key_material",
    "encrypted_privatekey",
];

/// Parses a request body. Every JSON error is KMS.0202; its message names the unknown,
/// mistyped or malformed field, and never echoes the value of a secret field.
///
/// # Errors
/// [`KmsError::InvalidJson`] when `body` is not one JSON object of `T`'s fields.
pub fn parse<T: DeserializeOwned>(body: &str) -> Result<T> {
    let mut deserializer = serde_json::Deserializer::from_str(body);
    let parsed: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = if SECRET_FIELDS.contains(&path.as_str()) {
            format!("{path}: must be a string")
        } else if path == "." {
            error.inner().to_string()
        } else {
            format!("{path}: {}", error.inner())
        };
        KmsError::InvalidJson(message)
    })?;
    deserializer
        .end()
        .map_err(|error| KmsError::InvalidJson(error.to_string()))?;
    Ok(parsed)
}

fn respond<T: Serialize>(response: Result<T>) -> Result<SecretString> {
    let json = serde_json::to_string(&response?)
        .map_err(|error| KmsError::Backend(format!("encoding the response: {error}")))?;
    Ok(SecretString::new(json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{CreateEcDatakeyPairRequest, EncryptDatakeyRequest};

    #[test]
    fn a_mistyped_field_is_named() {
        let err = parse::<CreateEcDatakeyPairRequest>(r#"{"with_plain_text":"yes"}"#).unwrap_err();
        assert_eq!(err.code(), "KMS.0202");
        assert!(
            err.to_string().starts_with(
                "Invalid JSON format of the request message: with_plain_text: invalid type"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_mistyped_secret_field_is_named_but_not_echoed() {
        for body in [r#"{"plain_text":123456789}"#, r#"{"pin":[123456789]}"#] {
            let err = parse::<EncryptDatakeyRequest>(body).unwrap_err();
            assert_eq!(err.code(), "KMS.0202");
            assert!(err.to_string().contains("must be a string"), "{err}");
            assert!(!err.to_string().contains("123456789"), "{err}");
        }
    }

    #[test]
    fn an_unknown_field_is_named() {
        let err = parse::<CreateEcDatakeyPairRequest>(r#"{"with_plaintext":true}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `with_plaintext`"),
            "{err}"
        );
    }

    #[test]
    fn trailing_data_after_the_object_is_refused() {
        let err = parse::<CreateEcDatakeyPairRequest>(r#"{} {}"#).unwrap_err();
        assert_eq!(err.code(), "KMS.0202");
    }
}
