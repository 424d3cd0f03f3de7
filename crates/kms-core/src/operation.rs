//! Dispatch by operation name: a request body as JSON text in, a response body as JSON
//! text out. This is what a CLI, an HTTP front end or a fuzzer drives.

mod request_body;
mod value_free;

use std::io;

use serde::Serialize;

pub use self::request_body::parse;
use crate::engine::Kms;
use crate::error::{KmsError, Result};
use crate::secret::SecretString;
use crate::tenant::Tenant;

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
        /// `encrypt-data`
        EncryptData = "encrypt-data",
        /// `decrypt-data`
        DecryptData = "decrypt-data",
        /// `re-encrypt`
        ReEncrypt = "re-encrypt",
        /// `gen-random`
        GenRandom = "gen-random",
        /// `get-publickey`
        GetPublicKey = "get-publickey",
        /// `sign`
        Sign = "sign",
        /// `verify`
        Verify = "verify",
        /// `generate-mac`
        GenerateMac = "generate-mac",
        /// `verify-mac`
        VerifyMac = "verify-mac",
        /// `update-key-alias`
        UpdateKeyAlias = "update-key-alias",
        /// `update-key-description`
        UpdateKeyDescription = "update-key-description",
        /// `enable-key-rotation`
        EnableKeyRotation = "enable-key-rotation",
        /// `disable-key-rotation`
        DisableKeyRotation = "disable-key-rotation",
        /// `update-key-rotation-interval`
        UpdateKeyRotationInterval = "update-key-rotation-interval",
        /// `get-key-rotation-status`
        GetKeyRotationStatus = "get-key-rotation-status",
        /// `rotate-on-demand`
        RotateOnDemand = "rotate-on-demand",
        /// `POST {key_id}/tags` (the SDK's create_kms_tag)
        CreateKmsTag = "create-kms-tag",
        /// `POST {key_id}/tags/action` (the SDK's batch_create_kms_tags)
        BatchCreateKmsTags = "batch-create-kms-tags",
        /// `DELETE {key_id}/tags/{key}` (the SDK's delete_tag)
        DeleteTag = "delete-tag",
        /// `GET {key_id}/tags` (the SDK's show_kms_tags)
        ShowKmsTags = "show-kms-tags",
        /// `GET tags` (the SDK's list_kms_tags)
        ListKmsTags = "list-kms-tags",
    }
}

impl Operation {
    /// Whether the engine's work for this operation is microseconds of computation once
    /// its key is loaded: symmetric encryption and decryption under a CMK, and random
    /// bytes. Key creation, pair generation (RSA takes seconds), signatures, imports and
    /// every metadata operation (which read or write the store) are not.
    #[must_use]
    pub fn is_quick(self) -> bool {
        matches!(
            self,
            Self::CreateDatakey
                | Self::CreateDatakeyWithoutPlaintext
                | Self::EncryptDatakey
                | Self::DecryptDatakey
                | Self::EncryptData
                | Self::DecryptData
                | Self::ReEncrypt
                | Self::GenRandom
        )
    }

    /// Whether the API reaches this operation at `POST .../kms/<its name>`; the tag
    /// operations it reaches at paths of their own instead (their names are the SDK's).
    #[must_use]
    pub fn routed_by_name(self) -> bool {
        !matches!(
            self,
            Self::CreateKmsTag
                | Self::BatchCreateKmsTags
                | Self::DeleteTag
                | Self::ShowKmsTags
                | Self::ListKmsTags
        )
    }
}

impl Kms {
    /// Runs `operation` on a JSON request body and returns the JSON response body, compact.
    ///
    /// The response is a [`SecretString`] because several responses carry plaintext keys;
    /// it is written once into a buffer of its exact size, so no copy of it is left behind
    /// in memory a growing buffer gave up.
    ///
    /// # Errors
    /// KMS.0202 when `body` is not a JSON object of the operation's fields (see [`parse`]);
    /// otherwise the operation's own errors.
    pub fn call_json(&self, operation: Operation, body: &str) -> Result<SecretString> {
        self.dispatch(self.default_tenant(), operation, body, Layout::Compact)
    }

    /// As [`call_json`](Self::call_json), for `tenant`: the call sees the keys of its
    /// project only, and reports its domain. [`call_json`](Self::call_json) is this for the
    /// [default tenant](Kms::default_tenant).
    ///
    /// # Errors
    /// As [`call_json`](Self::call_json); KMS.0207 for a key of another project.
    pub fn call_json_as(
        &self,
        tenant: &Tenant,
        operation: Operation,
        body: &str,
    ) -> Result<SecretString> {
        self.dispatch(tenant, operation, body, Layout::Compact)
    }

    /// As [`call_json_as`](Self::call_json_as), here and now, when the call can run
    /// without waiting: for an async server, which then answers on its reactor rather than
    /// handing the call to a blocking thread and back. That is when the backend never
    /// waits ([`Backend::never_waits`](crate::Backend::never_waits)), the operation is a
    /// quick one (symmetric crypto under a CMK, or random bytes), and the engine needs
    /// neither its store nor a lock another thread may hold across it: the key cached and
    /// confirmed within the coherence bound, its encryption lease not run dry.
    ///
    /// `None` when it cannot: the call stopped before anything that would wait, changed
    /// nothing outside the engine's memory, and the caller runs
    /// [`call_json_as`](Self::call_json_as) where blocking is allowed.
    #[must_use]
    pub fn call_json_now(
        &self,
        tenant: &Tenant,
        operation: Operation,
        body: &str,
    ) -> Option<Result<SecretString>> {
        if !(self.backend().never_waits() && operation.is_quick()) {
            return None;
        }
        crate::engine::without_waiting(|| self.call_json_as(tenant, operation, body))
    }

    /// As [`call_json_as`](Self::call_json_as), with the response pretty-printed
    /// (two-space indents, as `serde_json::to_string_pretty` writes).
    ///
    /// # Errors
    /// As [`call_json_as`](Self::call_json_as).
    pub fn call_json_pretty_as(
        &self,
        tenant: &Tenant,
        operation: Operation,
        body: &str,
    ) -> Result<SecretString> {
        self.dispatch(tenant, operation, body, Layout::Pretty)
    }

    fn dispatch(
        &self,
        tenant: &Tenant,
        operation: Operation,
        body: &str,
        layout: Layout,
    ) -> Result<SecretString> {
        let t = tenant;
        match operation {
            Operation::CreateKey => layout.write(self.create_key(t, &parse(body)?)),
            Operation::DescribeKey => layout.write(self.describe_key(t, &parse(body)?)),
            Operation::ListKeys => layout.write(self.list_keys(t, &parse(body)?)),
            Operation::EnableKey => layout.write(self.enable_key(t, &parse(body)?)),
            Operation::DisableKey => layout.write(self.disable_key(t, &parse(body)?)),
            Operation::ScheduleKeyDeletion => {
                layout.write(self.schedule_key_deletion(t, &parse(body)?))
            }
            Operation::CancelKeyDeletion => {
                layout.write(self.cancel_key_deletion(t, &parse(body)?))
            }
            Operation::CreateDatakey => layout.write(self.create_datakey(t, &parse(body)?)),
            Operation::CreateDatakeyWithoutPlaintext => {
                layout.write(self.create_datakey_without_plaintext(t, &parse(body)?))
            }
            Operation::EncryptDatakey => layout.write(self.encrypt_datakey(t, &parse(body)?)),
            Operation::DecryptDatakey => layout.write(self.decrypt_datakey(t, &parse(body)?)),
            Operation::CreateEcDatakeyPair => {
                layout.write(self.create_ec_datakey_pair(t, &parse(body)?))
            }
            Operation::CreateRsaDatakeyPair => {
                layout.write(self.create_rsa_datakey_pair(t, &parse(body)?))
            }
            Operation::GetParametersForImport => {
                layout.write(self.get_parameters_for_import(t, &parse(body)?))
            }
            Operation::ImportKeyMaterial => {
                layout.write(self.import_key_material(t, &parse(body)?))
            }
            Operation::DeleteImportedKeyMaterial => {
                layout.write(self.delete_imported_key_material(t, &parse(body)?))
            }
            Operation::EncryptData => layout.write(self.encrypt_data(t, &parse(body)?)),
            Operation::DecryptData => layout.write(self.decrypt_data(t, &parse(body)?)),
            Operation::ReEncrypt => layout.write(self.re_encrypt(t, &parse(body)?)),
            Operation::GenRandom => layout.write(self.gen_random(&parse(body)?)),
            Operation::GetPublicKey => layout.write(self.get_public_key(t, &parse(body)?)),
            Operation::Sign => layout.write(self.sign(t, &parse(body)?)),
            Operation::Verify => layout.write(self.verify(t, &parse(body)?)),
            Operation::GenerateMac => layout.write(self.generate_mac(t, &parse(body)?)),
            Operation::VerifyMac => layout.write(self.verify_mac(t, &parse(body)?)),
            Operation::UpdateKeyAlias => layout.write(self.update_key_alias(t, &parse(body)?)),
            Operation::UpdateKeyDescription => {
                layout.write(self.update_key_description(t, &parse(body)?))
            }
            Operation::EnableKeyRotation => {
                layout.write(self.enable_key_rotation(t, &parse(body)?))
            }
            Operation::DisableKeyRotation => {
                layout.write(self.disable_key_rotation(t, &parse(body)?))
            }
            Operation::UpdateKeyRotationInterval => {
                layout.write(self.update_key_rotation_interval(t, &parse(body)?))
            }
            Operation::GetKeyRotationStatus => {
                layout.write(self.get_key_rotation_status(t, &parse(body)?))
            }
            Operation::RotateOnDemand => layout.write(self.rotate_on_demand(t, &parse(body)?)),
            Operation::CreateKmsTag => layout.write(self.create_key_tag(t, &parse(body)?)),
            Operation::BatchCreateKmsTags => layout.write(self.batch_key_tags(t, &parse(body)?)),
            Operation::DeleteTag => layout.write(self.delete_key_tag(t, &parse(body)?)),
            Operation::ShowKmsTags => layout.write(self.key_tags(t, &parse(body)?)),
            Operation::ListKmsTags => layout.write(self.project_tags(t, &parse(body)?)),
        }
    }
}

/// How a response body is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Compact,
    Pretty,
}

impl Layout {
    /// The response as JSON text, written by [`SecretString::write_exact`]: serialized once
    /// to learn its length, then into a wiped buffer of that length, which never grows (a
    /// `String` that grows gives up, unwiped, each block it outgrows: a copy of the DEK hex
    /// of every create-datakey and decrypt-datakey response).
    fn write<T: Serialize>(self, response: Result<T>) -> Result<SecretString> {
        let response = response?;
        SecretString::write_exact(|out| {
            match self {
                Self::Compact => serde_json::to_writer(out, &response),
                Self::Pretty => serde_json::to_writer_pretty(out, &response),
            }
            .map_err(io::Error::from)
        })
        .map_err(|error| KmsError::Backend(format!("encoding the response: {error}")))
    }
}
