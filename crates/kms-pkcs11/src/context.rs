//! One PKCS#11 context per module per process: initialising a module twice, or finalising
//! it under another user, breaks the first (SoftHSM2 has crashed that way). Every backend
//! on the same module shares its context.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use kms_core::{KmsError, Result};

fn contexts() -> &'static Mutex<HashMap<PathBuf, Pkcs11>> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    CONTEXTS.get_or_init(Mutex::default)
}

/// The initialised context of `module`, loading it on first use.
pub(crate) fn context(module: &Path) -> Result<Pkcs11> {
    let mut contexts = contexts()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(context) = contexts.get(module) {
        return Ok(context.clone());
    }
    if !module.is_file() {
        return Err(KmsError::Backend(format!(
            "the PKCS#11 module {} does not exist",
            module.display()
        )));
    }
    let context = Pkcs11::new(module).map_err(|error| {
        KmsError::Backend(format!(
            "loading the PKCS#11 module {}: {error}",
            module.display()
        ))
    })?;
    match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(error) => {
            return Err(KmsError::Backend(format!(
                "C_Initialize of {}: {error}",
                module.display()
            )));
        }
    }
    contexts.insert(module.to_path_buf(), context.clone());
    Ok(context)
}
