//! The engine's home directory: the SQLite key store (or a PostgreSQL database several
//! engines share), and for the soft backend its root key; or a PKCS#11 token for key
//! material.

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::sync::Arc;

use kms_core::{Backend, KeyStore, Kms, KmsConfig, KmsError, Result};
use kms_pkcs11::Pkcs11Backend;
use kms_soft::{RootKey, SoftBackend};
use kms_store::{PgStore, SqliteStore};

use crate::cli::{BackendChoice, Global, StoreChoice};

/// The key store's file name in the home directory.
pub(crate) const STORE_FILE: &str = "keys.db";
/// The root key's file name in the home directory.
pub(crate) const ROOT_KEY_FILE: &str = "root.key";

/// Opens the engine in `global.home`, creating the directory (mode 0700), the store (and
/// the soft backend's root key) on first use. A command runs one operation and exits: no
/// background pool of wrapping keys.
pub(crate) fn open(global: &Global) -> Result<Kms> {
    open_with(
        global,
        KmsConfig {
            wrapping_key_pool_size: 0,
            ..KmsConfig::default()
        },
    )
}

/// As [`open`], with `config`: a long-running service keeps the default pool of wrapping
/// keys, so get-parameters-for-import does not wait for RSA key generation.
pub(crate) fn open_with(global: &Global, config: KmsConfig) -> Result<Kms> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&global.home)
        .map_err(|error| {
            KmsError::Store(format!("creating home {}: {error}", global.home.display()))
        })?;
    let backend: Arc<dyn Backend> = match &global.backend {
        BackendChoice::Soft { root_key_file } => {
            let root_key_file = root_key_file
                .clone()
                .unwrap_or_else(|| global.home.join(ROOT_KEY_FILE));
            Arc::new(SoftBackend::new(RootKey::load_or_create(&root_key_file)?))
        }
        BackendChoice::Pkcs11 { .. } => Arc::new(open_pkcs11(&global.backend, None)?),
    };
    Ok(Kms::with_config(backend, open_store(global)?, config))
}

/// Opens the key store `global` names: `<home>/keys.db` unless `--store` says otherwise.
fn open_store(global: &Global) -> Result<Arc<dyn KeyStore>> {
    Ok(match &global.store {
        StoreChoice::Sqlite(path) => Arc::new(SqliteStore::open(
            path.clone().unwrap_or_else(|| global.home.join(STORE_FILE)),
        )?),
        StoreChoice::Postgres { url, password_file } => Arc::new(PgStore::connect(
            url,
            kms_store::password_from_env_or_file(password_file.as_deref())?,
        )?),
    })
}

/// Opens the PKCS#11 token `choice` names, with a session pool of `session_pool_size`
/// (the settings' size, or the backend's default, when `None`).
///
/// # Errors
/// [`KmsError::InvalidParameter`] when `choice` is not a PKCS#11 backend; the PIN errors
/// of [`kms_pkcs11::Pkcs11Settings::config`] and the token errors of
/// [`Pkcs11Backend::open`].
pub(crate) fn open_pkcs11(
    choice: &BackendChoice,
    session_pool_size: Option<usize>,
) -> Result<Pkcs11Backend> {
    let BackendChoice::Pkcs11(settings) = choice else {
        return Err(KmsError::InvalidParameter("not a PKCS#11 backend".into()));
    };
    let mut config = settings.config()?;
    if let Some(size) = session_pool_size {
        config.session_pool_size = size;
    }
    Pkcs11Backend::open(config)
}
