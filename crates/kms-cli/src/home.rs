//! The engine's home directory: the soft backend's root key and the SQLite key store.

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::sync::Arc;

use kms_core::{Kms, KmsConfig, KmsError, Result};
use kms_soft::{RootKey, SoftBackend};
use kms_store::SqliteStore;

use crate::cli::Global;

/// The key store's file name in the home directory.
pub(crate) const STORE_FILE: &str = "keys.db";
/// The root key's file name in the home directory.
pub(crate) const ROOT_KEY_FILE: &str = "root.key";

/// Opens the engine in `global.home`, creating the directory (mode 0700), the root key and
/// the store on first use.
pub(crate) fn open(global: &Global) -> Result<Kms> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&global.home)
        .map_err(|error| {
            KmsError::Store(format!("creating home {}: {error}", global.home.display()))
        })?;
    let root_key_file = global
        .root_key_file
        .clone()
        .unwrap_or_else(|| global.home.join(ROOT_KEY_FILE));
    let root_key = RootKey::load_or_create(&root_key_file)?;
    let store = SqliteStore::open(global.home.join(STORE_FILE))?;
    // A command runs one operation and exits: no background pool of wrapping keys.
    let config = KmsConfig {
        wrapping_key_pool_size: 0,
        ..KmsConfig::default()
    };
    Ok(Kms::with_config(
        Arc::new(SoftBackend::new(root_key)),
        Arc::new(store),
        config,
    ))
}
