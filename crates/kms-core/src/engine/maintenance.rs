//! The engine's periodic work, in one call: expiring imported material, destroying the
//! wrapping keys of import tokens that expired unused, purging keys whose deletion is due,
//! trimming the store's change feed, destroying this store's orphaned wrapping keys, and
//! rotating keys whose scheduled rotation is due. Each item is a transition the store makes
//! atomically, so several engines on one store may all run it: each item is done once.

use super::Kms;
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;

/// How long the store's change feed keeps an entry: an engine that has not read the feed
/// for longer (cut off from the store) drops its whole cache when it can read again.
const FEED_RETENTION_MS: u64 = 60 * 60 * 1000;

/// What [`Kms::maintain`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Maintenance {
    /// Keys whose imported material expired and was destroyed.
    pub expired_material: Vec<KeyId>,
    /// Wrapping keys destroyed because their import token expired unused.
    pub wrapping_keys_destroyed: usize,
    /// This store's wrapping keys destroyed because no engine will use them: left in the
    /// backend by an engine that was killed (see [`Kms::sweep_orphaned_wrapping_keys`]).
    pub orphaned_wrapping_keys_destroyed: usize,
    /// Orphaned wrapping keys the backend failed to destroy, left for the next run.
    pub orphaned_wrapping_keys_left: usize,
    /// Keys deleted from the store because their pending deletion time had come (a
    /// failure to destroy one's material is in `material_left` too).
    pub deleted: Vec<KeyId>,
    /// Keys rotated because their rotation interval had passed: each has a new material
    /// generation.
    pub rotated: Vec<KeyId>,
    /// Keys whose scheduled rotation failed in the backend, with its error; the next run
    /// tries again.
    pub rotation_failures: Vec<(KeyId, KmsError)>,
    /// Keys whose material, or whose import token's wrapping key, the backend failed to
    /// destroy, with its error. The store no longer refers to it; on a PKCS#11 token the
    /// object carries the key ID as CKA_LABEL, for an operator to destroy.
    pub material_left: Vec<(KeyId, KmsError)>,
}

impl Kms {
    /// Runs the engine's periodic work once: imported material past its `expiration_time`
    /// is destroyed (see [`Kms::purge_due_deletions`] for deletions), and the wrapping keys
    /// of import tokens that expired unused are destroyed, change feed entries older
    /// than an hour are removed, and keys whose rotation is due are rotated (once per
    /// interval, however late the run: a run after three intervals rotates once). Calls find due expiries on their
    /// own as well; this makes them happen even for keys nobody uses. The engine has no
    /// scheduler of its own: an embedder calls this periodically (the command line's
    /// `kms maintain`).
    ///
    /// # Errors
    /// Store failures. A backend failure to destroy one item does not stop the others; it
    /// is reported in [`Maintenance::material_left`].
    pub fn maintain(&self) -> Result<Maintenance> {
        let mut done = Maintenance::default();
        for (key_id, destroyed) in self.expire_material(None)? {
            match destroyed {
                Ok(()) => done.expired_material.push(key_id),
                Err(error) => done.material_left.push((key_id, error)),
            }
        }
        for (key_id, destroyed) in self.destroy_expired_wrapping_keys()? {
            match destroyed {
                Ok(()) => done.wrapping_keys_destroyed += 1,
                Err(error) => done.material_left.push((key_id, error)),
            }
        }
        let purge = self.purge_due_deletions()?;
        done.deleted = purge.deleted;
        done.deleted
            .extend(purge.material_left.iter().map(|(key_id, _)| *key_id));
        done.material_left.extend(purge.material_left);
        self.store
            .prune_key_changes(self.now_ms().saturating_sub(FEED_RETENTION_MS))?;
        let sweep = self.wrapping_key_maker.sweep()?;
        done.orphaned_wrapping_keys_destroyed = sweep.destroyed;
        done.orphaned_wrapping_keys_left = sweep.failures.len();
        for (key_id, rotated) in self.rotate_due_keys()? {
            match rotated {
                Ok(()) => done.rotated.push(key_id),
                Err(error) => done.rotation_failures.push((key_id, error)),
            }
        }
        Ok(done)
    }

    /// Destroys the wrapping keys of this engine's store that an engine left in the
    /// backend when it was killed: each made more than two hours ago (a live engine holds
    /// an unreferenced one for at most an hour) and referred to by no import token in the
    /// store. Keys of other stores on the same backend are never touched. An engine with a
    /// wrapping key pool runs this when it opens; [`Kms::maintain`] runs it every time.
    /// Returns how many were destroyed.
    ///
    /// # Errors
    /// Store and backend failures; the first failure to destroy a key, after trying the
    /// others.
    pub fn sweep_orphaned_wrapping_keys(&self) -> Result<usize> {
        let sweep = self.wrapping_key_maker.sweep()?;
        match sweep.failures.into_iter().next() {
            Some(error) => Err(error),
            None => Ok(sweep.destroyed),
        }
    }
}
