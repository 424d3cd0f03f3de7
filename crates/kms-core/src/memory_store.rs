//! [`MemoryStore`]: a [`KeyStore`] in memory, for tests and for embedders that persist
//! elsewhere.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::backend::KeyBlob;
use crate::clock::{Clock, SystemClock};
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::spec::KeyState;
use crate::store::{
    ImportRecord, KeyChanges, KeyRecord, KeyStore, KeyText, NewMaterial, RetiredMaterial, Rotation,
    StateChange, Tag, TagChange,
};
use crate::tenant::ProjectId;

/// Keys in memory, in creation order.
#[derive(Debug, Default)]
pub struct MemoryStore {
    keys: Mutex<Keys>,
}

#[derive(Debug, Default, Clone)]
struct Keys {
    by_id: HashMap<KeyId, KeyRecord>,
    order: Vec<KeyId>,
    imports: HashMap<[u8; 16], ImportRecord>,
    engine_keys: HashMap<String, KeyBlob>,
    /// The change feed: (position, key, when) of every state or material change.
    feed: Vec<(u64, KeyId, u64)>,
    feed_position: u64,
    /// Encryptions leased per key.
    leased: HashMap<KeyId, u64>,
    /// Tags per key, ordered by key.
    tags: HashMap<KeyId, Vec<Tag>>,
}

impl Keys {
    fn record_change(&mut self, key_id: KeyId) {
        self.feed_position += 1;
        self.feed
            .push((self.feed_position, key_id, SystemClock.now_ms()));
    }
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Keys>> {
        self.keys
            .lock()
            .map_err(|_| KmsError::Store("memory store lock poisoned".into()))
    }
}

impl Clone for MemoryStore {
    /// A store of its own holding a copy of this one's keys, import tokens and engine
    /// keys: a known state to start each of many runs from.
    fn clone(&self) -> Self {
        let keys = self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Self {
            keys: Mutex::new(keys),
        }
    }
}

impl KeyStore for MemoryStore {
    fn insert_key(&self, record: &KeyRecord) -> Result<()> {
        let mut keys = self.lock()?;
        if keys
            .by_id
            .values()
            .any(|key| key.alias == record.alias && key.project_id == record.project_id)
        {
            return Err(KmsError::DuplicateKeyAlias);
        }
        if keys.by_id.contains_key(&record.key_id) {
            return Err(KmsError::Store(format!("key {} exists", record.key_id)));
        }
        keys.order.push(record.key_id);
        keys.by_id.insert(record.key_id, record.clone());
        Ok(())
    }

    fn update_key_text(&self, key_id: &KeyId, text: &KeyText) -> Result<bool> {
        let mut keys = self.lock()?;
        let Some(record) = keys.by_id.get(key_id) else {
            return Ok(false);
        };
        if record.state == KeyState::PendingDeletion {
            return Ok(false);
        }
        if let KeyText::Alias(alias) = text {
            let project = record.project_id.clone();
            let taken = keys.by_id.values().any(|other| {
                other.key_id != *key_id && other.project_id == project && other.alias == *alias
            });
            if taken {
                return Err(KmsError::DuplicateKeyAlias);
            }
        }
        let Some(record) = keys.by_id.get_mut(key_id) else {
            return Ok(false);
        };
        match text {
            KeyText::Alias(alias) => record.alias.clone_from(alias),
            KeyText::Description(description) => record.description.clone_from(description),
        }
        Ok(true)
    }

    fn get_key(&self, key_id: &KeyId) -> Result<Option<KeyRecord>> {
        Ok(self.lock()?.by_id.get(key_id).cloned())
    }

    fn list_keys(&self) -> Result<Vec<KeyRecord>> {
        let keys = self.lock()?;
        Ok(keys
            .order
            .iter()
            .filter_map(|id| keys.by_id.get(id).cloned())
            .collect())
    }

    fn change_state(&self, key_id: &KeyId, change: StateChange) -> Result<bool> {
        let mut keys = self.lock()?;
        match keys.by_id.get_mut(key_id) {
            Some(key)
                if key.state == change.from && key.key_blob.is_some() == change.has_material =>
            {
                key.state = change.to;
                key.scheduled_deletion_ms = change.scheduled_deletion_ms;
                keys.record_change(*key_id);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn set_material(&self, key_id: &KeyId, material: &NewMaterial) -> Result<bool> {
        let mut keys = self.lock()?;
        match keys.by_id.get_mut(key_id) {
            Some(key) if key.state == KeyState::PendingImport && key.key_blob.is_none() => {
                key.state = KeyState::Enabled;
                key.key_blob = Some(material.key_blob.clone());
                key.material_fingerprint = Some(material.fingerprint.clone());
                key.material_expiry_ms = material.expiry_ms;
                keys.record_change(*key_id);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn delete_material(&self, key_id: &KeyId, from: KeyState) -> Result<bool> {
        let mut keys = self.lock()?;
        match keys.by_id.get_mut(key_id) {
            Some(key) if key.state == from && key.key_blob.is_some() => {
                key.state = KeyState::PendingImport;
                key.material_expiry_ms = None;
                key.key_blob = None;
                keys.record_change(*key_id);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn take_expired_material(&self, now_ms: u64, key_id: Option<&KeyId>) -> Result<Vec<KeyRecord>> {
        let mut keys = self.lock()?;
        let Keys { by_id, order, .. } = &mut *keys;
        let mut expired = Vec::new();
        for id in order
            .iter()
            .filter(|id| key_id.is_none_or(|only| only == *id))
        {
            if let Some(key) = by_id.get_mut(id).filter(|key| key.material_expired(now_ms)) {
                expired.push(key.clone());
                key.key_blob = None;
                key.material_expiry_ms = None;
                if key.state == KeyState::Enabled {
                    key.state = KeyState::PendingImport;
                }
            }
        }
        for key in &expired {
            keys.record_change(key.key_id);
        }
        Ok(expired)
    }

    fn take_due_deletions(&self, now_ms: u64) -> Result<Vec<KeyRecord>> {
        let mut keys = self.lock()?;
        let Keys { by_id, order, .. } = &mut *keys;
        let mut due = Vec::new();
        order.retain(|key_id| {
            let is_due = by_id.get(key_id).is_some_and(|key| {
                key.state == KeyState::PendingDeletion
                    && key.scheduled_deletion_ms.is_some_and(|ms| ms <= now_ms)
            });
            if is_due {
                due.extend(by_id.remove(key_id));
            }
            !is_due
        });
        for key in &due {
            keys.leased.remove(&key.key_id);
            keys.tags.remove(&key.key_id);
            keys.record_change(key.key_id);
        }
        Ok(due)
    }

    fn key_changes_since(&self, position: Option<u64>) -> Result<KeyChanges> {
        let keys = self.lock()?;
        let reaches_back = |after: u64| {
            keys.feed
                .first()
                .is_none_or(|&(oldest, _, _)| oldest <= after.saturating_add(1))
        };
        let changed = position.filter(|&after| reaches_back(after)).map(|after| {
            let mut changed: Vec<KeyId> = keys
                .feed
                .iter()
                .filter(|&&(at, _, _)| at > after)
                .map(|&(_, key_id, _)| key_id)
                .collect();
            changed.sort_unstable();
            changed.dedup();
            changed
        });
        Ok(KeyChanges {
            position: keys.feed_position,
            changed,
        })
    }

    fn prune_key_changes(&self, before_ms: u64) -> Result<()> {
        let mut keys = self.lock()?;
        let newest = keys.feed_position;
        keys.feed
            .retain(|&(at, _, when)| at == newest || when >= before_ms);
        Ok(())
    }

    fn lease_encryptions(
        &self,
        key_id: &KeyId,
        generation: u32,
        wanted: u64,
        limit: u64,
    ) -> Result<u64> {
        let mut keys = self.lock()?;
        if keys
            .by_id
            .get(key_id)
            .is_none_or(|key| key.generation != generation)
        {
            return Ok(0);
        }
        let leased = keys.leased.entry(*key_id).or_default();
        let granted = wanted.min(limit.saturating_sub(*leased));
        *leased += granted;
        Ok(granted)
    }

    fn update_rotation(&self, key_id: &KeyId, from: &Rotation, to: &Rotation) -> Result<bool> {
        let mut keys = self.lock()?;
        match keys.by_id.get_mut(key_id) {
            Some(key) if key.rotation == *from => {
                key.rotation = *to;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn add_generation(
        &self,
        key_id: &KeyId,
        from_generation: u32,
        from_rotation: &Rotation,
        key_blob: &KeyBlob,
        now_ms: u64,
    ) -> Result<bool> {
        let mut keys = self.lock()?;
        let Some(key) = keys.by_id.get_mut(key_id).filter(|key| {
            key.state == KeyState::Enabled
                && key.generation == from_generation
                && key.rotation == *from_rotation
                && key.key_blob.is_some()
        }) else {
            return Ok(false);
        };
        let created_ms = key.material_created_ms();
        if let Some(retired) = key.key_blob.replace(key_blob.clone()) {
            key.retired_materials.push(RetiredMaterial {
                generation: from_generation,
                key_blob: retired,
                created_ms,
            });
        }
        key.generation = from_generation.saturating_add(1);
        key.rotation.last_rotation_ms = Some(now_ms);
        key.rotation.interval_start_ms = now_ms;
        key.rotation.rotations = key.rotation.rotations.saturating_add(1);
        keys.leased.remove(key_id);
        keys.record_change(*key_id);
        Ok(true)
    }

    fn key_tags(&self, key_id: &KeyId) -> Result<Vec<Tag>> {
        Ok(self.lock()?.tags.get(key_id).cloned().unwrap_or_default())
    }

    fn project_tags(&self, project_id: &ProjectId) -> Result<Vec<Tag>> {
        let keys = self.lock()?;
        let mut tags: Vec<Tag> = keys
            .tags
            .iter()
            .filter(|(key_id, _)| {
                keys.by_id
                    .get(key_id)
                    .is_some_and(|key| key.project_id == *project_id)
            })
            .flat_map(|(_, tags)| tags.iter().cloned())
            .collect();
        tags.sort();
        Ok(tags)
    }

    fn change_tags(&self, key_id: &KeyId, change: &TagChange, max_tags: usize) -> Result<bool> {
        let mut keys = self.lock()?;
        if keys
            .by_id
            .get(key_id)
            .is_none_or(|key| key.state == KeyState::PendingDeletion)
        {
            return Ok(false);
        }
        let current = keys.tags.get(key_id).map(Vec::as_slice).unwrap_or_default();
        let changed = change.apply(current, max_tags)?;
        keys.tags.insert(*key_id, changed);
        Ok(true)
    }

    fn insert_import(&self, record: &ImportRecord) -> Result<()> {
        self.lock()?.imports.insert(record.token_id, record.clone());
        Ok(())
    }

    fn get_import(&self, token_id: &[u8; 16]) -> Result<Option<ImportRecord>> {
        Ok(self.lock()?.imports.get(token_id).cloned())
    }

    fn take_import(&self, token_id: &[u8; 16]) -> Result<Option<ImportRecord>> {
        Ok(self.lock()?.imports.remove(token_id))
    }

    fn take_expired_imports(&self, now_ms: u64) -> Result<Vec<ImportRecord>> {
        let mut keys = self.lock()?;
        let expired: Vec<[u8; 16]> = keys
            .imports
            .values()
            .filter(|import| import.expires_ms <= now_ms)
            .map(|import| import.token_id)
            .collect();
        Ok(expired
            .iter()
            .filter_map(|token_id| keys.imports.remove(token_id))
            .collect())
    }

    fn import_wrapping_keys(&self) -> Result<Vec<KeyBlob>> {
        Ok(self
            .lock()?
            .imports
            .values()
            .map(|import| import.wrapping_key.clone())
            .collect())
    }

    fn engine_key(&self, name: &str) -> Result<Option<KeyBlob>> {
        Ok(self.lock()?.engine_keys.get(name).cloned())
    }

    fn insert_engine_key(&self, name: &str, key: &KeyBlob) -> Result<KeyBlob> {
        Ok(self
            .lock()?
            .engine_keys
            .entry(name.to_owned())
            .or_insert_with(|| key.clone())
            .clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_holds_the_same_records_and_then_changes_on_its_own() {
        let original = MemoryStore::new();
        let key = KeyBlob::new(vec![1, 2, 3]);
        original.insert_engine_key("token", &key).unwrap();
        let copy = original.clone();
        assert_eq!(copy.engine_key("token").unwrap(), Some(key));
        copy.insert_engine_key("other", &KeyBlob::new(vec![4]))
            .unwrap();
        assert_eq!(original.engine_key("other").unwrap(), None);
    }
}
