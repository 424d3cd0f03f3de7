//! The command on the PKCS#11 backend, against the SoftHSM2 token `.ci/test` makes: every
//! command is a new process with a new context and new sessions.

use std::process::Output;
use std::sync::{Mutex, MutexGuard};

use serde_json::{Value, json};

use crate::common::{Home, code, kms, plain_text};

/// Held by each test that runs `kms` on the token: SoftHSM2's file store is not safe for
/// one process to open the token while another rewrites its object files (the opening
/// process can find no token at all), so this binary's token tests take turns.
pub fn exclusive_token() -> MutexGuard<'static, ()> {
    static TOKEN: Mutex<()> = Mutex::new(());
    TOKEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The backend options for the test token.
pub fn backend_args() -> Vec<String> {
    assert!(
        std::env::var_os("SOFTHSM2_CONF").is_some(),
        "SOFTHSM2_CONF is not set: run these tests through .ci/test, which makes a SoftHSM2 token for them"
    );
    let module = std::env::var("KMS_PKCS11_MODULE")
        .unwrap_or_else(|_| "/usr/lib/softhsm/libsofthsm2.so".into());
    let label = std::env::var("KMS_TEST_PKCS11_LABEL").unwrap_or_else(|_| "kms-test".into());
    [
        "--backend",
        "pkcs11",
        "--pkcs11-module",
        &module,
        "--pkcs11-token-label",
        &label,
    ]
    .map(str::to_owned)
    .to_vec()
}

fn run(home: &Home, extra: &[&str], operation: &str, body: &Value) -> Output {
    kms()
        .arg("--home")
        .arg(home.path())
        .args(backend_args())
        .args(extra)
        .args([operation, &body.to_string()])
        .output()
        .unwrap()
}

fn ok(home: &Home, operation: &str, body: &Value) -> Value {
    let output = run(home, &[], operation, body);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{operation}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn a_new_process_decrypts_what_the_previous_one_encrypted_in_the_token() {
    let _token = exclusive_token();
    let home = Home::new();
    let created = ok(
        &home,
        "create-key",
        &json!({"key_alias": format!("hsm-restart-{}", std::process::id())}),
    );
    let key_id = created["key_info"]["key_id"].as_str().unwrap().to_owned();
    let dek = [0x77u8; 32];
    let encrypted = ok(
        &home,
        "encrypt-datakey",
        &json!({"key_id": key_id, "plain_text": plain_text(&dek), "datakey_plain_length": "32"}),
    );
    let opened = ok(
        &home,
        "decrypt-datakey",
        &json!({"key_id": key_id, "cipher_text": encrypted["cipher_text"], "datakey_cipher_length": "32"}),
    );
    assert_eq!(opened["data_key"], kms_core::encode_hex(&dek));
    assert!(
        !home.path().join("root.key").exists(),
        "the PKCS#11 backend needs no root key"
    );
}

#[test]
fn the_pin_comes_from_a_file_or_the_environment_never_an_argument() {
    let _token = exclusive_token();
    let home = Home::new();
    std::fs::create_dir_all(home.path()).unwrap();
    let pin_file = home.path().join("pin");
    std::fs::write(
        &pin_file,
        format!("{}\n", std::env::var("KMS_PKCS11_PIN").unwrap()),
    )
    .unwrap();
    let output = kms()
        .arg("--home")
        .arg(home.path())
        .args(backend_args())
        .arg("--pkcs11-pin-file")
        .arg(&pin_file)
        .env_remove("KMS_PKCS11_PIN")
        .args(["list-keys", "{}"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = kms()
        .arg("--home")
        .arg(home.path())
        .args(backend_args())
        .env_remove("KMS_PKCS11_PIN")
        .args(["list-keys", "{}"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&output.stderr).unwrap();
    assert!(
        error["error"]["error_msg"]
            .as_str()
            .unwrap()
            .contains("KMS_PKCS11_PIN"),
        "{error}"
    );
}

#[test]
fn an_sm4_key_on_softhsm_is_refused_naming_the_mechanism() {
    let _token = exclusive_token();
    let home = Home::new();
    let output = run(
        &home,
        &[],
        "create-key",
        &json!({"key_alias": "hsm-sm4", "key_spec": "SM4"}),
    );
    assert_eq!(output.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&output.stderr).unwrap();
    assert_eq!(code(&error), "KMS.9002");
    assert!(
        error["error"]["error_msg"]
            .as_str()
            .unwrap()
            .contains("CKM_SM4_KEY_GEN"),
        "{error}"
    );
}

#[test]
fn host_assisted_unwrap_is_off_unless_asked_for() {
    let _token = exclusive_token();
    let home = Home::new();
    let created = ok(
        &home,
        "create-key",
        &json!({"key_alias": "hsm-byok", "origin": "external"}),
    );
    let key_id = created["key_info"]["key_id"].as_str().unwrap().to_owned();
    let body = json!({"key_id": key_id, "wrapping_algorithm": "RSAES_OAEP_SHA_256"});
    let output = run(&home, &[], "get-parameters-for-import", &body);
    assert_eq!(output.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&output.stderr).unwrap();
    assert_eq!(code(&error), "KMS.9002");
    let output = run(
        &home,
        &["--pkcs11-host-assisted-unwrap"],
        "get-parameters-for-import",
        &body,
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
