//! Tenancy: a key belongs to the project that created it. Every operation on it from
//! another project is KMS.0207 (as for a key that does not exist), list-keys lists the
//! caller's project only, aliases are unique within a project, and responses report the
//! caller's domain.

use kms_core::{Kms, Operation, ProjectId, Tenant};
use serde_json::{Value, json};

use crate::common::{engine, plain_text, random_bytes};

fn tenant(project: &str, domain: &str) -> Tenant {
    Tenant {
        project_id: ProjectId::parse(project).unwrap(),
        domain_id: domain.into(),
        region_id: "local".into(),
    }
}

fn call_as(
    kms: &Kms,
    tenant: &Tenant,
    operation: Operation,
    body: &Value,
) -> Result<Value, String> {
    kms.call_json_as(tenant, operation, &body.to_string())
        .map(|response| serde_json::from_str(response.expose_secret()).unwrap())
        .map_err(|error| error.code().to_owned())
}

fn create_key_as(kms: &Kms, tenant: &Tenant, alias: &str, origin: &str) -> String {
    let created = call_as(
        kms,
        tenant,
        Operation::CreateKey,
        &json!({"key_alias": alias, "origin": origin}),
    )
    .unwrap();
    assert_eq!(created["key_info"]["domain_id"], tenant.domain_id.as_str());
    created["key_info"]["key_id"].as_str().unwrap().to_owned()
}

#[test]
fn another_projects_key_is_kms_0207_for_every_operation_and_unchanged() {
    let kms = engine();
    let a = tenant("0123456789abcdef0123456789abcdef", "domain-a");
    let b = tenant("fedcba9876543210fedcba9876543210", "domain-b");
    let key_id = create_key_as(&kms, &a, "orders", "kms");
    let external = create_key_as(&kms, &a, "byok", "external");
    let sealed = call_as(
        &kms,
        &a,
        Operation::CreateDatakey,
        &json!({"key_id": key_id, "datakey_length": "256"}),
    )
    .unwrap();
    let dek = random_bytes(32);
    let data_blob = call_as(
        &kms,
        &a,
        Operation::EncryptData,
        &json!({"key_id": key_id, "plain_text": "a's secret"}),
    )
    .unwrap()["cipher_text"]
        .clone();
    let key_b = create_key_as(&kms, &b, "b-own", "kms");
    let signer = call_as(
        &kms,
        &a,
        Operation::CreateKey,
        &json!({"key_alias": "signer", "key_spec": "EC_P256"}),
    )
    .unwrap()["key_info"]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let decrypter = call_as(
        &kms,
        &a,
        Operation::CreateKey,
        &json!({"key_alias": "decrypter", "key_spec": "SM2", "key_usage": "ENCRYPT_DECRYPT"}),
    )
    .unwrap()["key_info"]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mac_key = call_as(
        &kms,
        &a,
        Operation::CreateKey,
        &json!({"key_alias": "mac", "key_spec": "HMAC_SM3"}),
    )
    .unwrap()["key_info"]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sm2_blob = call_as(
        &kms,
        &a,
        Operation::EncryptData,
        &json!({"key_id": decrypter, "plain_text": "a's", "encryption_algorithm": "SM2_ENCRYPT"}),
    )
    .unwrap()["cipher_text"]
        .clone();
    let digest = kms_core::encode_base64(&[1; 32]);
    let by_key = |key_id: &str| json!({"key_id": key_id});
    let requests: Vec<(Operation, Value)> = vec![
        (Operation::DescribeKey, by_key(&key_id)),
        (Operation::EnableKey, by_key(&key_id)),
        (Operation::DisableKey, by_key(&key_id)),
        (
            Operation::ScheduleKeyDeletion,
            json!({"key_id": key_id, "pending_days": "7"}),
        ),
        (Operation::CancelKeyDeletion, by_key(&key_id)),
        (
            Operation::CreateDatakey,
            json!({"key_id": key_id, "datakey_length": "256"}),
        ),
        (
            Operation::CreateDatakeyWithoutPlaintext,
            json!({"key_id": key_id, "datakey_length": "256"}),
        ),
        (
            Operation::EncryptDatakey,
            json!({"key_id": key_id, "plain_text": plain_text(kms_core::CmkSpec::Aes256, &dek), "datakey_plain_length": "32"}),
        ),
        (
            Operation::DecryptDatakey,
            json!({"key_id": key_id, "cipher_text": sealed["cipher_text"], "datakey_cipher_length": "32"}),
        ),
        (
            Operation::CreateEcDatakeyPair,
            json!({"key_id": key_id, "key_spec": "ECC_NIST_P256"}),
        ),
        (
            Operation::CreateRsaDatakeyPair,
            json!({"key_id": key_id, "key_spec": "RSA_2048"}),
        ),
        (
            Operation::GetParametersForImport,
            json!({"key_id": external, "wrapping_algorithm": "SM2_ENCRYPT"}),
        ),
        (Operation::DeleteImportedKeyMaterial, by_key(&external)),
        (
            Operation::EncryptData,
            json!({"key_id": key_id, "plain_text": "b's text"}),
        ),
        (Operation::DecryptData, json!({"cipher_text": data_blob})),
        (
            Operation::UpdateKeyAlias,
            json!({"key_id": key_id, "key_alias": "taken-over"}),
        ),
        (
            Operation::UpdateKeyDescription,
            json!({"key_id": key_id, "key_description": "taken over"}),
        ),
        (
            Operation::DecryptData,
            json!({"cipher_text": data_blob, "key_id": key_id}),
        ),
        (
            Operation::ReEncrypt,
            json!({"destination_key_id": key_b, "cipher_text": data_blob}),
        ),
        (
            Operation::ReEncrypt,
            json!({"destination_key_id": key_b, "cipher_text": sealed["cipher_text"], "datakey_cipher_length": "32"}),
        ),
        (
            Operation::ReEncrypt,
            json!({"destination_key_id": key_id, "cipher_text": data_blob}),
        ),
        (Operation::EnableKeyRotation, by_key(&key_id)),
        (Operation::DisableKeyRotation, by_key(&key_id)),
        (
            Operation::UpdateKeyRotationInterval,
            json!({"key_id": key_id, "rotation_interval": 30}),
        ),
        (Operation::GetKeyRotationStatus, by_key(&key_id)),
        (Operation::RotateOnDemand, by_key(&key_id)),
        (
            Operation::CreateKmsTag,
            json!({"key_id": key_id, "tag": {"key": "k", "value": "v"}}),
        ),
        (
            Operation::BatchCreateKmsTags,
            json!({"key_id": key_id, "tags": [{"key": "k"}], "action": "delete"}),
        ),
        (Operation::DeleteTag, json!({"key_id": key_id, "key": "k"})),
        (Operation::ShowKmsTags, by_key(&key_id)),
        (Operation::GetPublicKey, by_key(&signer)),
        (
            Operation::Sign,
            json!({"key_id": signer, "message": digest, "signing_algorithm": "ECDSA_SHA_256"}),
        ),
        (
            Operation::Verify,
            json!({"key_id": signer, "message": digest, "signature": "MAYCAQECAQE=",
            "signing_algorithm": "ECDSA_SHA_256"}),
        ),
        (
            Operation::EncryptData,
            json!({"key_id": decrypter, "plain_text": "x",
            "encryption_algorithm": "SM2_ENCRYPT"}),
        ),
        (
            Operation::DecryptData,
            json!({"key_id": decrypter, "cipher_text": sm2_blob,
            "encryption_algorithm": "SM2_ENCRYPT"}),
        ),
        (
            Operation::GenerateMac,
            json!({"key_id": mac_key, "mac_algorithm": "HMAC_SM3", "message": "aGk="}),
        ),
        (
            Operation::VerifyMac,
            json!({"key_id": mac_key, "mac_algorithm": "HMAC_SM3", "message": "aGk=",
            "mac": "aGk="}),
        ),
    ];
    let keyless = [
        Operation::CreateKey,
        Operation::ListKeys,
        Operation::GenRandom,
        Operation::ListKmsTags,
        Operation::ImportKeyMaterial,
    ];
    let untried: Vec<&str> = Operation::ALL
        .iter()
        .filter(|operation| !keyless.contains(operation))
        .filter(|operation| !requests.iter().any(|(tried, _)| tried == *operation))
        .map(|operation| operation.as_str())
        .collect();
    assert!(
        untried.is_empty(),
        "not tried from another project: {untried:?}"
    );
    for (operation, body) in &requests {
        assert_eq!(
            call_as(&kms, &b, *operation, body).unwrap_err(),
            "KMS.0207",
            "{} from another project",
            operation.as_str()
        );
    }
    // Another project's tags are not listed, and its rotation status is as it was.
    let tags = call_as(&kms, &b, Operation::ListKmsTags, &json!({})).unwrap();
    assert_eq!(tags, json!({"tags": []}));
    let status = call_as(&kms, &a, Operation::GetKeyRotationStatus, &by_key(&key_id)).unwrap();
    assert_eq!(status["number_of_rotations"], 0);
    assert_eq!(status["key_rotation_enabled"], false);
    // The key is as it was, and still serves its own project (from the cache too).
    let described = call_as(&kms, &a, Operation::DescribeKey, &by_key(&key_id)).unwrap();
    assert_eq!(described["key_info"]["key_state"], "2");
    assert_eq!(described["key_info"]["domain_id"], "domain-a");
    let opened = call_as(
        &kms,
        &a,
        Operation::DecryptDatakey,
        &json!({"key_id": key_id, "cipher_text": sealed["cipher_text"], "datakey_cipher_length": "32"}),
    )
    .unwrap();
    assert_eq!(opened["data_key"], sealed["plain_text"]);
    assert_eq!(
        call_as(&kms, &b, Operation::DecryptDatakey, &requests[8].1).unwrap_err(),
        "KMS.0207"
    );
    // import-key-material with a token issued to project A is refused in project B.
    let parameters = call_as(
        &kms,
        &a,
        Operation::GetParametersForImport,
        &json!({"key_id": external, "wrapping_algorithm": "SM2_ENCRYPT"}),
    )
    .unwrap();
    let import = json!({"key_id": external, "import_token": parameters["import_token"], "encrypted_key_material": "AAAA"});
    assert_eq!(
        call_as(&kms, &b, Operation::ImportKeyMaterial, &import).unwrap_err(),
        "KMS.0207"
    );
    // ...and did not use the token up: project A's attempt reaches the unwrap.
    assert_eq!(
        call_as(&kms, &a, Operation::ImportKeyMaterial, &import).unwrap_err(),
        "KMS.0311"
    );
}

#[test]
fn list_keys_lists_the_callers_project_and_aliases_are_unique_within_one() {
    let kms = engine();
    let a = tenant("project-a", "d");
    let b = tenant("project-b", "d");
    let in_a = create_key_as(&kms, &a, "shared-name", "kms");
    let in_b = create_key_as(&kms, &b, "shared-name", "kms");
    assert_eq!(
        call_as(
            &kms,
            &a,
            Operation::CreateKey,
            &json!({"key_alias": "shared-name"})
        )
        .unwrap_err(),
        "KMS.1104"
    );
    for (tenant, key_id) in [(&a, &in_a), (&b, &in_b)] {
        let listed = call_as(&kms, tenant, Operation::ListKeys, &json!({})).unwrap();
        assert_eq!(listed["keys"], json!([key_id]));
        assert_eq!(listed["total"], 1);
    }
    let default = kms.call_json(Operation::ListKeys, "{}").unwrap();
    let default: Value = serde_json::from_str(default.expose_secret()).unwrap();
    assert_eq!(default["keys"], json!([]));
}
