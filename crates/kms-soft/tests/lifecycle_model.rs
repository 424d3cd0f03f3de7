//! The stateful lifecycle model check on the soft backend, over both stores: random
//! sequences of operations (with expiry, deletion, purge and two operations at once)
//! answer and store exactly as the documented state machine says.
#![allow(clippy::panic, reason = "tests report failure by panicking")]

use std::sync::Arc;

use kms_core::lifecycle_model::LifecycleModel;
use kms_core::{
    Backend, KeyStore, Kms, KmsConfig, ManualClock, MemoryStore, SecretBytes, WrappingAlgorithm,
};
use kms_soft::{RootKey, SoftBackend};
use kms_store::SqliteStore;

/// SM2 wrapping: its keys generate in microseconds, so thousands of sequences can import.
fn wrap_sm2(public_key: &[u8], material: &[u8]) -> Vec<u8> {
    let backend = SoftBackend::new(RootKey::generate().unwrap_or_else(|e| panic!("{e}")));
    backend
        .wrap_for_recipient(
            public_key,
            WrappingAlgorithm::Sm2Encrypt,
            &SecretBytes::new(material.to_vec()),
        )
        .unwrap_or_else(|e| panic!("wrapping for import: {e}"))
}

fn engine_over(store: Arc<dyn KeyStore>, clock: Arc<ManualClock>) -> (Kms, Arc<dyn KeyStore>) {
    let backend = SoftBackend::new(RootKey::generate().unwrap_or_else(|e| panic!("{e}")));
    let config = KmsConfig {
        wrapping_key_pool_size: 0,
        clock,
        ..KmsConfig::default()
    };
    (
        Kms::with_config(Arc::new(backend), Arc::clone(&store), config),
        store,
    )
}

#[test]
fn the_engine_follows_the_lifecycle_model_on_a_memory_store() {
    LifecycleModel {
        cases: 3000,
        max_steps: 40,
        wrapping_algorithm: "SM2_ENCRYPT",
        wrap: &wrap_sm2,
        engine: &|clock| engine_over(Arc::new(MemoryStore::new()), clock),
    }
    .check();
}

#[test]
fn the_engine_follows_the_lifecycle_model_on_a_sqlite_store() {
    let dir = std::env::temp_dir().join(format!("kms-lifecycle-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let sequence = std::sync::atomic::AtomicUsize::new(0);
    LifecycleModel {
        cases: 150,
        max_steps: 40,
        wrapping_algorithm: "SM2_ENCRYPT",
        wrap: &wrap_sm2,
        engine: &|clock| {
            let n = sequence.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let store = SqliteStore::open(dir.join(format!("keys-{n}.db")))
                .unwrap_or_else(|e| panic!("{e}"));
            engine_over(Arc::new(store), clock)
        },
    }
    .check();
    std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
}
