//! About SoftHSM2 only (it needs a token that logs the application out on demand).
//!
//! A token that logs the application out: the pool replaces its sessions and the
//! operation succeeds. In a process of its own, since a logout ends the login of every
//! session of the process.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests report failure by panicking"
)]

use kms_core::encode_hex;
use softhsm_tests::{backend, create_key, decrypt, encrypt, engine};

#[test]
fn sessions_the_token_logged_out_are_replaced_and_the_operation_succeeds() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let cipher_text = encrypt(&kms, &key_id, &[4; 32], "relogin");
    {
        // Logging out ends the login of every session of this application.
        let backend = backend();
        let session = backend.session_pool().get().unwrap();
        session.logout().unwrap();
    }
    let opened = decrypt(&kms, &key_id, &cipher_text, 32, "relogin").unwrap();
    assert_eq!(opened["data_key"], encode_hex(&[4; 32]));
    encrypt(&kms, &key_id, &[5; 32], "relogin");
}
