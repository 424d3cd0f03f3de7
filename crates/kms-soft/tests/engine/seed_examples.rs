//! The seeds' "Example Requests", byte for byte, through the engine.

use std::sync::Arc;

use crate::common::hex;
use base64ct::{Base64, Encoding};
use kms_core::models::{CreateEcDatakeyPairRequest, EncryptDatakeyRequest};
use kms_core::{
    Backend, CmkSpec, KeyId, KeyOrigin, KeyRecord, KeyState, KeyStore, KeyUsage, Kms, MemoryStore,
    Operation,
};
use kms_soft::{RootKey, SoftBackend};
use pkcs8::{DecodePrivateKey, DecodePublicKey};

/// The key ID every seed example uses.
const SEED_KEY_ID: &str = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";

/// create-ec-datakey-pair, "Example Requests" of the older page.
const EC_PAIR_OLDER: &str = r#"{ "key_id" : "0d0466b0-e727-4d9c-b35d-f84bb474a37f", "key_spec" : "ECC_NIST_P256", "with_plain_text" : true, "additional_authenticated_data" : "aad", "sequence" : "sequence" }"#;

/// create-ec-datakey-pair, "Example Requests" of the 2026 page.
const EC_PAIR_2026: &str = r#"{
  "key_id" : "0d0466b0-e727-4d9c-b35d-f84bb474a37f",
  "key_spec" : "ECC_NIST_P256",
  "with_plain_text" : true,
  "additional_authenticated_data" : "aad",
  "sequence" : "sequence"
}"#;

/// encrypt-datakey, "Example Requests".
const ENCRYPT_DATAKEY: &str = r#"{
"key_id" : "0d0466b0-e727-4d9c-b35d-f84bb474a37f",
"plain_text" : "7549d9aea901767bf3c0b3e14b10722eaf6f59053bbd82045d04e075e809a0fe6ccab48f8e5efe74e4b18ff0512525e527b10331100f357bf42125d8d5ced94ffbc8ac72b0785ca7fe33eb6776ce3990b11e32b299d9c0a9ee0305fb9540f797",
"datakey_plain_length" : "64",
"additional_authenticated_data" : "123aad"
}"#;

/// An engine holding an AES_256 CMK with the seeds' key ID.
fn engine_with_seed_key() -> Kms {
    let backend = Arc::new(SoftBackend::new(RootKey::generate().unwrap()));
    let store = Arc::new(MemoryStore::new());
    let key_id = KeyId::parse(SEED_KEY_ID).unwrap();
    store
        .insert_key(&KeyRecord {
            key_id,
            alias: "seed".into(),
            description: String::new(),
            spec: CmkSpec::Aes256,
            usage: KeyUsage::EncryptDecrypt,
            origin: KeyOrigin::Kms,
            state: KeyState::Enabled,
            created_ms: 0,
            scheduled_deletion_ms: None,
            generation: 0,
            key_blob: Some(backend.generate_cmk(&key_id, CmkSpec::Aes256).unwrap()),
            material_expiry_ms: None,
            material_fingerprint: None,
        })
        .unwrap();
    Kms::new(backend, store)
}

#[test]
fn seed_create_ec_datakey_pair_examples_deserialize_unchanged() {
    for example in [EC_PAIR_OLDER, EC_PAIR_2026] {
        let request: CreateEcDatakeyPairRequest = kms_core::parse(example).unwrap();
        assert_eq!(request.key_id.as_deref(), Some(SEED_KEY_ID));
        assert_eq!(request.key_spec.as_deref(), Some("ECC_NIST_P256"));
        assert_eq!(request.with_plain_text, Some(true));
        assert_eq!(
            request.additional_authenticated_data.as_deref(),
            Some("aad")
        );
        assert_eq!(request.sequence.as_deref(), Some("sequence"));
    }
}

#[test]
fn seed_create_ec_datakey_pair_examples_work_unchanged() {
    let kms = engine_with_seed_key();
    for example in [EC_PAIR_OLDER, EC_PAIR_2026] {
        let response = kms
            .call_json(Operation::CreateEcDatakeyPair, example)
            .unwrap();
        let response: serde_json::Value = serde_json::from_str(response.expose_secret()).unwrap();
        assert_eq!(response["key_id"], SEED_KEY_ID);
        assert_eq!(response["key_spec"], "ECC_NIST_P256");
        let pkcs8 =
            Base64::decode_vec(response["private_key_plain_text"].as_str().unwrap()).unwrap();
        let spki = Base64::decode_vec(response["public_key"].as_str().unwrap()).unwrap();
        let secret = p256::SecretKey::from_pkcs8_der(&pkcs8).unwrap();
        assert_eq!(
            secret.public_key(),
            p256::PublicKey::from_public_key_der(&spki).unwrap()
        );
        // The sealed private key opens, with the example's AAD, to the same PKCS#8 bytes.
        let opened = crate::common::decrypt(
            &kms,
            SEED_KEY_ID,
            response["private_key_cipher_text"].as_str().unwrap(),
            pkcs8.len(),
            "aad",
        )
        .unwrap();
        assert_eq!(opened["data_key"], hex(&pkcs8));
    }
}

#[test]
fn a_seed_example_with_an_empty_or_37_byte_sequence_is_refused_with_kms_0206() {
    let kms = engine_with_seed_key();
    for sequence in ["", "919c82d4-8046-4722-9094-35c3c6524cff0"] {
        let request = EC_PAIR_2026.replace(
            r#""sequence" : "sequence""#,
            &format!(r#""sequence" : "{sequence}""#),
        );
        let err = kms
            .call_json(Operation::CreateEcDatakeyPair, &request)
            .unwrap_err();
        assert_eq!(err.code(), "KMS.0206", "{sequence:?}");
    }
}

#[test]
fn seed_encrypt_datakey_example_deserializes_and_encrypts_unchanged() {
    let request: EncryptDatakeyRequest = kms_core::parse(ENCRYPT_DATAKEY).unwrap();
    assert_eq!(request.datakey_plain_length.as_deref(), Some("64"));

    let kms = engine_with_seed_key();
    let response = kms
        .call_json(Operation::EncryptDatakey, ENCRYPT_DATAKEY)
        .unwrap();
    let response: serde_json::Value = serde_json::from_str(response.expose_secret()).unwrap();
    assert_eq!(response["key_id"], SEED_KEY_ID);
    assert_eq!(response["datakey_length"], "64");

    let plain = kms_core::decode_hex(request.plain_text.unwrap().expose_secret()).unwrap();
    let opened = crate::common::decrypt(
        &kms,
        SEED_KEY_ID,
        response["cipher_text"].as_str().unwrap(),
        64,
        "123aad",
    )
    .unwrap();
    assert_eq!(opened["data_key"], hex(&plain[..64]));
    assert_eq!(opened["datakey_dgst"], hex(&plain[64..]));
}
