//! Deleting keys whose pending deletion time has come.

use super::Kms;
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;

/// What [`Kms::purge_due_deletions`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Purge {
    /// Keys deleted: gone from the store, their material destroyed in the backend.
    pub deleted: Vec<KeyId>,
    /// Keys gone from the store whose material the backend failed to destroy, with the
    /// backend's error. The engine can no longer reach that material; on a PKCS#11 token
    /// its objects carry the key ID as CKA_LABEL, for an operator to destroy.
    pub material_left: Vec<(KeyId, KmsError)>,
}

impl Kms {
    /// Deletes every key pending deletion whose `pending_days` have passed: its record
    /// leaves the store (so every later call on it gets KMS.0207, and blobs it sealed never
    /// open again) and the backend destroys its material, every generation of it. A key whose deletion is cancelled
    /// before this runs stays. Safe to run from several engines sharing a store at once:
    /// each key is deleted by one of them.
    ///
    /// The engine has no scheduler of its own: an embedder calls this periodically (the
    /// command line's `kms purge-deleted-keys`).
    ///
    /// # Errors
    /// Store failures, before anything is deleted. A backend failure to destroy one key's
    /// material does not stop the others; it is reported in [`Purge::material_left`].
    pub fn purge_due_deletions(&self) -> Result<Purge> {
        let mut purge = Purge::default();
        for record in self.store.take_due_deletions(self.now_ms())? {
            self.cache.keys.remove(&record.key_id);
            // Every generation goes; the first failure is reported, after trying the rest.
            let destroyed = record
                .all_materials()
                .map(|blob| self.backend.destroy_key(blob))
                .fold(Ok(()), Result::and);
            match destroyed {
                Ok(()) => purge.deleted.push(record.key_id),
                Err(error) => purge.material_left.push((record.key_id, error)),
            }
        }
        Ok(purge)
    }
}
