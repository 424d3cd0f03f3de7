//! Token-neutral (every test token): dropping an engine stops its wrapping-key pool and
//! waits for it, so no pooled key is left in the token. (The only test of this binary on
//! each token, so the token's object count is not changed by another test meanwhile.)
#![allow(clippy::unwrap_used, reason = "tests report failure by panicking")]

use std::sync::Arc;
use std::time::Duration;

use kms_core::{Kms, KmsConfig, MemoryStore, WrappingKeySpec};
use softhsm_tests::{Token, on_each_token};

on_each_token!(dropping_the_engine_destroys_every_pooled_wrapping_key_before_it_returns);

fn dropping_the_engine_destroys_every_pooled_wrapping_key_before_it_returns(token: Token) {
    let before = token.objects();
    let kms = Kms::with_config(
        token.backend(),
        Arc::new(MemoryStore::new()),
        KmsConfig {
            wrapping_key_pool_size: 1,
            ..KmsConfig::default()
        },
    );
    // Once an RSA_2048 key is ready the refill thread goes on with RSA_3072 and RSA_4096:
    // the drop below most likely finds it inside the token's key generation.
    assert!(
        kms.wait_for_wrapping_key(WrappingKeySpec::Rsa2048, Duration::from_secs(120)),
        "the pool never filled"
    );
    assert!(token.objects() > before);
    drop(kms);
    assert_eq!(token.objects(), before);
}
