//! A store that can go away and counts the calls that reach it, for the tests of several
//! engines on one store and of calls made without waiting.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use kms_core::{
    ImportRecord, KeyBlob, KeyChanges, KeyId, KeyRecord, KeyState, KeyStore, KmsError, MemoryStore,
    NewMaterial, Result, StateChange,
};

/// A store that fails every call while `down` is set, as a database that went away.
/// It counts the calls that reach it.
#[derive(Debug, Default)]
pub struct SwitchableStore {
    inner: MemoryStore,
    pub down: AtomicBool,
    calls: AtomicUsize,
}

impl SwitchableStore {
    /// How many calls reached the store so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn up(&self) -> Result<&MemoryStore> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            Err(KmsError::Store("connection refused".into()))
        } else {
            Ok(&self.inner)
        }
    }
}

impl KeyStore for SwitchableStore {
    fn insert_key(&self, record: &KeyRecord) -> Result<()> {
        self.up()?.insert_key(record)
    }
    fn get_key(&self, key_id: &KeyId) -> Result<Option<KeyRecord>> {
        self.up()?.get_key(key_id)
    }
    fn list_keys(&self) -> Result<Vec<KeyRecord>> {
        self.up()?.list_keys()
    }
    fn change_state(&self, key_id: &KeyId, change: StateChange) -> Result<bool> {
        self.up()?.change_state(key_id, change)
    }
    fn set_material(&self, key_id: &KeyId, material: &NewMaterial) -> Result<bool> {
        self.up()?.set_material(key_id, material)
    }
    fn delete_material(&self, key_id: &KeyId, from: KeyState) -> Result<bool> {
        self.up()?.delete_material(key_id, from)
    }
    fn take_expired_material(&self, now_ms: u64, key_id: Option<&KeyId>) -> Result<Vec<KeyRecord>> {
        self.up()?.take_expired_material(now_ms, key_id)
    }
    fn take_due_deletions(&self, now_ms: u64) -> Result<Vec<KeyRecord>> {
        self.up()?.take_due_deletions(now_ms)
    }
    fn key_changes_since(&self, position: Option<u64>) -> Result<KeyChanges> {
        self.up()?.key_changes_since(position)
    }
    fn prune_key_changes(&self, before_ms: u64) -> Result<()> {
        self.up()?.prune_key_changes(before_ms)
    }
    fn lease_encryptions(
        &self,
        key_id: &KeyId,
        generation: u32,
        wanted: u64,
        limit: u64,
    ) -> Result<u64> {
        self.up()?
            .lease_encryptions(key_id, generation, wanted, limit)
    }
    fn insert_import(&self, record: &ImportRecord) -> Result<()> {
        self.up()?.insert_import(record)
    }
    fn get_import(&self, token_id: &[u8; 16]) -> Result<Option<ImportRecord>> {
        self.up()?.get_import(token_id)
    }
    fn take_import(&self, token_id: &[u8; 16]) -> Result<Option<ImportRecord>> {
        self.up()?.take_import(token_id)
    }
    fn take_expired_imports(&self, now_ms: u64) -> Result<Vec<ImportRecord>> {
        self.up()?.take_expired_imports(now_ms)
    }
    fn update_key_text(&self, key_id: &KeyId, text: &kms_core::KeyText) -> Result<bool> {
        self.up()?.update_key_text(key_id, text)
    }
    fn import_wrapping_keys(&self) -> Result<Vec<KeyBlob>> {
        self.up()?.import_wrapping_keys()
    }
    fn engine_key(&self, name: &str) -> Result<Option<KeyBlob>> {
        self.up()?.engine_key(name)
    }
    fn insert_engine_key(&self, name: &str, key: &KeyBlob) -> Result<KeyBlob> {
        self.up()?.insert_engine_key(name, key)
    }
    fn update_rotation(
        &self,
        key_id: &KeyId,
        from: &kms_core::Rotation,
        to: &kms_core::Rotation,
    ) -> Result<bool> {
        self.up()?.update_rotation(key_id, from, to)
    }
    fn add_generation(
        &self,
        key_id: &KeyId,
        from: u32,
        rotation: &kms_core::Rotation,
        blob: &KeyBlob,
        now_ms: u64,
    ) -> Result<bool> {
        self.up()?
            .add_generation(key_id, from, rotation, blob, now_ms)
    }
    fn key_tags(&self, key_id: &KeyId) -> Result<Vec<kms_core::Tag>> {
        self.up()?.key_tags(key_id)
    }
    fn project_tags(&self, project_id: &kms_core::ProjectId) -> Result<Vec<kms_core::Tag>> {
        self.up()?.project_tags(project_id)
    }
    fn change_tags(
        &self,
        key_id: &KeyId,
        change: &kms_core::TagChange,
        max: usize,
    ) -> Result<bool> {
        self.up()?.change_tags(key_id, change, max)
    }
}
