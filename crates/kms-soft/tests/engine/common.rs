//! Shared set-up for the soft backend's integration tests: an engine over a fresh root key
//! and an in-memory store, and JSON helpers that call it as a client would.
use std::sync::Arc;

use kms_core::{CmkSpec, Kms, KmsConfig, KmsError, MemoryStore, Operation, dek_digest};
use kms_soft::{RootKey, SoftBackend};
use serde_json::{Value, json};

/// A fresh engine over the soft backend and an in-memory store, without a wrapping key
/// pool (tests make thousands of engines; a pool would generate RSA keys for each).
pub fn engine() -> Kms {
    engine_with(KmsConfig {
        wrapping_key_pool_size: 0,
        ..KmsConfig::default()
    })
}

/// A fresh engine over the soft backend and an in-memory store, with `config`.
pub fn engine_with(config: KmsConfig) -> Kms {
    Kms::with_config(
        Arc::new(SoftBackend::new(RootKey::generate().unwrap())),
        Arc::new(MemoryStore::new()),
        config,
    )
}

/// Calls `operation` with `body` and parses the response.
pub fn call(kms: &Kms, operation: Operation, body: &Value) -> Result<Value, KmsError> {
    kms.call_json(operation, &body.to_string())
        .map(|response| serde_json::from_str(response.expose_secret()).unwrap())
}

/// Creates an enabled CMK of `spec` ("AES_256" or "SM4") and returns its ID.
pub fn create_key(kms: &Kms, spec: &str) -> String {
    let alias = format!("test-{}", kms_core::encode_hex(&random_bytes(8)));
    let response = call(
        kms,
        Operation::CreateKey,
        &json!({ "key_alias": alias, "key_spec": spec }),
    )
    .unwrap();
    response["key_info"]["key_id"].as_str().unwrap().to_owned()
}

/// `len` bytes from the OS.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    getrandom::fill(&mut out).unwrap();
    out
}

/// The `plain_text` of encrypt-datakey: hex of the DEK and its digest for `spec`.
pub fn plain_text(spec: CmkSpec, dek: &[u8]) -> String {
    kms_core::encode_hex(&[dek, &dek_digest(spec, dek)].concat())
}

/// Encrypts `dek` under `key_id` with `aad` and returns the `cipher_text`.
pub fn encrypt(kms: &Kms, key_id: &str, spec: CmkSpec, dek: &[u8], aad: &str) -> String {
    let response = call(
        kms,
        Operation::EncryptDatakey,
        &json!({
            "key_id": key_id,
            "plain_text": plain_text(spec, dek),
            "datakey_plain_length": dek.len().to_string(),
            "additional_authenticated_data": aad,
        }),
    )
    .unwrap();
    assert_eq!(response["datakey_length"], dek.len().to_string());
    response["cipher_text"].as_str().unwrap().to_owned()
}

/// Calls decrypt-datakey.
pub fn decrypt(
    kms: &Kms,
    key_id: &str,
    cipher_text: &str,
    dek_len: usize,
    aad: &str,
) -> Result<Value, KmsError> {
    call(
        kms,
        Operation::DecryptDatakey,
        &json!({
            "key_id": key_id,
            "cipher_text": cipher_text,
            "datakey_cipher_length": dek_len.to_string(),
            "additional_authenticated_data": aad,
        }),
    )
}

/// Upper-case hex.
pub fn hex(bytes: &[u8]) -> String {
    kms_core::encode_hex(bytes)
}

/// The key's state as describe-key reports it.
pub fn key_state(kms: &Kms, key_id: &str) -> String {
    let response = call(kms, Operation::DescribeKey, &json!({ "key_id": key_id })).unwrap();
    response["key_info"]["key_state"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The code of the error `operation` answers `body` with; fails the test if it succeeds.
pub fn error_code(kms: &Kms, operation: Operation, body: &Value) -> String {
    match call(kms, operation, body) {
        Ok(response) => panic!("{} succeeded: {response}", operation.as_str()),
        Err(err) => err.code().to_owned(),
    }
}

/// A directory of its own under the system temp dir, removed when dropped.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// A fresh, empty directory.
    pub fn new() -> Self {
        let name = format!("kms-test-{}-{}", std::process::id(), hex(&random_bytes(8)));
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    /// Writes `bytes` to `name` in the directory and returns its path as text.
    pub fn write(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the OpenSSL CLI with `args`, `input` on standard input; returns standard output.
pub fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the OpenSSL CLI is required for these tests (apt-get install openssl)");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}
