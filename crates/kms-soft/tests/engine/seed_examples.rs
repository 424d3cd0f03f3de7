//! The seeds' "Example Requests", byte for byte, through the engine.

use std::sync::Arc;

use crate::common::hex;
use crate::key_pairs::{Pair, assert_public_is_d_times_g, assert_sealed_private_key_decrypts};
use kms_core::models::{CreateEcDatakeyPairRequest, EncryptDatakeyRequest};
use kms_core::{
    Backend, CmkSpec, KeyId, KeyOrigin, KeyRecord, KeyState, KeyStore, KeyUsage, Kms, MemoryStore,
    Operation, ProjectId,
};
use kms_soft::{RootKey, SoftBackend};

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
            project_id: ProjectId::default_project(),
            key_id,
            alias: "seed".into(),
            description: String::new(),
            spec: CmkSpec::Aes256.into(),
            usage: KeyUsage::EncryptDecrypt,
            origin: KeyOrigin::Kms,
            state: KeyState::Enabled,
            created_ms: 0,
            scheduled_deletion_ms: None,
            generation: 0,
            key_blob: Some(backend.generate_cmk(&key_id, CmkSpec::Aes256, 0).unwrap()),
            material_expiry_ms: None,
            material_fingerprint: None,
            retired_materials: Vec::new(),
            rotation: kms_core::Rotation::default(),
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

/// Runs an example request's exact text and returns the response.
fn respond(kms: &Kms, operation: Operation, request: &str) -> serde_json::Value {
    let response = kms.call_json(operation, request).unwrap();
    serde_json::from_str(response.expose_secret()).unwrap()
}

#[test]
fn seed_create_ec_datakey_pair_examples_work_unchanged() {
    let kms = engine_with_seed_key();
    for example in [EC_PAIR_OLDER, EC_PAIR_2026] {
        let response = respond(&kms, Operation::CreateEcDatakeyPair, example);
        assert_eq!(response["key_id"], SEED_KEY_ID);
        assert_eq!(response["key_spec"], "ECC_NIST_P256");
        let pair = Pair::from_response(response);
        assert_public_is_d_times_g("ECC_NIST_P256", &pair);
        // The sealed private key opens, with the example's AAD, to the same PKCS#8 bytes.
        assert_sealed_private_key_decrypts(&kms, SEED_KEY_ID, &pair, "aad");
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
    let response = respond(&kms, Operation::EncryptDatakey, ENCRYPT_DATAKEY);
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
