//! The HSM boundary (DESIGN 3): every operation that touches key material goes through a
//! [`Backend`]. Backends never see JSON; the engine never sees CMK material.

use core::fmt;

use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::secret::SecretBytes;
use crate::spec::{CmkSpec, KeyPairSpec};

/// Length of an AEAD nonce in bytes (96 bits, NIST SP 800-38D).
pub const NONCE_LEN: usize = 12;
/// Length of an AEAD tag in bytes.
pub const TAG_LEN: usize = 16;

/// The backend's opaque, persistable reference to a CMK: for the soft backend the material
/// sealed under its root key, for PKCS#11 the object's CKA_ID.
///
/// Not secret by construction (it never holds plaintext material), but `Debug` still shows
/// only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBlob(Vec<u8>);

impl KeyBlob {
    /// Wraps the backend's bytes.
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The bytes to persist.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for KeyBlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyBlob({} bytes)", self.0.len())
    }
}

/// A freshly generated data key pair, DER encoded.
pub struct KeyPair {
    /// SubjectPublicKeyInfo DER of the public key.
    pub public_key_spki: Vec<u8>,
    /// PKCS#8 `PrivateKeyInfo` DER of the private key.
    pub private_key_pkcs8: SecretBytes,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public_key_spki_len", &self.public_key_spki.len())
            .field("private_key_pkcs8", &self.private_key_pkcs8)
            .finish()
    }
}

/// What a backend can do, as data: the engine refuses anything else before calling it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// A name for messages, such as `"soft"` or a PKCS#11 token label.
    pub name: String,
    /// CMK specs the backend can generate and use.
    pub cmk_specs: Vec<CmkSpec>,
    /// Data key pair specs the backend can generate.
    pub key_pair_specs: Vec<KeyPairSpec>,
}

impl Capabilities {
    /// Checks that CMKs of `spec` are supported.
    ///
    /// # Errors
    /// [`KmsError::BackendUnsupported`] naming the spec and the backend.
    pub fn require_cmk(&self, spec: CmkSpec) -> Result<()> {
        self.require(self.cmk_specs.contains(&spec), "CMK spec", spec.as_str())
    }

    /// Checks that key pairs of `spec` are supported.
    ///
    /// # Errors
    /// [`KmsError::BackendUnsupported`] naming the spec and the backend.
    pub fn require_key_pair(&self, spec: KeyPairSpec) -> Result<()> {
        self.require(
            self.key_pair_specs.contains(&spec),
            "key pair spec",
            spec.as_str(),
        )
    }

    fn require(&self, supported: bool, kind: &str, spec: &str) -> Result<()> {
        if supported {
            Ok(())
        } else {
            Err(KmsError::BackendUnsupported(format!(
                "{kind} {spec} on backend {}",
                self.name
            )))
        }
    }
}

/// A CMK loaded for use: the soft backend's expanded cipher, an HSM's object handle. The
/// engine caches these so the hot path does no store I/O and no key unsealing.
///
/// Implementations wipe any key schedule they hold when dropped.
pub trait CmkHandle: Send + Sync + fmt::Debug {
    /// Encrypts `buffer` in place with the CMK's AEAD (AES-256-GCM or SM4-GCM) and returns
    /// the tag.
    ///
    /// # Errors
    /// [`KmsError::Backend`] when the backend fails.
    fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        associated_data: &[u8],
        buffer: &mut [u8],
    ) -> Result<[u8; TAG_LEN]>;

    /// Decrypts `buffer` in place after checking `tag`.
    ///
    /// # Errors
    /// [`KmsError::InvalidCipherText`] when authentication fails (and `buffer` is then
    /// unspecified: the caller wipes it); [`KmsError::Backend`] when the backend fails.
    fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        associated_data: &[u8],
        buffer: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()>;
}

/// A key backend: a pure-Rust implementation or an HSM.
pub trait Backend: Send + Sync + fmt::Debug {
    /// What this backend can do.
    fn capabilities(&self) -> &Capabilities;

    /// Generates a new CMK for key `id` and returns its persistable reference.
    ///
    /// # Errors
    /// [`KmsError::BackendUnsupported`] for a spec it cannot do; [`KmsError::Backend`] when
    /// generation fails.
    fn generate_cmk(&self, id: &KeyId, spec: CmkSpec) -> Result<KeyBlob>;

    /// Loads a CMK for use from its persisted reference.
    ///
    /// # Errors
    /// [`KmsError::Backend`] when the blob does not belong to this backend or key, or is
    /// damaged.
    fn load_cmk(&self, id: &KeyId, spec: CmkSpec, blob: &KeyBlob) -> Result<Box<dyn CmkHandle>>;

    /// Generates a data key pair, returned as SPKI and PKCS#8 DER.
    ///
    /// # Errors
    /// [`KmsError::BackendUnsupported`] for a spec it cannot do; [`KmsError::Backend`] when
    /// generation or encoding fails.
    fn generate_key_pair(&self, spec: KeyPairSpec) -> Result<KeyPair>;

    /// Fills `out` from a CSPRNG (nonces, DEKs, key IDs).
    ///
    /// # Errors
    /// [`KmsError::Backend`] when the random source fails.
    fn random(&self, out: &mut [u8]) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsupported_spec_is_refused_naming_spec_and_backend() {
        let capabilities = Capabilities {
            name: "token-a".into(),
            cmk_specs: vec![CmkSpec::Aes256],
            key_pair_specs: vec![KeyPairSpec::EccNistP256],
        };
        assert!(capabilities.require_cmk(CmkSpec::Aes256).is_ok());
        let err = capabilities.require_cmk(CmkSpec::Sm4).unwrap_err();
        assert_eq!(err.code(), "KMS.9002");
        assert_eq!(
            err.to_string(),
            "Not supported by the backend: CMK spec SM4 on backend token-a"
        );
        let err = capabilities.require_key_pair(KeyPairSpec::Sm2).unwrap_err();
        assert!(
            err.to_string()
                .contains("key pair spec SM2 on backend token-a")
        );
    }
}
