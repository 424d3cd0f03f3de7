//! The command on the PKCS#11 backend, against the SoftHSM2 token `.ci/test` makes: every
//! command is a new process with a new context and new sessions.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

use serde_json::{Value, json};
use softhsm_tests::Token;

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

/// Held by each test here that runs `kms` on the Kryoptic token, so that a test counting
/// its objects sees no other test's.
pub fn exclusive_kryoptic() -> MutexGuard<'static, ()> {
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

/// A configuration file in `home` that alone opens `token`: the module, the label, and the
/// PIN from a file (SoftHSM2) or from the token's own variable (Kryoptic); `extra` lines
/// after those.
pub fn config_file(home: &Home, token: Token, extra: &str) -> PathBuf {
    std::fs::create_dir_all(home.path()).unwrap();
    let pin = match token {
        Token::SoftHsm2 => {
            let pin_file = home.path().join("pin");
            std::fs::write(
                &pin_file,
                format!("{}\n", std::env::var(token.pin_variable()).unwrap()),
            )
            .unwrap();
            format!("pin_file = {:?}", pin_file.to_str().unwrap())
        }
        Token::Kryoptic => format!("pin_env = {:?}", token.pin_variable()),
    };
    let path = home.path().join("pkcs11.toml");
    std::fs::write(
        &path,
        format!(
            "module = {:?}\ntoken_label = {:?}\n{pin}\nsession_pool_size = 2\n{extra}",
            token.module(),
            token.label()
        ),
    )
    .unwrap();
    path
}

/// `kms --home <home> --backend pkcs11`, no other backend option, and no SoftHSM2 PIN in
/// the environment.
pub fn pkcs11_kms(home: &Home) -> Command {
    let mut command = kms();
    command
        .arg("--home")
        .arg(home.path())
        .args(["--backend", "pkcs11"])
        .env_remove("KMS_PKCS11_PIN")
        .env_remove("KMS_PKCS11_CONFIG");
    command
}

/// Runs one operation and returns its response; fails the test unless it succeeded.
pub fn succeeds(mut command: Command, operation: &str, body: &Value) -> Value {
    let output = command
        .args([operation, &body.to_string()])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{operation}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// create-key, encrypt-datakey and decrypt-datakey, each a `command()` process.
fn round_trip(command: impl Fn() -> Command, alias: &str) {
    let created = succeeds(command(), "create-key", &json!({"key_alias": alias}));
    let key_id = created["key_info"]["key_id"].as_str().unwrap().to_owned();
    let dek = [0x5au8; 32];
    let encrypted = succeeds(
        command(),
        "encrypt-datakey",
        &json!({"key_id": key_id, "plain_text": plain_text(&dek), "datakey_plain_length": "32"}),
    );
    let opened = succeeds(
        command(),
        "decrypt-datakey",
        &json!({"key_id": key_id, "cipher_text": encrypted["cipher_text"], "datakey_cipher_length": "32"}),
    );
    assert_eq!(opened["data_key"], kms_core::encode_hex(&dek));
}

#[test]
fn a_configuration_file_alone_opens_the_softhsm2_token() {
    let _token = exclusive_token();
    let home = Home::new();
    let file = config_file(&home, Token::SoftHsm2, "");
    round_trip(
        || {
            let mut command = pkcs11_kms(&home);
            command.arg("--pkcs11-config").arg(&file);
            command
        },
        "config-softhsm2",
    );
}

#[test]
fn a_configuration_file_alone_opens_the_kryoptic_token() {
    let _kryoptic = exclusive_kryoptic();
    let home = Home::new();
    let file = config_file(&home, Token::Kryoptic, "");
    round_trip(
        || {
            let mut command = pkcs11_kms(&home);
            command.env("KMS_PKCS11_CONFIG", &file);
            command
        },
        "config-kryoptic",
    );
}

#[test]
fn a_flag_overrides_the_configuration_file() {
    let _token = exclusive_token();
    let home = Home::new();
    let file = config_file(&home, Token::SoftHsm2, "");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        &format!("{:?}", Token::SoftHsm2.label()),
        "\"no-such-token\"",
    );
    std::fs::write(&file, text).unwrap();
    let output = list_keys_with_config(&home, &file);
    // The file's token is the one looked for (a missing token is the backend's KMS.0103).
    assert_eq!(output.status.code(), Some(2));
    let error: Value = serde_json::from_slice(&output.stderr).unwrap();
    assert_eq!(code(&error), "KMS.0103");
    assert!(
        error["error"]["error_msg"]
            .as_str()
            .unwrap()
            .contains(&format!(
                "no token 'no-such-token' in {}",
                Token::SoftHsm2.module()
            )),
        "{error}"
    );
    let mut command = pkcs11_kms(&home);
    command
        .arg("--pkcs11-config")
        .arg(&file)
        .args(["--pkcs11-token-label", &Token::SoftHsm2.label()]);
    let listed = succeeds(command, "list-keys", &json!({}));
    assert_eq!(listed["total"], 0);
}

/// `kms --pkcs11-config <file> list-keys {}` in `home`, with the PKCS#11 backend.
fn list_keys_with_config(home: &Home, file: &std::path::Path) -> std::process::Output {
    pkcs11_kms(home)
        .arg("--pkcs11-config")
        .arg(file)
        .args(["list-keys", "{}"])
        .output()
        .unwrap()
}

#[test]
fn a_bad_configuration_file_is_a_parameter_error_naming_the_file_and_the_field() {
    let home = Home::new();
    std::fs::create_dir_all(home.path()).unwrap();
    let file = home.path().join("pkcs11.toml");
    for (text, what) in [
        (
            "module = \"/m.so\"\nslot = \"one\"\n",
            "field `slot`: invalid type: string \"one\", expected u64",
        ),
        (
            "module = \"/m.so\"\nslot = 1\npin = \"123456\"\n",
            "field `pin`: a PIN is never written in the configuration file; name a file \
             holding it (`pin_file`) or an environment variable (`pin_env`)",
        ),
        (
            "module = \"/m.so\"\nslot = 1\ntoken_label = \"kms\"\n",
            "fields `token_label` and `slot`: give one, not both",
        ),
    ] {
        std::fs::write(&file, text).unwrap();
        let output = list_keys_with_config(&home, &file);
        assert_eq!(output.status.code(), Some(1), "{text}");
        assert!(output.stdout.is_empty());
        let error: Value = serde_json::from_slice(&output.stderr).unwrap();
        assert_eq!(code(&error), "KMS.0308");
        assert_eq!(
            error["error"]["error_msg"],
            format!(
                "Invalid parameter: PKCS#11 configuration file {}: {what}",
                file.display()
            )
        );
        assert!(!String::from_utf8_lossy(&output.stderr).contains("123456"));
    }
    std::fs::write(&file, "module = \"/m.so\"\n").unwrap();
    let output = list_keys_with_config(&home, &file);
    assert_eq!(output.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&output.stderr).unwrap();
    assert_eq!(code(&error), "KMS.0308");
    assert!(
        error["error"]["error_msg"]
            .as_str()
            .unwrap()
            .contains("`token_label` or `slot`"),
        "{error}"
    );
}
