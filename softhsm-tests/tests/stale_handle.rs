//! Token-neutral (every test token): a CMK object replaced behind the engine's back is found again by CKA_ID. In a process
//! of its own: it creates token objects outside the engine.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests report failure by panicking"
)]

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use kms_core::encode_hex;
use softhsm_tests::{Token, create_key, decrypt, encrypt, on_each_token};

on_each_token!(a_stale_object_handle_is_looked_up_again_by_cka_id);

fn a_stale_object_handle_is_looked_up_again_by_cka_id(token: Token) {
    let kms = token.engine();
    let key_id = create_key(&kms, "AES_256");
    let old_blob = encrypt(&kms, &key_id, &[6; 32], "stale");
    {
        // Replace the CMK object behind the engine's back: same CKA_ID, new key, new handle.
        let backend = token.backend();
        let session = backend.session_pool().get().unwrap();
        let id = Attribute::Id(key_id.as_bytes().to_vec());
        let old = session
            .find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY), id.clone()])
            .unwrap();
        for handle in &old {
            session.destroy_object(*handle).unwrap();
        }
        let new = session
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::ValueLen(32u64.into()),
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Encrypt(true),
                    Attribute::Decrypt(true),
                    id,
                ],
            )
            .unwrap();
        assert!(
            !old.contains(&new),
            "the token reused the handle: this test would prove nothing"
        );
        assert!(
            !old.contains(&new),
            "the token reused the handle: this test would prove nothing"
        );
    }
    // The engine finds the new object and uses it; the old blob was under the old key.
    let new_blob = encrypt(&kms, &key_id, &[7; 32], "stale");
    assert_eq!(
        decrypt(&kms, &key_id, &new_blob, 32, "stale").unwrap()["data_key"],
        encode_hex(&[7; 32])
    );
    assert_eq!(
        decrypt(&kms, &key_id, &old_blob, 32, "stale")
            .unwrap_err()
            .code(),
        "KMS.2201"
    );
}
