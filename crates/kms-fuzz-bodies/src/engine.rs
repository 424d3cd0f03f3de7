//! The engine the request targets drive: the soft backend over a [`MemoryStore`], with a
//! few keys and artifacts made once per process, and placeholders that name them.
//!
//! | placeholder | replaced by |
//! |---|---|
//! | `$AES` | the ID of an enabled AES_256 CMK |
//! | `$SM4` | the ID of an enabled SM4 CMK, its rotation enabled (`$AES` holds the tag `env`) |
//! | `$OFF` | the ID of a disabled AES_256 CMK |
//! | `$DEL` | the ID of an AES_256 CMK pending deletion |
//! | `$EXT` | the ID of an external AES_256 key pending import |
//! | `$IMP` | the ID of an external AES_256 key whose material was imported |
//! | `$TOKEN` | an SM2_ENCRYPT import token for `$EXT` |
//! | `$WRAPPED` | base64 of 32 bytes of material wrapped to that token's SM2 public key |
//! | `$BLOB` | the `cipher_text` of a 32-byte DEK under `$AES` with AAD `aad` |
//! | `$EC` | the ID of an EC_P256 SIGN_VERIFY key |
//! | `$SIG` | base64 of its ECDSA_SHA_256 signature of the digest of 32 bytes 0x07 |
//! | `$RSA` | the ID of an RSA_2048 ENCRYPT_DECRYPT key |
//! | `$OAEP` | base64 of the RSAES_OAEP_SHA_256 ciphertext of `fuzz` under `$RSA` |
//! | `$MAC` | the ID of an HMAC_256 key |
//!
//! No placeholder is a prefix of another. Every input runs on an engine of its own over a
//! copy of the store as it was made, so what one input changes (a key disabled, a token
//! used, a key created) never reaches the next: a crash reproduces from its input alone,
//! and the store does not grow over millions of runs. The clock stands at
//! [`NOW_MS`](EngineFixture::NOW_MS), so expiry times in seeds mean the same every run.

use std::sync::{Arc, OnceLock};

use kms_core::{
    Backend, CmkSpec, KeyRecord, KeyStore, Kms, KmsConfig, ManualClock, MemoryStore, Operation,
    WrappingAlgorithm, decode_base64, dek_digest, encode_base64, encode_hex,
};
use kms_soft::SoftBackend;
use serde_json::{Value, json};

use crate::fixture;

/// The engine's state before any input, made once per process.
pub(crate) struct EngineFixture {
    config: KmsConfig,
    store: MemoryStore,
    /// The store's keys, as a refused request must leave them.
    keys: Vec<KeyRecord>,
    /// Each placeholder and what replaces it.
    placeholders: Vec<(&'static str, String)>,
}

impl EngineFixture {
    /// The engine's clock: 2027-01-15, before every `expiration_time` the seeds ask for.
    const NOW_MS: u64 = 1_800_000_000_000;

    /// The fixture, made on first use.
    pub(crate) fn get() -> &'static Self {
        static FIXTURE: OnceLock<EngineFixture> = OnceLock::new();
        FIXTURE.get_or_init(Self::make)
    }

    fn make() -> Self {
        let config = KmsConfig {
            // No background RSA key generation: a key is generated only when an input asks.
            wrapping_key_pool_size: 0,
            clock: Arc::new(ManualClock::new(Self::NOW_MS)),
            ..KmsConfig::default()
        };
        let store = Arc::new(MemoryStore::new());
        let kms = engine_over(&config, Arc::clone(&store));
        let aes = create_key(&kms, &json!({"key_alias": "aes", "key_spec": "AES_256"}));
        let sm4 = create_key(&kms, &json!({"key_alias": "sm4", "key_spec": "SM4"}));
        call(&kms, Operation::EnableKeyRotation, &json!({"key_id": sm4}));
        call(
            &kms,
            Operation::CreateKmsTag,
            &json!({"key_id": aes, "tag": {"key": "env", "value": "fuzz"}}),
        );
        let off = create_key(&kms, &json!({"key_alias": "off"}));
        call(&kms, Operation::DisableKey, &json!({"key_id": off}));
        let del = create_key(&kms, &json!({"key_alias": "del"}));
        call(
            &kms,
            Operation::ScheduleKeyDeletion,
            &json!({"key_id": del, "pending_days": "7"}),
        );
        let ext = create_key(&kms, &json!({"key_alias": "ext", "origin": "external"}));
        let (token, wrapped) = import_parameters(&kms, &ext);
        let imp = create_key(&kms, &json!({"key_alias": "imp", "origin": "external"}));
        let (imp_token, imp_wrapped) = import_parameters(&kms, &imp);
        call(
            &kms,
            Operation::ImportKeyMaterial,
            &json!({"key_id": imp, "import_token": imp_token, "encrypted_key_material": imp_wrapped}),
        );
        let dek = [0x42; 32];
        let plain_text = encode_hex(&[dek.as_slice(), &dek_digest(CmkSpec::Aes256, &dek)].concat());
        let blob = call(
            &kms,
            Operation::EncryptDatakey,
            &json!({"key_id": aes, "plain_text": plain_text, "datakey_plain_length": "32",
                    "additional_authenticated_data": "aad"}),
        );
        let data = call(
            &kms,
            Operation::EncryptData,
            &json!({"key_id": sm4, "plain_text": "fuzz", "additional_authenticated_data": "aad"}),
        );
        let ec = create_key(
            &kms,
            &json!({"key_alias": "ec", "key_spec": "EC_P256", "key_usage": "SIGN_VERIFY"}),
        );
        let signature = call(
            &kms,
            Operation::Sign,
            &json!({"key_id": ec, "message": encode_base64(&[7; 32]),
                    "signing_algorithm": "ECDSA_SHA_256"}),
        );
        let rsa = create_key(
            &kms,
            &json!({"key_alias": "rsa", "key_spec": "RSA_2048", "key_usage": "ENCRYPT_DECRYPT"}),
        );
        let rsa_data = call(
            &kms,
            Operation::EncryptData,
            &json!({"key_id": rsa, "plain_text": "fuzz", "encryption_algorithm": "RSAES_OAEP_SHA_256"}),
        );
        let mac = create_key(&kms, &json!({"key_alias": "mac", "key_spec": "HMAC_256"}));
        let placeholders = vec![
            ("$AES", aes),
            ("$SM4", sm4),
            ("$OFF", off),
            ("$DEL", del),
            ("$EXT", ext),
            ("$IMP", imp),
            ("$TOKEN", token),
            ("$WRAPPED", wrapped),
            ("$BLOB", text_field(&blob, "cipher_text")),
            ("$DATA", text_field(&data, "cipher_text")),
            ("$EC", ec),
            ("$SIG", text_field(&signature, "signature")),
            ("$OAEP", text_field(&rsa_data, "cipher_text")),
            ("$RSA", rsa),
            ("$MAC", mac),
        ];
        Self {
            keys: store.list_keys().expect("listing the fixture keys"),
            store: MemoryStore::clone(&store),
            config,
            placeholders,
        }
    }

    /// A fresh engine over a copy of the fixture's store, and that copy.
    pub(crate) fn engine(&self) -> (Kms, Arc<MemoryStore>) {
        let store = Arc::new(self.store.clone());
        (engine_over(&self.config, Arc::clone(&store)), store)
    }

    /// The keys a refused request must leave as they were.
    pub(crate) fn keys(&self) -> &[KeyRecord] {
        &self.keys
    }

    /// `data` as text (invalid UTF-8 as U+FFFD), with every placeholder replaced.
    pub(crate) fn fill_placeholders(&self, data: &[u8]) -> String {
        let mut text = String::from_utf8_lossy(data).into_owned();
        for (placeholder, value) in &self.placeholders {
            if text.contains(placeholder) {
                text = text.replace(placeholder, value);
            }
        }
        text
    }
}

fn engine_over(config: &KmsConfig, store: Arc<MemoryStore>) -> Kms {
    let backend: Arc<SoftBackend> = Arc::clone(fixture::backend());
    Kms::with_config(backend, store, config.clone())
}

/// Runs a request the fixture needs; it must succeed.
fn call(kms: &Kms, operation: Operation, body: &Value) -> Value {
    let response = kms
        .call_json(operation, &body.to_string())
        .unwrap_or_else(|error| panic!("fixture {}: {error}", operation.as_str()));
    serde_json::from_str(response.expose_secret()).expect("responses are JSON")
}

fn text_field(response: &Value, field: &str) -> String {
    response
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("fixture response without {field}"))
        .to_owned()
}

/// Creates a key and returns its ID.
fn create_key(kms: &Kms, body: &Value) -> String {
    let response = call(kms, Operation::CreateKey, body);
    let key_info = response.get("key_info").cloned().unwrap_or_default();
    text_field(&key_info, "key_id")
}

/// An SM2_ENCRYPT import token for `key_id`, and the fixture AES_256 material wrapped to
/// its public key (base64), as a customer would send them.
fn import_parameters(kms: &Kms, key_id: &str) -> (String, String) {
    let parameters = call(
        kms,
        Operation::GetParametersForImport,
        &json!({"key_id": key_id, "wrapping_algorithm": "SM2_ENCRYPT"}),
    );
    let public_key = decode_base64(&text_field(&parameters, "public_key"))
        .expect("the wrapping public key is base64");
    let wrapped = fixture::backend()
        .wrap_for_recipient(
            &public_key,
            WrappingAlgorithm::Sm2Encrypt,
            &fixture::cmk_material(CmkSpec::Aes256),
        )
        .expect("wrapping the fixture material");
    (
        text_field(&parameters, "import_token"),
        encode_base64(&wrapped),
    )
}
