//! About SoftHSM2 only (Kryoptic's import is in `kryoptic.rs` and `cross_token.rs`).
//!
//! Import into the SoftHSM2 token: C_UnwrapKey with OAEP-SHA-1 and the composed
//! RSA_AES_KEY_WRAP_SHA_1, OAEP-SHA-256 refused up front, one opaque error for bad
//! material, and the same material giving interchangeable blobs on both backends.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests report failure by panicking"
)]

use std::sync::Arc;

use aes_kw::{KeyInit, KwpAes256};
use cryptoki::object::Attribute;
use getrandom::SysRng;
use kms_core::{Kms, KmsConfig, MemoryStore, Operation, encode_hex};
use kms_soft::{RootKey, SoftBackend};
use rsa::Oaep;
use serde_json::json;
use sha1::Sha1;
use softhsm_tests::{
    ROUND_TRIP_DEK, assert_cmk_policy, backend, call, cmk_objects_of, engine, engine_awaiting,
    external_key, import, import_parameters, round_trip,
};

fn oaep_sha1(public: &rsa::PublicKey, message: &[u8]) -> Vec<u8> {
    public
        .encrypt(&mut SysRng, Oaep::<Sha1>::new(), message)
        .unwrap()
}

/// RSA_AES_KEY_WRAP_SHA_1 as a client makes it: OAEP-SHA-1 of a fresh AES-256 key, then
/// AES-KWP of the material under it.
fn rsa_aes_key_wrap_sha1(public: &rsa::PublicKey, material: &[u8]) -> Vec<u8> {
    let mut temporary_key = [0u8; 32];
    getrandom::fill(&mut temporary_key).unwrap();
    let mut buffer = vec![0u8; material.len() + 16];
    let kwp = KwpAes256::new_from_slice(&temporary_key).unwrap();
    let kwp_part = kwp.wrap_key(material, &mut buffer).unwrap().to_vec();
    [oaep_sha1(public, &temporary_key), kwp_part].concat()
}

/// Wraps material to the token's RSA public key, one way or another.
type Wrapper = Box<dyn Fn(&rsa::PublicKey) -> Vec<u8>>;

#[test]
fn oaep_sha1_material_is_unwrapped_inside_the_token_into_a_locked_down_cmk() {
    let kms = engine();
    let key_id = external_key(&kms);
    let (token, public) = import_parameters(&kms, &key_id, "RSAES_OAEP_SHA_1").unwrap();
    import(&kms, &key_id, &token, &oaep_sha1(&public, &[0xA1; 32])).unwrap();
    round_trip(&kms, &key_id);
    // (SoftHSM2 leaves CKA_VALUE_LEN of unwrapped keys at 0; the import measured the key.)
    assert_cmk_policy(&backend(), &key_id);
}

#[test]
fn rsa_aes_key_wrap_sha1_is_composed_inside_the_token() {
    let kms = engine();
    let key_id = external_key(&kms);
    let (token, public) = import_parameters(&kms, &key_id, "RSA_AES_KEY_WRAP_SHA_1").unwrap();
    import(
        &kms,
        &key_id,
        &token,
        &rsa_aes_key_wrap_sha1(&public, &[0xB2; 32]),
    )
    .unwrap();
    round_trip(&kms, &key_id);
}

#[test]
fn an_aes_128_temporary_key_imports_too() {
    // Its length is measured inside the token, never extracted (kms-pkcs11's `measure`).
    let kms = engine();
    let key_id = external_key(&kms);
    let (token, public) = import_parameters(&kms, &key_id, "RSA_AES_KEY_WRAP_SHA_1").unwrap();
    let temporary_key = [0x17u8; 16];
    let mut buffer = [0u8; 40];
    let kwp_part = aes_kw::KwpAes128::new_from_slice(&temporary_key)
        .unwrap()
        .wrap_key(&[0xB3; 32], &mut buffer)
        .unwrap()
        .to_vec();
    let wrapped = [oaep_sha1(&public, &temporary_key), kwp_part].concat();
    import(&kms, &key_id, &token, &wrapped).unwrap();
    round_trip(&kms, &key_id);
}

#[test]
fn the_wrapping_key_is_destroyed_once_its_token_is_used() {
    let kms = engine();
    let key_id = external_key(&kms);
    let (token, public) = import_parameters(&kms, &key_id, "RSAES_OAEP_SHA_1").unwrap();
    let modulus = Attribute::Modulus(rsa::traits::PublicKeyParts::n_bytes(&public).to_vec());
    let wrapping_objects = || {
        let backend = backend();
        let session = backend.session_pool().get().unwrap();
        session
            .find_objects(std::slice::from_ref(&modulus))
            .unwrap()
            .len()
    };
    assert_eq!(
        wrapping_objects(),
        2,
        "the wrapping key pair is in the token"
    );
    let _ = import(&kms, &key_id, &token, &oaep_sha1(&public, &[0xC3; 31])).unwrap_err();
    assert_eq!(
        wrapping_objects(),
        0,
        "a wrapping key was left in the token"
    );
    assert_eq!(
        cmk_objects_of(&key_id),
        0,
        "a refused CMK was left in the token"
    );
}

#[test]
fn oaep_sha256_fails_closed_naming_the_mechanism_and_the_token() {
    let kms = engine();
    let key_id = external_key(&kms);
    for algorithm in [
        "RSAES_OAEP_SHA_256",
        "RSA_AES_KEY_WRAP_SHA_256",
        "SM2_ENCRYPT",
    ] {
        let err = call(
            &kms,
            Operation::GetParametersForImport,
            &json!({"key_id": key_id, "wrapping_algorithm": algorithm}),
        )
        .unwrap_err();
        assert_eq!(err.code(), "KMS.9002", "{algorithm}");
        assert!(err.to_string().contains("token '"), "{err}");
    }
    let err = call(
        &kms,
        Operation::GetParametersForImport,
        &json!({"key_id": key_id}),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("CKM_RSA_PKCS_OAEP with SHA-256"),
        "{err}"
    );
}

#[test]
fn bad_material_gives_the_one_opaque_error_and_the_key_stays_pending_import() {
    let kms = engine();
    let key_id = external_key(&kms);
    let cases: Vec<(&str, &str, Wrapper)> = vec![
        (
            "31 bytes",
            "RSAES_OAEP_SHA_1",
            Box::new(|public| oaep_sha1(public, &[1; 31])),
        ),
        (
            "16 bytes",
            "RSAES_OAEP_SHA_1",
            Box::new(|public| oaep_sha1(public, &[1; 16])),
        ),
        (
            "24 bytes",
            "RSAES_OAEP_SHA_1",
            Box::new(|public| oaep_sha1(public, &[1; 24])),
        ),
        (
            "33 bytes",
            "RSAES_OAEP_SHA_1",
            Box::new(|public| oaep_sha1(public, &[1; 33])),
        ),
        (
            "a 24-byte temporary key",
            "RSA_AES_KEY_WRAP_SHA_1",
            Box::new(|public| {
                let mut buffer = [0u8; 48];
                let kwp = aes_kw::KwpAes192::new_from_slice(&[7; 24]).unwrap();
                let kwp_part = kwp.wrap_key(&[1; 32], &mut buffer).unwrap().to_vec();
                [oaep_sha1(public, &[7; 24]), kwp_part].concat()
            }),
        ),
        (
            "OAEP with SHA-256",
            "RSAES_OAEP_SHA_1",
            Box::new(|public| {
                public
                    .encrypt(&mut SysRng, Oaep::<sha2::Sha256>::new(), &[1; 32])
                    .unwrap()
            }),
        ),
        ("garbage", "RSAES_OAEP_SHA_1", Box::new(|_| vec![0x42; 256])),
        (
            "truncated",
            "RSAES_OAEP_SHA_1",
            Box::new(|public| oaep_sha1(public, &[1; 32])[..255].to_vec()),
        ),
    ];
    for (name, algorithm, wrap) in cases {
        let (token, public) = import_parameters(&kms, &key_id, algorithm).unwrap();
        let err = match import(&kms, &key_id, &token, &wrap(&public)) {
            Ok(response) => panic!("{name} imported: {response}"),
            Err(err) => err,
        };
        assert_eq!(
            (err.code(), err.to_string().as_str()),
            (
                "KMS.0311",
                "Failed to decrypt the key material with the wrapping key."
            ),
            "{name}"
        );
        let described = call(&kms, Operation::DescribeKey, &json!({"key_id": key_id})).unwrap();
        assert_eq!(described["key_info"]["key_state"], "5", "{name}");
    }
}

#[test]
fn the_same_material_in_a_soft_and_a_pkcs11_cmk_opens_each_others_blobs() {
    let soft = Kms::with_config(
        Arc::new(SoftBackend::new(RootKey::generate().unwrap())),
        Arc::new(MemoryStore::new()),
        KmsConfig {
            wrapping_key_pool_size: 0,
            ..KmsConfig::default()
        },
    );
    let key_id = external_key(&soft);
    // The same key ID in the PKCS#11 engine's store, waiting for the same material.
    let hsm = engine_awaiting(backend(), &key_id);
    let material = [0x5Eu8; 32];

    let (token, public) = import_parameters(&soft, &key_id, "RSA_AES_KEY_WRAP_SHA_1").unwrap();
    import(
        &soft,
        &key_id,
        &token,
        &rsa_aes_key_wrap_sha1(&public, &material),
    )
    .unwrap();
    let (token, public) = import_parameters(&hsm, &key_id, "RSAES_OAEP_SHA_1").unwrap();
    import(&hsm, &key_id, &token, &oaep_sha1(&public, &material)).unwrap();

    for (sealer, opener) in [(&soft, &hsm), (&hsm, &soft)] {
        let cipher_text = round_trip(sealer, &key_id);
        let opened = call(
            opener,
            Operation::DecryptDatakey,
            &json!({"key_id": key_id, "cipher_text": cipher_text, "datakey_cipher_length": "32"}),
        )
        .unwrap();
        assert_eq!(opened["data_key"], encode_hex(&ROUND_TRIP_DEK));
    }
}

#[test]
fn engines_with_their_own_stores_never_share_an_import_token_key() {
    let (first, second) = (engine(), engine());
    let first_key = external_key(&first);
    let second_key = external_key(&second);
    import_parameters(&first, &first_key, "RSAES_OAEP_SHA_1").unwrap();
    let (token, public) = import_parameters(&second, &second_key, "RSAES_OAEP_SHA_1").unwrap();
    // Tearing the first engine down destroys its token key, and only its own.
    first.destroy_all_keys().unwrap();
    import(
        &second,
        &second_key,
        &token,
        &oaep_sha1(&public, &ROUND_TRIP_DEK),
    )
    .unwrap();
    round_trip(&second, &second_key);
}
