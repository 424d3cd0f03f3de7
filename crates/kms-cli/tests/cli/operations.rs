//! Every operation through the command, its output, and its exit codes.

use std::os::unix::fs::PermissionsExt;

use kms_core::{KeyId, KeyState, KeyStore, StateChange, WrappingAlgorithm};
use kms_store::SqliteStore;
use serde_json::{Value, json};

use crate::common::{Home, code, kms, plain_text, wrap_for_import};

#[test]
fn every_lifecycle_operation_works_from_the_shell() {
    let home = Home::new();
    let key_id = home.create_key("cli/lifecycle", "SM4");
    let described = home.ok("describe-key", &json!({"key_id": key_id}));
    assert_eq!(described["key_info"]["key_spec"], "SM4");
    let listed = home.ok("list-keys", &json!({}));
    assert_eq!(listed["keys"], json!([key_id]));
    assert_eq!(
        home.ok("disable-key", &json!({"key_id": key_id}))["key_info"]["key_state"],
        "3"
    );
    assert_eq!(
        home.ok("enable-key", &json!({"key_id": key_id}))["key_info"]["key_state"],
        "2"
    );
    let scheduled = home.ok(
        "schedule-key-deletion",
        &json!({"key_id": key_id, "pending_days": "7"}),
    );
    assert_eq!(scheduled["key_state"], "4");
    assert_eq!(
        home.ok("cancel-key-deletion", &json!({"key_id": key_id}))["key_state"],
        "3"
    );
}

#[test]
fn every_datakey_operation_works_from_the_shell() {
    let home = Home::new();
    let key_id = home.create_key("cli/datakeys", "AES_256");
    let created = home.ok(
        "create-datakey",
        &json!({"key_id": key_id, "datakey_length": "256"}),
    );
    let opened = home.ok(
        "decrypt-datakey",
        &json!({"key_id": key_id, "cipher_text": created["cipher_text"], "datakey_cipher_length": "32"}),
    );
    assert_eq!(opened["data_key"], created["plain_text"]);
    let without = home.ok(
        "create-datakey-without-plaintext",
        &json!({"key_id": key_id, "key_spec": "AES_128"}),
    );
    assert!(without.get("plain_text").is_none());
    let dek = [0x11u8; 24];
    let encrypted = home.ok(
        "encrypt-datakey",
        &json!({"key_id": key_id, "plain_text": plain_text(&dek), "datakey_plain_length": "24"}),
    );
    assert_eq!(encrypted["datakey_length"], "24");
    let pair = home.ok(
        "create-ec-datakey-pair",
        &json!({"key_id": key_id, "key_spec": "SM2", "with_plain_text": false}),
    );
    assert!(pair.get("private_key_plain_text").is_none());
    let rsa = home.ok(
        "create-rsa-datakey-pair",
        &json!({"key_id": key_id, "key_spec": "RSA_2048"}),
    );
    assert!(rsa["private_key_plain_text"].is_string());
}

#[test]
fn the_import_flow_works_from_the_shell_across_processes() {
    let home = Home::new();
    let key_id = home.create_external_key("cli/byok");
    let parameters = home.ok("get-parameters-for-import", &json!({"key_id": key_id}));
    let wrapped = wrap_for_import(&parameters, WrappingAlgorithm::RsaesOaepSha256, &[0x5A; 32]);
    let import = json!({
        "key_id": key_id,
        "import_token": parameters["import_token"],
        "encrypted_key_material": wrapped,
    });
    assert_eq!(home.ok("import-key-material", &import), json!({}));
    // A later process sees the token used.
    let (exit, error) = home.fails("import-key-material", &import);
    assert_eq!((exit, code(&error)), (1, "KMS.2605"));
    assert_eq!(
        home.ok("delete-imported-key-material", &json!({"key_id": key_id})),
        json!({})
    );
    let (exit, error) = home.fails("import-key-material", &import);
    assert_eq!((exit, code(&error)), (1, "KMS.2605"));
}

#[test]
fn the_request_comes_from_standard_input_when_no_argument_is_given() {
    let home = Home::new();
    let output = home.run(&["create-key"], Some(r#"{"key_alias":"from-stdin"}"#));
    assert_eq!(output.status.code(), Some(0));
    let created: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(created["key_info"]["key_id"].as_str().unwrap().len(), 36);
}

/// The create-ec-datakey-pair page's example request, as printed there but for the key ID.
#[test]
fn the_seed_create_ec_datakey_pair_example_works_from_standard_input() {
    let home = Home::new();
    let key_id = home.create_key("cli/seed-example", "AES_256");
    let example = format!(
        r#"{{ "key_id" : "{key_id}", "key_spec" : "ECC_NIST_P256", "with_plain_text" : true, "additional_authenticated_data" : "aad", "sequence" : "sequence" }}"#
    );
    let output = home.run(&["create-ec-datakey-pair"], Some(&example));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let pair: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(pair["key_id"], key_id.as_str());
    assert_eq!(pair["key_spec"], "ECC_NIST_P256");
    assert!(pair["private_key_plain_text"].is_string());
    assert!(pair["private_key_cipher_text"].is_string());
}

#[test]
fn a_caller_error_exits_1_with_the_error_json_on_standard_error() {
    let home = Home::new();
    let (exit, error) = home.fails(
        "describe-key",
        &json!({"key_id": "0d0466b0-e727-4d9c-b35d-f84bb474a37f"}),
    );
    assert_eq!(exit, 1);
    assert_eq!(
        error,
        json!({"error": {"error_code": "KMS.0207", "error_msg": "The key does not exist."}})
    );
    let (exit, error) = home.fails(
        "create-key",
        &json!({"key_alias": "x", "with_plaintext": true}),
    );
    assert_eq!((exit, code(&error)), (1, "KMS.0202"));
    let output = home.run(&["describe-key", "not json"], None);
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn an_engine_failure_exits_2() {
    let home = Home::new();
    home.create_key("cli/first", "AES_256");
    let root_key = home.path().join("root.key");
    std::fs::set_permissions(&root_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (exit, error) = home.fails("list-keys", &json!({}));
    assert_eq!((exit, code(&error)), (2, "KMS.0103"));
    assert!(
        error["error"]["error_msg"]
            .as_str()
            .unwrap()
            .contains("chmod 600")
    );
}

#[test]
fn a_usage_error_exits_1_and_help_exits_0() {
    let output = kms().arg("no-such-operation").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let output = kms().arg("--help").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8(output.stdout).unwrap();
    for operation in kms_core::Operation::ALL {
        assert!(
            help.contains(operation.as_str()),
            "--help lacks {}",
            operation.as_str()
        );
    }
    assert!(help.contains("demo"));
    let output = kms().args(["encrypt-datakey", "--help"]).output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(
        help.contains("datakey_plain_length") && help.contains("plain_text"),
        "{help}"
    );
}

#[test]
fn pretty_output_is_the_same_json_indented() {
    let home = Home::new();
    home.create_key("cli/pretty", "AES_256");
    let output = home.run(&["--pretty", "list-keys", "{}"], None);
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("\n  \"keys\": ["), "{text}");
    let listed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(listed["total"], 1);
}

#[test]
fn the_home_comes_from_kms_home_when_not_given() {
    let home = Home::new();
    let output = kms()
        .env("KMS_HOME", home.path())
        .args(["create-key", r#"{"key_alias":"via-env"}"#])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(home.path().join("keys.db").exists());
    assert!(home.path().join("root.key").exists());
}

#[test]
fn demo_runs_the_whole_api_and_cleans_up() {
    let output = kms().arg("demo").output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    for operation in [
        "create-key",
        "create-ec-datakey-pair",
        "encrypt-datakey",
        "decrypt-datakey",
        "get-parameters-for-import",
        "import-key-material",
        "get-publickey",
        "sign",
        "verify",
    ] {
        assert!(
            text.contains(&format!("$ kms {operation} ")),
            "demo lacks {operation}"
        );
    }
    assert!(text.contains(r#""signature_valid":"true""#), "{text}");
    let home = text
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("# a fresh home: ");
    assert!(
        !std::path::Path::new(home).exists(),
        "the demo home {home} was left behind"
    );
}

#[test]
fn purge_deleted_keys_deletes_the_keys_whose_time_has_come_and_prints_them() {
    let home = Home::new();
    let due = home.create_key("cli/purge-due", "AES_256");
    let waiting = home.create_key("cli/purge-waiting", "AES_256");
    for key_id in [&due, &waiting] {
        home.ok(
            "schedule-key-deletion",
            &json!({"key_id": key_id, "pending_days": "7"}),
        );
    }
    let purge = |expected: Value| {
        let output = home.run(&["purge-deleted-keys"], None);
        assert_eq!(output.status.code(), Some(0));
        assert!(output.stderr.is_empty());
        let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(printed, expected);
    };
    purge(json!({"deleted_key_ids": []}));

    // Seven days pass for one key: its deletion date moves into the past in the store.
    let store = SqliteStore::open(home.path().join("keys.db")).unwrap();
    let past = StateChange {
        from: KeyState::PendingDeletion,
        has_material: true,
        to: KeyState::PendingDeletion,
        scheduled_deletion_ms: Some(1),
    };
    assert!(
        store
            .change_state(&KeyId::parse(&due).unwrap(), past)
            .unwrap()
    );
    drop(store);
    purge(json!({"deleted_key_ids": [due]}));
    let (exit, error) = home.fails("describe-key", &json!({"key_id": due}));
    assert_eq!((exit, code(&error)), (1, "KMS.0207"));
    let described = home.ok("describe-key", &json!({"key_id": waiting}));
    assert_eq!(described["key_info"]["key_state"], "4");
    purge(json!({"deleted_key_ids": []}));
}
