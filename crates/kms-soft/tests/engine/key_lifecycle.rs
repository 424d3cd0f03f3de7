//! The CMK lifecycle: create, describe, list, enable, disable, schedule and cancel deletion,
//! and the crypto each state allows.

use std::sync::Arc;

use crate::common::{
    InstrumentedBackend, call, create_key, decrypt, encrypt, engine, engine_with, error_code,
    key_state,
};
use kms_core::{CmkSpec, Kms, KmsConfig, ManualClock, MemoryStore, Operation};
use serde_json::{Value, json};

const DEK: [u8; 16] = [7; 16];

fn lifecycle(kms: &Kms, operation: Operation, key_id: &str) -> Result<Value, kms_core::KmsError> {
    call(kms, operation, &json!({ "key_id": key_id }))
}

fn encrypt_code(kms: &Kms, key_id: &str) -> Option<String> {
    call(
        kms,
        Operation::EncryptDatakey,
        &json!({
            "key_id": key_id,
            "plain_text": crate::common::plain_text(CmkSpec::Aes256, &DEK),
            "datakey_plain_length": "16",
        }),
    )
    .err()
    .map(|err| err.code().to_owned())
}

#[test]
fn disabled_key_refuses_encrypt_with_kms_0209_and_works_again_after_enable_key() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let blob = encrypt(&kms, &key_id, CmkSpec::Aes256, &DEK, "");

    let disabled = lifecycle(&kms, Operation::DisableKey, &key_id).unwrap();
    assert_eq!(
        disabled,
        json!({"key_info": {"key_id": key_id, "key_state": "3"}})
    );
    assert_eq!(encrypt_code(&kms, &key_id).as_deref(), Some("KMS.0209"));
    assert_eq!(
        decrypt(&kms, &key_id, &blob, 16, "").unwrap_err().code(),
        "KMS.0209"
    );
    assert_eq!(
        error_code(
            &kms,
            Operation::CreateDatakey,
            &json!({"key_id": key_id, "key_spec": "AES_256"})
        ),
        "KMS.0209"
    );
    assert_eq!(key_state(&kms, &key_id), "3");

    let enabled = lifecycle(&kms, Operation::EnableKey, &key_id).unwrap();
    assert_eq!(enabled["key_info"]["key_state"], "2");
    assert_eq!(encrypt_code(&kms, &key_id), None);
    assert!(decrypt(&kms, &key_id, &blob, 16, "").is_ok());
}

#[test]
fn enable_and_disable_refuse_keys_in_the_wrong_state() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let err = lifecycle(&kms, Operation::EnableKey, &key_id).unwrap_err();
    assert_eq!(err.code(), "KMS.1201");
    lifecycle(&kms, Operation::DisableKey, &key_id).unwrap();
    let err = lifecycle(&kms, Operation::DisableKey, &key_id).unwrap_err();
    assert_eq!(err.code(), "KMS.1301");
}

#[test]
fn pending_deletion_refuses_crypto_with_kms_0210_until_cancelled_into_disabled() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let blob = encrypt(&kms, &key_id, CmkSpec::Aes256, &DEK, "");

    let scheduled = call(
        &kms,
        Operation::ScheduleKeyDeletion,
        &json!({"key_id": key_id, "pending_days": "7"}),
    )
    .unwrap();
    assert_eq!(scheduled, json!({"key_id": key_id, "key_state": "4"}));
    assert_eq!(encrypt_code(&kms, &key_id).as_deref(), Some("KMS.0210"));
    assert_eq!(
        decrypt(&kms, &key_id, &blob, 16, "").unwrap_err().code(),
        "KMS.0210"
    );
    for operation in [Operation::EnableKey, Operation::DisableKey] {
        assert_eq!(
            lifecycle(&kms, operation, &key_id).unwrap_err().code(),
            "KMS.0210"
        );
    }
    let again = call(
        &kms,
        Operation::ScheduleKeyDeletion,
        &json!({"key_id": key_id, "pending_days": "30"}),
    )
    .unwrap_err();
    assert_eq!(again.code(), "KMS.1402");

    let described = lifecycle(&kms, Operation::DescribeKey, &key_id).unwrap();
    let created: u64 = described["key_info"]["creation_date"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let deletion: u64 = described["key_info"]["scheduled_deletion_date"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let seven_days_ms = 7 * 86_400_000;
    assert!(deletion >= created + seven_days_ms && deletion < created + seven_days_ms + 60_000);

    let cancelled = lifecycle(&kms, Operation::CancelKeyDeletion, &key_id).unwrap();
    assert_eq!(cancelled, json!({"key_id": key_id, "key_state": "3"}));
    let described = lifecycle(&kms, Operation::DescribeKey, &key_id).unwrap();
    assert_eq!(described["key_info"]["scheduled_deletion_date"], "");
    assert_eq!(encrypt_code(&kms, &key_id).as_deref(), Some("KMS.0209"));
    lifecycle(&kms, Operation::EnableKey, &key_id).unwrap();
    assert_eq!(encrypt_code(&kms, &key_id), None);
}

#[test]
fn cancel_key_deletion_refuses_keys_not_pending_deletion() {
    let kms = engine();
    let key_id = create_key(&kms, "SM4");
    let err = lifecycle(&kms, Operation::CancelKeyDeletion, &key_id).unwrap_err();
    assert_eq!(err.code(), "KMS.1501");
}

#[test]
fn schedule_key_deletion_refuses_pending_days_outside_7_to_1096() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    for days in ["6", "1097", "0", "abc"] {
        assert_eq!(
            error_code(
                &kms,
                Operation::ScheduleKeyDeletion,
                &json!({"key_id": key_id, "pending_days": days})
            ),
            "KMS.1401",
            "{days}"
        );
    }
    assert_eq!(key_state(&kms, &key_id), "2");
}

#[test]
fn external_keys_start_pending_import_and_refuse_crypto() {
    let kms = engine();
    let created = call(
        &kms,
        Operation::CreateKey,
        &json!({"key_alias": "byok", "key_spec": "SM4", "origin": "external"}),
    )
    .unwrap();
    let key_id = created["key_info"]["key_id"].as_str().unwrap();
    let described = lifecycle(&kms, Operation::DescribeKey, key_id).unwrap();
    assert_eq!(described["key_info"]["key_state"], "5");
    assert_eq!(described["key_info"]["origin"], "external");
    assert_eq!(encrypt_code(&kms, key_id).as_deref(), Some("KMS.1301"));
    assert_eq!(
        lifecycle(&kms, Operation::EnableKey, key_id)
            .unwrap_err()
            .code(),
        "KMS.1201"
    );

    // Deleting a key that never got material and cancelling puts it back to pending import.
    call(
        &kms,
        Operation::ScheduleKeyDeletion,
        &json!({"key_id": key_id, "pending_days": "7"}),
    )
    .unwrap();
    let cancelled = lifecycle(&kms, Operation::CancelKeyDeletion, key_id).unwrap();
    assert_eq!(cancelled["key_state"], "5");
}

#[test]
fn create_key_answers_key_info_and_describe_key_shows_every_field() {
    let kms = engine();
    let created = call(
        &kms,
        Operation::CreateKey,
        &json!({"key_alias": "app/orders", "key_description": "orders DB", "key_spec": "SM4"}),
    )
    .unwrap();
    let key_id = created["key_info"]["key_id"].as_str().unwrap().to_owned();
    assert_eq!(
        created,
        json!({"key_info": {"key_id": key_id, "domain_id": "local", "region_id": "local"}})
    );
    let described = lifecycle(&kms, Operation::DescribeKey, &key_id).unwrap();
    let info = &described["key_info"];
    assert_eq!(info["key_alias"], "app/orders");
    assert_eq!(info["key_description"], "orders DB");
    assert_eq!(info["key_spec"], "SM4");
    assert_eq!(info["key_usage"], "ENCRYPT_DECRYPT");
    assert_eq!(info["key_state"], "2");
    assert_eq!(info["origin"], "kms");
    assert_eq!(info["realm"], "local");
    assert_eq!(info["default_key_flag"], "0");
    assert!(
        info["creation_date"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 1_700_000_000_000
    );
}

#[test]
fn create_key_refuses_a_duplicate_alias_and_stores_nothing() {
    let kms = engine();
    call(&kms, Operation::CreateKey, &json!({"key_alias": "dup"})).unwrap();
    assert_eq!(
        error_code(&kms, Operation::CreateKey, &json!({"key_alias": "dup"})),
        "KMS.1104"
    );
    let listed = call(&kms, Operation::ListKeys, &json!({})).unwrap();
    assert_eq!(listed["total"], 1);
}

#[test]
fn describe_key_of_an_unknown_or_malformed_id() {
    let kms = engine();
    let err = lifecycle(
        &kms,
        Operation::DescribeKey,
        "0d0466b0-e727-4d9c-b35d-f84bb474a37f",
    )
    .unwrap_err();
    assert_eq!(err.code(), "KMS.0207");
    let err = lifecycle(&kms, Operation::DescribeKey, "not-a-key").unwrap_err();
    assert_eq!(err.code(), "KMS.0205");
}

#[test]
fn list_keys_pages_in_creation_order_and_filters() {
    let kms = engine();
    let ids: Vec<String> = (0..5)
        .map(|i| create_key(&kms, if i % 2 == 0 { "AES_256" } else { "SM4" }))
        .collect();
    lifecycle(&kms, Operation::DisableKey, &ids[4]).unwrap();

    let first = call(&kms, Operation::ListKeys, &json!({"limit": "2"})).unwrap();
    assert_eq!(first["keys"], json!([ids[0], ids[1]]));
    assert_eq!(first["truncated"], "true");
    assert_eq!(first["next_marker"], "2");
    assert_eq!(first["total"], 5);
    assert_eq!(first["key_details"][1]["key_id"], ids[1].as_str());

    let last = call(
        &kms,
        Operation::ListKeys,
        &json!({"limit": "2", "marker": "4"}),
    )
    .unwrap();
    assert_eq!(last["keys"], json!([ids[4]]));
    assert_eq!(last["truncated"], "false");
    assert_eq!(last["next_marker"], "");

    let sm4 = call(&kms, Operation::ListKeys, &json!({"key_spec": "SM4"})).unwrap();
    assert_eq!(sm4["keys"], json!([ids[1], ids[3]]));
    let disabled = call(&kms, Operation::ListKeys, &json!({"key_state": "3"})).unwrap();
    assert_eq!(disabled["keys"], json!([ids[4]]));
    assert_eq!(disabled["total"], 1);
}

#[test]
fn concurrent_disable_and_use_never_lets_a_disabled_key_encrypt_afterwards() {
    let kms = std::sync::Arc::new(engine());
    let key_id = create_key(&kms, "AES_256");
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                for _ in 0..200 {
                    let _ = encrypt_code(&kms, &key_id);
                }
            });
        }
        scope.spawn(|| {
            for _ in 0..50 {
                lifecycle(&kms, Operation::DisableKey, &key_id).unwrap();
                lifecycle(&kms, Operation::EnableKey, &key_id).unwrap();
            }
            lifecycle(&kms, Operation::DisableKey, &key_id).unwrap();
        });
    });
    assert_eq!(encrypt_code(&kms, &key_id).as_deref(), Some("KMS.0209"));
}

#[test]
fn purge_deletes_exactly_the_keys_whose_pending_days_have_passed() {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let kms = engine_with(KmsConfig {
        wrapping_key_pool_size: 0,
        clock: clock.clone(),
        ..KmsConfig::default()
    });
    let schedule = |key_id: &str, days: &str| {
        call(
            &kms,
            Operation::ScheduleKeyDeletion,
            &json!({"key_id": key_id, "pending_days": days}),
        )
        .unwrap();
    };
    let week = create_key(&kms, "AES_256");
    let blob = encrypt(&kms, &week, CmkSpec::Aes256, &DEK, "");
    schedule(&week, "7");
    let eight_days = create_key(&kms, "SM4");
    schedule(&eight_days, "8");
    let cancelled = create_key(&kms, "AES_256");
    schedule(&cancelled, "7");
    lifecycle(&kms, Operation::CancelKeyDeletion, &cancelled).unwrap();
    let untouched = create_key(&kms, "AES_256");
    let purged = |kms: &Kms| -> Vec<String> {
        let purge = kms.purge_due_deletions().unwrap();
        assert!(purge.material_left.is_empty());
        purge.deleted.iter().map(ToString::to_string).collect()
    };

    assert_eq!(purged(&kms), Vec::<String>::new());
    clock.advance_ms(7 * 86_400_000 - 1);
    assert_eq!(purged(&kms), Vec::<String>::new());
    assert_eq!(key_state(&kms, &week), "4");
    clock.advance_ms(1);
    assert_eq!(purged(&kms), vec![week.clone()]);

    // Gone for every operation, the cached key included; the others as they were.
    let gone = lifecycle(&kms, Operation::DescribeKey, &week).unwrap_err();
    assert_eq!(gone.code(), "KMS.0207");
    assert_eq!(encrypt_code(&kms, &week).as_deref(), Some("KMS.0207"));
    assert_eq!(
        decrypt(&kms, &week, &blob, 16, "").unwrap_err().code(),
        "KMS.0207"
    );
    let cancel = lifecycle(&kms, Operation::CancelKeyDeletion, &week).unwrap_err();
    assert_eq!(cancel.code(), "KMS.0207");
    let listed = call(&kms, Operation::ListKeys, &json!({})).unwrap();
    assert_eq!(listed["total"], 3);
    assert_eq!(key_state(&kms, &eight_days), "4");
    assert_eq!(key_state(&kms, &cancelled), "3");
    assert_eq!(encrypt_code(&kms, &untouched), None);

    assert_eq!(purged(&kms), Vec::<String>::new());
    clock.advance_ms(86_400_000);
    assert_eq!(purged(&kms), vec![eight_days]);
}

#[test]
fn purge_reports_a_key_whose_material_the_backend_did_not_destroy_and_deletes_it_anyway() {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let backend = InstrumentedBackend::new();
    let kms = Kms::with_config(
        backend.clone(),
        Arc::new(MemoryStore::new()),
        KmsConfig {
            wrapping_key_pool_size: 0,
            clock: clock.clone(),
            ..KmsConfig::default()
        },
    );
    let key_id = create_key(&kms, "AES_256");
    call(
        &kms,
        Operation::ScheduleKeyDeletion,
        &json!({"key_id": key_id, "pending_days": "7"}),
    )
    .unwrap();
    clock.advance_ms(7 * 86_400_000);
    backend.refuse_destroy();

    let purge = kms.purge_due_deletions().unwrap();
    assert!(purge.deleted.is_empty());
    let left: Vec<(String, &str)> = purge
        .material_left
        .iter()
        .map(|(key_id, error)| (key_id.to_string(), error.code()))
        .collect();
    assert_eq!(left, [(key_id.clone(), "KMS.0103")]);
    let gone = lifecycle(&kms, Operation::DescribeKey, &key_id).unwrap_err();
    assert_eq!(gone.code(), "KMS.0207");
    assert!(kms.purge_due_deletions().unwrap().material_left.is_empty());
}
