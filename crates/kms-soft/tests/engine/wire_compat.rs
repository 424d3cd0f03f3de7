//! Wire compatibility with the clients in the field (issue 16): the Terraform provider,
//! older SDKs and the API pages' own examples. Each body is field for field what such a
//! client sends, with the answer the cloud documents.
use kms_core::{CmkSpec, Operation};
use serde_json::{Value, json};

use crate::common::{call, create_key, engine, error_code, hex, plain_text, random_bytes};

/// The length in bytes of the hex DEK `field` of `response`.
fn dek_len(response: &Value, field: &str) -> usize {
    response[field].as_str().unwrap().len() / 2
}

#[test]
fn numbers_work_like_their_strings() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    // The Terraform provider's list-keys body.
    for body in [json!({"limit": 2000}), json!({"limit": "2000"})] {
        let listed = call(&kms, Operation::ListKeys, &body).unwrap();
        assert_eq!(listed["keys"], json!([key_id]));
        assert_eq!(listed["total"], 1);
    }
    let page = call(&kms, Operation::ListKeys, &json!({"limit": 1, "marker": 1})).unwrap();
    assert_eq!(page["keys"], json!([]));
    for body in [
        json!({"key_id": key_id, "datakey_length": 512}),
        json!({"key_id": key_id, "datakey_length": "512"}),
    ] {
        let created = call(&kms, Operation::CreateDatakey, &body).unwrap();
        assert_eq!(dek_len(&created, "plain_text"), 64);
        let opened = call(
            &kms,
            Operation::DecryptDatakey,
            &json!({"key_id": key_id, "cipher_text": created["cipher_text"],
                    "datakey_cipher_length": 64}),
        )
        .unwrap();
        assert_eq!(opened["data_key"], created["plain_text"]);
    }
    let dek = random_bytes(32);
    let sealed = call(
        &kms,
        Operation::EncryptDatakey,
        &json!({"key_id": key_id, "plain_text": plain_text(CmkSpec::Aes256, &dek),
                "datakey_plain_length": 32}),
    )
    .unwrap();
    assert_eq!(sealed["datakey_length"], "32");
    let listed = call(&kms, Operation::ListKeys, &json!({"key_state": 2})).unwrap();
    assert_eq!(listed["total"], 1);
    let scheduled = call(
        &kms,
        Operation::ScheduleKeyDeletion,
        &json!({"key_id": key_id, "pending_days": 7}),
    )
    .unwrap();
    assert_eq!(scheduled, json!({"key_id": key_id, "key_state": "4"}));
}

#[test]
fn fractions_negatives_and_overflow_are_refused_with_the_fields_code() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let dek = random_bytes(32);
    let plain = plain_text(CmkSpec::Aes256, &dek);
    let cipher =
        call(&kms, Operation::CreateDatakey, &json!({"key_id": key_id})).unwrap()["cipher_text"]
            .clone();
    for bad in ["1.5", "-1", "1e30", "2000.0", "18446744073709551616"] {
        let number: Value = serde_json::from_str(bad).unwrap();
        for (operation, body, code) in [
            (Operation::ListKeys, json!({"limit": number}), "KMS.1601"),
            (Operation::ListKeys, json!({"marker": number}), "KMS.1602"),
            (
                Operation::ListKeys,
                json!({"key_state": number}),
                "KMS.0308",
            ),
            (
                Operation::ScheduleKeyDeletion,
                json!({"key_id": key_id, "pending_days": number}),
                "KMS.1401",
            ),
            (
                Operation::CreateDatakey,
                json!({"key_id": key_id, "datakey_length": number}),
                "KMS.1901",
            ),
            (
                Operation::CreateDatakeyWithoutPlaintext,
                json!({"key_id": key_id, "datakey_length": number}),
                "KMS.1901",
            ),
            (
                Operation::EncryptDatakey,
                json!({"key_id": key_id, "plain_text": plain, "datakey_plain_length": number}),
                "KMS.2102",
            ),
            (
                Operation::DecryptDatakey,
                json!({"key_id": key_id, "cipher_text": cipher, "datakey_cipher_length": number}),
                "KMS.2202",
            ),
        ] {
            let err = call(&kms, operation, &body).unwrap_err();
            assert_eq!(err.code(), code, "{bad} in {body}");
            assert!(!err.to_string().contains(bad), "{err}");
        }
    }
    // Nothing changed: the key is still enabled and listed once.
    assert_eq!(crate::common::key_state(&kms, &key_id), "2");
    // Another JSON type stays a wrong type, named.
    let err = call(&kms, Operation::ListKeys, &json!({"limit": true})).unwrap_err();
    assert_eq!(err.code(), "KMS.0202");
    assert_eq!(
        err.to_string(),
        "Invalid JSON format of the request message: limit: invalid type: a boolean, \
         expected a string or an integer"
    );
}

#[test]
fn create_datakey_with_only_key_id_returns_a_32_byte_dek() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    // The Terraform acceptance test's body.
    let created = call(&kms, Operation::CreateDatakey, &json!({"key_id": key_id})).unwrap();
    assert_eq!(dek_len(&created, "plain_text"), 32);
    let sealed = call(
        &kms,
        Operation::CreateDatakeyWithoutPlaintext,
        &json!({"key_id": key_id}),
    )
    .unwrap();
    let opened = call(
        &kms,
        Operation::DecryptDatakey,
        &json!({"key_id": key_id, "cipher_text": sealed["cipher_text"],
                "datakey_cipher_length": "32"}),
    )
    .unwrap();
    assert_eq!(dek_len(&opened, "data_key"), 32);
}

#[test]
fn datakey_length_wins_over_key_spec() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let body = json!({"key_id": key_id, "key_spec": "AES_128", "datakey_length": "512"});
    let created = call(&kms, Operation::CreateDatakey, &body).unwrap();
    assert_eq!(dek_len(&created, "plain_text"), 64);
    let sealed = call(&kms, Operation::CreateDatakeyWithoutPlaintext, &body).unwrap();
    let opened = call(
        &kms,
        Operation::DecryptDatakey,
        &json!({"key_id": key_id, "cipher_text": sealed["cipher_text"],
                "datakey_cipher_length": "64"}),
    )
    .unwrap();
    assert_eq!(dek_len(&opened, "data_key"), 64);
    // A spec that is not AES_128 / AES_256 is still KMS.1902.
    let body = json!({"key_id": key_id, "key_spec": "SM4", "datakey_length": "512"});
    assert_eq!(
        error_code(&kms, Operation::CreateDatakey, &body),
        "KMS.1902"
    );
}

#[test]
fn encryption_context_decrypts_only_with_the_same_context() {
    for spec in ["AES_256", "SM4"] {
        let kms = engine();
        let key_id = create_key(&kms, spec);
        let cmk = if spec == "SM4" {
            CmkSpec::Sm4
        } else {
            CmkSpec::Aes256
        };
        let dek = random_bytes(32);
        let sealed = call(
            &kms,
            Operation::EncryptDatakey,
            &json!({"key_id": key_id, "plain_text": plain_text(cmk, &dek),
                    "datakey_plain_length": "32", "encryption_context": {"a": "b"}}),
        )
        .unwrap();
        let decrypt = |context: Option<Value>| {
            let mut body = json!({"key_id": key_id, "cipher_text": sealed["cipher_text"],
                                  "datakey_cipher_length": "32"});
            if let Some(context) = context {
                body["encryption_context"] = context;
            }
            call(&kms, Operation::DecryptDatakey, &body)
        };
        let opened = decrypt(Some(json!({"a": "b"}))).unwrap();
        assert_eq!(opened["data_key"], hex(&dek));
        let mut messages = Vec::new();
        for other in [
            None,
            Some(json!({})),
            Some(json!({"a": "c"})),
            Some(json!({"A": "b"})),
            Some(json!({"a": "b", "c": "d"})),
        ] {
            let err = decrypt(other.clone()).unwrap_err();
            assert_eq!(err.code(), "KMS.2201", "{other:?}");
            messages.push(err.to_json());
        }
        messages.dedup();
        assert_eq!(messages.len(), 1, "one opaque error: {messages:?}");
    }
}

#[test]
fn encryption_context_is_canonical_and_old_blobs_open_as_before() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    // create-datakey binds it too; key order and spacing do not matter.
    let created = call(
        &kms,
        Operation::CreateDatakey,
        &json!({"key_id": key_id, "encryption_context": {"x": "1", "y": "2"}}),
    )
    .unwrap();
    let body = format!(
        r#"{{"key_id":"{key_id}","cipher_text":"{}","datakey_cipher_length":"32",
            "encryption_context": {{ "y" : "2", "x" : "1" }} }}"#,
        created["cipher_text"].as_str().unwrap()
    );
    let opened = kms.call_json(Operation::DecryptDatakey, &body).unwrap();
    let opened: Value = serde_json::from_str(opened.expose_secret()).unwrap();
    assert_eq!(opened["data_key"], created["plain_text"]);
    // A blob made without a context opens without one, and with `{}` (which binds nothing).
    let plain = call(&kms, Operation::CreateDatakey, &json!({"key_id": key_id})).unwrap();
    for context in [None, Some(json!({}))] {
        let mut body = json!({"key_id": key_id, "cipher_text": plain["cipher_text"],
                              "datakey_cipher_length": "32"});
        if let Some(context) = context {
            body["encryption_context"] = context;
        }
        let opened = call(&kms, Operation::DecryptDatakey, &body).unwrap();
        assert_eq!(opened["data_key"], plain["plain_text"]);
    }
    let with_other = json!({"key_id": key_id, "cipher_text": plain["cipher_text"],
                            "datakey_cipher_length": "32", "encryption_context": {"a": "b"}});
    assert_eq!(
        error_code(&kms, Operation::DecryptDatakey, &with_other),
        "KMS.2201"
    );
}

#[test]
fn an_invalid_encryption_context_is_kms_0208_without_its_value() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    for context in [
        json!("SECRET-CONTEXT"),
        json!(["SECRET-CONTEXT"]),
        json!({"a": 1234567}),
        json!({"a": {"b": "SECRET-CONTEXT"}}),
        json!({"a": "x".repeat(8192)}),
    ] {
        for operation in [
            Operation::CreateDatakey,
            Operation::CreateDatakeyWithoutPlaintext,
        ] {
            let err = call(
                &kms,
                operation,
                &json!({"key_id": key_id, "encryption_context": context}),
            )
            .unwrap_err();
            assert_eq!(err.code(), "KMS.0208");
            let message = err.to_string();
            assert!(
                !message.contains("SECRET") && !message.contains("1234567"),
                "{message}"
            );
            assert!(!message.contains("xxxx"), "{message}");
        }
    }
}

#[test]
fn create_key_accepts_realm_and_still_refuses_typos() {
    let kms = engine();
    let created = call(
        &kms,
        Operation::CreateKey,
        &json!({"key_alias": "with-realm", "realm": "local"}),
    )
    .unwrap();
    let key_id = created["key_info"]["key_id"].as_str().unwrap();
    let described = call(&kms, Operation::DescribeKey, &json!({"key_id": key_id})).unwrap();
    assert_eq!(described["key_info"]["realm"], "local");
    let err = call(
        &kms,
        Operation::CreateKey,
        &json!({"key_alias": "elsewhere", "realm": "cn-north-4"}),
    )
    .unwrap_err();
    assert_eq!(err.code(), "KMS.1102");
    let err = call(
        &kms,
        Operation::CreateKey,
        &json!({"key_alias": "typo", "with_plaintext": true}),
    )
    .unwrap_err();
    assert_eq!(err.code(), "KMS.0202");
    assert!(
        err.to_string().contains("unknown field `with_plaintext`"),
        "{err}"
    );
    // Neither refused request made a key.
    let listed = call(&kms, Operation::ListKeys, &json!({})).unwrap();
    assert_eq!(listed["total"], 1);
}

#[test]
fn list_keys_filters_as_the_pages_define_them() {
    let kms = engine();
    let aes = create_key(&kms, "AES_256");
    let sm4 = create_key(&kms, "SM4");
    let keys = |body: Value| call(&kms, Operation::ListKeys, &body).unwrap()["keys"].clone();
    assert_eq!(keys(json!({"key_spec": "ALL"})), json!([aes, sm4]));
    assert_eq!(keys(json!({"key_spec": "SM4"})), json!([sm4]));
    assert_eq!(keys(json!({"key_spec": "RSA_2048"})), json!([]));
    assert_eq!(keys(json!({"key_state": "1"})), json!([]));
    assert_eq!(keys(json!({"key_state": "2"})), json!([aes, sm4]));
    assert_eq!(keys(json!({"key_state": "5"})), json!([]));
    assert_eq!(
        keys(json!({"enterprise_project_id": "all"})),
        json!([aes, sm4])
    );
    assert_eq!(
        keys(json!({"enterprise_project_id": "0"})),
        json!([aes, sm4])
    );
    assert_eq!(
        keys(json!({"enterprise_project_id": "0d0466b0-e727-4d9c-b35d-f84bb474a37f"})),
        json!([])
    );
    assert_eq!(keys(json!({"limit": "2000"})), json!([aes, sm4]));
    let empty = call(&kms, Operation::ListKeys, &json!({"key_spec": "RSA_2048"})).unwrap();
    assert_eq!(
        empty,
        json!({"keys": [], "key_details": [], "next_marker": "", "truncated": "false", "total": 0})
    );
    for (body, code) in [
        (json!({"limit": "2001"}), "KMS.1601"),
        (json!({"limit": "0"}), "KMS.1601"),
        (json!({"key_spec": "AES_128"}), "KMS.0308"),
        (json!({"key_state": "6"}), "KMS.0308"),
        (json!({"enterprise_project_id": "project-1"}), "KMS.0308"),
    ] {
        assert_eq!(error_code(&kms, Operation::ListKeys, &body), code, "{body}");
    }
}

#[test]
fn marker_is_the_position_of_the_first_key() {
    let kms = engine();
    let ids: Vec<String> = (0..5).map(|_| create_key(&kms, "AES_256")).collect();
    // The pages' example: limit 2 from marker 1, next_marker 3.
    let page = call(
        &kms,
        Operation::ListKeys,
        &json!({"limit": "2", "marker": "1"}),
    )
    .unwrap();
    assert_eq!(page["keys"], json!([ids[1], ids[2]]));
    assert_eq!(page["next_marker"], "3");
    assert_eq!(page["truncated"], "true");
    let last = call(&kms, Operation::ListKeys, &json!({"limit": 2, "marker": 3})).unwrap();
    assert_eq!(last["keys"], json!([ids[3], ids[4]]));
    assert_eq!(last["next_marker"], "");
    assert_eq!(last["truncated"], "false");
}

#[test]
fn describe_key_of_a_key_never_scheduled_has_empty_dates() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let described = call(&kms, Operation::DescribeKey, &json!({"key_id": key_id})).unwrap();
    assert_eq!(described["key_info"]["scheduled_deletion_date"], "");
    assert_eq!(described["key_info"]["expiration_time"], "");
    let listed = call(&kms, Operation::ListKeys, &json!({})).unwrap();
    assert_eq!(listed["key_details"][0]["scheduled_deletion_date"], "");
    assert_eq!(listed["key_details"][0]["expiration_time"], "");
}

/// Bodies from the clients' request builders and the pages' examples, field for field.
#[test]
fn client_request_bodies() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let dek = random_bytes(64);
    let sealed_64 = call(
        &kms,
        Operation::EncryptDatakey,
        &json!({"key_id": key_id, "plain_text": plain_text(CmkSpec::Aes256, &dek),
                "datakey_plain_length": "64"}),
    )
    .unwrap()["cipher_text"]
        .clone();
    let ok: Vec<(&str, Operation, Value)> = vec![
        // Terraform huaweicloud_kms_key: create, then the data source's list-keys.
        (
            "terraform kms_key create",
            Operation::CreateKey,
            json!({"key_alias": "key_1", "key_description": "first test key"}),
        ),
        (
            "terraform list-keys",
            Operation::ListKeys,
            json!({"limit": 2000}),
        ),
        (
            "terraform list-keys by state",
            Operation::ListKeys,
            json!({"limit": 2000, "key_state": "2"}),
        ),
        // Terraform huaweicloud_kms_data_key: datakey_length as a string.
        (
            "terraform kms_data_key",
            Operation::CreateDatakey,
            json!({"key_id": key_id, "datakey_length": "512"}),
        ),
        // Terraform's acceptance test: key_id alone.
        (
            "terraform acceptance",
            Operation::CreateDatakey,
            json!({"key_id": key_id}),
        ),
        // The create-datakey page's example.
        (
            "page create-datakey",
            Operation::CreateDatakey,
            json!({"key_id": key_id, "datakey_length": "512", "sequence": "919c82d4-8046-4722-9094-35c3c6524cff"}),
        ),
        // The decrypt-datakey page's example shape.
        (
            "page decrypt-datakey",
            Operation::DecryptDatakey,
            json!({"key_id": key_id, "cipher_text": sealed_64, "datakey_cipher_length": "64"}),
        ),
        // The list-keys page's example.
        (
            "page list-keys",
            Operation::ListKeys,
            json!({"limit": "2", "marker": "1"}),
        ),
        // Older SDKs and golangsdk: the enterprise project "all", the spec filter "ALL".
        (
            "golangsdk list-keys",
            Operation::ListKeys,
            json!({"limit": "2000", "key_spec": "ALL", "enterprise_project_id": "all"}),
        ),
        (
            "describe-key",
            Operation::DescribeKey,
            json!({"key_id": key_id, "sequence": "919c82d4-8046-4722-9094-35c3c6524cff"}),
        ),
    ];
    for (what, operation, body) in ok {
        let answer = call(&kms, operation, &body);
        assert!(answer.is_ok(), "{what}: {answer:?}");
    }
    let refused: Vec<(&str, Operation, Value, &str)> = vec![
        (
            "terraform pending_days out of range",
            Operation::ScheduleKeyDeletion,
            json!({"key_id": key_id, "pending_days": "6"}),
            "KMS.1401",
        ),
        (
            "datakey_length not a multiple of 8",
            Operation::CreateDatakey,
            json!({"key_id": key_id, "datakey_length": "12"}),
            "KMS.1903",
        ),
        (
            "datakey_length out of range",
            Operation::CreateDatakey,
            json!({"key_id": key_id, "datakey_length": 8200}),
            "KMS.1901",
        ),
        (
            "datakey_plain_length out of range",
            Operation::EncryptDatakey,
            json!({"key_id": key_id, "plain_text": plain_text(CmkSpec::Aes256, &dek),
                   "datakey_plain_length": "1025"}),
            "KMS.2102",
        ),
        (
            "limit out of range",
            Operation::ListKeys,
            json!({"limit": "2001"}),
            "KMS.1601",
        ),
        (
            "a key that does not exist",
            Operation::DescribeKey,
            json!({"key_id": "0d0466b0-e727-4d9c-b35d-f84bb474a37f"}),
            "KMS.0207",
        ),
    ];
    for (what, operation, body, code) in refused {
        assert_eq!(error_code(&kms, operation, &body), code, "{what}");
    }
}
