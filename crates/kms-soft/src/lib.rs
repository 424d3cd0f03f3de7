//! kms-soft: the pure-Rust backend of kms-engine, built on RustCrypto.
//!
//! CMK material lives in the key store sealed under a [`RootKey`] the embedder supplies;
//! loaded CMKs are cached by the engine as expanded ciphers. Randomness comes from a
//! per-thread ChaCha20 CSPRNG seeded from the OS.
//!
//! ```
//! use std::sync::Arc;
//! use kms_core::{Kms, MemoryStore, models::CreateKeyRequest};
//! use kms_soft::{RootKey, SoftBackend};
//!
//! # fn main() -> Result<(), kms_core::KmsError> {
//! let kms = Kms::new(
//!     Arc::new(SoftBackend::new(RootKey::generate()?)),
//!     Arc::new(MemoryStore::new()),
//! );
//! let created = kms.create_key(kms.default_tenant(), &CreateKeyRequest {
//!     key_alias: Some("payments".into()),
//!     key_spec: Some("SM4".into()),
//!     ..CreateKeyRequest::default()
//! })?;
//! assert_eq!(created.key_info.key_id.len(), 36);
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod cmk;
mod key_pair;
mod mac_key;
mod private_key;
mod public_key;
mod recipient;
mod rng;
mod root_key;
mod root_key_file;
mod sm2_decrypt;
mod wrapping;

#[cfg(test)]
mod vector_tests;

use kms_core::{
    AsymmetricSpec, Backend, Capabilities, CmkHandle, CmkSpec, KeyBlob, KeyId, KeyPair,
    KeyPairSpec, KeyUsage, MacKeyHandle, MacSpec, PrivateKeyHandle, Result, SecretBytes,
    WrappedMaterial, WrappingAlgorithm, WrappingKey, WrappingKeySpec,
};
use root_key::cmk_label;

pub use cmk::{Sm4Gcm, SoftCmk};
pub use mac_key::SoftMacKey;
pub use public_key::{SM2_DEFAULT_USER_ID, SoftPublicKey};
pub use root_key::{ROOT_KEY_LEN, RootKey};

/// The pure-Rust backend: every CMK spec and key pair spec of the API.
#[derive(Debug)]
pub struct SoftBackend {
    root_key: RootKey,
    capabilities: Capabilities,
}

impl SoftBackend {
    /// A backend whose CMKs are sealed under `root_key`.
    #[must_use]
    pub fn new(root_key: RootKey) -> Self {
        Self {
            root_key,
            capabilities: Capabilities {
                name: "soft".into(),
                cmk_specs: CmkSpec::ALL.to_vec(),
                asymmetric_specs: AsymmetricSpec::ALL
                    .iter()
                    .copied()
                    .filter(|spec| spec.key_pair_spec().is_some())
                    .collect(),
                mac_specs: MacSpec::ALL.to_vec(),
                key_pair_specs: KeyPairSpec::ALL.to_vec(),
                wrapping_key_specs: WrappingKeySpec::ALL.to_vec(),
                wrapping_algorithms: WrappingAlgorithm::ALL.to_vec(),
                missing: vec![(
                    AsymmetricSpec::Ed25519.as_str().into(),
                    "an Ed25519 implementation".into(),
                )],
            },
        }
    }
}

impl Backend for SoftBackend {
    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Pure computation in memory, with the system's random generator: nothing waits.
    fn never_waits(&self) -> bool {
        true
    }

    fn generate_cmk(&self, id: &KeyId, spec: CmkSpec, _generation: u32) -> Result<KeyBlob> {
        // Every sealed blob is its own: the generation needs no name here.
        let mut material = SecretBytes::zeroed(spec.material_len());
        rng::fill(material.expose_secret_mut())?;
        self.root_key.seal(&cmk_label(id, spec), &material)
    }

    fn load_cmk(&self, id: &KeyId, spec: CmkSpec, blob: &KeyBlob) -> Result<Box<dyn CmkHandle>> {
        let material = self
            .root_key
            .open(&cmk_label(id, spec), blob, &format!("CMK {id}"))?;
        Ok(Box::new(SoftCmk::new(spec, &material)?))
    }

    fn generate_private_key(
        &self,
        id: &KeyId,
        spec: AsymmetricSpec,
        usage: KeyUsage,
    ) -> Result<KeyBlob> {
        private_key::generate(&self.root_key, id, spec, usage)
    }

    fn load_private_key(
        &self,
        id: &KeyId,
        spec: AsymmetricSpec,
        usage: KeyUsage,
        blob: &KeyBlob,
    ) -> Result<Box<dyn PrivateKeyHandle>> {
        Ok(Box::new(private_key::load(
            &self.root_key,
            id,
            spec,
            usage,
            blob,
        )?))
    }

    fn generate_mac_key(&self, id: &KeyId, spec: MacSpec) -> Result<KeyBlob> {
        mac_key::generate(&self.root_key, id, spec)
    }

    fn load_mac_key(
        &self,
        id: &KeyId,
        spec: MacSpec,
        blob: &KeyBlob,
    ) -> Result<Box<dyn MacKeyHandle>> {
        Ok(Box::new(mac_key::load(&self.root_key, id, spec, blob)?))
    }

    fn generate_key_pair(&self, spec: KeyPairSpec) -> Result<KeyPair> {
        key_pair::generate(spec)
    }

    fn random(&self, out: &mut [u8]) -> Result<()> {
        rng::fill(out)
    }

    fn create_wrapping_key(&self, spec: WrappingKeySpec, _object_id: &[u8]) -> Result<WrappingKey> {
        wrapping::create(&self.root_key, spec)
    }

    fn unwrap_cmk(
        &self,
        wrapping_key: &KeyBlob,
        wrapping_key_spec: WrappingKeySpec,
        algorithm: WrappingAlgorithm,
        wrapped: &WrappedMaterial<'_>,
        id: &KeyId,
        cmk_spec: CmkSpec,
    ) -> Result<KeyBlob> {
        let private_key = wrapping::open(&self.root_key, wrapping_key, wrapping_key_spec)?;
        let material = wrapping::unwrap(&private_key, algorithm, wrapped, cmk_spec.material_len())?;
        self.root_key.seal(&cmk_label(id, cmk_spec), &material)
    }

    fn check_recipient(&self, recipient_spki: &[u8], algorithm: WrappingAlgorithm) -> Result<()> {
        recipient::parse(recipient_spki, algorithm).map(drop)
    }

    fn wrap_for_recipient(
        &self,
        recipient_spki: &[u8],
        algorithm: WrappingAlgorithm,
        plaintext: &SecretBytes,
    ) -> Result<Vec<u8>> {
        recipient::wrap(recipient_spki, algorithm, plaintext)
    }
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
