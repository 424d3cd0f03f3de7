//! About SoftHSM2 only (the token-neutral checks are in `conformance.rs`).
//!
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

use kms_core::{Operation, decode_base64, decode_hex, encode_hex};
use pkcs8::{DecodePrivateKey, DecodePublicKey};
use serde_json::json;
use softhsm_tests::{
    SESSION_POOL_SIZE, assert_sm4_and_sm2_refused, backend, call, create_key, decrypt, encrypt,
    engine, label,
};

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
    let token = format!("token '{}'", label());
    let (sm4, sm2) = assert_sm4_and_sm2_refused(&engine());
    assert!(sm4.contains(&token), "{sm4}");
    assert!(sm2.contains(&token), "{sm2}");
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
