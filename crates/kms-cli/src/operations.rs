//! What `kms --help` and `kms <operation> --help` say about each operation: a summary and
//! its request fields (a test keeps the field lists equal to the request models).

use kms_core::Operation;

/// One request field and what it holds.
pub(crate) type Field = (&'static str, &'static str);

const KEY_ID: Field = ("key_id", "the key's ID (8-4-4-4-12 characters of [0-9a-z])");
const SEQUENCE: Field = ("sequence", "request serial number, 1 to 36 bytes");
const AAD: Field = (
    "additional_authenticated_data",
    "caller AAD, at most 128 bytes",
);
const CONTEXT: Field = (
    "encryption_context",
    "object of string pairs bound like AAD (at most 8192 characters); needed again to decrypt",
);
const ASYMMETRIC_ALGORITHM: Field = (
    "encryption_algorithm",
    "SYMMETRIC_DEFAULT (default; AES_256 and SM4 CMKs), RSAES_OAEP_SHA_256 (RSA) or SM2_ENCRYPT (SM2), for ENCRYPT_DECRYPT keys",
);
const PIN: Field = ("pin", "level-4 testing scenario: refused");
const PIN_TYPE: Field = ("pin_type", "level-4 testing scenario: refused");
const PROJECT: Field = ("enterprise_project_id", "only the default \"0\"");
const WITH_PLAIN_TEXT: Field = (
    "with_plain_text",
    "true (default) or false: return the private key in plaintext",
);
const RECIPIENT_KEY: Field = (
    "recipient_public_key",
    "extension: base64 SPKI of an RSA >= 2048 or SM2 key to wrap the private key to",
);
const RECIPIENT_ALGORITHM: Field = (
    "recipient_algorithm",
    "extension: RSA_AES_KEY_WRAP_SHA_256, RSAES_OAEP_SHA_256 or SM2_ENCRYPT",
);

/// The fields of create-datakey and create-datakey-without-plaintext (one request model).
const CREATE_DATAKEY_FIELDS: &[Field] = &[
    KEY_ID,
    ("key_spec", "AES_256 or AES_128 (neither: 256 bits)"),
    (
        "datakey_length",
        "DEK length in bits, 8 to 8192, a multiple of 8 (wins over key_spec)",
    ),
    AAD,
    CONTEXT,
    SEQUENCE,
    PIN,
    PIN_TYPE,
];

const MESSAGE: Field = (
    "message",
    "required: base64 of the digest (DIGEST) or of the message (RAW), 1 to 4096 bytes",
);
const SIGNING_ALGORITHM: Field = (
    "signing_algorithm",
    "required: RSASSA_PSS_SHA_256/384/512, RSASSA_PKCS1_V1_5_SHA_256/384/512, ECDSA_SHA_256/384, SM2DSA_SM3",
);
const MESSAGE_TYPE: Field = ("message_type", "DIGEST (default) or RAW");
const MAC_ALGORITHM: Field = (
    "mac_algorithm",
    "required: the key's, HMAC_SHA_256/384/512 or HMAC_SM3",
);
const MAC_MESSAGE: Field = ("message", "required: base64 of 1 to 4096 bytes");

/// The summary and request fields of `operation`.
pub(crate) fn describe(operation: Operation) -> (&'static str, &'static [Field]) {
    match operation {
        Operation::CreateKey => (
            "Create a customer master key (CMK)",
            &[
                ("key_alias", "required: [a-zA-Z0-9:/_-]{1,255}, unique"),
                (
                    "key_spec",
                    "AES_256 (default), SM4; RSA_2048/3072/4096, EC_P256, EC_P384, SECP256K1, SM2; HMAC_256/384/512, HMAC_SM3",
                ),
                (
                    "key_usage",
                    "ENCRYPT_DECRYPT (symmetric default; RSA, SM2), SIGN_VERIFY (asymmetric default), GENERATE_VERIFY_MAC (HMAC)",
                ),
                ("key_description", "at most 255 characters"),
                ("origin", "kms (default) or external (then import material)"),
                PROJECT,
                SEQUENCE,
                ("keystore_id", "only the default \"0\""),
                ("vm_id", "refused"),
                ("realm", "the engine's own realm only"),
            ],
        ),
        Operation::DescribeKey => ("Show a key", &[KEY_ID, SEQUENCE]),
        Operation::ListKeys => (
            "List keys, oldest first",
            &[
                ("limit", "page size, 1 to 2000 (default 2000)"),
                (
                    "marker",
                    "position of the page's first key, from next_marker",
                ),
                ("key_state", "only keys in this state: 1 to 5"),
                (
                    "key_spec",
                    "only keys of this spec: ALL or a spec of the API",
                ),
                ("enterprise_project_id", "all, 0 or a project UUID"),
                SEQUENCE,
            ],
        ),
        Operation::EnableKey => ("Enable a disabled key", &[KEY_ID, SEQUENCE]),
        Operation::DisableKey => ("Disable a key: it refuses crypto", &[KEY_ID, SEQUENCE]),
        Operation::ScheduleKeyDeletion => (
            "Schedule a key's deletion: it refuses crypto until cancelled",
            &[KEY_ID, ("pending_days", "7 to 1096"), SEQUENCE],
        ),
        Operation::CancelKeyDeletion => ("Cancel a scheduled deletion", &[KEY_ID, SEQUENCE]),
        Operation::CreateDatakey => (
            "Create a DEK: plaintext and sealed under the CMK",
            CREATE_DATAKEY_FIELDS,
        ),
        Operation::CreateDatakeyWithoutPlaintext => (
            "Create a DEK, returned only sealed under the CMK",
            CREATE_DATAKEY_FIELDS,
        ),
        Operation::EncryptDatakey => (
            "Seal a DEK under the CMK",
            &[
                KEY_ID,
                (
                    "plain_text",
                    "hex of the DEK then its SHA-256 (AES CMK) or SM3 (SM4 CMK)",
                ),
                ("datakey_plain_length", "DEK length in bytes, 1 to 1024"),
                AAD,
                CONTEXT,
                SEQUENCE,
                PIN,
                PIN_TYPE,
                ("key_spec", "level-4 testing scenario: refused"),
            ],
        ),
        Operation::DecryptDatakey => (
            "Open a sealed DEK",
            &[
                KEY_ID,
                ("cipher_text", "hex of the sealed DEK"),
                ("datakey_cipher_length", "DEK length in bytes, 1 to 4096"),
                AAD,
                CONTEXT,
                SEQUENCE,
            ],
        ),
        Operation::CreateEcDatakeyPair => (
            "Create an EC data key pair, the private key sealed under the CMK",
            &[
                KEY_ID,
                (
                    "key_spec",
                    "ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1 or SM2",
                ),
                WITH_PLAIN_TEXT,
                AAD,
                SEQUENCE,
                PIN,
                PIN_TYPE,
                RECIPIENT_KEY,
                RECIPIENT_ALGORITHM,
            ],
        ),
        Operation::CreateRsaDatakeyPair => (
            "Create an RSA data key pair, the private key sealed under the CMK",
            &[
                KEY_ID,
                ("key_spec", "RSA_2048, RSA_3072 or RSA_4096"),
                WITH_PLAIN_TEXT,
                AAD,
                SEQUENCE,
                RECIPIENT_KEY,
                RECIPIENT_ALGORITHM,
            ],
        ),
        Operation::GetParametersForImport => (
            "Get a wrapping public key and an import token for an external key",
            &[
                KEY_ID,
                (
                    "wrapping_algorithm",
                    "RSAES_OAEP_SHA_256 (default), RSAES_OAEP_SHA_1, SM2_ENCRYPT, RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1",
                ),
                (
                    "wrapping_key_spec",
                    "extension: RSA_2048 (default), RSA_3072, RSA_4096 or SM2",
                ),
                SEQUENCE,
            ],
        ),
        Operation::ImportKeyMaterial => (
            "Import wrapped key material into an external key",
            &[
                KEY_ID,
                ("import_token", "the token from get-parameters-for-import"),
                ("encrypted_key_material", "base64 of the wrapped material"),
                (
                    "encrypted_privatekey",
                    "base64 of the AES-KWP part, for RSA_AES_KEY_WRAP in two fields",
                ),
                (
                    "expiration_time",
                    "when the material expires, epoch seconds",
                ),
                SEQUENCE,
            ],
        ),
        Operation::DeleteImportedKeyMaterial => (
            "Delete an external key's material: it waits for the same material again",
            &[KEY_ID, SEQUENCE],
        ),
        Operation::EncryptData => (
            "Encrypt up to 4096 bytes of text directly under a CMK",
            &[
                KEY_ID,
                ("plain_text", "the text, 1 to 4096 bytes of UTF-8"),
                ASYMMETRIC_ALGORITHM,
                AAD,
                SEQUENCE,
            ],
        ),
        Operation::DecryptData => (
            "Decrypt the cipher_text of encrypt-data",
            &[
                ("cipher_text", "base64, from encrypt-data"),
                ASYMMETRIC_ALGORITHM,
                (
                    "key_id",
                    "optional: the blob names its key; if given, it must be that",
                ),
                AAD,
                SEQUENCE,
            ],
        ),
        Operation::ReEncrypt => (
            "Move a data-key or encrypt-data blob to another CMK without showing the plaintext",
            &[
                (
                    "source_key_id",
                    "optional: the blob names its key; if given, it must be that",
                ),
                ("source_additional_authenticated_data", "the blob's AAD"),
                ("source_encryption_algorithm", "SYMMETRIC_DEFAULT (default)"),
                ("destination_key_id", "the CMK to seal under"),
                (
                    "destination_additional_authenticated_data",
                    "AAD of the new blob, at most 128 bytes",
                ),
                (
                    "destination_encryption_algorithm",
                    "SYMMETRIC_DEFAULT (default)",
                ),
                (
                    "datakey_cipher_length",
                    "for a data-key blob (hex): the DEK's length in bytes; absent for an encrypt-data blob (base64)",
                ),
                ("cipher_text", "the blob"),
                SEQUENCE,
            ],
        ),
        Operation::UpdateKeyAlias => (
            "Give a key a new alias, unique in its project",
            &[
                KEY_ID,
                (
                    "key_alias",
                    "[a-zA-Z0-9:/_-]{1,255}, not ending in /default",
                ),
                SEQUENCE,
            ],
        ),
        Operation::UpdateKeyDescription => (
            "Give a key a new description",
            &[
                KEY_ID,
                ("key_description", "at most 255 characters; empty clears it"),
                SEQUENCE,
            ],
        ),
        Operation::GenRandom => (
            "Random bytes from the backend's generator",
            &[
                ("random_data_length", "bits, 8 to 8192, a multiple of 8"),
                SEQUENCE,
            ],
        ),
        Operation::GetPublicKey => (
            "The public key of an asymmetric key (SPKI DER, base64)",
            &[KEY_ID, SEQUENCE],
        ),
        Operation::Sign => (
            "Sign a digest or a message with an asymmetric SIGN_VERIFY key",
            &[KEY_ID, MESSAGE, SIGNING_ALGORITHM, MESSAGE_TYPE, SEQUENCE],
        ),
        Operation::Verify => (
            "Check a signature: signature_valid \"true\" or \"false\"",
            &[
                KEY_ID,
                MESSAGE,
                ("signature", "required: base64"),
                SIGNING_ALGORITHM,
                MESSAGE_TYPE,
                SEQUENCE,
            ],
        ),
        Operation::GenerateMac => (
            "The HMAC of a message under an HMAC key",
            &[KEY_ID, MAC_ALGORITHM, MAC_MESSAGE, SEQUENCE],
        ),
        Operation::VerifyMac => (
            "Check an HMAC (compared in constant time): mac_valid true or false",
            &[
                KEY_ID,
                MAC_ALGORITHM,
                MAC_MESSAGE,
                ("mac", "required: base64"),
                SEQUENCE,
            ],
        ),
        Operation::EnableKeyRotation => (
            "Rotate a key every rotation interval (365 days unless set), from now",
            &[KEY_ID, SEQUENCE],
        ),
        Operation::DisableKeyRotation => (
            "Stop a key's scheduled rotation (rotate-on-demand still works)",
            &[KEY_ID, SEQUENCE],
        ),
        Operation::UpdateKeyRotationInterval => (
            "Set the days between a key's scheduled rotations",
            &[KEY_ID, ("rotation_interval", "days, 30 to 365"), SEQUENCE],
        ),
        Operation::GetKeyRotationStatus => (
            "Show a key's rotation policy, rotations and material generations",
            &[KEY_ID, SEQUENCE],
        ),
        Operation::RotateOnDemand => (
            "Rotate a key now: new blobs use a new material, old blobs still open",
            &[KEY_ID, SEQUENCE],
        ),
        Operation::CreateKmsTag => (
            "Tag a key (POST {key_id}/tags), or change the value of its tag",
            &[KEY_ID, TAG, SEQUENCE],
        ),
        Operation::BatchCreateKmsTags => (
            "Add or remove several tags of a key at once (POST {key_id}/tags/action)",
            &[
                KEY_ID,
                ("tags", "1 to 10 tags, each {\"key\", \"value\"}"),
                ("action", "create or delete"),
                SEQUENCE,
            ],
        ),
        Operation::DeleteTag => (
            "Remove a tag from a key (DELETE {key_id}/tags/{key})",
            &[KEY_ID, ("key", "the tag's key")],
        ),
        Operation::ShowKmsTags => ("List a key's tags (GET {key_id}/tags)", &[KEY_ID, SEQUENCE]),
        Operation::ListKmsTags => (
            "List the tag keys of the project's keys, with their values (GET tags)",
            &[],
        ),
    }
}

const TAG: Field = (
    "tag",
    "{\"key\": 1 to 36 characters, \"value\": at most 43}, neither with ASCII 0-31 or * < > \\ =",
);

/// The text `kms <operation> --help` shows under the summary.
pub(crate) fn fields_help(fields: &[Field]) -> String {
    let width = fields.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let lines: Vec<String> = fields
        .iter()
        .map(|(name, about)| format!("  {name:width$}  {about}"))
        .collect();
    format!("Request fields (a JSON object):\n{}", lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kms_core::{Kms, KmsConfig, MemoryStore};
    use kms_soft::{RootKey, SoftBackend};

    use super::*;

    /// The request fields the engine accepts for `operation`, from the message it gives
    /// for an unknown one ("unknown field `x`, expected one of `a`, `b`, ..." or
    /// "expected `a` or `b`").
    fn accepted_fields(kms: &Kms, operation: Operation) -> Vec<String> {
        let err = kms
            .call_json(operation, r#"{"__probe__":null}"#)
            .unwrap_err()
            .to_string();
        let Some((_, expected)) = err.split_once(", expected ") else {
            assert!(err.contains("there are no fields"), "{err}");
            return Vec::new();
        };
        // Names are the odd pieces between backticks.
        expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn help_lists_exactly_the_fields_each_request_accepts() {
        let kms = Kms::with_config(
            Arc::new(SoftBackend::new(RootKey::generate().unwrap())),
            Arc::new(MemoryStore::new()),
            KmsConfig {
                wrapping_key_pool_size: 0,
                ..KmsConfig::default()
            },
        );
        for operation in Operation::ALL {
            let mut documented: Vec<String> = describe(*operation)
                .1
                .iter()
                .map(|(name, _)| (*name).to_owned())
                .collect();
            let mut accepted = accepted_fields(&kms, *operation);
            documented.sort();
            accepted.sort();
            assert_eq!(documented, accepted, "{}", operation.as_str());
        }
    }
}
