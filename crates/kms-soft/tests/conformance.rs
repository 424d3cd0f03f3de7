//! The backend conformance suite on the soft backend.
#![allow(clippy::panic, reason = "tests report failure by panicking")]

use std::sync::Arc;

use kms_core::{Kms, KmsConfig, MemoryStore};
use kms_soft::{RootKey, SoftBackend};

fn engine() -> Kms {
    let root_key = RootKey::generate().unwrap_or_else(|error| panic!("{error}"));
    Kms::with_config(
        Arc::new(SoftBackend::new(root_key)),
        Arc::new(MemoryStore::new()),
        KmsConfig {
            wrapping_key_pool_size: 0,
            ..KmsConfig::default()
        },
    )
}

kms_core::conformance_tests!(engine());
