//! Key metadata persistence (DESIGN 3): the [`KeyStore`] trait and the records it holds.
//! Stores never hold plaintext key material: only the backend's [`KeyBlob`].

use core::fmt;

use crate::backend::KeyBlob;
use crate::error::Result;
use crate::key_id::KeyId;
use crate::spec::{CmkSpec, KeyOrigin, KeyState, KeyUsage};

/// Everything the engine persists about one CMK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Key ID.
    pub key_id: KeyId,
    /// Alias, unique in the store.
    pub alias: String,
    /// Description.
    pub description: String,
    /// CMK spec.
    pub spec: CmkSpec,
    /// Usage.
    pub usage: KeyUsage,
    /// Origin.
    pub origin: KeyOrigin,
    /// Lifecycle state.
    pub state: KeyState,
    /// Creation time, epoch milliseconds.
    pub created_ms: u64,
    /// When a key pending deletion is deleted, epoch milliseconds.
    pub scheduled_deletion_ms: Option<u64>,
    /// Generation of the key material, written into every ciphertext header.
    pub generation: u32,
    /// The backend's reference to the material; `None` while an external key waits for it.
    pub key_blob: Option<KeyBlob>,
}

/// A change of lifecycle state, applied only if the key is still in `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateChange {
    /// The state the key must be in.
    pub from: KeyState,
    /// The state it moves to.
    pub to: KeyState,
    /// The new scheduled deletion time (set when moving to pending deletion, else cleared).
    pub scheduled_deletion_ms: Option<u64>,
}

/// Persistent metadata of CMKs. Implementations are safe to share between threads, and
/// every state change is a compare-and-swap so concurrent callers cannot both win.
pub trait KeyStore: Send + Sync + fmt::Debug {
    /// Adds a new key.
    ///
    /// # Errors
    /// [`KmsError::DuplicateKeyAlias`](crate::KmsError::DuplicateKeyAlias) when another key
    /// has the alias; [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn insert_key(&self, record: &KeyRecord) -> Result<()>;

    /// The key with this ID, if any.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn get_key(&self, key_id: &KeyId) -> Result<Option<KeyRecord>>;

    /// Every key, oldest first.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn list_keys(&self) -> Result<Vec<KeyRecord>>;

    /// Applies `change` if the key exists and is in `change.from`; returns whether it did.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn change_state(&self, key_id: &KeyId, change: StateChange) -> Result<bool>;
}
