//! The [`Kms`] engine: validates requests, looks keys up, formats responses, and leaves key
//! material to the [`Backend`] and metadata to the [`KeyStore`].

mod datakey;
mod datakey_pair;
mod key_cache;
mod lifecycle;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use key_cache::{HotKey, KeyCache, require_enabled};

use crate::backend::{Backend, NONCE_LEN};
use crate::ciphertext::{BlobKey, seal_blob};
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::store::KeyStore;

/// Settings of an engine that are not key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsConfig {
    /// Reported as `domain_id` of keys (the account).
    pub domain_id: String,
    /// Reported as `region_id` / `realm` of keys.
    pub region_id: String,
}

impl Default for KmsConfig {
    fn default() -> Self {
        Self {
            domain_id: "local".into(),
            region_id: "local".into(),
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
    cache: KeyCache,
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
        Self {
            backend,
            store,
            config,
            cache: KeyCache::default(),
        }
    }

    /// The backend this engine drives.
    #[must_use]
    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// The enabled CMK `key_id`, from the cache or loaded from the store into it.
    fn enabled_key(&self, key_id: &KeyId) -> Result<Arc<HotKey>> {
        if let Some(key) = self.cache.get(key_id) {
            key.require_enabled()?;
            return Ok(key);
        }
        let epoch = self.cache.epoch();
        let record = self.store.get_key(key_id)?.ok_or(KmsError::KeyNotFound)?;
        require_enabled(record.state)?;
        let blob = record.key_blob.as_ref().ok_or(KmsError::KeyNotEnabled)?;
        let handle = self.backend.load_cmk(key_id, record.spec, blob)?;
        let blob_key = BlobKey {
            key_id: *key_id,
            spec: record.spec,
            generation: record.generation,
        };
        let key = Arc::new(HotKey::new(blob_key, handle, record.state));
        self.cache
            .insert_if_current(*key_id, Arc::clone(&key), epoch);
        Ok(key)
    }

    /// Seals `plaintext` into a v1 blob under `key` with a fresh random nonce.
    fn seal(&self, key: &HotKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        key.count_seal()?;
        let mut nonce = [0u8; NONCE_LEN];
        self.backend.random(&mut nonce)?;
        seal_blob(key.handle.as_ref(), &key.blob_key, &nonce, aad, plaintext)
    }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}
