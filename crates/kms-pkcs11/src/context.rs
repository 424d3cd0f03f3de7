//! One PKCS#11 context per module per process: initialising a module twice, or finalising
//! it under another user, breaks the first (SoftHSM2 has crashed that way). Every backend
//! on the same module shares its context, and the lock that serializes object changes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use kms_core::{KmsError, Result};

/// A loaded module: its context and its object-change lock.
#[derive(Debug, Clone)]
pub(crate) struct Module {
    pub(crate) context: Pkcs11,
    /// Serializes creating, finding and destroying objects: SoftHSM2 2.6.1 at times
    /// answers concurrent object changes with CKR_GENERAL_ERROR or
    /// CKR_TEMPLATE_INCONSISTENT. DEK encryption and decryption never take it.
    pub(crate) object_changes: Arc<Mutex<()>>,
}

fn modules() -> &'static Mutex<HashMap<PathBuf, Module>> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Module>>> = OnceLock::new();
    MODULES.get_or_init(Mutex::default)
}

/// The initialised module at `path`, loading it on first use.
pub(crate) fn module(path: &Path) -> Result<Module> {
    let mut modules = modules()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(loaded) = modules.get(path) {
        return Ok(loaded.clone());
    }
    if !path.is_file() {
        return Err(KmsError::Backend(format!(
            "the PKCS#11 module {} does not exist",
            path.display()
        )));
    }
    let context = Pkcs11::new(path).map_err(|error| {
        KmsError::Backend(format!(
            "loading the PKCS#11 module {}: {error}",
            path.display()
        ))
    })?;
    match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(error) => {
            return Err(KmsError::Backend(format!(
                "C_Initialize of {}: {error}",
                path.display()
            )));
        }
    }
    let loaded = Module {
        context,
        object_changes: Arc::default(),
    };
    modules.insert(path.to_path_buf(), loaded.clone());
    Ok(loaded)
}
