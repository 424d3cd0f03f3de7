//! Several engines on one store (DESIGN 11), in one process: a state change made through
//! one engine is honoured by another that has the key cached, within the coherence bound;
//! an engine that cannot confirm its cache refuses crypto on cached keys and recovers by
//! itself; the per-key encryption bound holds across engines, and an engine that stops
//! forfeits only its lease. The same over PostgreSQL and real processes is in kms-cli's
//! multi-node tests.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kms_core::{
    CmkSpec, KeyStore, Kms, KmsConfig, ManualClock, MemoryStore, Operation, SecretBytes,
};
use kms_soft::{RootKey, SoftBackend};
use serde_json::json;

use crate::common::{call, create_key, encrypt, import_material, plain_text, random_bytes};
use crate::switchable_store::SwitchableStore;

/// Two engines ("nodes") over one store and one root key.
struct Nodes {
    store: Arc<SwitchableStore>,
    a: Kms,
    b: Kms,
}

fn nodes_with(config: impl Fn() -> KmsConfig) -> Nodes {
    let root_key = SecretBytes::new(random_bytes(32));
    let store = Arc::new(SwitchableStore::default());
    let node = || {
        Kms::with_config(
            Arc::new(SoftBackend::new(RootKey::from_bytes(&root_key).unwrap())),
            Arc::clone(&store) as Arc<dyn KeyStore>,
            KmsConfig {
                wrapping_key_pool_size: 0,
                ..config()
            },
        )
    };
    Nodes {
        a: node(),
        b: node(),
        store,
    }
}

fn nodes() -> Nodes {
    nodes_with(KmsConfig::default)
}

/// The error code of an encryption under `key_id`, `None` when it succeeds.
fn encrypt_code(kms: &Kms, key_id: &str) -> Option<String> {
    call(
        kms,
        Operation::EncryptDatakey,
        &json!({
            "key_id": key_id,
            "plain_text": plain_text(CmkSpec::Aes256, &[7; 32]),
            "datakey_plain_length": "32",
        }),
    )
    .err()
    .map(|error| error.code().to_owned())
}

/// Encrypts through `kms` every 2 ms until it is refused; returns the code and how long it
/// took. Fails the test past `limit`.
fn until_refused(kms: &Kms, key_id: &str, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    loop {
        if let Some(code) = encrypt_code(kms, key_id) {
            return (code, started.elapsed());
        }
        assert!(
            started.elapsed() < limit,
            "still encrypting after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_key_and_its_blobs_work_on_every_node() {
    let nodes = nodes();
    let key_id = create_key(&nodes.a, "AES_256");
    let dek = random_bytes(32);
    let cipher_text = encrypt(&nodes.a, &key_id, CmkSpec::Aes256, &dek, "");
    let opened = call(
        &nodes.b,
        Operation::DecryptDatakey,
        &json!({"key_id": key_id, "cipher_text": cipher_text, "datakey_cipher_length": "32"}),
    )
    .unwrap();
    assert_eq!(opened["data_key"], kms_core::encode_hex(&dek));
}

#[test]
fn a_state_change_through_one_node_is_honoured_by_the_other_within_the_bound() {
    let bound = KmsConfig::default().coherence_bound;
    let nodes = nodes();
    for (operation, code) in [
        (Operation::DisableKey, "KMS.0209"),
        (Operation::ScheduleKeyDeletion, "KMS.0210"),
    ] {
        let key_id = create_key(&nodes.a, "AES_256");
        // B has the key cached and keeps using it.
        assert_eq!(encrypt_code(&nodes.b, &key_id), None);
        let mut body = json!({"key_id": key_id});
        if operation == Operation::ScheduleKeyDeletion {
            body["pending_days"] = json!("7");
        }
        call(&nodes.a, operation, &body).unwrap();
        let (refused, delay) = until_refused(&nodes.b, &key_id, 2 * bound);
        println!(
            "{} through A honoured by B after {delay:?}",
            operation.as_str()
        );
        assert_eq!(refused, code);
        assert!(delay <= bound, "{delay:?} > {bound:?}");
    }
}

#[test]
fn engines_on_one_sqlite_file_honour_each_others_disable_within_the_bound() {
    let bound = KmsConfig::default().coherence_bound;
    let dir = crate::common::TempDir::new();
    let file = dir.write("keys.db", b"");
    std::fs::remove_file(&file).unwrap();
    let root_key = SecretBytes::new(random_bytes(32));
    // Each engine opens the file on its own, as two processes do.
    let node = || {
        Kms::with_config(
            Arc::new(SoftBackend::new(RootKey::from_bytes(&root_key).unwrap())),
            Arc::new(kms_store::SqliteStore::open(&file).unwrap()),
            KmsConfig {
                wrapping_key_pool_size: 0,
                ..KmsConfig::default()
            },
        )
    };
    let (a, b) = (node(), node());
    let key_id = create_key(&a, "AES_256");
    assert_eq!(encrypt_code(&b, &key_id), None);
    call(&a, Operation::DisableKey, &json!({"key_id": key_id})).unwrap();
    let (refused, delay) = until_refused(&b, &key_id, 2 * bound);
    println!("disable-key through A honoured by B on one SQLite file after {delay:?}");
    assert_eq!(refused, "KMS.0209");
    assert!(delay <= bound, "{delay:?} > {bound:?}");
}

#[test]
fn deleted_imported_material_is_honoured_by_the_other_node_within_the_bound() {
    let bound = KmsConfig::default().coherence_bound;
    let nodes = nodes();
    let key_id = call(
        &nodes.a,
        Operation::CreateKey,
        &json!({"key_alias": "external", "origin": "external"}),
    )
    .unwrap()["key_info"]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        import_material(&nodes.a, &key_id, &random_bytes(32), None),
        Ok(())
    );
    assert_eq!(encrypt_code(&nodes.b, &key_id), None);
    call(
        &nodes.a,
        Operation::DeleteImportedKeyMaterial,
        &json!({"key_id": key_id}),
    )
    .unwrap();
    let (refused, delay) = until_refused(&nodes.b, &key_id, 2 * bound);
    println!("delete-imported-key-material through A honoured by B after {delay:?}");
    assert_eq!(refused, "KMS.1301");
    assert!(delay <= bound, "{delay:?} > {bound:?}");
}

#[test]
fn a_key_purged_through_one_node_is_kms_0207_on_the_other() {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let nodes = nodes_with(|| KmsConfig {
        clock: Arc::clone(&clock) as _,
        ..KmsConfig::default()
    });
    let key_id = create_key(&nodes.a, "AES_256");
    assert_eq!(encrypt_code(&nodes.b, &key_id), None);
    call(
        &nodes.a,
        Operation::ScheduleKeyDeletion,
        &json!({"key_id": key_id, "pending_days": "7"}),
    )
    .unwrap();
    clock.advance_ms(7 * 24 * 60 * 60 * 1000);
    assert_eq!(nodes.a.maintain().unwrap().deleted.len(), 1);
    // B has the key cached, or (if it read the feed since the scheduling) refuses it as
    // pending deletion; within the bound it is gone.
    let bound = KmsConfig::default().coherence_bound;
    let purged = Instant::now();
    while encrypt_code(&nodes.b, &key_id).as_deref() != Some("KMS.0207") {
        assert!(purged.elapsed() <= bound, "B still has the key");
        std::thread::sleep(Duration::from_millis(2));
    }
    println!(
        "the purge through A honoured by B after {:?}",
        purged.elapsed()
    );
    assert_eq!(
        call(&nodes.b, Operation::DescribeKey, &json!({"key_id": key_id}))
            .unwrap_err()
            .code(),
        "KMS.0207"
    );
}

#[test]
fn a_node_that_cannot_confirm_its_cache_refuses_crypto_then_recovers_by_itself() {
    let bound = KmsConfig::default().coherence_bound;
    let nodes = nodes();
    let key_id = create_key(&nodes.a, "AES_256");
    assert_eq!(encrypt_code(&nodes.b, &key_id), None);
    nodes.store.down.store(true, Ordering::SeqCst);
    let down_at = Instant::now();
    // The cached key serves until the bound has passed, then not at all.
    let (refused, after) = until_refused(&nodes.b, &key_id, 3 * bound);
    println!("B refused its cached key {after:?} after the store went down");
    assert_eq!(refused, "KMS.0102");
    assert!(after <= bound + Duration::from_millis(300), "{after:?}");
    let error = call(
        &nodes.b,
        Operation::EncryptDatakey,
        &json!({"key_id": key_id, "plain_text": plain_text(CmkSpec::Aes256, &[1; 32]), "datakey_plain_length": "32"}),
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("could not be confirmed with the key store"),
        "{error}"
    );
    // Operations that need the store fail with the same code meanwhile.
    assert_eq!(
        call(
            &nodes.a,
            Operation::CreateKey,
            &json!({"key_alias": "during"})
        )
        .unwrap_err()
        .code(),
        "KMS.0102"
    );
    assert!(down_at.elapsed() >= bound);
    // Back: both serve again once a read of the feed succeeds (the next one the background
    // reader makes, or a caller's), with no restart.
    nodes.store.down.store(false, Ordering::SeqCst);
    let up_at = Instant::now();
    while encrypt_code(&nodes.b, &key_id).is_some() {
        assert!(
            up_at.elapsed() < bound,
            "B still refuses {:?} after",
            up_at.elapsed()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    println!(
        "B served again {:?} after the store came back",
        up_at.elapsed()
    );
    assert_eq!(encrypt_code(&nodes.a, &key_id), None);
}

#[test]
fn two_nodes_together_stop_at_the_encryption_bound_never_past_it() {
    let config = || KmsConfig {
        max_encryptions_per_key: 1_000,
        encryption_lease: 64,
        ..KmsConfig::default()
    };
    let nodes = nodes_with(config);
    let key_id = create_key(&nodes.a, "AES_256");
    let (mut from_a, mut from_b) = (0, 0);
    loop {
        let a = encrypt_code(&nodes.a, &key_id);
        let b = encrypt_code(&nodes.b, &key_id);
        from_a += usize::from(a.is_none());
        from_b += usize::from(b.is_none());
        if let (Some(a), Some(b)) = (&a, &b) {
            assert_eq!((a.as_str(), b.as_str()), ("KMS.9003", "KMS.9003"));
            break;
        }
    }
    assert_eq!(from_a + from_b, 1_000);
    assert!(from_a > 0 && from_b > 0);

    // A node that stops mid-lease forfeits the rest of that lease, nothing more.
    let nodes = nodes_with(config);
    let key_id = create_key(&nodes.a, "AES_256");
    for _ in 0..10 {
        assert_eq!(encrypt_code(&nodes.a, &key_id), None);
    }
    drop(nodes.a);
    let mut from_b = 0;
    while encrypt_code(&nodes.b, &key_id).is_none() {
        from_b += 1;
    }
    assert_eq!(from_b, 1_000 - 64);
}

#[test]
fn dropping_an_engine_releases_its_loaded_keys_on_the_dropping_thread() {
    // The cache's background reader is stopped and joined first: a key released on the
    // reader after the engine is gone would close PKCS#11 sessions while the process may
    // be exiting (which crashed SoftHSM2 in its exit handlers).
    for _ in 0..20 {
        let backend = crate::common::InstrumentedBackend::new();
        let kms = Kms::with_config(
            backend.clone(),
            Arc::new(MemoryStore::new()),
            KmsConfig {
                wrapping_key_pool_size: 0,
                coherence_bound: Duration::from_millis(4),
                ..KmsConfig::default()
            },
        );
        let key_id = create_key(&kms, "AES_256");
        assert_eq!(encrypt_code(&kms, &key_id), None);
        // The reader reads every millisecond meanwhile.
        std::thread::sleep(Duration::from_millis(3));
        drop(kms);
        assert_eq!(backend.handles_dropped_on(), [std::thread::current().id()]);
    }
}
