//! The [`Kms`] engine: validates requests, looks keys up, formats responses, and leaves key
//! material to the [`Backend`] and metadata to the [`KeyStore`].

mod asymmetric;
mod coherence;
mod data;
mod datakey;
mod datakey_pair;
mod import;
mod key_cache;
mod key_text;
mod lifecycle;
mod mac;
mod maintenance;
mod material_expiry;
mod no_wait;
mod purge;
mod rotation;
mod seal_lease;
mod tags;
mod teardown;
mod wait_checked_store;
mod wrapping_key_names;
mod wrapping_key_pool;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use coherence::CoherentCache;
use key_cache::{HotKey, require_enabled};
pub use maintenance::Maintenance;
pub(crate) use no_wait::without_waiting;
pub use purge::Purge;
use wait_checked_store::WaitCheckedStore;
use wrapping_key_names::WrappingKeyMaker;
pub use wrapping_key_pool::PoolStats;
use wrapping_key_pool::WrappingKeyPool;

use crate::backend::{Backend, CmkHandle, NONCE_LEN};
use crate::ciphertext::{BlobKey, blob_generation, seal_blob};
use crate::clock::{Clock, SystemClock};
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::secret::SecretBytes;
use crate::spec::{CmkSpec, KeyState, WrappingKeySpec};
use crate::store::KeyStore;
use crate::tenant::{ProjectId, Tenant};

/// Settings of an engine that are not key material.
#[derive(Debug, Clone)]
pub struct KmsConfig {
    /// Reported as `domain_id` of keys (the account).
    pub domain_id: String,
    /// Reported as `region_id` / `realm` of keys, for callers whose [`Tenant`] names no
    /// other.
    pub region_id: String,
    /// How long an import token and its wrapping key stay valid, in milliseconds
    /// (default 24 hours).
    pub import_token_validity_ms: u64,
    /// How many RSA wrapping keys of each spec a background thread keeps ready for
    /// get-parameters-for-import (default 2; 0 generates every key on request, no thread).
    pub wrapping_key_pool_size: usize,
    /// How soon a key state change made through another engine on the same store is
    /// honoured here (DESIGN 11; default 1 s). A cached key is used only while the engine
    /// has confirmed its cache with the store within this bound.
    pub coherence_bound: Duration,
    /// How many encryptions one key's material may make in its life, across every engine
    /// on the store (default 2^32, the bound for random 96-bit nonces, NIST SP 800-38D
    /// 8.3); KMS.9003 after.
    pub max_encryptions_per_key: u64,
    /// The most encryptions an engine leases from the store at once for one key (default
    /// 2^22): what an engine that dies can forfeit. Leases start at 4096 and double.
    pub encryption_lease: u64,
    /// Where the engine reads the time.
    pub clock: Arc<dyn Clock>,
}

impl Default for KmsConfig {
    fn default() -> Self {
        Self {
            domain_id: "local".into(),
            region_id: "local".into(),
            import_token_validity_ms: 24 * 60 * 60 * 1000,
            wrapping_key_pool_size: 2,
            coherence_bound: Duration::from_secs(1),
            max_encryptions_per_key: 1 << 32,
            encryption_lease: 1 << 22,
            clock: Arc::new(SystemClock),
        }
    }
}

/// The KMS engine over one backend and one key store. Share it between threads with an
/// `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct Kms {
    backend: Arc<dyn Backend>,
    store: Arc<dyn KeyStore>,
    config: KmsConfig,
    cache: Arc<CoherentCache>,
    token_key: OnceLock<Box<dyn CmkHandle>>,
    wrapping_key_maker: Arc<WrappingKeyMaker>,
    wrapping_key_pool: WrappingKeyPool,
    default_tenant: Tenant,
}

impl Drop for Kms {
    /// Stops the cache's background reader first, so that the loaded keys are released
    /// here, before the backend.
    fn drop(&mut self) {
        self.cache.stop_reader();
    }
}

impl Kms {
    /// An engine with the default [`KmsConfig`].
    #[must_use]
    pub fn new(backend: Arc<dyn Backend>, store: Arc<dyn KeyStore>) -> Self {
        Self::with_config(backend, store, KmsConfig::default())
    }

    /// An engine with `config`.
    #[must_use]
    pub fn with_config(
        backend: Arc<dyn Backend>,
        store: Arc<dyn KeyStore>,
        config: KmsConfig,
    ) -> Self {
        let store: Arc<dyn KeyStore> = Arc::new(WaitCheckedStore::new(store));
        let wrapping_key_maker = Arc::new(WrappingKeyMaker::new(
            Arc::clone(&backend),
            Arc::clone(&store),
            Arc::clone(&config.clock),
        ));
        let wrapping_key_pool = WrappingKeyPool::new(
            Arc::clone(&wrapping_key_maker),
            config.wrapping_key_pool_size,
        );
        let default_tenant = Tenant {
            project_id: ProjectId::default_project(),
            domain_id: config.domain_id.clone(),
            region_id: config.region_id.clone(),
        };
        Self {
            cache: Arc::new(CoherentCache::new(config.coherence_bound)),
            backend,
            store,
            config,
            default_tenant,
            token_key: OnceLock::new(),
            wrapping_key_maker,
            wrapping_key_pool,
        }
    }

    /// The backend this engine drives.
    #[must_use]
    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// Waits until the wrapping key pool holds a ready key of `spec`, or `timeout` passes;
    /// returns whether one is ready. For a service's readiness check at start-up (the first
    /// get-parameters-for-import then does not wait for RSA key generation). Returns false
    /// at once when the pool keeps no keys of `spec` (`wrapping_key_pool_size` 0, or an SM2
    /// spec, which is never pooled).
    #[must_use]
    pub fn wait_for_wrapping_key(&self, spec: WrappingKeySpec, timeout: Duration) -> bool {
        self.wrapping_key_pool.wait_until_ready(spec, timeout)
    }

    /// Whether the engine can serve: the store answers a read, the backend a random draw,
    /// and (when the pool keeps keys) the pool has made its first RSA_2048 key. For a
    /// service's readiness probe: a pool emptied by load later does not make it unready.
    ///
    /// # Errors
    /// The store's or the backend's failure; KMS.0103 while the wrapping key pool is
    /// still warming.
    pub fn check_ready(&self) -> Result<()> {
        self.store.engine_key(import::TOKEN_KEY_NAME)?;
        self.backend.random(&mut [0u8; 1])?;
        if self.config.wrapping_key_pool_size > 0
            && self.wrapping_key_pool_stats().generated_in_background == 0
        {
            return Err(KmsError::Backend(
                "the wrapping key pool is still generating its first keys".into(),
            ));
        }
        Ok(())
    }

    /// What the wrapping key pool has done so far.
    #[must_use]
    pub fn wrapping_key_pool_stats(&self) -> PoolStats {
        self.wrapping_key_pool.stats()
    }

    /// The tenant of callers that name none: [`ProjectId::DEFAULT`] in the configured
    /// domain.
    #[must_use]
    pub fn default_tenant(&self) -> &Tenant {
        &self.default_tenant
    }

    fn now_ms(&self) -> u64 {
        self.config.clock.now_ms()
    }

    /// Runs `use_key` with the enabled CMK `key_id`, from the cache or loaded from the store
    /// into it. Material found expired is expired first (see
    /// [`current_key`](Self::current_key)), and the call refused with the code of the state
    /// the key is left in. A cached key whose encryptions ran out because another engine
    /// rotated it (the store leases nothing more for a retired generation) is loaded again
    /// and `use_key` runs once more with the new generation.
    fn with_enabled_key<T>(
        &self,
        tenant: &Tenant,
        key_id: &KeyId,
        use_key: impl Fn(&HotKey) -> Result<T>,
    ) -> Result<T> {
        self.cache.ensure_confirmed(self.store.as_ref())?;
        let cached = self.cache.keys.snapshot(key_id);
        let loaded;
        let key = match cached.get(key_id) {
            Some(key) if key.project_id == tenant.project_id => key,
            Some(_) => return Err(KmsError::KeyNotFound),
            None => {
                loaded = self.load_key(tenant, key_id)?;
                &loaded
            }
        };
        if key.material_expired(self.config.clock.as_ref()) {
            let record = self.current_key(tenant, key_id)?;
            require_enabled(record.state)?;
            return Err(KmsError::KeyNotEnabled);
        }
        match use_key(key) {
            Err(KmsError::KeyUsageLimitReached) if self.rotated_past(key)? => {
                self.cache.keys.remove(key_id);
                use_key(&*self.load_key(tenant, key_id)?)
            }
            outcome => outcome,
        }
    }

    /// Whether the store holds a newer generation of `key` than the one loaded.
    fn rotated_past(&self, key: &HotKey) -> Result<bool> {
        let stored = self.store.get_key(&key.blob_key.key_id)?;
        Ok(stored.is_some_and(|record| record.generation > key.blob_key.generation))
    }

    /// Opens `blob` under `tenant`'s enabled key `key_id`, with the material of the
    /// generation its header names, binding `aad` and `context`; returns the plaintext and
    /// the key's spec. A generation newer than the cached key's (another engine rotated the
    /// key within the coherence bound) that the store holds replaces the cached key with
    /// one loaded again.
    fn open_blob(
        &self,
        tenant: &Tenant,
        key_id: &KeyId,
        aad: &[u8],
        context: Option<&[u8]>,
        blob: &[u8],
    ) -> Result<(SecretBytes, CmkSpec)> {
        let newer = |key: &HotKey| {
            blob_generation(blob).is_some_and(|generation| generation > key.blob_key.generation)
        };
        let open = |key: &HotKey| Ok((key.open(aad, context, blob)?, key.blob_key.spec));
        let cached = self.with_enabled_key(tenant, key_id, |key| {
            if newer(key) {
                Ok(None)
            } else {
                open(key).map(Some)
            }
        })?;
        if let Some(opened) = cached {
            return Ok(opened);
        }
        // Only a generation the store holds is worth loading the key again for: a forged
        // one costs a store read, no backend work.
        let stored = self.current_key(tenant, key_id)?.generation;
        if blob_generation(blob).is_none_or(|generation| generation > stored) {
            return Err(KmsError::InvalidCipherText);
        }
        self.cache.keys.remove(key_id);
        let key = self.load_key(tenant, key_id)?;
        if newer(&key) {
            return Err(KmsError::InvalidCipherText);
        }
        open(&key)
    }

    /// Loads the enabled CMK `key_id` from the store and caches it.
    fn load_key(&self, tenant: &Tenant, key_id: &KeyId) -> Result<Arc<HotKey>> {
        let epoch = self.cache.keys.epoch();
        let record = self.current_key(tenant, key_id)?;
        require_enabled(record.state)?;
        let blob = record.key_blob.as_ref().ok_or(KmsError::KeyNotEnabled)?;
        let spec = record.spec.require_symmetric()?;
        let handle = self.backend.load_cmk(key_id, spec, blob)?;
        let retired = record
            .retired_materials
            .iter()
            .map(|retired| {
                let handle = self.backend.load_cmk(key_id, spec, &retired.key_blob)?;
                Ok((retired.generation, handle))
            })
            .collect::<Result<Vec<_>>>()?;
        let blob_key = BlobKey {
            key_id: *key_id,
            spec,
            generation: record.generation,
        };
        let key = HotKey::new(
            blob_key,
            handle,
            record.project_id,
            record.material_expiry_ms,
            self.config.encryption_lease,
        );
        let key = Arc::new(key.with_retired(retired));
        self.cache
            .keys
            .insert_if_current(*key_id, Arc::clone(&key), epoch);
        self.cache.start_reader(&self.store);
        Ok(key)
    }

    /// Changes the alias, description or tags of `tenant`'s key `key_id` with `apply` (the
    /// store's atomic change, which refuses a key pending deletion by returning false),
    /// unless the key is pending deletion; a key that went pending deletion or away
    /// meanwhile is refused as it is now.
    fn change_key_metadata(
        &self,
        tenant: &Tenant,
        key_id: &KeyId,
        apply: impl FnOnce() -> Result<bool>,
    ) -> Result<()> {
        let record = self.current_key(tenant, key_id)?;
        if record.state != KeyState::PendingDeletion && apply()? {
            return Ok(());
        }
        match self.current_key(tenant, key_id)?.state {
            KeyState::PendingDeletion => Err(KmsError::KeyPendingDeletion),
            _ => Err(concurrent_change(key_id)),
        }
    }

    /// Counts one encryption under `key` against its bound.
    fn count_seal(&self, key: &HotKey) -> Result<()> {
        key.count_seal(self.store.as_ref(), self.config.max_encryptions_per_key)
    }

    /// Seals `plaintext` into a v1 blob under `key` with a fresh random nonce.
    fn seal(&self, key: &HotKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        self.count_seal(key)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.backend.random(&mut nonce)?;
        seal_blob(key.handle.as_ref(), &key.blob_key, &nonce, aad, plaintext)
    }
}

/// The error when a key kept changing under a compare-and-swap until its attempts ran out.
fn concurrent_change(key_id: &KeyId) -> KmsError {
    KmsError::Store(format!(
        "key {key_id} kept changing under concurrent updates; try again"
    ))
}
