//! The engine's cache of loaded CMKs, so encrypt and decrypt do no store I/O and no key
//! unsealing beyond a map read.
//!
//! Entries live for the engine's lifetime. State changes made through the engine update the
//! cached state; a load that raced with a state change is used for its one operation but not
//! cached (an epoch counter detects the race). Reads take no lock and change no shared
//! counter: threads using one hot key do not contend for it.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use arc_swap::{ArcSwap, Guard};
use rustc_hash::{FxHashMap, FxHasher};

use crate::backend::CmkHandle;
use crate::ciphertext::BlobKey;
use crate::clock::Clock;
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::spec::KeyState;

use super::seal_counter::SealCounter;

/// Random 96-bit nonces stay safe for 2^32 encryptions under one key (NIST SP 800-38D 8.3).
pub(crate) const MAX_SEALS_PER_KEY: u64 = 1 << 32;

/// A loaded CMK.
#[derive(Debug)]
pub(crate) struct HotKey {
    pub(crate) blob_key: BlobKey,
    pub(crate) handle: Box<dyn CmkHandle>,
    state: AtomicU8,
    material_expiry_ms: Option<u64>,
    seals: SealCounter,
}

impl HotKey {
    pub(crate) fn new(
        blob_key: BlobKey,
        handle: Box<dyn CmkHandle>,
        state: KeyState,
        material_expiry_ms: Option<u64>,
    ) -> Self {
        Self {
            blob_key,
            handle,
            state: AtomicU8::new(state_index(state)),
            material_expiry_ms,
            seals: SealCounter::new(MAX_SEALS_PER_KEY),
        }
    }

    /// Fails unless the key is enabled and its material has not expired, with the code of
    /// the state it is in. Reads the clock only for keys whose material expires.
    pub(crate) fn require_usable(&self, clock: &dyn Clock) -> Result<()> {
        if self
            .material_expiry_ms
            .is_some_and(|expiry| expiry <= clock.now_ms())
        {
            return Err(KmsError::KeyNotEnabled);
        }
        require_enabled(state_from_index(self.state.load(Ordering::Acquire)))
    }

    /// Counts one more encryption, refusing those that could pass [`MAX_SEALS_PER_KEY`].
    pub(crate) fn count_seal(&self) -> Result<()> {
        if self.seals.count() {
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

fn state_index(state: KeyState) -> u8 {
    KeyState::ALL
        .iter()
        .position(|s| *s == state)
        .and_then(|at| u8::try_from(at).ok())
        .unwrap_or(u8::MAX)
}

fn state_from_index(index: u8) -> KeyState {
    // Only indexes written by `state_index` are ever stored; anything else reads as
    // disabled, which refuses crypto.
    KeyState::ALL
        .get(usize::from(index))
        .copied()
        .unwrap_or(KeyState::Disabled)
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

    /// Forgets `key_id`, after its material changed.
    pub(crate) fn remove(&self, key_id: &KeyId) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.shard(key_id).rcu(|keys| {
            let mut keys = FxHashMap::clone(keys);
            keys.remove(key_id);
            keys
        });
    }

    /// Records a state change the engine made in the store.
    pub(crate) fn set_state(&self, key_id: &KeyId, state: KeyState) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Some(key) = self.snapshot(key_id).get(key_id) {
            key.state.store(state_index(state), Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_indexes_round_trip() {
        for state in KeyState::ALL {
            assert_eq!(state_from_index(state_index(*state)), *state);
        }
    }

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
            KeyState::Enabled,
            material_expiry_ms,
        )
    }

    #[test]
    fn a_key_whose_encryptions_are_used_up_refuses_with_kms_9003() {
        let mut key = hot_key(None);
        assert!(key.count_seal().is_ok());
        // The counter's limit semantics are tested in seal_counter; here, its refusal.
        key.seals = SealCounter::new(0);
        assert_eq!(key.count_seal().unwrap_err().code(), "KMS.9003");
        assert_eq!(key.count_seal().unwrap_err().code(), "KMS.9003");
    }

    #[test]
    fn a_key_refuses_crypto_once_its_material_expires() {
        let clock = crate::clock::ManualClock::new(1_000);
        let key = hot_key(Some(2_000));
        assert!(key.require_usable(&clock).is_ok());
        clock.advance_ms(1_000);
        assert_eq!(key.require_usable(&clock).unwrap_err().code(), "KMS.1301");
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
