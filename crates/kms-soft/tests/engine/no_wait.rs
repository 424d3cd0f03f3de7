//! Calls made without waiting (`Kms::call_json_now`), as `kms serve` makes them on its
//! reactor: a quick call under a hot key runs and never reaches the store; anything that
//! would reach the store, or a backend that may wait, or an operation that is not quick,
//! is handed back (`None`) having changed nothing, and the same call made where waiting is
//! allowed gives the answer the engine would have given anyway.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kms_core::{CmkSpec, KeyStore, Kms, KmsConfig, KmsError, Operation, SecretString};
use kms_soft::{RootKey, SoftBackend};
use serde_json::{Value, json};

use crate::common::{InstrumentedBackend, call, create_key, plain_text, random_bytes};
use crate::switchable_store::SwitchableStore;

/// An engine over a store that counts its calls, with one AES_256 key and an
/// encrypt-datakey body for it.
struct Set {
    store: Arc<SwitchableStore>,
    kms: Kms,
    key_id: String,
    dek: Vec<u8>,
    seal: Value,
}

fn set_up(config: KmsConfig) -> Set {
    let store = Arc::new(SwitchableStore::default());
    let kms = Kms::with_config(
        Arc::new(SoftBackend::new(RootKey::generate().unwrap())),
        Arc::clone(&store) as Arc<dyn KeyStore>,
        KmsConfig {
            wrapping_key_pool_size: 0,
            ..config
        },
    );
    let key_id = create_key(&kms, "AES_256");
    let dek = random_bytes(32);
    let seal = encrypt_body(&key_id, &dek);
    Set {
        store,
        kms,
        key_id,
        dek,
        seal,
    }
}

/// `operation` made without waiting: `None` when it was handed back, else its response or
/// error code.
fn now(kms: &Kms, operation: Operation, body: &Value) -> Option<Result<Value, String>> {
    kms.call_json_now(kms.default_tenant(), operation, &body.to_string())
        .map(parsed)
}

fn parsed(response: Result<SecretString, KmsError>) -> Result<Value, String> {
    response
        .map(|json| serde_json::from_str(json.expose_secret()).unwrap())
        .map_err(|error| error.code().to_owned())
}

fn encrypt_body(key_id: &str, dek: &[u8]) -> Value {
    json!({
        "key_id": key_id,
        "plain_text": plain_text(CmkSpec::Aes256, dek),
        "datakey_plain_length": dek.len().to_string(),
    })
}

fn decrypt_body(key_id: &str, cipher_text: &str) -> Value {
    json!({
        "key_id": key_id,
        "cipher_text": cipher_text,
        "datakey_cipher_length": "32",
    })
}

#[test]
fn quick_calls_under_a_hot_key_run_now_and_never_reach_the_store() {
    let Set {
        store,
        kms,
        key_id,
        dek,
        seal,
    } = set_up(KmsConfig::default());

    // Not loaded yet: loading reads the store, so the call is handed back, before the
    // store is reached.
    let before = store.calls();
    assert_eq!(now(&kms, Operation::EncryptDatakey, &seal), None);
    assert_eq!(store.calls(), before);

    // Loaded where waiting is allowed, the key is hot: every quick operation runs now.
    call(&kms, Operation::EncryptDatakey, &seal).unwrap();
    let before = store.calls();
    let started = Instant::now();
    for _ in 0..200 {
        let sealed = now(&kms, Operation::EncryptDatakey, &seal)
            .unwrap()
            .unwrap();
        let cipher_text = sealed["cipher_text"].as_str().unwrap();
        let opened = now(
            &kms,
            Operation::DecryptDatakey,
            &decrypt_body(&key_id, cipher_text),
        )
        .unwrap()
        .unwrap();
        assert_eq!(opened["data_key"], kms_core::encode_hex(&dek));
        // And a blob sealed now opens where waiting is allowed, the same.
        let opened_later = call(
            &kms,
            Operation::DecryptDatakey,
            &decrypt_body(&key_id, cipher_text),
        )
        .unwrap();
        assert_eq!(opened_later["data_key"], opened["data_key"]);
    }
    let created = now(&kms, Operation::CreateDatakey, &json!({"key_id": key_id}))
        .unwrap()
        .unwrap();
    assert_eq!(created["plain_text"].as_str().unwrap().len(), 64);
    let data = now(
        &kms,
        Operation::EncryptData,
        &json!({"key_id": key_id, "plain_text": "hello"}),
    )
    .unwrap()
    .unwrap();
    let decrypted = now(
        &kms,
        Operation::DecryptData,
        &json!({"cipher_text": data["cipher_text"]}),
    )
    .unwrap()
    .unwrap();
    assert_eq!(decrypted["plain_text"], "hello");
    let random = now(
        &kms,
        Operation::GenRandom,
        &json!({"random_data_length": "256"}),
    )
    .unwrap()
    .unwrap();
    assert_eq!(random["random_data"].as_str().unwrap().len(), 64);
    // The engine's feed reader may have read the store meanwhile; no call made now did.
    let reached = store.calls() - before;
    assert!(reached <= feed_reads_within(started.elapsed()), "{reached}");

    // Bad input made now is refused now, with the code it always gets.
    let wrong = json!({"key_id": key_id, "plain_text": "00", "datakey_plain_length": "32"});
    assert_eq!(
        now(&kms, Operation::EncryptDatakey, &wrong),
        Some(Err("KMS.2104".into()))
    );
    assert_eq!(
        parsed(kms.call_json(Operation::EncryptDatakey, &wrong.to_string())),
        Err("KMS.2104".into())
    );
}

/// The most change-feed reads the engine's reader makes in `elapsed`: one each quarter of
/// the default 1 s bound, one more for the read under way.
fn feed_reads_within(elapsed: Duration) -> usize {
    usize::try_from(elapsed.as_millis() / 250 + 2).unwrap()
}

#[test]
fn a_state_change_hands_the_next_call_back_and_is_honoured_there() {
    let Set {
        kms, key_id, seal, ..
    } = set_up(KmsConfig::default());
    call(&kms, Operation::EncryptDatakey, &seal).unwrap();
    assert!(matches!(
        now(&kms, Operation::EncryptDatakey, &seal),
        Some(Ok(_))
    ));

    call(&kms, Operation::DisableKey, &json!({"key_id": key_id})).unwrap();
    assert_eq!(now(&kms, Operation::EncryptDatakey, &seal), None);
    assert_eq!(
        parsed(kms.call_json(Operation::EncryptDatakey, &seal.to_string())),
        Err("KMS.0209".into())
    );
    // Disabled keys are not cached: every later call is handed back too.
    assert_eq!(now(&kms, Operation::EncryptDatakey, &seal), None);
}

#[test]
fn a_lease_run_dry_hands_the_call_back_and_the_bound_still_holds() {
    let Set {
        kms, seal: body, ..
    } = set_up(KmsConfig {
        encryption_lease: 1,
        max_encryptions_per_key: 5,
        ..KmsConfig::default()
    });
    let mut sealed = 0;
    let mut handed_back = 0;
    for _ in 0..20 {
        match now(&kms, Operation::EncryptDatakey, &body) {
            Some(outcome) => {
                outcome.unwrap();
                sealed += 1;
            }
            None => {
                handed_back += 1;
                match parsed(kms.call_json(Operation::EncryptDatakey, &body.to_string())) {
                    Ok(_) => sealed += 1,
                    Err(code) => assert_eq!(code, "KMS.9003"),
                }
            }
        }
    }
    // A lease of one encryption: every seal needs the store, so none is made now.
    assert_eq!((sealed, handed_back), (5, 20));
}

#[test]
fn a_cache_the_store_cannot_confirm_is_not_used_now() {
    let Set {
        store,
        kms,
        seal: body,
        ..
    } = set_up(KmsConfig {
        coherence_bound: Duration::from_millis(100),
        ..KmsConfig::default()
    });
    call(&kms, Operation::EncryptDatakey, &body).unwrap();
    store.down.store(true, Ordering::SeqCst);
    // Past the bound the cache is unconfirmed: the call is handed back, never answered
    // from the stale cache, and where waiting is allowed it fails closed.
    let started = Instant::now();
    while now(&kms, Operation::EncryptDatakey, &body).is_some() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still answered now"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(
        parsed(kms.call_json(Operation::EncryptDatakey, &body.to_string())),
        Err("KMS.0102".into())
    );
    // Once the store is back, the next call made where waiting is allowed confirms the
    // cache, and calls run now again.
    store.down.store(false, Ordering::SeqCst);
    let started = Instant::now();
    while parsed(kms.call_json(Operation::EncryptDatakey, &body.to_string())).is_err() {
        assert!(started.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(matches!(
        now(&kms, Operation::EncryptDatakey, &body),
        Some(Ok(_))
    ));
}

#[test]
fn operations_that_are_not_quick_are_never_run_now() {
    let Set {
        store, kms, key_id, ..
    } = set_up(KmsConfig::default());
    let before = store.calls();
    for (operation, body) in [
        (Operation::CreateKey, json!({"key_alias": "never-made"})),
        (Operation::DescribeKey, json!({"key_id": key_id})),
        (Operation::ListKeys, json!({})),
        (
            Operation::CreateEcDatakeyPair,
            json!({"key_id": key_id, "key_spec": "ECC_NIST_P256"}),
        ),
        (Operation::DisableKey, json!({"key_id": key_id})),
    ] {
        assert!(!operation.is_quick(), "{operation:?}");
        assert_eq!(now(&kms, operation, &body), None, "{operation:?}");
    }
    assert_eq!(store.calls(), before);
    let keys = call(&kms, Operation::ListKeys, &json!({})).unwrap();
    assert_eq!(keys["total"], 1);
    assert_eq!(
        call(&kms, Operation::DescribeKey, &json!({"key_id": key_id})).unwrap()["key_info"]["key_state"],
        "2"
    );
}

#[test]
fn a_backend_that_may_wait_never_runs_calls_now() {
    let backend = InstrumentedBackend::new();
    assert!(!kms_core::Backend::never_waits(backend.as_ref()));
    let kms = Kms::with_config(
        backend,
        Arc::new(kms_core::MemoryStore::new()),
        KmsConfig {
            wrapping_key_pool_size: 0,
            ..KmsConfig::default()
        },
    );
    let key_id = create_key(&kms, "AES_256");
    let body = encrypt_body(&key_id, &random_bytes(32));
    call(&kms, Operation::EncryptDatakey, &body).unwrap();
    assert_eq!(now(&kms, Operation::EncryptDatakey, &body), None);
    assert_eq!(
        now(
            &kms,
            Operation::GenRandom,
            &json!({"random_data_length": "32"})
        ),
        None
    );
}
