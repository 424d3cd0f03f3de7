//! Tags on keys: at most 10 a key, values replaced by key, batches all or nothing, the
//! project's list grouped by key, and tags going with a deleted key.

use std::sync::Arc;

use kms_core::{Kms, ManualClock, Operation};
use kms_soft::{RootKey, SoftBackend};
use serde_json::{Value, json};

use crate::common::{call, create_key, engine, engine_on_clock, error_code};

fn tags(kms: &Kms, key_id: &str) -> Value {
    call(kms, Operation::ShowKmsTags, &json!({"key_id": key_id})).unwrap()
}

fn tag(kms: &Kms, key_id: &str, key: &str, value: &str) -> Result<Value, String> {
    call(
        kms,
        Operation::CreateKmsTag,
        &json!({"key_id": key_id, "tag": {"key": key, "value": value}}),
    )
    .map_err(|error| error.code().to_owned())
}

#[test]
fn a_key_holds_ten_tags_and_the_eleventh_is_refused_changing_nothing() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    for i in 0..10 {
        assert_eq!(tag(&kms, &key_id, &format!("k{i}"), "v"), Ok(json!({})));
    }
    let before = tags(&kms, &key_id);
    assert_eq!(before["existTagsNum"], 10);
    assert_eq!(tag(&kms, &key_id, "k10", "v"), Err("KMS.0409".into()));
    // Replacing a value is no new tag.
    tag(&kms, &key_id, "k3", "new").unwrap();
    let after = tags(&kms, &key_id);
    assert_eq!(after["existTagsNum"], 10);
    assert_eq!(after["tags"][3], json!({"key": "k3", "value": "new"}));
    // A batch that would pass ten changes nothing, one that stays within it all.
    let batch =
        |tags: Value, action: &str| json!({"key_id": key_id, "tags": tags, "action": action});
    let over = batch(
        json!([{"key": "k0", "value": "x"}, {"key": "z", "value": ""}]),
        "create",
    );
    assert_eq!(
        error_code(&kms, Operation::BatchCreateKmsTags, &over),
        "KMS.0409"
    );
    assert_eq!(tags(&kms, &key_id), after);
    let removed = batch(
        json!([{"key": "k0"}, {"key": "k1"}, {"key": "absent"}]),
        "delete",
    );
    call(&kms, Operation::BatchCreateKmsTags, &removed).unwrap();
    let within = batch(
        json!([{"key": "k2", "value": "x"}, {"key": "z", "value": ""}]),
        "create",
    );
    call(&kms, Operation::BatchCreateKmsTags, &within).unwrap();
    let listed = tags(&kms, &key_id);
    assert_eq!(listed["existTagsNum"], 9);
    assert_eq!(listed["tags"][0], json!({"key": "k2", "value": "x"}));
    call(
        &kms,
        Operation::DeleteTag,
        &json!({"key_id": key_id, "key": "z"}),
    )
    .unwrap();
    call(
        &kms,
        Operation::DeleteTag,
        &json!({"key_id": key_id, "key": "z"}),
    )
    .unwrap();
    assert_eq!(tags(&kms, &key_id)["existTagsNum"], 8);
}

#[test]
fn bad_tags_are_refused_with_their_codes_and_change_nothing() {
    let kms = engine();
    let key_id = create_key(&kms, "SM4");
    tag(&kms, &key_id, "env", "prod").unwrap();
    let before = tags(&kms, &key_id);
    for (key, value, code) in [
        ("", "v", "KMS.0411"),
        (&*"k".repeat(37), "v", "KMS.0411"),
        ("a=b", "v", "KMS.0406"),
        ("a\u{1}", "v", "KMS.0406"),
        ("env", &*"v".repeat(44), "KMS.0410"),
        ("env", "<script>", "KMS.0405"),
        ("env", "a\\b", "KMS.0405"),
    ] {
        assert_eq!(
            tag(&kms, &key_id, key, value),
            Err(code.into()),
            "{key:?} {value:?}"
        );
    }
    let unknown = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
    assert_eq!(tag(&kms, unknown, "env", "x"), Err("KMS.0207".into()));
    assert_eq!(
        error_code(&kms, Operation::ShowKmsTags, &json!({"key_id": unknown})),
        "KMS.0207"
    );
    assert_eq!(tags(&kms, &key_id), before);
    // A key pending deletion keeps its tags, and they cannot change.
    call(
        &kms,
        Operation::ScheduleKeyDeletion,
        &json!({"key_id": key_id, "pending_days": "7"}),
    )
    .unwrap();
    assert_eq!(tag(&kms, &key_id, "env", "x"), Err("KMS.0210".into()));
    assert_eq!(
        error_code(
            &kms,
            Operation::DeleteTag,
            &json!({"key_id": key_id, "key": "env"})
        ),
        "KMS.0210"
    );
    assert_eq!(tags(&kms, &key_id), before);
}

#[test]
fn the_project_lists_each_tag_key_with_its_values_and_a_deleted_keys_tags_go() {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let kms = engine_on_clock(
        Arc::new(SoftBackend::new(RootKey::generate().unwrap())),
        &clock,
    );
    let (a, b) = (create_key(&kms, "AES_256"), create_key(&kms, "SM4"));
    tag(&kms, &a, "env", "prod").unwrap();
    tag(&kms, &a, "team", "").unwrap();
    tag(&kms, &b, "env", "dev").unwrap();
    tag(&kms, &b, "team", "").unwrap();
    let listed = call(&kms, Operation::ListKmsTags, &json!({})).unwrap();
    assert_eq!(
        listed,
        json!({"tags": [{"key": "env", "values": ["dev", "prod"]}, {"key": "team", "values": [""]}]})
    );
    call(
        &kms,
        Operation::ScheduleKeyDeletion,
        &json!({"key_id": b, "pending_days": "7"}),
    )
    .unwrap();
    clock.advance_ms(7 * 86_400_000);
    assert_eq!(kms.purge_due_deletions().unwrap().deleted.len(), 1);
    let listed = call(&kms, Operation::ListKmsTags, &json!({})).unwrap();
    assert_eq!(
        listed,
        json!({"tags": [{"key": "env", "values": ["prod"]}, {"key": "team", "values": [""]}]})
    );
}
