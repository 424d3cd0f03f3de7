//! update-key-alias and update-key-description: what describe-key and list-keys show after,
//! the alias still unique in the project, and the refusals with their codes, each leaving
//! the key as it was.

use kms_core::Operation;
use serde_json::json;

use crate::common::{call, create_key, engine, error_code};

#[test]
fn a_new_alias_and_description_show_in_describe_key_and_list_keys() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let old_alias = call(&kms, Operation::DescribeKey, &json!({"key_id": key_id})).unwrap()
        ["key_info"]["key_alias"]
        .clone();
    let renamed = call(
        &kms,
        Operation::UpdateKeyAlias,
        &json!({"key_id": key_id, "key_alias": "orders/2026:main_key-1"}),
    )
    .unwrap();
    assert_eq!(
        renamed,
        json!({"key_info": {"key_id": key_id, "key_alias": "orders/2026:main_key-1"}})
    );
    let described = call(
        &kms,
        Operation::UpdateKeyDescription,
        &json!({"key_id": key_id, "key_description": "é".repeat(255)}),
    )
    .unwrap();
    assert_eq!(
        described,
        json!({"key_info": {"key_id": key_id, "key_description": "é".repeat(255)}})
    );
    let info = call(&kms, Operation::DescribeKey, &json!({"key_id": key_id})).unwrap();
    assert_eq!(info["key_info"]["key_alias"], "orders/2026:main_key-1");
    assert_eq!(info["key_info"]["key_description"], "é".repeat(255));
    let listed = call(&kms, Operation::ListKeys, &json!({})).unwrap();
    assert_eq!(
        listed["key_details"][0]["key_alias"],
        "orders/2026:main_key-1"
    );
    // An empty description clears it; the key's own alias again is no conflict.
    call(
        &kms,
        Operation::UpdateKeyDescription,
        &json!({"key_id": key_id, "key_description": ""}),
    )
    .unwrap();
    call(
        &kms,
        Operation::UpdateKeyAlias,
        &json!({"key_id": key_id, "key_alias": "orders/2026:main_key-1"}),
    )
    .unwrap();
    let info = call(&kms, Operation::DescribeKey, &json!({"key_id": key_id})).unwrap();
    assert_eq!(info["key_info"]["key_description"], "");
    // The old alias is free again.
    call(&kms, Operation::CreateKey, &json!({"key_alias": old_alias})).unwrap();
}

#[test]
fn bad_aliases_descriptions_and_keys_are_refused_with_the_apis_codes_and_change_nothing() {
    let kms = engine();
    let key_id = create_key(&kms, "SM4");
    let other = create_key(&kms, "AES_256");
    let other_alias = call(&kms, Operation::DescribeKey, &json!({"key_id": other})).unwrap()
        ["key_info"]["key_alias"]
        .clone();
    let before = call(&kms, Operation::ListKeys, &json!({})).unwrap();
    for (operation, body, code) in [
        (
            Operation::UpdateKeyAlias,
            json!({"key_id": key_id, "key_alias": other_alias}),
            "KMS.1104",
        ),
        (
            Operation::UpdateKeyAlias,
            json!({"key_id": key_id, "key_alias": ""}),
            "KMS.1101",
        ),
        (
            Operation::UpdateKeyAlias,
            json!({"key_id": key_id, "key_alias": "a".repeat(256)}),
            "KMS.1101",
        ),
        (
            Operation::UpdateKeyAlias,
            json!({"key_id": key_id, "key_alias": "has space"}),
            "KMS.1101",
        ),
        (
            Operation::UpdateKeyAlias,
            json!({"key_id": key_id, "key_alias": "kms/default"}),
            "KMS.1101",
        ),
        (
            Operation::UpdateKeyAlias,
            json!({"key_id": key_id}),
            "KMS.0204",
        ),
        (
            Operation::UpdateKeyAlias,
            json!({"key_alias": "x"}),
            "KMS.0204",
        ),
        (
            Operation::UpdateKeyAlias,
            json!({"key_id": "0d0466b0-e727-4d9c-b35d-f84bb474a37f", "key_alias": "x"}),
            "KMS.0207",
        ),
        (
            Operation::UpdateKeyAlias,
            json!({"key_id": key_id, "key_alias": 7}),
            "KMS.0202",
        ),
        (
            Operation::UpdateKeyDescription,
            json!({"key_id": key_id, "key_description": "d".repeat(256)}),
            "KMS.1103",
        ),
        (
            Operation::UpdateKeyDescription,
            json!({"key_id": key_id}),
            "KMS.0204",
        ),
        (
            Operation::UpdateKeyDescription,
            json!({"key_id": "nope", "key_description": "d"}),
            "KMS.0205",
        ),
    ] {
        assert_eq!(error_code(&kms, operation, &body), code, "{body}");
    }
    assert_eq!(call(&kms, Operation::ListKeys, &json!({})).unwrap(), before);
}

#[test]
fn a_key_pending_deletion_keeps_its_alias_and_description() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    call(
        &kms,
        Operation::ScheduleKeyDeletion,
        &json!({"key_id": key_id, "pending_days": "7"}),
    )
    .unwrap();
    let before = call(&kms, Operation::DescribeKey, &json!({"key_id": key_id})).unwrap();
    for (operation, body) in [
        (
            Operation::UpdateKeyAlias,
            json!({"key_id": key_id, "key_alias": "late"}),
        ),
        (
            Operation::UpdateKeyDescription,
            json!({"key_id": key_id, "key_description": "late"}),
        ),
    ] {
        assert_eq!(error_code(&kms, operation, &body), "KMS.0210");
    }
    assert_eq!(
        call(&kms, Operation::DescribeKey, &json!({"key_id": key_id})).unwrap(),
        before
    );
    call(
        &kms,
        Operation::CancelKeyDeletion,
        &json!({"key_id": key_id}),
    )
    .unwrap();
    call(
        &kms,
        Operation::UpdateKeyAlias,
        &json!({"key_id": key_id, "key_alias": "back"}),
    )
    .unwrap();
}
