//! [`MemoryStore`]: a [`KeyStore`] in memory, for tests and for embedders that persist
//! elsewhere.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::store::{KeyRecord, KeyStore, StateChange};

/// Keys in memory, in creation order.
#[derive(Debug, Default)]
pub struct MemoryStore {
    keys: Mutex<Keys>,
}

#[derive(Debug, Default)]
struct Keys {
    by_id: HashMap<KeyId, KeyRecord>,
    order: Vec<KeyId>,
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

impl KeyStore for MemoryStore {
    fn insert_key(&self, record: &KeyRecord) -> Result<()> {
        let mut keys = self.lock()?;
        if keys.by_id.values().any(|key| key.alias == record.alias) {
            return Err(KmsError::DuplicateKeyAlias);
        }
        if keys.by_id.contains_key(&record.key_id) {
            return Err(KmsError::Store(format!("key {} exists", record.key_id)));
        }
        keys.order.push(record.key_id);
        keys.by_id.insert(record.key_id, record.clone());
        Ok(())
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
            Some(key) if key.state == change.from => {
                key.state = change.to;
                key.scheduled_deletion_ms = change.scheduled_deletion_ms;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
