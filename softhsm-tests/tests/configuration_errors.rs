//! About SoftHSM2 only (the errors are the backend's, the token is the one to hand).
//!
//! A wrong PIN, a missing module and an unknown token label each give a clear error. In a
//! process of their own: the wrong PIN must be the only login this process tries.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests report failure by panicking"
)]

use kms_core::SecretString;
use kms_pkcs11::{Pkcs11Backend, Pkcs11Config, TokenSelector};
use softhsm_tests::{label, module};

fn open_error(config: Pkcs11Config) -> String {
    match Pkcs11Backend::open(config) {
        Ok(_) => panic!("the backend opened"),
        Err(error) => {
            assert_eq!(error.code(), "KMS.0103");
            error.to_string()
        }
    }
}

#[test]
fn a_wrong_pin_is_a_clear_error() {
    let config = Pkcs11Config::new(
        module(),
        TokenSelector::Label(label()),
        SecretString::from("not-the-pin"),
    );
    let message = open_error(config);
    assert!(message.contains("the PIN is wrong"), "{message}");
    assert!(
        !message.contains("not-the-pin"),
        "the PIN leaked: {message}"
    );
}

#[test]
fn a_missing_module_is_a_clear_error() {
    let config = Pkcs11Config::new(
        "/nonexistent/libpkcs11.so",
        TokenSelector::Label(label()),
        SecretString::from("1234"),
    );
    let message = open_error(config);
    assert!(
        message.contains("/nonexistent/libpkcs11.so does not exist"),
        "{message}"
    );
}

#[test]
fn an_unknown_token_label_is_a_clear_error_listing_the_tokens() {
    let config = Pkcs11Config::new(
        module(),
        TokenSelector::Label("no-such-token".into()),
        SecretString::from("1234"),
    );
    let message = open_error(config);
    assert!(message.contains("no token 'no-such-token'"), "{message}");
    assert!(message.contains(&label()), "{message}");
}
