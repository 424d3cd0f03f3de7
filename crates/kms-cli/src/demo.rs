//! `kms demo`: the whole API once, in a fresh temporary home, every request and response
//! printed. The keys it prints are throwaway keys of a home deleted at the end.

use std::path::PathBuf;

use kms_core::{
    CmkSpec, Kms, KmsError, Operation, ProjectId, Result, SecretBytes, WrappingAlgorithm,
    decode_base64, dek_digest, encode_base64, encode_hex,
};
use serde_json::{Value, json};

use crate::cli::{BackendChoice, Global, StoreChoice};
use crate::home;

/// A temporary home, removed when dropped.
struct TemporaryHome(PathBuf);

impl Drop for TemporaryHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the demo; `pretty` pretty-prints the responses.
pub(crate) fn run(pretty: bool) -> Result<()> {
    let unique = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let home = TemporaryHome(
        std::env::temp_dir().join(format!("kms-demo-{}-{unique}", std::process::id())),
    );
    let global = Global {
        home: home.0.clone(),
        backend: BackendChoice::Soft {
            root_key_file: None,
        },
        store: StoreChoice::Sqlite(None),
        pretty,
        project: ProjectId::default_project(),
    };
    println!("# a fresh home: {}\n", home.0.display());
    let kms = home::open(&global)?;
    let step = |operation: Operation, request: Value| call(&kms, operation, &request, pretty);

    let created = step(Operation::CreateKey, json!({"key_alias": "demo/orders"}))?;
    let key_id = text(&created, "/key_info/key_id");
    step(
        Operation::CreateEcDatakeyPair,
        json!({"key_id": key_id, "key_spec": "ECC_NIST_P256", "additional_authenticated_data": "demo"}),
    )?;
    envelope_round_trip(&kms, &key_id, pretty)?;

    println!("# bring your own key");
    let created = step(
        Operation::CreateKey,
        json!({"key_alias": "demo/imported", "origin": "external"}),
    )?;
    let imported_id = text(&created, "/key_info/key_id");
    let parameters = step(
        Operation::GetParametersForImport,
        json!({"key_id": imported_id, "wrapping_algorithm": "RSAES_OAEP_SHA_256"}),
    )?;
    println!("# client side: RSA-OAEP-SHA-256 of 32 random bytes under public_key\n");
    let public_key = decode_base64(&text(&parameters, "/public_key"))
        .map_err(|_| KmsError::Backend("demo: the public key is not base64".into()))?;
    let mut material = SecretBytes::zeroed(32);
    kms.backend().random(material.expose_secret_mut())?;
    let wrapped = kms.backend().wrap_for_recipient(
        &public_key,
        WrappingAlgorithm::RsaesOaepSha256,
        &material,
    )?;
    step(
        Operation::ImportKeyMaterial,
        json!({
            "key_id": imported_id,
            "import_token": text(&parameters, "/import_token"),
            "encrypted_key_material": encode_base64(&wrapped),
        }),
    )?;
    step(Operation::DescribeKey, json!({"key_id": imported_id}))?;
    envelope_round_trip(&kms, &imported_id, pretty)?;

    println!("# a signing key: its private half never leaves the backend");
    let created = step(
        Operation::CreateKey,
        json!({"key_alias": "demo/signing", "key_spec": "EC_P256", "key_usage": "SIGN_VERIFY"}),
    )?;
    let signing_id = text(&created, "/key_info/key_id");
    step(Operation::GetPublicKey, json!({"key_id": signing_id}))?;
    let message = encode_base64(b"an invoice to sign");
    let signed = step(
        Operation::Sign,
        json!({"key_id": signing_id, "message": message, "signing_algorithm": "ECDSA_SHA_256",
               "message_type": "RAW"}),
    )?;
    step(
        Operation::Verify,
        json!({"key_id": signing_id, "message": message, "signature": text(&signed, "/signature"),
               "signing_algorithm": "ECDSA_SHA_256", "message_type": "RAW"}),
    )?;
    println!("# done; the temporary home is removed");
    Ok(())
}

/// encrypt-datakey then decrypt-datakey of a random 32-byte DEK under `key_id`.
fn envelope_round_trip(kms: &Kms, key_id: &str, pretty: bool) -> Result<()> {
    let mut dek = SecretBytes::zeroed(32);
    kms.backend().random(dek.expose_secret_mut())?;
    let digest = dek_digest(CmkSpec::Aes256, dek.expose_secret());
    let plain_text = encode_hex(&[dek.expose_secret(), &digest].concat());
    let encrypted = call(
        kms,
        Operation::EncryptDatakey,
        &json!({"key_id": key_id, "plain_text": plain_text, "datakey_plain_length": "32",
                "additional_authenticated_data": "demo"}),
        pretty,
    )?;
    call(
        kms,
        Operation::DecryptDatakey,
        &json!({"key_id": key_id, "cipher_text": text(&encrypted, "/cipher_text"),
                "datakey_cipher_length": "32", "additional_authenticated_data": "demo"}),
        pretty,
    )?;
    Ok(())
}

/// Prints `$ kms <operation> '<request>'` and the response, and returns the response.
fn call(kms: &Kms, operation: Operation, request: &Value, pretty: bool) -> Result<Value> {
    println!("$ kms {} '{request}'", operation.as_str());
    let request = request.to_string();
    let response = if pretty {
        kms.call_json_pretty_as(kms.default_tenant(), operation, &request)
    } else {
        kms.call_json(operation, &request)
    }?;
    println!("{}\n", response.expose_secret());
    serde_json::from_str(response.expose_secret())
        .map_err(|error| KmsError::Backend(format!("demo: reading a response: {error}")))
}

fn text(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
