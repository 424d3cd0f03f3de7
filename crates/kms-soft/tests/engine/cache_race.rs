//! A state change racing a key's first use is never lost to the key cache: once
//! disable-key or schedule-key-deletion has returned, no call through the engine uses the
//! key, whichever of the two got to the cache first.

use std::sync::Barrier;

use kms_core::{Kms, Operation};
use serde_json::json;

use crate::common::{call, create_key, engine};

const TRIALS: usize = 4_000;

/// Runs `TRIALS` races of a key's first use against `change` on a fresh key each, half of
/// them with the change's thread started first, and returns how many keys were still
/// usable after the change returned.
fn keys_usable_after(
    kms: &Kms,
    change: Operation,
    body: impl Fn(&str) -> serde_json::Value + Sync,
) -> usize {
    let mut usable = 0;
    for trial in 0..TRIALS {
        let key_id = create_key(kms, "AES_256");
        let use_key = json!({"key_id": key_id, "datakey_length": "256"});
        let start = Barrier::new(2);
        let first_use = || {
            start.wait();
            // Either answer is right while the change is in flight.
            let _ = call(kms, Operation::CreateDatakeyWithoutPlaintext, &use_key);
        };
        let changed = || {
            start.wait();
            call(kms, change, &body(&key_id)).unwrap();
        };
        std::thread::scope(|scope| {
            if trial % 2 == 0 {
                scope.spawn(first_use);
                scope.spawn(changed);
            } else {
                scope.spawn(changed);
                scope.spawn(first_use);
            }
        });
        if call(kms, Operation::CreateDatakeyWithoutPlaintext, &use_key).is_ok() {
            usable += 1;
        }
    }
    usable
}

#[test]
fn a_disable_racing_a_first_use_leaves_no_key_usable() {
    let kms = engine();
    assert_eq!(
        keys_usable_after(
            &kms,
            Operation::DisableKey,
            |key_id| json!({"key_id": key_id})
        ),
        0
    );
}

#[test]
fn a_scheduled_deletion_racing_a_first_use_leaves_no_key_usable() {
    let kms = engine();
    let usable = keys_usable_after(
        &kms,
        Operation::ScheduleKeyDeletion,
        |key_id| json!({"key_id": key_id, "pending_days": "7"}),
    );
    assert_eq!(usable, 0);
}
