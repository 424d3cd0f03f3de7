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
    }
}

impl Kms {
    /// Runs `operation` on a JSON request body and returns the JSON response body.
    ///
    /// The response is a [`SecretString`] because several responses carry plaintext keys.
    ///
    /// # Errors
    /// KMS.0202 when `body` is not a JSON object of the operation's fields (the message
    /// names an unknown field or the field of the wrong type); otherwise the operation's
    /// own errors.
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
        }
    }
}

/// Parses a request body, mapping every JSON error to KMS.0202 with serde's message, which
/// names the unknown or mistyped field.
pub fn parse<T: DeserializeOwned>(body: &str) -> Result<T> {
    serde_json::from_str(body).map_err(|error| KmsError::InvalidJson(error.to_string()))
}

fn respond<T: Serialize>(response: Result<T>) -> Result<SecretString> {
    let json = serde_json::to_string(&response?)
        .map_err(|error| KmsError::Backend(format!("encoding the response: {error}")))?;
    Ok(SecretString::new(json))
}
