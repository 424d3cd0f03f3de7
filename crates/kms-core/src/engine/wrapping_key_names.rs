//! Wrapping keys that a backend keeps as objects (PKCS#11) carry a name that says whose
//! they are and when they were made, so that those an engine left behind when it was killed
//! (its pooled keys, or one made for a request that never stored its import token) can be
//! found and destroyed later by another engine on the same store, while the keys of other
//! stores on the same token, and the live keys of other engines on this store, are never
//! touched (DESIGN 8).
//!
//! The name is `wrap.<owner>.<created_ms>.<random>`: `owner` is a random tag this store
//! keeps for good (its engine key [`OWNER_TAG_NAME`]), `created_ms` the engine clock's time
//! of creation. A live engine never keeps a pooled key longer than [`MAX_POOLED_AGE_MS`],
//! and stores an import token within moments of taking its key; so a key of this store older
//! than [`ORPHAN_AFTER_MS`] that no import token in the store refers to has no engine that
//! will use it.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use crate::backend::{Backend, KeyBlob, WrappingKey};
use crate::clock::Clock;
use crate::codec::encode_hex;
use crate::error::{KmsError, Result};
use crate::spec::WrappingKeySpec;
use crate::store::KeyStore;

/// The store's engine-key record holding the owner tag of its wrapping keys (not secret).
const OWNER_TAG_NAME: &str = "wrapping-key-owner";
/// The longest a pool keeps a key before it destroys it and makes a fresh one.
pub(crate) const MAX_POOLED_AGE_MS: u64 = 60 * 60 * 1000;
/// The age after which a wrapping key of this store that no import token refers to is an
/// orphan: twice the longest a live engine holds one unreferenced.
pub(crate) const ORPHAN_AFTER_MS: u64 = 2 * MAX_POOLED_AGE_MS;

/// A wrapping key just made, with its time of creation.
#[derive(Debug)]
pub(crate) struct MadeWrappingKey {
    pub(crate) key: WrappingKey,
    pub(crate) created_ms: u64,
}

/// What one sweep for orphaned wrapping keys did.
#[derive(Debug, Default)]
pub(crate) struct Sweep {
    pub(crate) destroyed: usize,
    pub(crate) failures: Vec<KmsError>,
}

/// Makes wrapping keys under this store's names, and sweeps this store's orphans.
#[derive(Debug)]
pub(crate) struct WrappingKeyMaker {
    backend: Arc<dyn Backend>,
    store: Arc<dyn KeyStore>,
    clock: Arc<dyn Clock>,
    owner: OnceLock<String>,
}

impl WrappingKeyMaker {
    pub(crate) fn new(
        backend: Arc<dyn Backend>,
        store: Arc<dyn KeyStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            backend,
            store,
            clock,
            owner: OnceLock::new(),
        }
    }

    pub(crate) fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Generates a wrapping key of `spec` named as this store's.
    pub(crate) fn create(&self, spec: WrappingKeySpec) -> Result<MadeWrappingKey> {
        let created_ms = self.now_ms();
        let mut random = [0u8; 16];
        self.backend.random(&mut random)?;
        let name = format!("{}{created_ms}.{}", self.prefix()?, encode_hex(&random));
        let key = self.backend.create_wrapping_key(spec, name.as_bytes())?;
        Ok(MadeWrappingKey { key, created_ms })
    }

    /// Destroys every wrapping key of this store older than [`ORPHAN_AFTER_MS`] that no
    /// import token in the store refers to. A key the backend fails to destroy is reported
    /// and left for the next sweep.
    ///
    /// # Errors
    /// The store's or the backend's failure to list them.
    pub(crate) fn sweep(&self) -> Result<Sweep> {
        let prefix = self.prefix()?;
        let found = self.backend.wrapping_keys(prefix.as_bytes())?;
        if found.is_empty() {
            return Ok(Sweep::default());
        }
        let referenced: HashSet<Vec<u8>> = self
            .store
            .import_wrapping_keys()?
            .into_iter()
            .map(|key| key.as_bytes().to_vec())
            .collect();
        let now_ms = self.now_ms();
        let mut sweep = Sweep::default();
        for key in found {
            let orphaned = created_ms(key.as_bytes(), &prefix)
                .is_some_and(|created| now_ms.saturating_sub(created) > ORPHAN_AFTER_MS)
                && !referenced.contains(key.as_bytes());
            if orphaned {
                match self.backend.destroy_key(&key) {
                    Ok(()) => sweep.destroyed += 1,
                    Err(error) => sweep.failures.push(error),
                }
            }
        }
        Ok(sweep)
    }

    /// `wrap.<owner>.`, the owner tag made and stored on first use.
    fn prefix(&self) -> Result<String> {
        Ok(format!("wrap.{}.", self.owner()?))
    }

    fn owner(&self) -> Result<&str> {
        if let Some(owner) = self.owner.get() {
            return Ok(owner);
        }
        let stored = match self.store.engine_key(OWNER_TAG_NAME)? {
            Some(stored) => stored,
            None => {
                let mut tag = [0u8; 8];
                self.backend.random(&mut tag)?;
                self.store.insert_engine_key(
                    OWNER_TAG_NAME,
                    &KeyBlob::new(encode_hex(&tag).into_bytes()),
                )?
            }
        };
        let owner = String::from_utf8(stored.as_bytes().to_vec())
            .ok()
            .filter(|tag| !tag.is_empty() && tag.bytes().all(|byte| byte.is_ascii_hexdigit()))
            .ok_or_else(|| KmsError::Store("the wrapping-key owner record is damaged".into()))?;
        Ok(self.owner.get_or_init(|| owner))
    }
}

/// The creation time in a name `<prefix><created_ms>.<random>`; `None` for any other name.
fn created_ms(name: &[u8], prefix: &str) -> Option<u64> {
    let rest = name.strip_prefix(prefix.as_bytes())?;
    let (created, random) = std::str::from_utf8(rest).ok()?.split_once('.')?;
    (!random.is_empty() && created.bytes().all(|byte| byte.is_ascii_digit()))
        .then(|| created.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_of_the_prefix_with_a_time_and_a_suffix_have_a_creation_time() {
        let prefix = "wrap.00ff.";
        assert_eq!(
            created_ms(b"wrap.00ff.1700000000000.ab12", prefix),
            Some(1_700_000_000_000)
        );
        for other in [
            b"wrap.00fe.1700000000000.ab12".as_slice(),
            b"wrap.00ff.1700000000000.",
            b"wrap.00ff.1700000000000",
            b"wrap.00ff.+17.ab12",
            b"wrap.00ff..ab12",
            b"wrap.00ff.99999999999999999999999.ab12",
            b"wrap-0123456789abcdef0123456789abcdef",
            b"\xff\xfe",
        ] {
            assert_eq!(created_ms(other, prefix), None, "{other:?}");
        }
    }
}
