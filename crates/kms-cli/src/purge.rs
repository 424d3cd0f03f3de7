//! `kms purge-deleted-keys`: deletes the keys whose pending deletion time has come, from
//! the store and from the backend, and prints their IDs.

use kms_core::{KmsError, Result, SecretString};
use serde_json::json;

use crate::cli::Global;
use crate::home;
use crate::output::render;

/// Purges the home's keys due for deletion. Prints `{"deleted_key_ids":[...]}` (every key
/// gone from the store); fails with KMS.0103 naming the keys whose material the backend
/// could not destroy, if any.
pub(crate) fn run(global: &Global) -> Result<()> {
    let kms = home::open(global)?;
    let purge = kms.purge_due_deletions()?;
    let left: Vec<String> = purge
        .material_left
        .iter()
        .map(|(key_id, _)| key_id.to_string())
        .collect();
    let deleted: Vec<String> = purge
        .deleted
        .iter()
        .map(ToString::to_string)
        .chain(left.iter().cloned())
        .collect();
    let report = json!({ "deleted_key_ids": deleted });
    println!(
        "{}",
        render(&SecretString::new(report.to_string()), global.pretty)
    );
    match purge.material_left.first() {
        None => Ok(()),
        Some((_, first_error)) => Err(KmsError::Backend(format!(
            "the backend did not destroy the material of deleted keys {} ({first_error}); \
             it stays in the backend, unreachable through the engine",
            left.join(", ")
        ))),
    }
}
