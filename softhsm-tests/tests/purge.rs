//! Token-neutral (every test token): keys whose pending deletion time has come are deleted
//! from the token, not only from the store.
#![allow(clippy::unwrap_used, reason = "tests report failure by panicking")]

use std::sync::Arc;

use kms_core::{ManualClock, Operation};
use serde_json::json;
use softhsm_tests::{Token, call, create_key, decrypt, encrypt, on_each_token};

on_each_token!(purge_destroys_the_cmk_object_of_a_key_whose_pending_days_have_passed);

fn purge_destroys_the_cmk_object_of_a_key_whose_pending_days_have_passed(token: Token) {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let kms = token.engine_on_clock(&clock);
    let deleted = create_key(&kms, "AES_256");
    let kept = create_key(&kms, "AES_256");
    let blob = encrypt(&kms, &deleted, &[9; 32], "");
    for key_id in [&deleted, &kept] {
        call(
            &kms,
            Operation::ScheduleKeyDeletion,
            &json!({"key_id": key_id, "pending_days": "7"}),
        )
        .unwrap();
    }
    call(&kms, Operation::CancelKeyDeletion, &json!({"key_id": kept})).unwrap();
    clock.advance_ms(7 * 86_400_000);

    let purge = kms.purge_due_deletions().unwrap();
    let purged: Vec<String> = purge.deleted.iter().map(ToString::to_string).collect();
    assert_eq!(purged, [deleted.as_str()]);
    assert!(purge.material_left.is_empty());
    assert_eq!(token.cmk_objects_of(&deleted), 0);
    assert_eq!(token.cmk_objects_of(&kept), 1);
    let refused = decrypt(&kms, &deleted, &blob, 32, "").unwrap_err();
    assert_eq!(refused.code(), "KMS.0207");
    kms.destroy_all_keys().unwrap();
}
