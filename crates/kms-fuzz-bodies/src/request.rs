//! The request targets: one per operation, each a JSON request body through
//! `Kms::call_json` (decoding, validation, the engine call) on the fixture engine.
//!
//! Input: the request body, with the placeholders of the [`engine`](crate::engine) module
//! (`$AES`, `$TOKEN`, ...) replaced by the fixture's key IDs and artifacts.
//!
//! Invariants:
//! - a request succeeds with a JSON object, or fails with a `KMS.` code of four digits and
//!   a 4xx status, whose JSON body carries that code and message;
//! - a refused request leaves every key as it was;
//! - an error message never holds the value of a secret field;
//! - what the engine sealed (the DEK of create-datakey, create-datakey-without-plaintext
//!   and encrypt-datakey, the private key of both data key pair operations) opens with
//!   decrypt-datakey under the same key and AAD, to the plaintext the request or response
//!   holds.

use kms_core::{
    DEK_DIGEST_LEN, KeyStore, Kms, KmsError, Operation, decode_base64, decode_hex, plaintext_len,
};
use serde_json::{Value, json};

use crate::Outcome;
use crate::engine::EngineFixture;

/// Request fields whose values are secrets.
const SECRET_FIELDS: [&str; 4] = [
    "plain_text",
    "pin",
    "encrypted_key_material",
    "encrypted_privatekey",
];
/// Shortest secret value looked for in error messages: a shorter one could be part of a
/// message by chance.
const MIN_SECRET_LEN: usize = 16;

/// Runs `operation` on the request body in `data` and checks the outcome.
///
/// # Panics
/// When an invariant of the module documentation breaks.
pub fn request(operation: Operation, data: &[u8]) -> Outcome {
    let fixture = EngineFixture::get();
    let body = fixture.fill_placeholders(data);
    let (kms, store) = fixture.engine();
    match kms.call_json(operation, &body) {
        Ok(response) => {
            let response: Value =
                serde_json::from_str(response.expose_secret()).expect("a response is JSON");
            assert!(response.is_object(), "a response is not a JSON object");
            check_sealed_plaintext_opens(&kms, operation, &body, &response);
            Outcome::Accepted
        }
        Err(error) => {
            check_error_shape(&error);
            check_no_secret_echo(&body, &error);
            let keys = store.list_keys().expect("listing keys");
            assert!(
                keys == fixture.keys(),
                "a refused {} changed the keys",
                operation.as_str()
            );
            Outcome::Refused
        }
    }
}

fn check_error_shape(error: &KmsError) {
    let code = error.code();
    let digits = code.strip_prefix("KMS.").unwrap_or_default();
    assert!(
        digits.len() == 4 && digits.bytes().all(|byte| byte.is_ascii_digit()),
        "error code {code} is not KMS.dddd"
    );
    assert!(
        error.status() < 500,
        "a request caused a server error: {error}"
    );
    let body: Value = serde_json::from_str(&error.to_json()).expect("an error body is JSON");
    let expected = json!({"error": {"error_code": code, "error_msg": error.to_string()}});
    assert!(body == expected, "error body {body} is not {expected}");
}

/// Secret values that look like key material (base64 or hex, long enough) must not appear
/// in the error message, unless the body also holds them in a field that is not secret.
fn check_no_secret_echo(body: &str, error: &KmsError) {
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(body) else {
        return;
    };
    let mut others = fields.clone();
    for field in SECRET_FIELDS {
        others.remove(field);
    }
    let others = Value::Object(others).to_string();
    let message = error.to_string();
    for field in SECRET_FIELDS {
        let Some(secret) = fields.get(field).and_then(Value::as_str) else {
            continue;
        };
        let like_key_material = secret.len() >= MIN_SECRET_LEN
            && secret
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"+/=".contains(&byte));
        assert!(
            !like_key_material || others.contains(secret) || !message.contains(secret),
            "an error message echoes {field}: {message}"
        );
    }
}

/// What an accepted `operation` sealed opens, to the plaintext its request or response
/// holds where one does.
fn check_sealed_plaintext_opens(kms: &Kms, operation: Operation, body: &str, response: &Value) {
    let request: Value = serde_json::from_str(body).expect("an accepted body is JSON");
    let text =
        |value: &Value, field: &str| value.get(field).and_then(Value::as_str).map(str::to_owned);
    let (sealed, plaintext) = match operation {
        Operation::CreateDatakey => (
            text(response, "cipher_text"),
            text(response, "plain_text").map(|hex| decode_hex(&hex).expect("plain_text is hex")),
        ),
        Operation::CreateDatakeyWithoutPlaintext => (text(response, "cipher_text"), None),
        Operation::EncryptDatakey => {
            let plain_text =
                text(&request, "plain_text").expect("an accepted request has plain_text");
            let mut dek = decode_hex(&plain_text).expect("accepted plain_text is hex");
            dek.truncate(dek.len().saturating_sub(DEK_DIGEST_LEN));
            (text(response, "cipher_text"), Some(dek))
        }
        Operation::CreateEcDatakeyPair | Operation::CreateRsaDatakeyPair => (
            text(response, "private_key_cipher_text"),
            text(response, "private_key_plain_text")
                .map(|base64| decode_base64(&base64).expect("private_key_plain_text is base64")),
        ),
        _ => return,
    };
    let sealed = sealed.expect("an accepted response holds what it sealed");
    let sealed_len = plaintext_len(sealed.len() / 2).expect("a sealed blob holds a plaintext");
    let decrypt = json!({
        "key_id": request.get("key_id"),
        "cipher_text": sealed,
        "datakey_cipher_length": sealed_len.to_string(),
        "additional_authenticated_data": request.get("additional_authenticated_data"),
    });
    let opened = kms
        .call_json(Operation::DecryptDatakey, &decrypt.to_string())
        .unwrap_or_else(|error| {
            panic!("what {} sealed does not open: {error}", operation.as_str())
        });
    let opened: Value = serde_json::from_str(opened.expose_secret()).expect("a response is JSON");
    if let Some(plaintext) = plaintext {
        let data_key = text(&opened, "data_key").expect("decrypt-datakey returns data_key");
        assert!(
            decode_hex(&data_key).expect("data_key is hex") == plaintext,
            "what {} sealed opens to another plaintext",
            operation.as_str()
        );
    }
}
