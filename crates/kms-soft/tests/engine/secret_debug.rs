//! `format!("{:?}")` of every secret-bearing type shows no key bytes (DESIGN 8).

use std::sync::Arc;

use crate::common::{call, create_key, plain_text};
use base64ct::{Base64, Encoding};
use kms_core::models::{
    CreateDatakeyRequest, CreateDatakeyResponse, DatakeyPairResponse, DecryptDatakeyResponse,
    EncryptDatakeyRequest,
};
use kms_core::{CmkSpec, KeyBlob, KeyPair, Kms, MemoryStore, Operation, SecretBytes, SecretString};
use kms_soft::{RootKey, SoftBackend, SoftCmk};
use serde_json::json;

/// A secret whose every rendering is easy to spot.
const SECRET: [u8; 32] = [0xA7; 32];

/// Fails if `shown` contains the secret as hex (either case), base64 or a Debug byte list.
fn assert_hides_secret(what: &str, shown: &str) {
    let hex = kms_core::encode_hex(&SECRET);
    for needle in [
        hex.clone(),
        hex.to_lowercase(),
        Base64::encode_string(&SECRET),
        "167, 167".to_owned(),
        "0xa7".to_owned(),
    ] {
        assert!(
            !shown.contains(&needle[..needle.len().min(16)]),
            "{what} shows {needle}: {shown}"
        );
    }
}

fn secret_bytes() -> SecretBytes {
    SecretBytes::new(SECRET.to_vec())
}

fn secret_hex() -> SecretString {
    SecretString::new(kms_core::encode_hex(&SECRET))
}

#[test]
fn debug_of_every_secret_bearing_type_shows_no_key_bytes() {
    let root_key = RootKey::from_bytes(&secret_bytes()).unwrap();
    assert_hides_secret("RootKey", &format!("{root_key:?}"));
    let backend = SoftBackend::new(root_key);
    assert_hides_secret("SoftBackend", &format!("{backend:?}"));

    let cmk = SoftCmk::new(CmkSpec::Aes256, &secret_bytes()).unwrap();
    assert_hides_secret("SoftCmk", &format!("{cmk:?}"));

    assert_hides_secret("SecretBytes", &format!("{:?}", secret_bytes()));
    assert_hides_secret("SecretString", &format!("{:#?}", secret_hex()));
    assert_hides_secret("KeyBlob", &format!("{:?}", KeyBlob::new(SECRET.to_vec())));

    let pair = KeyPair {
        public_key_spki: vec![1, 2, 3],
        private_key_pkcs8: secret_bytes(),
    };
    assert_hides_secret("KeyPair", &format!("{pair:?}"));

    let encrypt = EncryptDatakeyRequest {
        key_id: Some("0d0466b0-e727-4d9c-b35d-f84bb474a37f".into()),
        plain_text: Some(SecretString::new(plain_text(CmkSpec::Aes256, &SECRET))),
        datakey_plain_length: Some("32".into()),
        pin: Some(secret_hex()),
        ..EncryptDatakeyRequest::default()
    };
    assert_hides_secret("EncryptDatakeyRequest", &format!("{encrypt:?}"));
    let without_pin = EncryptDatakeyRequest {
        pin: None,
        ..encrypt
    };
    let validated = without_pin.validate().unwrap();
    assert_hides_secret("DekToEncrypt", &format!("{validated:?}"));

    let create = CreateDatakeyRequest {
        pin: Some(secret_hex()),
        ..CreateDatakeyRequest::default()
    };
    assert_hides_secret("CreateDatakeyRequest", &format!("{create:?}"));

    let created = CreateDatakeyResponse {
        key_id: String::new(),
        plain_text: secret_hex(),
        cipher_text: String::new(),
    };
    assert_hides_secret("CreateDatakeyResponse", &format!("{created:?}"));
    let decrypted = DecryptDatakeyResponse {
        data_key: secret_hex(),
        datakey_length: "32".into(),
        datakey_dgst: String::new(),
    };
    assert_hides_secret("DecryptDatakeyResponse", &format!("{decrypted:?}"));
    let pair_response = DatakeyPairResponse {
        key_id: String::new(),
        key_spec: String::new(),
        public_key: String::new(),
        private_key_cipher_text: String::new(),
        private_key_plain_text: Some(SecretString::new(Base64::encode_string(&SECRET))),
        wrapped_private_key: None,
    };
    assert_hides_secret("DatakeyPairResponse", &format!("{pair_response:?}"));
}

#[test]
fn debug_of_an_engine_with_loaded_keys_shows_no_key_bytes() {
    let kms = Kms::new(
        Arc::new(SoftBackend::new(
            RootKey::from_bytes(&secret_bytes()).unwrap(),
        )),
        Arc::new(MemoryStore::new()),
    );
    let key_id = create_key(&kms, "AES_256");
    let response = call(
        &kms,
        Operation::EncryptDatakey,
        &json!({"key_id": key_id, "plain_text": plain_text(CmkSpec::Aes256, &SECRET), "datakey_plain_length": "32"}),
    )
    .unwrap();
    assert!(response["cipher_text"].is_string());
    let shown = format!("{kms:?}");
    assert!(shown.contains("SoftCmk(AES_256, [REDACTED])"), "{shown}");
    assert_hides_secret("Kms", &shown);
}

#[test]
fn debug_of_an_import_request_shows_neither_its_token_nor_its_material() {
    let request: kms_core::models::ImportKeyMaterialRequest = kms_core::parse(
        r#"{"key_id":"0d0466b0-e727-4d9c-b35d-f84bb474a37f","import_token":"TOKENTEXT0123456789","encrypted_key_material":"TUFURVJJQUw="}"#,
    )
    .unwrap();
    let valid = request.validate().unwrap();
    for shown in [
        format!("{request:?}"),
        format!("{valid:?}"),
        format!("{:?}", valid.decode().unwrap()),
    ] {
        assert!(!shown.contains("TOKENTEXT"), "{shown}");
        assert!(!shown.contains("TUFURVJJQUw"), "{shown}");
        assert!(!shown.contains("77, 65, 84"), "{shown}");
    }
    assert!(format!("{request:?}").contains("0d0466b0-e727-4d9c-b35d-f84bb474a37f"));
}
