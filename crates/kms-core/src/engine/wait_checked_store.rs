//! The engine's view of its store: every method first asks [`admit_wait`], so a call made
//! without waiting ([`super::no_wait`]) never reaches the store.

use std::sync::Arc;

use crate::backend::KeyBlob;
use crate::error::Result;
use crate::key_id::KeyId;
use crate::spec::KeyState;
use crate::store::{
    ImportRecord, KeyChanges, KeyRecord, KeyStore, KeyText, NewMaterial, Rotation, StateChange,
    Tag, TagChange,
};
use crate::tenant::ProjectId;

use super::no_wait::admit_wait;

/// `inner`, refused to calls that may not wait.
#[derive(Debug)]
pub(crate) struct WaitCheckedStore {
    inner: Arc<dyn KeyStore>,
}

impl WaitCheckedStore {
    pub(crate) fn new(inner: Arc<dyn KeyStore>) -> Self {
        Self { inner }
    }
}

impl KeyStore for WaitCheckedStore {
    fn insert_key(&self, record: &KeyRecord) -> Result<()> {
        admit_wait()?;
        self.inner.insert_key(record)
    }

    fn get_key(&self, key_id: &KeyId) -> Result<Option<KeyRecord>> {
        admit_wait()?;
        self.inner.get_key(key_id)
    }

    fn list_keys(&self) -> Result<Vec<KeyRecord>> {
        admit_wait()?;
        self.inner.list_keys()
    }

    fn change_state(&self, key_id: &KeyId, change: StateChange) -> Result<bool> {
        admit_wait()?;
        self.inner.change_state(key_id, change)
    }

    fn set_material(&self, key_id: &KeyId, material: &NewMaterial) -> Result<bool> {
        admit_wait()?;
        self.inner.set_material(key_id, material)
    }

    fn delete_material(&self, key_id: &KeyId, from: KeyState) -> Result<bool> {
        admit_wait()?;
        self.inner.delete_material(key_id, from)
    }

    fn take_expired_material(&self, now_ms: u64, key_id: Option<&KeyId>) -> Result<Vec<KeyRecord>> {
        admit_wait()?;
        self.inner.take_expired_material(now_ms, key_id)
    }

    fn take_due_deletions(&self, now_ms: u64) -> Result<Vec<KeyRecord>> {
        admit_wait()?;
        self.inner.take_due_deletions(now_ms)
    }

    fn key_changes_since(&self, position: Option<u64>) -> Result<KeyChanges> {
        admit_wait()?;
        self.inner.key_changes_since(position)
    }

    fn wait_for_key_change(&self, timeout: core::time::Duration) -> bool {
        admit_wait().is_ok() && self.inner.wait_for_key_change(timeout)
    }

    fn prune_key_changes(&self, before_ms: u64) -> Result<()> {
        admit_wait()?;
        self.inner.prune_key_changes(before_ms)
    }

    fn lease_encryptions(
        &self,
        key_id: &KeyId,
        generation: u32,
        wanted: u64,
        limit: u64,
    ) -> Result<u64> {
        admit_wait()?;
        self.inner
            .lease_encryptions(key_id, generation, wanted, limit)
    }

    fn update_key_text(&self, key_id: &KeyId, text: &KeyText) -> Result<bool> {
        admit_wait()?;
        self.inner.update_key_text(key_id, text)
    }

    fn update_rotation(&self, key_id: &KeyId, from: &Rotation, to: &Rotation) -> Result<bool> {
        admit_wait()?;
        self.inner.update_rotation(key_id, from, to)
    }

    fn add_generation(
        &self,
        key_id: &KeyId,
        from_generation: u32,
        from_rotation: &Rotation,
        key_blob: &KeyBlob,
        now_ms: u64,
    ) -> Result<bool> {
        admit_wait()?;
        self.inner
            .add_generation(key_id, from_generation, from_rotation, key_blob, now_ms)
    }

    fn key_tags(&self, key_id: &KeyId) -> Result<Vec<Tag>> {
        admit_wait()?;
        self.inner.key_tags(key_id)
    }

    fn project_tags(&self, project_id: &ProjectId) -> Result<Vec<Tag>> {
        admit_wait()?;
        self.inner.project_tags(project_id)
    }

    fn change_tags(&self, key_id: &KeyId, change: &TagChange, max_tags: usize) -> Result<bool> {
        admit_wait()?;
        self.inner.change_tags(key_id, change, max_tags)
    }

    fn insert_import(&self, record: &ImportRecord) -> Result<()> {
        admit_wait()?;
        self.inner.insert_import(record)
    }

    fn get_import(&self, token_id: &[u8; 16]) -> Result<Option<ImportRecord>> {
        admit_wait()?;
        self.inner.get_import(token_id)
    }

    fn take_import(&self, token_id: &[u8; 16]) -> Result<Option<ImportRecord>> {
        admit_wait()?;
        self.inner.take_import(token_id)
    }

    fn take_expired_imports(&self, now_ms: u64) -> Result<Vec<ImportRecord>> {
        admit_wait()?;
        self.inner.take_expired_imports(now_ms)
    }

    fn import_wrapping_keys(&self) -> Result<Vec<KeyBlob>> {
        admit_wait()?;
        self.inner.import_wrapping_keys()
    }

    fn engine_key(&self, name: &str) -> Result<Option<KeyBlob>> {
        admit_wait()?;
        self.inner.engine_key(name)
    }

    fn insert_engine_key(&self, name: &str, key: &KeyBlob) -> Result<KeyBlob> {
        admit_wait()?;
        self.inner.insert_engine_key(name, key)
    }
}
