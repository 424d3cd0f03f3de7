//! `Kms::call_json` answers compact JSON and `Kms::call_json_pretty_as` the same JSON
//! pretty-printed, each exactly as serde_json writes it; a refusal is the same in both.

use crate::common::{create_key, engine};
use kms_core::Operation;
use kms_core::models::{CreateDatakeyResponse, DescribeKeyResponse};

#[test]
fn responses_are_compact_or_pretty_as_serde_json_writes_them() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let body = format!(r#"{{"key_id":"{key_id}","datakey_length":"256"}}"#);
    let compact = kms.call_json(Operation::CreateDatakey, &body).unwrap();
    let typed: CreateDatakeyResponse = serde_json::from_str(compact.expose_secret()).unwrap();
    assert_eq!(
        compact.expose_secret(),
        serde_json::to_string(&typed).unwrap()
    );

    let body = format!(r#"{{"key_id":"{key_id}"}}"#);
    let pretty = kms
        .call_json_pretty_as(kms.default_tenant(), Operation::DescribeKey, &body)
        .unwrap();
    let typed: DescribeKeyResponse = serde_json::from_str(pretty.expose_secret()).unwrap();
    assert_eq!(
        pretty.expose_secret(),
        serde_json::to_string_pretty(&typed).unwrap()
    );
    assert!(
        pretty
            .expose_secret()
            .starts_with("{\n  \"key_info\": {\n    \"key_id\": ")
    );
}

#[test]
fn a_refusal_is_the_same_in_either_layout() {
    let kms = engine();
    let compact = kms.call_json(Operation::DescribeKey, "[]").unwrap_err();
    let pretty = kms
        .call_json_pretty_as(kms.default_tenant(), Operation::DescribeKey, "[]")
        .unwrap_err();
    assert_eq!(compact.to_json(), pretty.to_json());
    assert_eq!(
        compact.to_json(),
        r#"{"error":{"error_code":"KMS.0202","error_msg":"Invalid JSON format of the request message: the request body must be a JSON object, not a JSON array"}}"#
    );
}
