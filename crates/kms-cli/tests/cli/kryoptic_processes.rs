//! Two `kms` processes at once on one home (one SQLite key store) and one Kryoptic token
//! (whose own store is a SQLite file too): every call of both succeeds, and what each made
//! the other can use. Kryoptic 1.5.4 refuses a write to its database while another process
//! holds it with CKR_DEVICE_MEMORY (2 to 5 concurrent create-key calls in 100 here, before
//! the backend made such a call again after a pause; docs/PKCS11.md, "Several processes,
//! one token"), and the refused write leaves nothing behind, so each key is in the store
//! and the token exactly once.

use std::sync::Arc;

use serde_json::{Value, json};
use softhsm_tests::Token;

use crate::common::Home;
use crate::pkcs11::{config_file, exclusive_kryoptic, pkcs11_kms};

/// Iterations of create-key, create-datakey and decrypt-datakey in each process's loop.
const ROUNDS: usize = 20;

/// One call that did not exit 0: the loop, the round, the operation, the exit code and
/// what it printed on standard error.
type Failure = (usize, usize, &'static str, Option<i32>, String);

/// A key a loop made, with a data key's plaintext and ciphertext under it.
type Made = (String, Value, Value);

#[test]
fn two_processes_at_once_on_one_kryoptic_token_both_succeed_and_share_it() {
    let _kryoptic = exclusive_kryoptic();
    let home = Arc::new(Home::new());
    let file = Arc::new(config_file(&home, Token::Kryoptic, ""));
    let call = {
        let home = Arc::clone(&home);
        let file = Arc::clone(&file);
        move |operation: &'static str, body: &Value| -> Result<Value, (Option<i32>, String)> {
            let output = pkcs11_kms(&home)
                .arg("--pkcs11-config")
                .arg(file.as_path())
                .args([operation, &body.to_string()])
                .output()
                .unwrap();
            if output.status.code() == Some(0) && output.stderr.is_empty() {
                Ok(serde_json::from_slice(&output.stdout).unwrap())
            } else {
                Err((
                    output.status.code(),
                    String::from_utf8_lossy(&output.stderr).into_owned(),
                ))
            }
        }
    };
    // The key store exists before the two start: what runs at once is the work.
    assert_eq!(call("list-keys", &json!({})).unwrap()["total"], 0);
    let objects_before = Token::Kryoptic.objects();
    let loops: Vec<_> = (0..2)
        .map(|process| {
            let call = call.clone();
            std::thread::spawn(move || {
                let mut failures: Vec<Failure> = Vec::new();
                let mut made: Vec<Made> = Vec::new();
                for round in 0..ROUNDS {
                    let mut step = |operation: &'static str, body: Value| {
                        call(operation, &body)
                            .map_err(|(exit, stderr)| {
                                failures.push((process, round, operation, exit, stderr));
                            })
                            .ok()
                    };
                    let Some(created) = step(
                        "create-key",
                        json!({"key_alias": format!("two-processes/{process}/{round}")}),
                    ) else {
                        continue;
                    };
                    let key_id = created["key_info"]["key_id"].as_str().unwrap().to_owned();
                    let Some(data_key) = step(
                        "create-datakey",
                        json!({"key_id": key_id, "datakey_length": "256"}),
                    ) else {
                        continue;
                    };
                    let Some(opened) = step(
                        "decrypt-datakey",
                        json!({"key_id": key_id, "cipher_text": data_key["cipher_text"], "datakey_cipher_length": "32"}),
                    ) else {
                        continue;
                    };
                    assert_eq!(opened["data_key"], data_key["plain_text"]);
                    made.push((
                        key_id,
                        data_key["plain_text"].clone(),
                        data_key["cipher_text"].clone(),
                    ));
                }
                (failures, made)
            })
        })
        .collect();
    let mut failures = Vec::new();
    let mut made = Vec::new();
    for handle in loops {
        let (loop_failures, loop_made) = handle.join().unwrap();
        failures.extend(loop_failures);
        made.extend(loop_made);
    }
    assert_eq!(failures, Vec::<Failure>::new());
    assert_eq!(made.len(), 2 * ROUNDS);
    // The store and the token hold the created keys, each once.
    let keys = call("list-keys", &json!({})).unwrap();
    assert_eq!(keys["total"], made.len());
    assert_eq!(Token::Kryoptic.objects(), objects_before + made.len());
    let mut key_ids: Vec<&String> = made.iter().map(|(key_id, _, _)| key_id).collect();
    key_ids.sort();
    key_ids.dedup();
    assert_eq!(key_ids.len(), made.len());
    // Every data key opens again in a process of its own, whichever loop made it.
    for (key_id, plain, cipher) in &made {
        let opened = call(
            "decrypt-datakey",
            &json!({"key_id": key_id, "cipher_text": cipher, "datakey_cipher_length": "32"}),
        )
        .unwrap();
        assert_eq!(&opened["data_key"], plain);
    }
}
