//! How to reach a token: the module, the token, the PIN, the session pool's size, and the
//! token's vendor-defined mechanisms.

use core::fmt;
use std::path::{Path, PathBuf};

use kms_core::{KmsError, Result, SecretString};

use crate::vendor::VendorMechanisms;

/// Which token to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSelector {
    /// The token with this label (`softhsm2-util --init-token --label ...`).
    Label(String),
    /// The token in this slot.
    Slot(u64),
}

impl fmt::Display for TokenSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Label(label) => write!(f, "token '{label}'"),
            Self::Slot(slot) => write!(f, "the token in slot {slot}"),
        }
    }
}

/// The PKCS#11 backend's settings. The PIN comes from an environment variable or a file,
/// never from a command-line argument, and never shows in `Debug`.
pub struct Pkcs11Config {
    /// The PKCS#11 module (shared library), such as `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    /// The token.
    pub token: TokenSelector,
    /// The user PIN.
    pub pin: SecretString,
    /// How many logged-in sessions the backend keeps open at most (default 4).
    pub session_pool_size: usize,
    /// Off by default. When on, and the token refuses RSA-OAEP with SHA-256 (SoftHSM2
    /// 2.6.1), RSAES_OAEP_SHA_256 and RSA_AES_KEY_WRAP_SHA_256 imports decrypt the wrapped
    /// material on the host and create the CMK object from it. Weaker: the material passes
    /// through host memory (wiped after), and the wrapping private key is generated on the
    /// host (then kept in the token, and sealed under a token key for the host's use, so
    /// anyone with the PIN can unseal it and decrypt what is wrapped to it).
    pub host_assisted_unwrap: bool,
    /// The token's vendor-defined numbers for SM4 CMKs and SM2 data key pairs; none by
    /// default, and then SM4 and SM2 are refused.
    pub vendor_mechanisms: VendorMechanisms,
}

impl Pkcs11Config {
    /// Settings with the default pool size.
    #[must_use]
    pub fn new(module: impl Into<PathBuf>, token: TokenSelector, pin: SecretString) -> Self {
        Self {
            module: module.into(),
            token,
            pin,
            session_pool_size: 4,
            host_assisted_unwrap: false,
            vendor_mechanisms: VendorMechanisms::default(),
        }
    }

    /// Reads the PIN from the environment variable `name`.
    ///
    /// # Errors
    /// [`KmsError::InvalidParameter`] when the variable is unset or not UTF-8.
    pub fn pin_from_env(name: &str) -> Result<SecretString> {
        std::env::var(name)
            .map(SecretString::new)
            .map_err(|_| KmsError::InvalidParameter(format!("the PIN variable {name} is not set")))
    }

    /// Reads the PIN from the file at `path` (a trailing newline is not part of it).
    ///
    /// # Errors
    /// [`KmsError::InvalidParameter`] when the file cannot be read.
    pub fn pin_from_file(path: &Path) -> Result<SecretString> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            KmsError::InvalidParameter(format!("reading the PIN file {}: {error}", path.display()))
        })?;
        let pin = SecretString::new(text.trim_end_matches(['\r', '\n']).to_owned());
        zeroize::Zeroize::zeroize(&mut { text });
        Ok(pin)
    }
}

impl fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Config")
            .field("module", &self.module)
            .field("token", &self.token)
            .field("pin", &self.pin)
            .field("session_pool_size", &self.session_pool_size)
            .field("host_assisted_unwrap", &self.host_assisted_unwrap)
            .field("vendor_mechanisms", &self.vendor_mechanisms)
            .finish()
    }
}
