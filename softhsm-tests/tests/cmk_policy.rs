//! Token-neutral (every test token): every CMK is a sensitive, never-extractable token
//! object that encrypts and decrypts only. In a process of its own: it creates token
//! objects outside the engine.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests report failure by panicking"
)]

use cryptoki::error::{Error, RvError};
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use softhsm_tests::{Token, assert_cmk_policy, create_key, on_each_token, wrap_out};

on_each_token!(every_cmk_is_sensitive_never_extractable_and_cannot_wrap_or_be_read);

fn every_cmk_is_sensitive_never_extractable_and_cannot_wrap_or_be_read(token: Token) {
    let kms = token.engine();
    let key_id = create_key(&kms, "AES_256");
    let backend = token.backend();
    let session = backend.session_pool().get().unwrap();
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::Id(key_id.as_bytes().to_vec()),
    ];
    let handles = session.find_objects(&template).unwrap();
    assert_eq!(handles.len(), 1);
    let cmk = handles[0];
    assert_cmk_policy(&backend, &key_id);
    // Generated in the token, it never was extractable.
    assert_eq!(
        session
            .get_attributes(cmk, &[AttributeType::NeverExtractable])
            .unwrap(),
        vec![Attribute::NeverExtractable(true)]
    );
    // Its value cannot be read...
    match session.get_attributes(cmk, &[AttributeType::Value]) {
        Err(Error::Pkcs11(RvError::AttributeSensitive, _)) => {}
        Ok(values) => assert!(
            !values
                .iter()
                .any(|value| matches!(value, Attribute::Value(_))),
            "CKA_VALUE of a CMK was readable"
        ),
        Err(other) => panic!("unexpected {other}"),
    }
    // ...and it cannot be wrapped out under another key.
    let wrapped = wrap_out(&session, cmk);
    assert!(wrapped.is_err(), "C_WrapKey of a CMK succeeded");
}
