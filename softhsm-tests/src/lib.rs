//! kms-engine against a real SoftHSM2 token. The tests live in `tests/`; this library
//! holds their fixture: the backend on the token `.ci/test` makes for each run (a private
//! SoftHSM2 config and token directory in a temp dir, `softhsm2-util --init-token`).
#![forbid(unsafe_code)]
#![allow(clippy::panic, reason = "a test fixture reports failure by panicking")]

use std::sync::{Arc, OnceLock};

use kms_core::{Kms, KmsConfig, MemoryStore};
use kms_pkcs11::{Pkcs11Backend, Pkcs11Config, TokenSelector};

/// The session pool size of the test backend.
pub const SESSION_POOL_SIZE: usize = 4;

/// The PKCS#11 module: `$KMS_PKCS11_MODULE`, else Debian's SoftHSM2.
#[must_use]
pub fn module() -> String {
    assert!(
        std::env::var_os("SOFTHSM2_CONF").is_some(),
        "SOFTHSM2_CONF is not set: run these tests through .ci/test, which makes a SoftHSM2 token for them"
    );
    std::env::var("KMS_PKCS11_MODULE").unwrap_or_else(|_| "/usr/lib/softhsm/libsofthsm2.so".into())
}

/// The test token's label: `$KMS_TEST_PKCS11_LABEL`, else `kms-test`.
#[must_use]
pub fn label() -> String {
    std::env::var("KMS_TEST_PKCS11_LABEL").unwrap_or_else(|_| "kms-test".into())
}

/// The backend on the test token, one per process (one PKCS#11 context per process).
#[must_use]
pub fn backend() -> Arc<Pkcs11Backend> {
    static BACKEND: OnceLock<Arc<Pkcs11Backend>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let pin = Pkcs11Config::pin_from_env("KMS_PKCS11_PIN")
                .unwrap_or_else(|error| panic!("{error}"));
            let mut config = Pkcs11Config::new(module(), TokenSelector::Label(label()), pin);
            config.session_pool_size = SESSION_POOL_SIZE;
            Arc::new(Pkcs11Backend::open(config).unwrap_or_else(|error| panic!("{error}")))
        })
        .clone()
}

/// An engine over the test backend and an in-memory store.
#[must_use]
pub fn engine() -> Kms {
    Kms::with_config(
        backend(),
        Arc::new(MemoryStore::new()),
        KmsConfig {
            wrapping_key_pool_size: 0,
            ..KmsConfig::default()
        },
    )
}
