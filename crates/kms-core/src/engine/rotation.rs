//! Key rotation (DESIGN 12): a rotation adds a material generation in the backend and makes
//! it the one new blobs are sealed under; every older generation still opens its own blobs.
//! On demand (`rotate-on-demand`) or on schedule, in the periodic maintenance, once an
//! enabled rotation's interval has passed.

use super::key_cache::require_enabled;
use super::lifecycle::STATE_CHANGE_ATTEMPTS;
use super::{Kms, concurrent_change};
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::models::{
    EmptyResponse, KeyIdRequest, KeyMaterial, KeyRotationStatusResponse, MATERIAL_CURRENT,
    MATERIAL_RETIRED, RotateOnDemandResponse, UpdateKeyRotationIntervalRequest,
};
use crate::spec::{CmkSpec, KeyOrigin};
use crate::store::{KeyRecord, Rotation};
use crate::tenant::Tenant;

/// Refuses a rotation policy on a key whose material does not rotate: asymmetric and HMAC
/// keys (KMS.0324, KMS.0325, KMS.0341), and keys of origin `external` (KMS.0312).
fn require_renewable(record: &KeyRecord) -> Result<CmkSpec> {
    let spec = record.spec.require_rotatable()?;
    if record.origin == KeyOrigin::External {
        return Err(KmsError::ExternalKeyRotation);
    }
    Ok(spec)
}

/// Refuses rotation of a key whose material the engine cannot renew (see
/// [`require_renewable`]), or that is not enabled (the code of its state).
fn require_rotatable(record: &KeyRecord) -> Result<()> {
    require_renewable(record)?;
    require_enabled(record.state)
}

impl Kms {
    /// `enable-key-rotation`: the maintenance rotates the key once its rotation interval
    /// (365 days unless set) has passed since now, and then every interval. Enabling it
    /// again changes nothing.
    ///
    /// # Errors
    /// KMS.0207 unknown key; KMS.0312 for a key of origin `external`; KMS.0209, KMS.0210,
    /// KMS.1301 for a key that is not enabled; validation and store failures.
    pub fn enable_key_rotation(
        &self,
        tenant: &Tenant,
        request: &KeyIdRequest,
    ) -> Result<EmptyResponse> {
        let key_id = request.validate()?;
        let now = self.now_ms();
        self.change_rotation(tenant, &key_id, |record| {
            require_rotatable(record)?;
            Ok(if record.rotation.enabled {
                record.rotation
            } else {
                Rotation {
                    enabled: true,
                    interval_start_ms: now,
                    ..record.rotation
                }
            })
        })
    }

    /// `disable-key-rotation`: no more scheduled rotations (on demand still works).
    /// Disabling it again changes nothing.
    ///
    /// # Errors
    /// KMS.0207 unknown key; KMS.0312 for a key of origin `external`; validation and store
    /// failures.
    pub fn disable_key_rotation(
        &self,
        tenant: &Tenant,
        request: &KeyIdRequest,
    ) -> Result<EmptyResponse> {
        let key_id = request.validate()?;
        self.change_rotation(tenant, &key_id, |record| {
            require_renewable(record)?;
            Ok(Rotation {
                enabled: false,
                ..record.rotation
            })
        })
    }

    /// `update-key-rotation-interval`: the days between scheduled rotations, counted from
    /// the start of the current interval.
    ///
    /// # Errors
    /// KMS.3001 for an interval outside 30..=365 days; KMS.0207 unknown key; KMS.0312 for a
    /// key of origin `external`; KMS.0313 when rotation is not enabled; validation and
    /// store failures.
    pub fn update_key_rotation_interval(
        &self,
        tenant: &Tenant,
        request: &UpdateKeyRotationIntervalRequest,
    ) -> Result<EmptyResponse> {
        let (key_id, days) = request.validate()?;
        self.change_rotation(tenant, &key_id, |record| {
            require_renewable(record)?;
            if !record.rotation.enabled {
                return Err(KmsError::RotationNotEnabled);
            }
            Ok(Rotation {
                interval_days: days,
                ..record.rotation
            })
        })
    }

    /// `get-key-rotation-status`: the policy, the count of rotations and every material
    /// the key holds, in any state.
    ///
    /// # Errors
    /// KMS.0207 unknown key; validation and store failures.
    pub fn get_key_rotation_status(
        &self,
        tenant: &Tenant,
        request: &KeyIdRequest,
    ) -> Result<KeyRotationStatusResponse> {
        let key_id = request.validate()?;
        let record = self.current_key(tenant, &key_id)?;
        let seconds = |ms: u64| (ms / 1000).to_string();
        let mut key_materials: Vec<KeyMaterial> = record
            .retired_materials
            .iter()
            .map(|retired| KeyMaterial {
                material_id: retired.generation.to_string(),
                charge_id: String::new(),
                create_time: seconds(retired.created_ms),
                expiration_time: String::new(),
                state: MATERIAL_RETIRED,
            })
            .collect();
        if record.key_blob.is_some() {
            key_materials.push(KeyMaterial {
                material_id: record.generation.to_string(),
                charge_id: String::new(),
                create_time: seconds(record.material_created_ms()),
                expiration_time: record.material_expiry_ms.map(seconds).unwrap_or_default(),
                state: MATERIAL_CURRENT,
            });
        }
        Ok(KeyRotationStatusResponse {
            key_rotation_enabled: record.rotation.enabled,
            rotation_interval: record.rotation.interval_days,
            last_rotation_time: record
                .rotation
                .last_rotation_ms
                .map(seconds)
                .unwrap_or_default(),
            number_of_rotations: record.rotation.rotations,
            key_materials,
        })
    }

    /// `rotate-on-demand`: a new material generation now, whether or not scheduled
    /// rotation is enabled; the rotation interval starts again.
    ///
    /// # Errors
    /// KMS.0207 unknown key; KMS.0312 for a key of origin `external`; KMS.0209, KMS.0210,
    /// KMS.1301 for a key that is not enabled; backend and store failures.
    pub fn rotate_on_demand(
        &self,
        tenant: &Tenant,
        request: &KeyIdRequest,
    ) -> Result<RotateOnDemandResponse> {
        let key_id = request.validate()?;
        for _ in 0..STATE_CHANGE_ATTEMPTS {
            let record = self.current_key(tenant, &key_id)?;
            require_rotatable(&record)?;
            if self.rotate(&record)? {
                return Ok(RotateOnDemandResponse {
                    key_id: key_id.to_string(),
                });
            }
        }
        Err(concurrent_change(&key_id))
    }

    /// Rotates every enabled key of origin `kms` whose rotation is enabled and due; of
    /// several engines doing this at once, each due rotation is made by one. Returns each
    /// key rotated, or the backend's failure for it.
    ///
    /// # Errors
    /// Store failures, before anything is rotated.
    pub(super) fn rotate_due_keys(&self) -> Result<Vec<(KeyId, Result<()>)>> {
        let now = self.now_ms();
        let due: Vec<KeyRecord> = self
            .store
            .list_keys()?
            .into_iter()
            .filter(|record| record.rotation.due(now) && require_rotatable(record).is_ok())
            .collect();
        let mut rotated = Vec::new();
        for record in due {
            match self.rotate(&record) {
                Ok(true) => rotated.push((record.key_id, Ok(()))),
                // Another engine rotated it, or its state changed: nothing is due.
                Ok(false) => {}
                Err(error) => rotated.push((record.key_id, Err(error))),
            }
        }
        Ok(rotated)
    }

    /// Makes generation `record.generation + 1` of the key and stores it as current, if
    /// the key is still as `record` says; returns whether it did. A material the store
    /// did not take is destroyed.
    fn rotate(&self, record: &KeyRecord) -> Result<bool> {
        let generation = record
            .generation
            .checked_add(1)
            .ok_or_else(|| KmsError::Unsupported("more than 2^32 rotations".into()))?;
        let material =
            self.backend
                .generate_cmk(&record.key_id, require_renewable(record)?, generation)?;
        // On a store failure whether the store took it is unknown: the material stays, where
        // an operator finds it by the key ID.
        let added = self.store.add_generation(
            &record.key_id,
            record.generation,
            &record.rotation,
            &material,
            self.now_ms(),
        )?;
        if added {
            self.cache.keys.remove(&record.key_id);
        } else {
            // Another caller rotated the key, or its state or policy changed. A failure to
            // destroy the spare is no failure of the call: on a token the object carries
            // the key ID as CKA_LABEL, and goes with the key's deletion.
            let _ = self.backend.destroy_key(&material);
        }
        Ok(added)
    }

    /// Sets `key_id`'s rotation policy to what `decide` makes of its record, as a
    /// compare-and-swap retried when another caller got in between.
    fn change_rotation(
        &self,
        tenant: &Tenant,
        key_id: &KeyId,
        decide: impl Fn(&KeyRecord) -> Result<Rotation>,
    ) -> Result<EmptyResponse> {
        for _ in 0..STATE_CHANGE_ATTEMPTS {
            let record = self.current_key(tenant, key_id)?;
            let to = decide(&record)?;
            if to == record.rotation || self.store.update_rotation(key_id, &record.rotation, &to)? {
                return Ok(EmptyResponse {});
            }
        }
        Err(concurrent_change(key_id))
    }
}
