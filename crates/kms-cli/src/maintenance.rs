//! The periodic work from the shell: `kms purge-deleted-keys` deletes the keys whose
//! pending deletion time has come; `kms maintain` does all of the engine's periodic work
//! (expired material, unused import tokens, purge). Each prints what it did as JSON.

use kms_core::{KeyId, KmsError, Result};
use serde_json::json;

use crate::cli::Global;
use crate::home;
use crate::output::render_public;

/// Purges the home's keys due for deletion. Prints `{"deleted_key_ids":[...]}` (every key
/// gone from the store); fails with KMS.0103 naming the keys whose material the backend
/// could not destroy, if any.
pub(crate) fn purge(global: &Global) -> Result<()> {
    let kms = home::open(global)?;
    let purge = kms.purge_due_deletions()?;
    let deleted = purge
        .deleted
        .iter()
        .chain(purge.material_left.iter().map(|(key_id, _)| key_id));
    let report = json!({ "deleted_key_ids": ids(deleted) });
    println!("{}", render_public(&report, global.pretty));
    refuse_material_left(&purge.material_left)
}

/// Runs the engine's periodic work once. Prints `{"deleted_key_ids":[...],
/// "expired_material_key_ids":[...],"wrapping_keys_destroyed":N,
/// "orphaned_wrapping_keys_destroyed":N,"orphaned_wrapping_keys_left":N,
/// "rotated_key_ids":[...],"rotation_failed_key_ids":[...]}`; fails with KMS.0103 naming the
/// keys whose material the backend could not destroy, or whose rotation failed, if any.
pub(crate) fn maintain(global: &Global) -> Result<()> {
    let kms = home::open(global)?;
    let done = kms.maintain()?;
    let report = json!({
        "deleted_key_ids": ids(&done.deleted),
        "expired_material_key_ids": ids(&done.expired_material),
        "wrapping_keys_destroyed": done.wrapping_keys_destroyed,
        "orphaned_wrapping_keys_destroyed": done.orphaned_wrapping_keys_destroyed,
        "orphaned_wrapping_keys_left": done.orphaned_wrapping_keys_left,
        "rotated_key_ids": ids(&done.rotated),
        "rotation_failed_key_ids": ids(done.rotation_failures.iter().map(|(key_id, _)| key_id)),
    });
    println!("{}", render_public(&report, global.pretty));
    refuse_material_left(&done.material_left)?;
    refuse(&done.rotation_failures, |keys, first_error| {
        format!(
            "the scheduled rotation of keys {keys} failed ({first_error}); the next run tries again"
        )
    })
}

fn ids<'a>(keys: impl IntoIterator<Item = &'a KeyId>) -> Vec<String> {
    keys.into_iter().map(ToString::to_string).collect()
}

fn refuse_material_left(left: &[(KeyId, KmsError)]) -> Result<()> {
    refuse(left, |keys, first_error| {
        format!(
            "the backend did not destroy the material of keys {keys} ({first_error}); it stays \
             in the backend, unreachable through the engine"
        )
    })
}

/// KMS.0103 with `message(keys, first_error)` when there are `failures`: the keys
/// (comma-separated) and the first one's error.
fn refuse(
    failures: &[(KeyId, KmsError)],
    message: impl Fn(&str, &KmsError) -> String,
) -> Result<()> {
    match failures.first() {
        None => Ok(()),
        Some((_, first_error)) => {
            let keys = ids(failures.iter().map(|(key_id, _)| key_id)).join(", ");
            Err(KmsError::Backend(message(&keys, first_error)))
        }
    }
}
