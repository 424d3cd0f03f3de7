//! Set-up shared by the benchmarks in `benches/`: a soft engine over an in-memory store, and
//! the raw primitives' fixed CMK.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark set-up fails loudly"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kms_core::models::CreateKeyRequest;
use kms_core::{CmkSpec, Kms, KmsConfig, MemoryStore, SecretBytes};
use kms_soft::{RootKey, SoftBackend, SoftCmk};

/// AAD every benchmark request binds, and the raw seals use.
pub const BENCH_AAD: &str = "bench";

/// A soft engine over an in-memory store, keeping `wrapping_key_pool_size` RSA wrapping
/// keys ready per spec.
#[must_use]
pub fn soft_engine(wrapping_key_pool_size: usize) -> Kms {
    Kms::with_config(
        Arc::new(SoftBackend::new(RootKey::generate().unwrap())),
        Arc::new(MemoryStore::new()),
        KmsConfig {
            wrapping_key_pool_size,
            ..KmsConfig::default()
        },
    )
}

/// Creates a CMK of `spec` (`origin` external when `external`) and returns its ID.
#[must_use]
pub fn create_key(kms: &Kms, spec: CmkSpec, external: bool) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let request = CreateKeyRequest {
        key_alias: Some(format!(
            "bench-{}-{}",
            spec.as_str(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )),
        key_spec: Some(spec.as_str().into()),
        origin: external.then(|| "external".into()),
        ..CreateKeyRequest::default()
    };
    kms.create_key(kms.default_tenant(), &request)
        .unwrap()
        .key_info
        .key_id
}

/// The raw primitives' CMK of `spec`: the AEAD the soft backend uses, with a fixed key.
#[must_use]
pub fn raw_cmk(spec: CmkSpec) -> SoftCmk {
    SoftCmk::new(spec, &SecretBytes::new(vec![7; spec.material_len()])).unwrap()
}

/// Raw sealing of a private key as the engine does it: AEAD in place under `cmk`.
pub fn raw_seal(cmk: &SoftCmk, mut plaintext: Vec<u8>) -> (Vec<u8>, [u8; 16]) {
    use kms_core::CmkHandle;
    let tag = cmk
        .seal_in_place(&[1; 12], BENCH_AAD.as_bytes(), &mut plaintext)
        .unwrap();
    (plaintext, tag)
}
