//! The engine's cache of loaded CMKs, so encrypt and decrypt do no store I/O and no key
//! unsealing beyond a map read.
//!
//! The cache holds enabled keys only. Every state or material change made through the
//! engine drops the key's entry ([`KeyCache::remove`]) after the store has changed, so the
//! next call loads the new state; a load that raced with such a change is used for its one
//! operation but not cached (an epoch counter detects the race). Both the drop and the
//! insert are read-copy-updates of the shard, so neither can overwrite the other: after a
//! state change returns, no call through the engine uses the old state. Reads take no lock
//! and change no shared counter: threads using one hot key do not contend for it.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::{ArcSwap, Guard};
use rustc_hash::{FxHashMap, FxHasher};

use crate::backend::CmkHandle;
use crate::ciphertext::{BlobKey, blob_generation, open_blob_with_context};
use crate::clock::Clock;
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::secret::SecretBytes;
use crate::spec::KeyState;
use crate::store::KeyStore;
use crate::tenant::ProjectId;

use super::seal_lease::SealLease;

/// A loaded, enabled CMK: its current material, which seals, and the materials rotations
/// retired, which only open.
#[derive(Debug)]
pub(crate) struct HotKey {
    pub(crate) blob_key: BlobKey,
    pub(crate) handle: Box<dyn CmkHandle>,
    retired: Vec<(u32, Box<dyn CmkHandle>)>,
    /// The project the key belongs to: a cached key serves that project's calls only.
    pub(crate) project_id: ProjectId,
    material_expiry_ms: Option<u64>,
    seals: SealLease,
}

impl HotKey {
    pub(crate) fn new(
        blob_key: BlobKey,
        handle: Box<dyn CmkHandle>,
        project_id: ProjectId,
        material_expiry_ms: Option<u64>,
        max_lease: u64,
    ) -> Self {
        Self {
            blob_key,
            handle,
            retired: Vec::new(),
            project_id,
            material_expiry_ms,
            seals: SealLease::new(max_lease),
        }
    }

    /// The key with the materials rotations retired, by generation.
    pub(crate) fn with_retired(mut self, retired: Vec<(u32, Box<dyn CmkHandle>)>) -> Self {
        self.retired = retired;
        self
    }

    /// Opens `blob` with the material of the generation its header names, binding `aad`
    /// and `context` (see [`open_blob_with_context`]).
    ///
    /// # Errors
    /// The one opaque [`KmsError::InvalidCipherText`] for every way the blob can be wrong,
    /// a generation the key does not hold included; [`KmsError::Backend`] when the backend
    /// fails.
    pub(crate) fn open(
        &self,
        aad: &[u8],
        context: Option<&[u8]>,
        blob: &[u8],
    ) -> Result<SecretBytes> {
        let generation = blob_generation(blob).ok_or(KmsError::InvalidCipherText)?;
        let handle = if generation == self.blob_key.generation {
            self.handle.as_ref()
        } else {
            self.retired
                .iter()
                .find(|(retired, _)| *retired == generation)
                .map(|(_, handle)| handle.as_ref())
                .ok_or(KmsError::InvalidCipherText)?
        };
        let key = BlobKey {
            generation,
            ..self.blob_key
        };
        open_blob_with_context(handle, &key, aad, context, blob)
    }

    /// Whether the key's imported material has expired. Reads the clock only for keys whose
    /// material expires.
    pub(crate) fn material_expired(&self, clock: &dyn Clock) -> bool {
        self.material_expiry_ms
            .is_some_and(|expiry| expiry <= clock.now_ms())
    }

    /// Counts one more encryption against the key's bound of `limit` in its life, leasing
    /// from `store` as needed; refuses those that would pass it.
    ///
    /// # Errors
    /// KMS.9003 once the bound is reached; the store's failure to lease.
    pub(crate) fn count_seal(&self, store: &dyn KeyStore, limit: u64) -> Result<()> {
        let key_id = &self.blob_key.key_id;
        if self.seals.count(|wanted| {
            store.lease_encryptions(key_id, self.blob_key.generation, wanted, limit)
        })? {
            Ok(())
        } else {
            Err(KmsError::KeyUsageLimitReached)
        }
    }
}

/// Fails unless `state` is enabled, with the code of the state.
pub(crate) fn require_enabled(state: KeyState) -> Result<()> {
    match state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(KmsError::KeyDisabled),
        KeyState::PendingDeletion => Err(KmsError::KeyPendingDeletion),
        KeyState::PendingImport => Err(KmsError::KeyNotEnabled),
    }
}

/// Shards of the cache: writers copy one shard's map, so a load among many cached keys
/// copies a sixteenth of them.
const SHARDS: usize = 16;

/// One shard: a map swapped whole on every change, so readers take no lock and touch no
/// shared counter (read-copy-update).
type Shard = ArcSwap<FxHashMap<KeyId, Arc<HotKey>>>;

#[derive(Debug, Default)]
pub(crate) struct KeyCache {
    shards: [Shard; SHARDS],
    epoch: AtomicU64,
}

/// A read of one shard: the cached keys as they were when it was taken.
pub(crate) type Snapshot = Guard<Arc<FxHashMap<KeyId, Arc<HotKey>>>>;

impl KeyCache {
    fn shard(&self, key_id: &KeyId) -> &Shard {
        let mut hasher = FxHasher::default();
        key_id.hash(&mut hasher);
        let at = usize::try_from(hasher.finish() % SHARDS as u64).unwrap_or_default();
        // `at` is below SHARDS, so the fallback is never taken.
        let [first, ..] = &self.shards;
        self.shards.get(at).unwrap_or(first)
    }

    /// The shard holding `key_id`, as it is now. Reading it takes no lock and no reference
    /// count, so threads using one hot key do not contend.
    pub(crate) fn snapshot(&self, key_id: &KeyId) -> Snapshot {
        self.shard(key_id).load()
    }

    /// The epoch to pass to [`insert_if_current`](Self::insert_if_current) for a load that
    /// starts now.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Caches `key` unless a state change happened since `epoch` was read.
    pub(crate) fn insert_if_current(&self, key_id: KeyId, key: Arc<HotKey>, epoch: u64) {
        self.shard(&key_id).rcu(|keys| {
            let mut keys = FxHashMap::clone(keys);
            if self.epoch.load(Ordering::Acquire) == epoch {
                keys.entry(key_id).or_insert_with(|| Arc::clone(&key));
            }
            keys
        });
    }

    /// Forgets every key, when the store cannot say which changed. The epoch moves first,
    /// as for [`remove`](Self::remove).
    pub(crate) fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for shard in &self.shards {
            shard.store(Arc::default());
        }
    }

    /// Forgets `key_id`, after its state or material changed in the store. The epoch moves
    /// first, so a load that read the store before the change is not cached after it.
    pub(crate) fn remove(&self, key_id: &KeyId) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.shard(key_id).rcu(|keys| {
            let mut keys = FxHashMap::clone(keys);
            keys.remove(key_id);
            keys
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct NoCrypto;

    impl CmkHandle for NoCrypto {
        fn seal_in_place(&self, _: &[u8; 12], _: &[u8], _: &mut [u8]) -> Result<[u8; 16]> {
            Err(KmsError::Backend("unused".into()))
        }
        fn open_in_place(&self, _: &[u8; 12], _: &[u8], _: &mut [u8], _: &[u8; 16]) -> Result<()> {
            Err(KmsError::Backend("unused".into()))
        }
    }

    fn hot_key(material_expiry_ms: Option<u64>) -> HotKey {
        let blob_key = BlobKey {
            key_id: KeyId::from_random([1; 16]),
            spec: crate::spec::CmkSpec::Aes256,
            generation: 0,
        };
        HotKey::new(
            blob_key,
            Box::new(NoCrypto),
            ProjectId::default_project(),
            material_expiry_ms,
            100,
        )
    }

    #[test]
    fn a_key_whose_encryptions_are_used_up_refuses_with_kms_9003() {
        let store = crate::MemoryStore::new();
        let key = hot_key(None);
        store
            .insert_key(&crate::KeyRecord {
                key_id: key.blob_key.key_id,
                project_id: ProjectId::default_project(),
                alias: "k".into(),
                description: String::new(),
                spec: crate::spec::CmkSpec::Aes256.into(),
                usage: crate::spec::KeyUsage::EncryptDecrypt,
                origin: crate::spec::KeyOrigin::Kms,
                state: KeyState::Enabled,
                created_ms: 0,
                scheduled_deletion_ms: None,
                generation: 0,
                key_blob: None,
                material_expiry_ms: None,
                material_fingerprint: None,
                retired_materials: Vec::new(),
                rotation: crate::store::Rotation::default(),
            })
            .unwrap();
        // The lease semantics are tested in seal_lease; here, the refusal at the bound.
        for _ in 0..3 {
            assert!(key.count_seal(&store, 3).is_ok());
        }
        assert_eq!(key.count_seal(&store, 3).unwrap_err().code(), "KMS.9003");
        assert_eq!(key.count_seal(&store, 3).unwrap_err().code(), "KMS.9003");
    }

    #[test]
    fn material_expires_at_its_expiry_time() {
        let clock = crate::clock::ManualClock::new(1_000);
        let key = hot_key(Some(2_000));
        assert!(!key.material_expired(&clock));
        clock.advance_ms(999);
        assert!(!key.material_expired(&clock));
        clock.advance_ms(1);
        assert!(key.material_expired(&clock));
        assert!(!hot_key(None).material_expired(&clock));
    }

    #[test]
    fn a_removal_racing_a_load_leaves_the_key_uncached() {
        let cache = KeyCache::default();
        let key_id = KeyId::from_random([1; 16]);
        let epoch = cache.epoch();
        cache.remove(&key_id);
        cache.insert_if_current(key_id, Arc::new(hot_key(None)), epoch);
        assert!(cache.snapshot(&key_id).get(&key_id).is_none());
        cache.insert_if_current(key_id, Arc::new(hot_key(None)), cache.epoch());
        assert!(cache.snapshot(&key_id).get(&key_id).is_some());
        cache.remove(&key_id);
        assert!(cache.snapshot(&key_id).get(&key_id).is_none());
    }

    #[test]
    fn each_unusable_state_has_its_code() {
        assert!(require_enabled(KeyState::Enabled).is_ok());
        assert_eq!(
            require_enabled(KeyState::Disabled).unwrap_err().code(),
            "KMS.0209"
        );
        assert_eq!(
            require_enabled(KeyState::PendingDeletion)
                .unwrap_err()
                .code(),
            "KMS.0210"
        );
        assert_eq!(
            require_enabled(KeyState::PendingImport).unwrap_err().code(),
            "KMS.1301"
        );
    }
}
