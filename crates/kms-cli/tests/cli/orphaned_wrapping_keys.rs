//! No orphans, on each test token: a `kms serve` killed with SIGKILL right after
//! get-parameters-for-import leaves its pooled wrapping keys in the token. The next engine
//! to open the token on the same store destroys them (once they are older than any live
//! engine keeps one: the engine's clock stands two hours and more later), keeps the one the
//! live import token refers to (the import then succeeds), and leaves a second store's
//! live wrapping keys on the same token alone.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kms_core::{
    Backend, Clock, KeyStore, Kms, KmsConfig, ManualClock, MemoryStore, Operation, ProjectId,
    SystemClock, Tenant, WrappingAlgorithm, WrappingKeySpec, decode_base64, encode_base64,
};
use serde_json::{Value, json};
use softhsm_tests::{Token, call, on_each_token, openssl_oaep};

use crate::common::Home;
use crate::pkcs11::{config_file, exclusive_kryoptic, exclusive_token};
use crate::serve::{PROJECT, Served, api, post, wait_until_ready, write_token_credentials};

/// The clock of the engine that opens the token after the kill: later than the age at
/// which an unreferenced wrapping key of its store counts as an orphan (two hours).
const LATER_MS: u64 = 3 * 60 * 60 * 1000;
/// Imported material (an AES-256 key).
const MATERIAL: [u8; 32] = [0x5A; 32];

on_each_token!(a_killed_servers_wrapping_keys_are_destroyed_by_the_next_engine_on_its_store);

/// The import algorithm the token unwraps inside itself (SoftHSM2 has no OAEP-SHA-256),
/// and its digest's name for the OpenSSL CLI.
fn algorithm(token: Token) -> (WrappingAlgorithm, &'static str) {
    match token {
        Token::SoftHsm2 => (WrappingAlgorithm::RsaesOaepSha1, "sha1"),
        Token::Kryoptic => (WrappingAlgorithm::RsaesOaepSha256, "sha256"),
    }
}

/// `wrap.<owner>.`: the names of the wrapping keys of `store`.
fn prefix(store: &dyn KeyStore) -> Vec<u8> {
    let owner = store.engine_key("wrapping-key-owner").unwrap().unwrap();
    [b"wrap.".as_slice(), owner.as_bytes(), b"."].concat()
}

/// The wrapping keys in the token whose names start with `prefix`.
fn wrapping_keys(backend: &dyn Backend, prefix: &[u8]) -> BTreeSet<Vec<u8>> {
    backend
        .wrapping_keys(prefix)
        .unwrap()
        .into_iter()
        .map(|key| key.as_bytes().to_vec())
        .collect()
}

fn import_body(key_id: &str, token: Token) -> Value {
    json!({
        "key_id": key_id,
        "wrapping_algorithm": algorithm(token).0.as_str(),
        "wrapping_key_spec": "RSA_2048",
    })
}

/// import-key-material of [`MATERIAL`] with `parameters` in `tenant`'s project; the key's
/// `key_state` after.
fn import_material(
    kms: &Kms,
    tenant: &Tenant,
    key_id: &str,
    parameters: &Value,
    token: Token,
) -> Value {
    let spki = decode_base64(parameters["public_key"].as_str().unwrap()).unwrap();
    let wrapped = openssl_oaep(&spki, algorithm(token).1, &MATERIAL);
    let body = json!({
        "key_id": key_id,
        "import_token": parameters["import_token"],
        "encrypted_key_material": encode_base64(&wrapped),
    });
    kms.call_json_as(tenant, Operation::ImportKeyMaterial, &body.to_string())
        .unwrap();
    let described = kms
        .call_json_as(
            tenant,
            Operation::DescribeKey,
            &json!({"key_id": key_id}).to_string(),
        )
        .unwrap();
    let described: Value = serde_json::from_str(described.expose_secret()).unwrap();
    described["key_info"]["key_state"].clone()
}

fn a_killed_servers_wrapping_keys_are_destroyed_by_the_next_engine_on_its_store(token: Token) {
    let _exclusive = match token {
        Token::SoftHsm2 => exclusive_token(),
        Token::Kryoptic => exclusive_kryoptic(),
    };
    let backend = token.backend();
    let home = Home::new();
    write_token_credentials(&home, 0o600);
    let file = config_file(&home, token, "");
    let global = [
        "--backend".to_owned(),
        "pkcs11".to_owned(),
        "--pkcs11-config".to_owned(),
        file.display().to_string(),
    ];
    let mut served = Served::start_with(&home, &global, &["--maintenance-interval", "0"]);
    wait_until_ready(served.addr);
    let (status, created) = post(
        served.addr,
        &api("create-key"),
        &json!({"key_alias": "orphans", "origin": "external"}),
    )
    .unwrap();
    assert_eq!(status, 200, "{created}");
    let key_id = created["key_info"]["key_id"].as_str().unwrap().to_owned();
    let (status, parameters) = post(
        served.addr,
        &api("get-parameters-for-import"),
        &import_body(&key_id, token),
    )
    .unwrap();
    assert_eq!(status, 200, "{parameters}");

    let store_a: Arc<dyn KeyStore> =
        Arc::new(kms_store::SqliteStore::open(home.path().join("keys.db")).unwrap());
    let prefix_a = prefix(store_a.as_ref());
    let referenced: BTreeSet<Vec<u8>> = store_a
        .import_wrapping_keys()
        .unwrap()
        .into_iter()
        .map(|key| key.as_bytes().to_vec())
        .collect();
    assert_eq!(referenced.len(), 1);
    // The pool refills in the background: wait until it holds a key beside the one taken.
    let deadline = Instant::now() + Duration::from_secs(120);
    while wrapping_keys(backend.as_ref(), &prefix_a).len() < 2 {
        assert!(Instant::now() < deadline, "the pool never refilled");
        std::thread::sleep(Duration::from_millis(50));
    }
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    let left = wrapping_keys(backend.as_ref(), &prefix_a);
    assert!(referenced.is_subset(&left));
    let orphans: BTreeSet<Vec<u8>> = left.difference(&referenced).cloned().collect();
    assert!(!orphans.is_empty());

    // A second store on the same token, with an engine alive: a pooled key and one an
    // import token refers to.
    let store_b: Arc<dyn KeyStore> = Arc::new(MemoryStore::new());
    let engine_b = Kms::with_config(
        backend.clone(),
        Arc::clone(&store_b),
        KmsConfig {
            wrapping_key_pool_size: 1,
            ..KmsConfig::default()
        },
    );
    let key_b = call(
        &engine_b,
        Operation::CreateKey,
        &json!({"key_alias": "other-store", "origin": "external"}),
    )
    .unwrap()["key_info"]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let parameters_b = call(
        &engine_b,
        Operation::GetParametersForImport,
        &import_body(&key_b, token),
    )
    .unwrap();
    assert!(engine_b.wait_for_wrapping_key(WrappingKeySpec::Rsa2048, Duration::from_secs(120)));
    let prefix_b = prefix(store_b.as_ref());
    let live_b = wrapping_keys(backend.as_ref(), &prefix_b);
    assert!(
        live_b.len() >= 2,
        "{} keys of the second store",
        live_b.len()
    );

    // The next engine on store A: its pool's thread sweeps before it makes its first key.
    let later = Arc::new(ManualClock::new(SystemClock.now_ms() + LATER_MS));
    let engine_a = Kms::with_config(
        backend.clone(),
        Arc::clone(&store_a),
        KmsConfig {
            wrapping_key_pool_size: 1,
            clock: later,
            ..KmsConfig::default()
        },
    );
    assert!(engine_a.wait_for_wrapping_key(WrappingKeySpec::Rsa2048, Duration::from_secs(120)));
    let now_a = wrapping_keys(backend.as_ref(), &prefix_a);
    assert!(orphans.is_disjoint(&now_a), "an orphan survived the sweep");
    assert!(referenced.is_subset(&now_a));
    assert_eq!(engine_a.sweep_orphaned_wrapping_keys().unwrap(), 0);
    assert!(live_b.is_subset(&wrapping_keys(backend.as_ref(), &prefix_b)));

    // Both live import tokens still import, each wrapping key destroyed after its use.
    let served_tenant = Tenant {
        project_id: ProjectId::parse(PROJECT).unwrap(),
        ..engine_a.default_tenant().clone()
    };
    let imported = import_material(&engine_a, &served_tenant, &key_id, &parameters, token);
    assert_eq!(imported, "2");
    assert!(referenced.is_disjoint(&wrapping_keys(backend.as_ref(), &prefix_a)));
    let imported_b = import_material(
        &engine_b,
        engine_b.default_tenant(),
        &key_b,
        &parameters_b,
        token,
    );
    assert_eq!(imported_b, "2");

    // The token as the tests after expect it: the two CMK objects destroyed here, the
    // pooled keys by dropping the engines.
    for (engine, tenant, key) in [
        (&engine_a, &served_tenant, &key_id),
        (&engine_b, engine_b.default_tenant(), &key_b),
    ] {
        let body = json!({"key_id": key}).to_string();
        engine
            .call_json_as(tenant, Operation::DeleteImportedKeyMaterial, &body)
            .unwrap();
    }
}
