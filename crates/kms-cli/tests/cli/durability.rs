//! What the store keeps: across processes, through SIGKILL, under two writers, and never
//! plaintext material.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use kms_core::models::EncryptDatakeyRequest;
use kms_core::{Kms, KmsConfig, SecretString, WrappingAlgorithm, encode_base64};
use kms_soft::{RootKey, SoftBackend};
use kms_store::SqliteStore;
use serde_json::{Value, json};

use crate::common::{Home, code, plain_text, wrap_for_import};

/// The engine over the store and root key the command wrote in `home`.
fn open_engine(home: &Home) -> (Kms, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open(home.path().join("keys.db")).unwrap());
    let root_key = RootKey::load(&home.path().join("root.key")).unwrap();
    let kms = Kms::with_config(
        Arc::new(SoftBackend::new(root_key)),
        store.clone(),
        KmsConfig {
            wrapping_key_pool_size: 0,
            ..KmsConfig::default()
        },
    );
    (kms, store)
}

fn encrypts(kms: &Kms, key_id: &str) -> bool {
    kms.encrypt_datakey(
        kms.default_tenant(),
        &EncryptDatakeyRequest {
            key_id: Some(key_id.to_owned()),
            plain_text: Some(SecretString::new(plain_text(&[3; 16]))),
            datakey_plain_length: Some("16".into()),
            ..EncryptDatakeyRequest::default()
        },
    )
    .is_ok()
}

#[test]
fn keys_and_their_blobs_survive_a_restart() {
    let home = Home::new();
    let key_id = home.create_key("restart/a", "AES_256");
    let dek = [9u8; 32];
    let encrypted = home.ok(
        "encrypt-datakey",
        &json!({"key_id": key_id, "plain_text": plain_text(&dek), "datakey_plain_length": "32"}),
    );
    // Every command is a new process: a new engine, a new store connection.
    let described = home.ok("describe-key", &json!({"key_id": key_id}));
    assert_eq!(described["key_info"]["key_state"], "2");
    let opened = home.ok(
        "decrypt-datakey",
        &json!({"key_id": key_id, "cipher_text": encrypted["cipher_text"], "datakey_cipher_length": "32"}),
    );
    assert_eq!(opened["data_key"], kms_core::encode_hex(&dek));
    home.ok("disable-key", &json!({"key_id": key_id}));
    let (_, error) = home.fails(
        "encrypt-datakey",
        &json!({"key_id": key_id, "plain_text": plain_text(&dek), "datakey_plain_length": "32"}),
    );
    assert_eq!(code(&error), "KMS.0209");
}

#[test]
fn import_state_and_used_tokens_survive_a_restart() {
    let home = Home::new();
    let key_id = home.create_external_key("restart/byok");
    let first = home.ok(
        "get-parameters-for-import",
        &json!({"key_id": key_id, "wrapping_algorithm": "SM2_ENCRYPT"}),
    );
    let second = home.ok(
        "get-parameters-for-import",
        &json!({"key_id": key_id, "wrapping_algorithm": "SM2_ENCRYPT"}),
    );
    let import = |parameters: &Value| {
        let wrapped = wrap_for_import(parameters, WrappingAlgorithm::Sm2Encrypt, &[0xC3; 32]);
        json!({"key_id": key_id, "import_token": parameters["import_token"], "encrypted_key_material": wrapped})
    };
    home.ok("import-key-material", &import(&first));
    home.ok("delete-imported-key-material", &json!({"key_id": key_id}));
    // The used token stays used in the next process; the unused one still works.
    let (_, error) = home.fails("import-key-material", &import(&first));
    assert_eq!(code(&error), "KMS.2605");
    home.ok("import-key-material", &import(&second));
    assert_eq!(
        home.ok("describe-key", &json!({"key_id": key_id}))["key_info"]["key_state"],
        "2"
    );
}

fn random_below(bound: u64) -> u64 {
    RandomState::new().hash_one(std::time::Instant::now()) % bound
}

/// Key IDs in the complete lines of `stdout`: creations the store acknowledged.
fn acknowledged(stdout: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(stdout);
    let complete = text.rsplit_once('\n').map_or("", |(lines, _)| lines);
    complete
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|response| response["key_info"]["key_id"].as_str().map(str::to_owned))
        .collect()
}

/// A shell loop running `kms` with `script` (which sees `$KMS` and `$HOME_DIR`), in a
/// process group of its own.
fn shell_loop(home: &Home, script: &str) -> Command {
    let mut command = Command::new("sh");
    command
        .args(["-c", script])
        .env("KMS", env!("CARGO_BIN_EXE_kms"))
        .env("HOME_DIR", home.path())
        .env_remove("KMS_HOME")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    command
}

#[test]
fn sigkill_at_random_points_never_loses_an_acknowledged_key_or_corrupts_the_store() {
    let home = Home::new();
    home.create_key("crash/first", "AES_256");
    let mut acknowledged_keys = Vec::new();
    for round in 0..24 {
        let script = format!(
            r#"i=0; while true; do i=$((i+1)); "$KMS" --home "$HOME_DIR" create-key "{{\"key_alias\":\"crash-{round}-$i\"}}" || exit 1; done"#
        );
        let mut child = shell_loop(&home, &script).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(30 + random_below(300)));
        let killed = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status()
            .unwrap();
        assert!(killed.success());
        let mut stdout = Vec::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_end(&mut stdout)
            .unwrap();
        child.wait().unwrap();
        acknowledged_keys.extend(acknowledged(&stdout));

        let (kms, store) = open_engine(&home);
        assert_eq!(store.integrity_check().unwrap(), "ok", "round {round}");
        for key_id in &acknowledged_keys {
            assert!(
                encrypts(&kms, key_id),
                "round {round}: key {key_id} lost or unusable"
            );
        }
    }
    assert!(
        acknowledged_keys.len() >= 20,
        "only {} keys were created",
        acknowledged_keys.len()
    );
}

#[test]
fn two_processes_hammering_one_home_both_succeed_and_lose_nothing() {
    let home = Home::new();
    home.create_key("hammer/first", "AES_256");
    let script = r#"
        end=$(( $(date +%s) + 4 ))
        while [ "$(date +%s)" -lt "$end" ]; do
            out=$("$KMS" --home "$HOME_DIR" create-key "{\"key_alias\":\"hammer-$WHO-$(date +%s%N)\"}") || exit 1
            echo "$out"
            id=$(echo "$out" | sed 's/.*"key_id":"\([^"]*\)".*/\1/')
            "$KMS" --home "$HOME_DIR" encrypt-datakey "{\"key_id\":\"$id\",\"plain_text\":\"$PLAIN\",\"datakey_plain_length\":\"16\"}" > /dev/null || exit 1
        done"#;
    let children: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|who| {
            shell_loop(&home, script)
                .env("WHO", who)
                .env("PLAIN", plain_text(&[1; 16]))
                .spawn()
                .unwrap()
        })
        .collect();
    let mut created = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "a writer failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        created.extend(acknowledged(&output.stdout));
    }
    assert!(
        created.len() >= 10,
        "only {} keys were created",
        created.len()
    );
    let listed = home.ok("list-keys", &json!({}));
    assert_eq!(listed["total"], created.len() + 1);
    for key_id in &created {
        assert!(
            listed["keys"].as_array().unwrap().contains(&json!(key_id)),
            "{key_id} missing"
        );
    }
}

#[test]
fn imported_material_never_appears_in_the_database_or_its_wal() {
    let home = Home::new();
    let key_id = home.create_external_key("disk/byok");
    // Holding a connection keeps the WAL file from being checkpointed away when each
    // command exits, so the search below sees it.
    let connection = open_engine(&home);
    let parameters = home.ok("get-parameters-for-import", &json!({"key_id": key_id}));
    let material: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    let wrapped = wrap_for_import(&parameters, WrappingAlgorithm::RsaesOaepSha256, &material);
    home.ok(
        "import-key-material",
        &json!({"key_id": key_id, "import_token": parameters["import_token"], "encrypted_key_material": wrapped}),
    );
    home.ok(
        "create-datakey",
        &json!({"key_id": key_id, "key_spec": "AES_256"}),
    );
    let needles = [
        material.clone(),
        kms_core::encode_hex(&material).into_bytes(),
        kms_core::encode_hex(&material).to_lowercase().into_bytes(),
        encode_base64(&material).into_bytes(),
    ];
    let mut searched = 0;
    for entry in std::fs::read_dir(home.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("keys.db") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        searched += 1;
        for needle in &needles {
            assert!(
                !bytes
                    .windows(needle.len())
                    .any(|window| window == needle.as_slice()),
                "material found in {name}"
            );
        }
    }
    assert!(
        searched >= 2,
        "expected the database and its WAL, searched {searched} files"
    );
    drop(connection);
}
