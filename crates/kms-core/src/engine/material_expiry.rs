//! The expiry of imported material (DESIGN 5): a transition of its own, not a state the
//! engine infers. When `expiration_time` passes, the store drops the material (keeping its
//! fingerprint, so only the same material can come back), an enabled key goes to pending
//! import, a disabled or pending-deletion key keeps its state, and the backend destroys the
//! material. The store makes the transition atomically, so it happens exactly once, whether
//! a call finds it due ([`Kms::current_key`]) or the periodic maintenance does.

use super::Kms;
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::store::KeyRecord;
use crate::tenant::Tenant;

impl Kms {
    /// The record of `tenant`'s key `key_id` as it stands now: if its material has
    /// expired, the expiry is carried out first, so every rule looks at the stored state.
    ///
    /// # Errors
    /// KMS.0207 for an unknown key or another project's; store failures; a backend failure
    /// to destroy the expired material (the transition itself stands).
    pub(super) fn current_key(&self, tenant: &Tenant, key_id: &KeyId) -> Result<KeyRecord> {
        let record = self.tenant_key(tenant, key_id)?;
        if !record.material_expired(self.now_ms()) {
            return Ok(record);
        }
        for (_, destroyed) in self.expire_material(Some(key_id))? {
            destroyed?;
        }
        self.tenant_key(tenant, key_id)
    }

    /// The stored record of `key_id` if it is `tenant`'s.
    fn tenant_key(&self, tenant: &Tenant, key_id: &KeyId) -> Result<KeyRecord> {
        self.store
            .get_key(key_id)?
            .filter(|record| record.project_id == tenant.project_id)
            .ok_or(KmsError::KeyNotFound)
    }

    /// Carries out every expiry of imported material due now (of `key_id` alone, when
    /// given); returns each expired key with the outcome of destroying its material in the
    /// backend. Expired keys leave the cache before their material is destroyed.
    ///
    /// # Errors
    /// Store failures, before anything is changed.
    pub(super) fn expire_material(
        &self,
        key_id: Option<&KeyId>,
    ) -> Result<Vec<(KeyId, Result<()>)>> {
        let expired = self.store.take_expired_material(self.now_ms(), key_id)?;
        Ok(expired
            .into_iter()
            .map(|record| {
                self.cache.keys.remove(&record.key_id);
                let destroyed = record
                    .key_blob
                    .as_ref()
                    .map_or(Ok(()), |blob| self.backend.destroy_key(blob));
                (record.key_id, destroyed)
            })
            .collect())
    }
}
