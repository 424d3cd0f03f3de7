//! The engine end to end on the soft backend with an in-memory store: create a CMK, make a
//! data key pair, encrypt and decrypt a DEK, printing every request and response as the
//! API's JSON. Run it with `cargo run --release -p kms-soft --example quickstart`.
//!
//! The plaintext keys it prints are throwaway demo keys from a root key that exists only
//! for this run.

use std::sync::Arc;

use kms_core::{CmkSpec, Kms, KmsError, MemoryStore, Operation, dek_digest, encode_hex};
use kms_soft::{RootKey, SoftBackend};
use serde_json::{Value, json};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let kms = Kms::new(
        Arc::new(SoftBackend::new(RootKey::generate()?)),
        Arc::new(MemoryStore::new()),
    );

    let created = show(
        &kms,
        Operation::CreateKey,
        &json!({"key_alias": "quickstart"}),
    )?;
    let key_id = created
        .pointer("/key_info/key_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();

    show(
        &kms,
        Operation::CreateEcDatakeyPair,
        &json!({"key_id": key_id, "key_spec": "SM2", "additional_authenticated_data": "demo"}),
    )?;

    let dek = [0x5A_u8; 32];
    let plain_text = encode_hex(&[dek.as_slice(), &dek_digest(CmkSpec::Aes256, &dek)].concat());
    let encrypted = show(
        &kms,
        Operation::EncryptDatakey,
        &json!({"key_id": key_id, "plain_text": plain_text, "datakey_plain_length": "32",
                "additional_authenticated_data": "demo"}),
    )?;
    show(
        &kms,
        Operation::DecryptDatakey,
        &json!({"key_id": key_id, "cipher_text": encrypted.get("cipher_text"),
                "datakey_cipher_length": "32", "additional_authenticated_data": "demo"}),
    )?;
    Ok(())
}

/// Prints the request and the response of one call, and returns the response.
fn show(kms: &Kms, operation: Operation, request: &Value) -> Result<Value, KmsError> {
    println!("$ {} {request}", operation.as_str());
    let response = kms.call_json(operation, &request.to_string());
    match &response {
        Ok(body) => println!("{}\n", body.expose_secret()),
        Err(error) => println!("{}\n", error.to_json()),
    }
    let body = response?;
    serde_json::from_str(body.expose_secret())
        .map_err(|error| KmsError::InvalidJson(error.to_string()))
}
