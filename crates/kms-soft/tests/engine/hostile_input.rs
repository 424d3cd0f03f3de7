//! Arbitrary values in every field of every request, and arbitrary request bodies: the
//! engine answers each with a result or a KMS error, never panics, and a refused request
//! changes nothing.

use crate::common::{
    call, create_key, create_key_of, encrypt, engine, external_key_with_import_token, plain_text,
};
use kms_core::{CmkSpec, Kms, Operation, encode_base64};
use proptest::prelude::*;
use serde_json::{Value, json};

const DEK: [u8; 32] = [9; 32];
const SEQUENCE: &str = "919c82d4-8046-4722-9094-35c3c6524cff";

struct Fixture {
    kms: Kms,
    /// A valid body for each operation, so that each case varies one field of it.
    bodies: Vec<(Operation, Value)>,
}

fn fixture() -> Fixture {
    let kms = engine();
    let aes = create_key(&kms, "AES_256");
    let sm4 = create_key(&kms, "SM4");
    let blob = encrypt(&kms, &aes, CmkSpec::Aes256, &DEK, "aad");
    let data_blob = call(
        &kms,
        Operation::EncryptData,
        &json!({"key_id": sm4, "plain_text": "small", "additional_authenticated_data": "aad"}),
    )
    .unwrap()["cipher_text"]
        .clone();
    let (external, token) = external_key_with_import_token(&kms);
    let signer = create_key_of(&kms, "EC_P256", "SIGN_VERIFY");
    let decrypter = create_key_of(&kms, "SM2", "ENCRYPT_DECRYPT");
    let mac_key = create_key_of(&kms, "HMAC_256", "GENERATE_VERIFY_MAC");
    let digest = encode_base64(&[7; 32]);
    let signature = call(
        &kms,
        Operation::Sign,
        &json!({"key_id": signer, "message": digest, "signing_algorithm": "ECDSA_SHA_256"}),
    )
    .unwrap()["signature"]
        .clone();
    let sm2_data = call(
        &kms,
        Operation::EncryptData,
        &json!({"key_id": decrypter, "plain_text": "small", "encryption_algorithm": "SM2_ENCRYPT"}),
    )
    .unwrap()["cipher_text"]
        .clone();
    let mac = call(
        &kms,
        Operation::GenerateMac,
        &json!({"key_id": mac_key, "mac_algorithm": "HMAC_SHA_256", "message": "aGk="}),
    )
    .unwrap()["mac"]
        .clone();
    let bodies = vec![
        (
            Operation::GetPublicKey,
            json!({"key_id": signer, "sequence": SEQUENCE}),
        ),
        (
            Operation::Sign,
            json!({"key_id": signer, "message": digest, "signing_algorithm": "ECDSA_SHA_256",
                   "message_type": "DIGEST", "sequence": SEQUENCE}),
        ),
        (
            Operation::Verify,
            json!({"key_id": signer, "message": digest, "signature": signature,
                   "signing_algorithm": "ECDSA_SHA_256", "message_type": "DIGEST",
                   "sequence": SEQUENCE}),
        ),
        (
            Operation::GenerateMac,
            json!({"key_id": mac_key, "mac_algorithm": "HMAC_SHA_256", "message": "aGk=",
                   "sequence": SEQUENCE}),
        ),
        (
            Operation::VerifyMac,
            json!({"key_id": mac_key, "mac_algorithm": "HMAC_SHA_256", "message": "aGk=",
                   "mac": mac, "sequence": SEQUENCE}),
        ),
        (
            Operation::EncryptData,
            json!({"key_id": decrypter, "plain_text": "text", "encryption_algorithm": "SM2_ENCRYPT",
                   "sequence": SEQUENCE}),
        ),
        (
            Operation::DecryptData,
            json!({"key_id": decrypter, "cipher_text": sm2_data,
                   "encryption_algorithm": "SM2_ENCRYPT", "sequence": SEQUENCE}),
        ),
        (
            Operation::CreateKey,
            json!({"key_alias": "fuzz", "key_spec": "AES_256", "key_usage": "ENCRYPT_DECRYPT",
                   "key_description": "d", "origin": "kms", "enterprise_project_id": "0",
                   "sequence": "919c82d4-8046-4722-9094-35c3c6524cff", "keystore_id": "0", "vm_id": "v"}),
        ),
        (
            Operation::DescribeKey,
            json!({"key_id": aes, "sequence": "919c82d4-8046-4722-9094-35c3c6524cff"}),
        ),
        (
            Operation::ListKeys,
            json!({"limit": "10", "marker": "0", "key_state": "2", "key_spec": "SM4",
                   "enterprise_project_id": "0", "sequence": "919c82d4-8046-4722-9094-35c3c6524cff"}),
        ),
        (
            Operation::EnableKey,
            json!({"key_id": sm4, "sequence": "919c82d4-8046-4722-9094-35c3c6524cff"}),
        ),
        (
            Operation::DisableKey,
            json!({"key_id": sm4, "sequence": "919c82d4-8046-4722-9094-35c3c6524cff"}),
        ),
        (
            Operation::ScheduleKeyDeletion,
            json!({"key_id": sm4, "pending_days": "7", "sequence": "919c82d4-8046-4722-9094-35c3c6524cff"}),
        ),
        (
            Operation::CancelKeyDeletion,
            json!({"key_id": sm4, "sequence": "919c82d4-8046-4722-9094-35c3c6524cff"}),
        ),
        (
            Operation::CreateDatakey,
            json!({"key_id": aes, "key_spec": "AES_256", "datakey_length": "256",
                   "additional_authenticated_data": "a", "sequence": "919c82d4-8046-4722-9094-35c3c6524cff",
                   "pin": "1", "pin_type": "CipherText"}),
        ),
        (
            Operation::CreateDatakeyWithoutPlaintext,
            json!({"key_id": aes, "key_spec": "AES_128", "datakey_length": "128",
                   "additional_authenticated_data": "a", "sequence": "919c82d4-8046-4722-9094-35c3c6524cff",
                   "pin": "1", "pin_type": "CipherText"}),
        ),
        (
            Operation::EncryptDatakey,
            json!({"key_id": aes, "plain_text": plain_text(CmkSpec::Aes256, &DEK), "datakey_plain_length": "32",
                   "additional_authenticated_data": "aad", "sequence": "919c82d4-8046-4722-9094-35c3c6524cff",
                   "pin": "1", "pin_type": "CipherText", "key_spec": "SM2"}),
        ),
        (
            Operation::DecryptDatakey,
            json!({"key_id": aes, "cipher_text": blob, "datakey_cipher_length": "32",
                   "additional_authenticated_data": "aad", "sequence": "919c82d4-8046-4722-9094-35c3c6524cff"}),
        ),
        (
            Operation::CreateEcDatakeyPair,
            json!({"key_id": sm4, "key_spec": "ECC_SECG_P256K1", "with_plain_text": false,
                   "additional_authenticated_data": "a", "sequence": "919c82d4-8046-4722-9094-35c3c6524cff",
                   "pin": "1", "pin_type": "CipherText"}),
        ),
        (
            Operation::CreateRsaDatakeyPair,
            json!({"key_id": aes, "key_spec": "RSA_2048", "with_plain_text": true,
                   "additional_authenticated_data": "a", "sequence": "919c82d4-8046-4722-9094-35c3c6524cff"}),
        ),
        (
            Operation::GetParametersForImport,
            json!({"key_id": external, "wrapping_algorithm": "SM2_ENCRYPT", "wrapping_key_spec": "SM2",
                   "sequence": "919c82d4-8046-4722-9094-35c3c6524cff"}),
        ),
        (
            Operation::ImportKeyMaterial,
            json!({"key_id": external, "import_token": token, "encrypted_key_material": "MEUCIQ==",
                   "encrypted_privatekey": "AAAA", "expiration_time": 4_000_000_000_u64,
                   "sequence": "919c82d4-8046-4722-9094-35c3c6524cff"}),
        ),
        (
            Operation::DeleteImportedKeyMaterial,
            json!({"key_id": external, "sequence": "919c82d4-8046-4722-9094-35c3c6524cff"}),
        ),
        (
            Operation::EncryptData,
            json!({"key_id": aes, "plain_text": "text", "encryption_algorithm": "SYMMETRIC_DEFAULT",
                   "additional_authenticated_data": "aad", "sequence": "919c82d4-8046-4722-9094-35c3c6524cff"}),
        ),
        (
            Operation::DecryptData,
            json!({"cipher_text": data_blob, "encryption_algorithm": "SYMMETRIC_DEFAULT", "key_id": sm4,
                   "additional_authenticated_data": "aad", "sequence": "919c82d4-8046-4722-9094-35c3c6524cff"}),
        ),
        (
            Operation::ReEncrypt,
            json!({"source_key_id": aes, "source_additional_authenticated_data": "aad",
                   "source_encryption_algorithm": "SYMMETRIC_DEFAULT", "destination_key_id": sm4,
                   "destination_additional_authenticated_data": "b",
                   "destination_encryption_algorithm": "SYMMETRIC_DEFAULT",
                   "datakey_cipher_length": "32", "cipher_text": blob,
                   "sequence": "919c82d4-8046-4722-9094-35c3c6524cff"}),
        ),
        (
            Operation::UpdateKeyAlias,
            json!({"key_id": aes, "key_alias": "renamed", "sequence": "919c82d4-8046-4722-9094-35c3c6524cff"}),
        ),
        (
            Operation::UpdateKeyDescription,
            json!({"key_id": sm4, "key_description": "d", "sequence": "919c82d4-8046-4722-9094-35c3c6524cff"}),
        ),
        (
            Operation::GenRandom,
            json!({"random_data_length": "512", "sequence": "919c82d4-8046-4722-9094-35c3c6524cff"}),
        ),
        (
            Operation::EnableKeyRotation,
            json!({"key_id": aes, "sequence": SEQUENCE}),
        ),
        (
            Operation::DisableKeyRotation,
            json!({"key_id": sm4, "sequence": SEQUENCE}),
        ),
        (
            Operation::UpdateKeyRotationInterval,
            json!({"key_id": sm4, "rotation_interval": 90, "sequence": SEQUENCE}),
        ),
        (
            Operation::GetKeyRotationStatus,
            json!({"key_id": aes, "sequence": SEQUENCE}),
        ),
        (
            Operation::RotateOnDemand,
            json!({"key_id": sm4, "sequence": SEQUENCE}),
        ),
        (
            Operation::CreateKmsTag,
            json!({"key_id": aes, "tag": {"key": "team", "value": "b"}, "sequence": SEQUENCE}),
        ),
        (
            Operation::BatchCreateKmsTags,
            json!({"key_id": sm4, "tags": [{"key": "a", "value": "1"}, {"key": "b", "value": ""}],
                   "action": "create", "sequence": SEQUENCE}),
        ),
        (Operation::DeleteTag, json!({"key_id": aes, "key": "env"})),
        (
            Operation::ShowKmsTags,
            json!({"key_id": aes, "sequence": SEQUENCE}),
        ),
    ];
    for (operation, body) in [
        (Operation::EnableKeyRotation, json!({"key_id": sm4})),
        (
            Operation::CreateKmsTag,
            json!({"key_id": aes, "tag": {"key": "env", "value": "prod"}}),
        ),
    ] {
        call(&kms, operation, &body).unwrap();
    }
    Fixture { kms, bodies }
}

/// Every key with its state, rotation status and tags, and the project's tags: what a
/// refused request must leave as it was.
fn snapshot(kms: &Kms) -> Value {
    let keys = call(kms, Operation::ListKeys, &json!({})).unwrap();
    let per_key: Vec<Value> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key_id| {
            let key = json!({"key_id": key_id});
            json!([
                call(kms, Operation::GetKeyRotationStatus, &key).unwrap(),
                call(kms, Operation::ShowKmsTags, &key).unwrap(),
            ])
        })
        .collect();
    let project_tags = call(kms, Operation::ListKmsTags, &json!({})).unwrap();
    json!([keys, per_key, project_tags])
}

#[test]
fn every_operation_with_a_body_has_one_here() {
    let covered: Vec<Operation> = fixture()
        .bodies
        .iter()
        .map(|(operation, _)| *operation)
        .collect();
    let missing: Vec<&str> = Operation::ALL
        .iter()
        .filter(|operation| !covered.contains(operation) && **operation != Operation::ListKmsTags)
        .map(|operation| operation.as_str())
        .collect();
    assert!(missing.is_empty(), "no body for {missing:?}");
}

fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>().prop_map(Value::from),
        "[0-9a-fA-FgG -]{0,80}".prop_map(Value::from),
        "[0-9a-z-]{36}".prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
        Just(json!([])),
        Just(json!({})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_values_in_any_request_field_never_panic_and_refusals_change_nothing(
        which in any::<prop::sample::Index>(),
        field_pick in any::<prop::sample::Index>(),
        value in hostile_value(),
        drop_field in any::<bool>(),
    ) {
        let fixture = fixture();
        let (operation, body) = which.get(&fixture.bodies);
        let mut body = body.clone();
        let fields: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
        let field = field_pick.get(&fields).clone();
        if drop_field {
            body.as_object_mut().unwrap().remove(&field);
        } else {
            body[&field] = value;
        }
        let before = snapshot(&fixture.kms);
        match call(&fixture.kms, *operation, &body) {
            Ok(response) => prop_assert!(response.is_object()),
            Err(err) => {
                prop_assert!(err.code().starts_with("KMS."));
                prop_assert!(err.status() < 500, "{operation:?} {body}: {err}");
                prop_assert_eq!(snapshot(&fixture.kms), before);
            }
        }
    }

    #[test]
    fn arbitrary_request_bodies_are_refused_as_invalid_json(body in any::<String>()) {
        let kms = engine();
        for operation in Operation::ALL {
            if let Err(err) = kms.call_json(*operation, &body) {
                prop_assert!(err.code().starts_with("KMS."));
            }
        }
    }
}

#[test]
fn a_misspelt_field_is_refused_naming_it_instead_of_defaulting() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let err = call(
        &kms,
        Operation::CreateEcDatakeyPair,
        &json!({"key_id": key_id, "key_spec": "ECC_NIST_P256", "with_plaintext": false}),
    )
    .unwrap_err();
    assert_eq!(err.code(), "KMS.0202");
    assert!(
        err.to_string().contains("unknown field `with_plaintext`"),
        "{err}"
    );
}

#[test]
fn a_field_of_the_wrong_json_type_is_refused_naming_the_problem() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let err = call(
        &kms,
        Operation::CreateEcDatakeyPair,
        &json!({"key_id": key_id, "key_spec": "SM2", "with_plain_text": "false"}),
    )
    .unwrap_err();
    assert_eq!(err.code(), "KMS.0202");
    assert!(err.to_string().contains("expected a boolean"), "{err}");
    let err = kms.call_json(Operation::DescribeKey, "").unwrap_err();
    assert_eq!(err.code(), "KMS.0202");
}

#[test]
fn a_missing_mandatory_field_is_kms_0204_naming_it() {
    let kms = engine();
    let err = call(
        &kms,
        Operation::EncryptDatakey,
        &json!({"datakey_plain_length": "1"}),
    )
    .unwrap_err();
    assert_eq!(err.code(), "KMS.0204");
    assert!(err.to_string().contains("key_id"), "{err}");
}
