//! The engine the freed-memory tests drive (this crate's own and the command's), and the
//! set-up calls they make outside any recording: keys, import parameters, material wrapped
//! as a client would, and the fields of a response read back.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fixture reports failure by panicking"
)]

use std::sync::Arc;

use kms_core::{
    Backend, CmkSpec, Kms, KmsConfig, MemoryStore, Operation, SecretBytes, WrappingAlgorithm,
    decode_base64, decode_hex, dek_digest, encode_base64, encode_hex,
};
use kms_soft::{RootKey, SoftBackend};
use serde_json::{Value, json};

use crate::Freed;

/// Room for the largest response of these tests, made before a recording starts so that
/// writing the response into it frees nothing.
pub const RESPONSE_ROOM: usize = 64 * 1024;

/// A fresh engine over the soft backend and an in-memory store, without a wrapping key
/// pool (no key generation outside the calls a test records).
#[must_use]
pub fn engine() -> Kms {
    Kms::with_config(
        Arc::new(SoftBackend::new(RootKey::generate().unwrap())),
        Arc::new(MemoryStore::new()),
        KmsConfig {
            wrapping_key_pool_size: 0,
            ..KmsConfig::default()
        },
    )
}

/// A call made outside any recording: set-up. Fails the test if the engine refuses it.
#[must_use]
pub fn call(kms: &Kms, operation: Operation, body: &Value) -> Value {
    let response = kms.call_json(operation, &body.to_string()).unwrap();
    serde_json::from_str(response.expose_secret()).unwrap()
}

/// Creates a key with `alias` and `origin` ("kms" or "external") and returns its ID.
#[must_use]
pub fn create_key(kms: &Kms, alias: &str, origin: &str) -> String {
    let created = call(
        kms,
        Operation::CreateKey,
        &json!({"key_alias": alias, "origin": origin}),
    );
    created["key_info"]["key_id"].as_str().unwrap().to_owned()
}

/// Asserts that a recording saw everything: `room`, made with [`RESPONSE_ROOM`] for the
/// response (the `what`), did not grow while recording, and the table held every block
/// that was freed.
pub fn assert_recorded_whole(what: &str, room: &Vec<u8>, freed: &Freed) {
    assert_eq!(
        room.capacity(),
        RESPONSE_ROOM,
        "the {what} grew while recording"
    );
    assert_eq!(
        freed.not_held(),
        0,
        "more freed blocks than the table holds"
    );
}

/// The `plain_text` of encrypt-datakey under an AES_256 key: hex of `dek` and its digest.
#[must_use]
pub fn plain_text(dek: &[u8]) -> String {
    encode_hex(&[dek, &dek_digest(CmkSpec::Aes256, dek)].concat())
}

/// The bytes of the hex `field` of `response`.
#[must_use]
pub fn hex_field(response: &Value, field: &str) -> Vec<u8> {
    decode_hex(response[field].as_str().unwrap()).unwrap()
}

/// The private key of a data key pair response, PKCS#8 DER.
#[must_use]
pub fn private_key(response: &Value) -> Vec<u8> {
    decode_base64(response["private_key_plain_text"].as_str().unwrap()).unwrap()
}

/// Creates an external key with `alias` and returns the import-key-material body that
/// imports `material` into it: the import token and the material wrapped with `algorithm`
/// to the wrapping key get-parameters-for-import gave, as a client would.
#[must_use]
pub fn import_request(
    kms: &Kms,
    alias: &str,
    algorithm: WrappingAlgorithm,
    material: &[u8],
) -> Value {
    let key_id = create_key(kms, alias, "external");
    let parameters = import_parameters(kms, &key_id, algorithm);
    json!({"key_id": key_id, "import_token": parameters["import_token"],
           "encrypted_key_material": wrap(&parameters, algorithm, material)})
}

/// The get-parameters-for-import response for importing into `key_id` with `algorithm`.
fn import_parameters(kms: &Kms, key_id: &str, algorithm: WrappingAlgorithm) -> Value {
    call(
        kms,
        Operation::GetParametersForImport,
        &json!({"key_id": key_id, "wrapping_algorithm": algorithm.as_str()}),
    )
}

/// A client's `encrypted_key_material`: `material` wrapped to the public key of a
/// get-parameters-for-import response with `algorithm`, base64.
fn wrap(parameters: &Value, algorithm: WrappingAlgorithm, material: &[u8]) -> String {
    let public_key = decode_base64(parameters["public_key"].as_str().unwrap()).unwrap();
    let client = SoftBackend::new(RootKey::generate().unwrap());
    let secret = SecretBytes::new(material.to_vec());
    encode_base64(
        &client
            .wrap_for_recipient(&public_key, algorithm, &secret)
            .unwrap(),
    )
}
