//! The PKCS#11 backend against the SoftHSM2 token that `.ci/test` makes for each run
//! (a private config and token directory in a temp dir, `softhsm2-util --init-token`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests report failure by panicking"
)]

use std::sync::Arc;

use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use kms_core::{
    CmkSpec, Kms, KmsError, Operation, decode_base64, decode_hex, dek_digest, encode_hex,
};
use pkcs8::{DecodePrivateKey, DecodePublicKey};
use serde_json::{Value, json};
use softhsm_tests::{SESSION_POOL_SIZE, backend, engine, label};

fn call(kms: &Kms, operation: Operation, body: &Value) -> Result<Value, KmsError> {
    kms.call_json(operation, &body.to_string())
        .map(|response| serde_json::from_str(response.expose_secret()).unwrap())
}

fn create_key(kms: &Kms, spec: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let alias = format!(
        "hsm-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let created = call(
        kms,
        Operation::CreateKey,
        &json!({"key_alias": alias, "key_spec": spec}),
    )
    .unwrap();
    created["key_info"]["key_id"].as_str().unwrap().to_owned()
}

fn encrypt(kms: &Kms, key_id: &str, dek: &[u8], aad: &str) -> String {
    let plain_text = encode_hex(&[dek, &dek_digest(CmkSpec::Aes256, dek)].concat());
    let response = call(
        kms,
        Operation::EncryptDatakey,
        &json!({"key_id": key_id, "plain_text": plain_text, "datakey_plain_length": dek.len().to_string(),
                "additional_authenticated_data": aad}),
    )
    .unwrap();
    response["cipher_text"].as_str().unwrap().to_owned()
}

fn decrypt(
    kms: &Kms,
    key_id: &str,
    cipher_text: &str,
    len: usize,
    aad: &str,
) -> Result<Value, KmsError> {
    call(
        kms,
        Operation::DecryptDatakey,
        &json!({"key_id": key_id, "cipher_text": cipher_text, "datakey_cipher_length": len.to_string(),
                "additional_authenticated_data": aad}),
    )
}

#[test]
fn every_cmk_is_sensitive_never_extractable_and_cannot_wrap_or_be_read() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let backend = backend();
    let session = backend.session_pool().get().unwrap();
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::Id(key_id.as_bytes().to_vec()),
    ];
    let handles = session.find_objects(&template).unwrap();
    assert_eq!(handles.len(), 1);
    let cmk = handles[0];
    let attributes = session
        .get_attributes(
            cmk,
            &[
                AttributeType::Token,
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::NeverExtractable,
                AttributeType::Wrap,
                AttributeType::Unwrap,
                AttributeType::Encrypt,
                AttributeType::Decrypt,
            ],
        )
        .unwrap();
    assert_eq!(
        attributes,
        vec![
            Attribute::Token(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::NeverExtractable(true),
            Attribute::Wrap(false),
            Attribute::Unwrap(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
        ]
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
    let wrapping = session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(32u64.into()),
                Attribute::Token(false),
                Attribute::Wrap(true),
            ],
        )
        .unwrap();
    let wrapped = session.wrap_key(&Mechanism::AesKeyWrapPad, wrapping, cmk);
    assert!(wrapped.is_err(), "C_WrapKey of a CMK succeeded");
    session.destroy_object(wrapping).unwrap();
}

#[test]
fn dek_envelope_round_trips_in_the_token_and_tampering_is_the_opaque_error() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    for len in [1usize, 32, 64, 1024] {
        let dek: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let cipher_text = encrypt(&kms, &key_id, &dek, "hsm");
        let opened = decrypt(&kms, &key_id, &cipher_text, len, "hsm").unwrap();
        assert_eq!(opened["data_key"], encode_hex(&dek));
        let mut blob = decode_hex(&cipher_text).unwrap();
        let last = blob.len() - 1;
        blob[last] ^= 1;
        let err = decrypt(&kms, &key_id, &encode_hex(&blob), len, "hsm").unwrap_err();
        assert_eq!(err.code(), "KMS.2201", "{err}");
        assert_eq!(
            decrypt(&kms, &key_id, &cipher_text, len, "other")
                .unwrap_err()
                .code(),
            "KMS.2201"
        );
    }
    let created = call(
        &kms,
        Operation::CreateDatakey,
        &json!({"key_id": key_id, "key_spec": "AES_256"}),
    )
    .unwrap();
    let opened = decrypt(
        &kms,
        &key_id,
        created["cipher_text"].as_str().unwrap(),
        32,
        "",
    )
    .unwrap();
    assert_eq!(opened["data_key"], created["plain_text"]);
}

#[test]
fn ec_data_key_pairs_come_from_the_token_for_every_nist_curve_and_secp256k1() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    for spec in [
        "ECC_NIST_P256",
        "ECC_NIST_P384",
        "ECC_NIST_P521",
        "ECC_SECG_P256K1",
    ] {
        let pair = call(
            &kms,
            Operation::CreateEcDatakeyPair,
            &json!({"key_id": key_id, "key_spec": spec, "additional_authenticated_data": spec}),
        )
        .unwrap();
        let pkcs8 = decode_base64(pair["private_key_plain_text"].as_str().unwrap()).unwrap();
        let cipher_text = pair["private_key_cipher_text"].as_str().unwrap();
        let opened = decrypt(&kms, &key_id, cipher_text, pkcs8.len(), spec).unwrap();
        assert_eq!(opened["data_key"], encode_hex(&pkcs8), "{spec}");
        if spec == "ECC_NIST_P256" {
            let secret = p256::SecretKey::from_pkcs8_der(&pkcs8).unwrap();
            let spki = decode_base64(pair["public_key"].as_str().unwrap()).unwrap();
            assert_eq!(
                secret.public_key(),
                p256::PublicKey::from_public_key_der(&spki).unwrap()
            );
        }
    }
}

#[test]
fn sm4_cmks_and_sm2_pairs_are_refused_naming_the_mechanism_and_the_token() {
    let kms = engine();
    let label = label();
    let err = call(
        &kms,
        Operation::CreateKey,
        &json!({"key_alias": "hsm-sm4", "key_spec": "SM4"}),
    )
    .unwrap_err();
    assert_eq!(err.code(), "KMS.9002");
    assert!(err.to_string().contains("CKM_SM4_KEY_GEN"), "{err}");
    assert!(
        err.to_string().contains(&format!("token '{label}'")),
        "{err}"
    );
    let key_id = create_key(&kms, "AES_256");
    let err = call(
        &kms,
        Operation::CreateEcDatakeyPair,
        &json!({"key_id": key_id, "key_spec": "SM2"}),
    )
    .unwrap_err();
    assert_eq!(err.code(), "KMS.9002");
    assert!(err.to_string().contains("CKM_SM2_KEY_PAIR_GEN"), "{err}");
}

#[test]
fn four_threads_of_a_thousand_mixed_operations_have_no_errors_within_the_pool_size() {
    let kms = Arc::new(engine());
    let key_id = create_key(&kms, "AES_256");
    let errors = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for thread in 0..4u8 {
            let (kms, key_id, errors) = (&kms, &key_id, &errors);
            scope.spawn(move || {
                for i in 0..1000u32 {
                    let outcome = match i % 3 {
                        0 => {
                            let dek = [thread; 32];
                            let cipher_text = encrypt(kms, key_id, &dek, "mixed");
                            decrypt(kms, key_id, &cipher_text, 32, "mixed")
                                .map(|opened| assert_eq!(opened["data_key"], encode_hex(&dek)))
                        }
                        1 => call(
                            kms,
                            Operation::CreateDatakeyWithoutPlaintext,
                            &json!({"key_id": key_id, "datakey_length": "512"}),
                        )
                        .map(drop),
                        _ => call(
                            kms,
                            Operation::CreateDatakey,
                            &json!({"key_id": key_id, "key_spec": "AES_128"}),
                        )
                        .map(drop),
                    };
                    if outcome.is_err() {
                        errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(errors.into_inner(), 0);
    assert!(backend().session_pool().most_open() <= SESSION_POOL_SIZE);
}
