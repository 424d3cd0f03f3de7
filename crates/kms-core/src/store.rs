//! Key metadata persistence (DESIGN 3): the [`KeyStore`] trait and the records it holds.
//! Stores never hold plaintext key material: only the backend's [`KeyBlob`].

use core::fmt;

use crate::backend::KeyBlob;
use crate::error::Result;
use crate::key_id::KeyId;
use crate::key_spec::KeySpec;
use crate::spec::{KeyOrigin, KeyState, KeyUsage, WrappingAlgorithm, WrappingKeySpec};
use crate::tenant::ProjectId;

/// Everything the engine persists about one CMK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Key ID.
    pub key_id: KeyId,
    /// The project the key belongs to (DESIGN 10): only its callers see the key.
    pub project_id: ProjectId,
    /// Alias, unique in the project.
    pub alias: String,
    /// Description.
    pub description: String,
    /// The key's spec: symmetric, asymmetric or HMAC.
    pub spec: KeySpec,
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
    /// Generation of the current key material, written into the header of every new
    /// ciphertext: 0 at creation, one more at each rotation.
    pub generation: u32,
    /// The backend's reference to the current material; `None` while an external key
    /// waits for it.
    pub key_blob: Option<KeyBlob>,
    /// The materials that rotations retired, oldest first: each still opens the blobs it
    /// sealed, none seals again.
    pub retired_materials: Vec<RetiredMaterial>,
    /// The key's rotation policy and history.
    pub rotation: Rotation,
    /// When imported material expires, epoch milliseconds. Expiry is a transition of its
    /// own ([`KeyStore::take_expired_material`]): the material is destroyed and an enabled
    /// key goes back to pending import.
    pub material_expiry_ms: Option<u64>,
    /// Keyed fingerprint of imported material, kept after the material is deleted so that
    /// only the same material can be imported again.
    pub material_fingerprint: Option<Vec<u8>>,
}

impl KeyRecord {
    /// When the current material was made, epoch milliseconds: at the last rotation, or
    /// with the key.
    #[must_use]
    pub fn material_created_ms(&self) -> u64 {
        self.rotation.last_rotation_ms.unwrap_or(self.created_ms)
    }

    /// The backend references of every material the key holds, current and retired: what
    /// deleting the key destroys.
    pub fn all_materials(&self) -> impl Iterator<Item = &KeyBlob> {
        self.key_blob.iter().chain(
            self.retired_materials
                .iter()
                .map(|retired| &retired.key_blob),
        )
    }

    /// Whether the key holds material that has expired at `now_ms` and is still to be
    /// destroyed.
    #[must_use]
    pub fn material_expired(&self, now_ms: u64) -> bool {
        self.key_blob.is_some()
            && self
                .material_expiry_ms
                .is_some_and(|expiry| expiry <= now_ms)
    }
}

/// A material generation that a rotation replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredMaterial {
    /// Its generation, as blobs it sealed name it.
    pub generation: u32,
    /// The backend's reference to it.
    pub key_blob: KeyBlob,
    /// When it was made, epoch milliseconds.
    pub created_ms: u64,
}

/// Rotation days allowed by update-key-rotation-interval, and the default.
pub const ROTATION_INTERVAL_DAYS: core::ops::RangeInclusive<u32> = 30..=365;

/// A key's rotation policy and history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Whether the periodic maintenance rotates the key.
    pub enabled: bool,
    /// Days between scheduled rotations, in [`ROTATION_INTERVAL_DAYS`] (default 365).
    pub interval_days: u32,
    /// When the current interval began, epoch milliseconds: when rotation was enabled, or
    /// the last rotation since. A rotation is due `interval_days` after it.
    pub interval_start_ms: u64,
    /// When the key last rotated, epoch milliseconds; `None` if never.
    pub last_rotation_ms: Option<u64>,
    /// How many times the key has rotated, on demand or on schedule.
    pub rotations: u32,
}

impl Default for Rotation {
    fn default() -> Self {
        Self {
            enabled: false,
            interval_days: *ROTATION_INTERVAL_DAYS.end(),
            interval_start_ms: 0,
            last_rotation_ms: None,
            rotations: 0,
        }
    }
}

impl Rotation {
    /// Whether a scheduled rotation is due at `now_ms`.
    #[must_use]
    pub fn due(&self, now_ms: u64) -> bool {
        const MS_PER_DAY: u64 = 86_400_000;
        self.enabled
            && now_ms
                >= self
                    .interval_start_ms
                    .saturating_add(u64::from(self.interval_days) * MS_PER_DAY)
    }
}

/// A tag on a key: a key unique on it, and a value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tag {
    /// The tag key.
    pub key: String,
    /// The tag value, possibly empty.
    pub value: String,
}

/// A change of a key's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagChange {
    /// Adds these tags, replacing the value of any tag with the same key.
    Set(Vec<Tag>),
    /// Removes the tags with these keys; keys the key has no tag for are skipped.
    Remove(Vec<String>),
}

impl TagChange {
    /// `tags` (ordered by key) after this change, still ordered by key.
    ///
    /// # Errors
    /// [`KmsError::TooManyTags`](crate::KmsError::TooManyTags) when the result would hold
    /// more than `max_tags`.
    pub fn apply(&self, tags: &[Tag], max_tags: usize) -> Result<Vec<Tag>> {
        let mut result: Vec<Tag> = match self {
            Self::Set(set) => {
                let mut result: Vec<Tag> = tags
                    .iter()
                    .filter(|tag| set.iter().all(|new| new.key != tag.key))
                    .cloned()
                    .collect();
                result.extend(set.iter().cloned());
                result
            }
            Self::Remove(keys) => tags
                .iter()
                .filter(|tag| !keys.contains(&tag.key))
                .cloned()
                .collect(),
        };
        if result.len() > max_tags {
            return Err(crate::KmsError::TooManyTags(max_tags));
        }
        result.sort();
        Ok(result)
    }
}

/// Imported material to attach to an external key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMaterial {
    /// The backend's reference to the imported CMK.
    pub key_blob: KeyBlob,
    /// Its keyed fingerprint.
    pub fingerprint: Vec<u8>,
    /// When it expires, epoch milliseconds.
    pub expiry_ms: Option<u64>,
}

/// One issued import token: what it may import and the wrapping key it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRecord {
    /// The token's random ID.
    pub token_id: [u8; 16],
    /// The key the token imports into.
    pub key_id: KeyId,
    /// How the material is wrapped.
    pub algorithm: WrappingAlgorithm,
    /// The wrapping key's spec.
    pub wrapping_key_spec: WrappingKeySpec,
    /// The backend's reference to the wrapping private key.
    pub wrapping_key: KeyBlob,
    /// When the token expires, epoch milliseconds.
    pub expires_ms: u64,
}

/// A new alias or description for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyText {
    /// The key's new alias, unique within its project.
    Alias(String),
    /// The key's new description.
    Description(String),
}

/// A change of lifecycle state, applied only if the key is still in `from` and still holds
/// material or not as `has_material` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateChange {
    /// The state the key must be in.
    pub from: KeyState,
    /// Whether the key must hold material: the rules pick the new state by it (a key
    /// without material cannot be enabled), so material that expired in between fails the
    /// swap.
    pub has_material: bool,
    /// The state it moves to.
    pub to: KeyState,
    /// The new scheduled deletion time (set when moving to pending deletion, else cleared).
    pub scheduled_deletion_ms: Option<u64>,
}

/// What the store's change feed holds after a position: the keys whose state or material
/// changed, so an engine can drop them from its cache (DESIGN 11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChanges {
    /// The feed's position after these changes: pass it to the next
    /// [`KeyStore::key_changes_since`].
    pub position: u64,
    /// The keys changed after the position asked for, each once, in no particular order;
    /// `None` when the feed cannot say (no position was given, or the feed no longer
    /// reaches back to it): every cached key must be dropped.
    pub changed: Option<Vec<KeyId>>,
}

/// Persistent metadata of CMKs. Implementations are safe to share between threads, and
/// every state change is a compare-and-swap so concurrent callers cannot both win.
pub trait KeyStore: Send + Sync + fmt::Debug {
    /// Adds a new key.
    ///
    /// # Errors
    /// [`KmsError::DuplicateKeyAlias`](crate::KmsError::DuplicateKeyAlias) when another key
    /// of the project has the alias; [`KmsError::Store`](crate::KmsError::Store) when the store fails.
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

    /// Applies `change` if the key exists, is in `change.from` and holds material as
    /// `change.has_material` says; returns whether it did.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn change_state(&self, key_id: &KeyId, change: StateChange) -> Result<bool>;

    /// Attaches imported material and enables the key, if it is pending import and holds
    /// no material (import only ever moves pending import to enabled); returns whether it
    /// did.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn set_material(&self, key_id: &KeyId, material: &NewMaterial) -> Result<bool>;

    /// Removes a key's material and expiry (keeping its fingerprint) and puts it back to
    /// pending import, if it is still in state `from` and holds material; returns whether
    /// it did.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn delete_material(&self, key_id: &KeyId, from: KeyState) -> Result<bool>;

    /// Carries out the expiry of imported material: for every key (only `key_id`, when
    /// given) whose material expired at or before `now_ms`, removes the material and its
    /// expiry (keeping the fingerprint), moves an enabled key to pending import and leaves
    /// every other state as it is; returns those keys as they were before, material
    /// included, so the backend can destroy it. Atomic: of concurrent callers each expiry
    /// goes to one.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn take_expired_material(&self, now_ms: u64, key_id: Option<&KeyId>) -> Result<Vec<KeyRecord>>;

    /// Removes and returns every key pending deletion whose deletion time is at or before
    /// `now_ms` (with its tags), oldest first, atomically: of concurrent callers each key goes to one, and
    /// a key whose deletion was cancelled first stays.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn take_due_deletions(&self, now_ms: u64) -> Result<Vec<KeyRecord>>;

    /// The change feed after `position` (from an earlier call; `None` at first): every
    /// change of a key's state or material, through any engine or process on this store,
    /// is in the feed once its transaction commits, in commit order. Changes made by one
    /// engine reach every other engine through it.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn key_changes_since(&self, position: Option<u64>) -> Result<KeyChanges>;

    /// Waits up to `timeout` for a change to enter the feed, returning early when one does,
    /// if the store can tell (PostgreSQL's notifications); returns whether it waited. The
    /// default returns `false` at once: the store cannot tell, and the caller waits (and
    /// polls) on its own.
    fn wait_for_key_change(&self, _timeout: core::time::Duration) -> bool {
        false
    }

    /// Removes feed entries older than `before_ms` (keeping the newest), so the feed stays
    /// small; an engine that had not read that far drops its whole cache.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn prune_key_changes(&self, before_ms: u64) -> Result<()>;

    /// Leases up to `wanted` encryptions of key `key_id`'s material of generation
    /// `generation`, of at most `limit` in its life, atomically: of all engines sharing the
    /// store, the leases granted never add up to more than `limit`. Returns how many were
    /// granted (0 once the limit is reached, when the key does not exist, or when it is no
    /// longer at `generation`: a rotation started a new count for the new material).
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn lease_encryptions(
        &self,
        key_id: &KeyId,
        generation: u32,
        wanted: u64,
        limit: u64,
    ) -> Result<u64>;

    /// Sets key `key_id`'s alias or description, atomically, unless the key is pending
    /// deletion. Returns whether it changed (false when the key does not exist or is
    /// pending deletion).
    ///
    /// # Errors
    /// [`KmsError::DuplicateKeyAlias`](crate::KmsError::DuplicateKeyAlias) when another
    /// key of the same project has the alias; [`KmsError::Store`](crate::KmsError::Store)
    /// when the store fails.
    fn update_key_text(&self, key_id: &KeyId, text: &KeyText) -> Result<bool>;

    /// Sets key `key_id`'s rotation policy to `to`, if it is still `from` (a
    /// compare-and-swap). Returns whether it did.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn update_rotation(&self, key_id: &KeyId, from: &Rotation, to: &Rotation) -> Result<bool>;

    /// Makes `key_blob` key `key_id`'s current material, generation `from_generation + 1`,
    /// if the key is enabled, holds material, is still at `from_generation` and its
    /// rotation policy is still `from_rotation` (a scheduled rotation made as rotation is
    /// disabled or its interval changed does not happen): the
    /// material it replaces is retired (still opens, never seals), the rotation is counted
    /// at `now_ms` and starts a new interval, and the key's encryption count starts again
    /// (the bound is per material). Atomic: of concurrent rotations of one generation, one
    /// wins. Returns whether it did.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn add_generation(
        &self,
        key_id: &KeyId,
        from_generation: u32,
        from_rotation: &Rotation,
        key_blob: &KeyBlob,
        now_ms: u64,
    ) -> Result<bool>;

    /// Key `key_id`'s tags, ordered by key.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn key_tags(&self, key_id: &KeyId) -> Result<Vec<Tag>>;

    /// The tags of every key of `project_id`, ordered by key, then value.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn project_tags(&self, project_id: &ProjectId) -> Result<Vec<Tag>>;

    /// Applies `change` to key `key_id`'s tags, atomically, unless the key is pending
    /// deletion or the key would then hold more than `max_tags`. Returns whether it did
    /// (false when the key does not exist or is pending deletion).
    ///
    /// # Errors
    /// [`KmsError::TooManyTags`](crate::KmsError::TooManyTags) when the key would hold more
    /// than `max_tags` (nothing changes); [`KmsError::Store`](crate::KmsError::Store) when
    /// the store fails.
    fn change_tags(&self, key_id: &KeyId, change: &TagChange, max_tags: usize) -> Result<bool>;

    /// Records an issued import token.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn insert_import(&self, record: &ImportRecord) -> Result<()>;

    /// The import token `token_id`, if issued and not yet used or expired.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn get_import(&self, token_id: &[u8; 16]) -> Result<Option<ImportRecord>>;

    /// Removes and returns the import token `token_id`, atomically: of concurrent callers
    /// at most one gets it, which makes tokens single use.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn take_import(&self, token_id: &[u8; 16]) -> Result<Option<ImportRecord>>;

    /// Removes and returns every import token expired at `now_ms`, so their wrapping keys
    /// can be destroyed.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn take_expired_imports(&self, now_ms: u64) -> Result<Vec<ImportRecord>>;

    /// The wrapping keys that the import tokens in the store refer to, expired or not:
    /// what a sweep for orphaned wrapping keys must leave alone.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn import_wrapping_keys(&self) -> Result<Vec<KeyBlob>>;

    /// The engine's own key named `name` (such as the import token key), if created.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn engine_key(&self, name: &str) -> Result<Option<KeyBlob>>;

    /// Stores the engine key `name` unless one exists, and returns the one stored: of
    /// concurrent callers every one gets the same key.
    ///
    /// # Errors
    /// [`KmsError::Store`](crate::KmsError::Store) when the store fails.
    fn insert_engine_key(&self, name: &str, key: &KeyBlob) -> Result<KeyBlob>;
}
