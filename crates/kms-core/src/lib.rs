//! kms-core: the models, validation, formats, traits and engine of kms-engine.
//!
//! A KMS product embeds a [`Kms`] engine over a [`Backend`] (where key material lives: the
//! pure-Rust `kms-soft` crate, or an HSM) and a [`KeyStore`] (where key metadata lives).
//! Requests and responses are the cloud KMS API's JSON bodies, field for field.
//!
//! ```
//! use std::sync::Arc;
//! use kms_core::{Kms, MemoryStore, Operation};
//! use kms_soft::{RootKey, SoftBackend};
//!
//! # fn main() -> Result<(), kms_core::KmsError> {
//! let backend = SoftBackend::new(RootKey::generate()?);
//! let kms = Kms::new(Arc::new(backend), Arc::new(MemoryStore::new()));
//!
//! let created = kms.call_json(Operation::CreateKey, r#"{"key_alias":"orders-db"}"#)?;
//! let created: serde_json::Value = serde_json::from_str(created.expose_secret()).unwrap();
//! let key_id = created["key_info"]["key_id"].as_str().unwrap();
//!
//! let request = format!(r#"{{"key_id":"{key_id}","datakey_length":"256"}}"#);
//! let datakey = kms.call_json(Operation::CreateDatakey, &request)?;
//! assert!(datakey.expose_secret().contains("cipher_text"));
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

#[macro_use]
mod wire_enum;

mod backend;
mod ciphertext;
mod clock;
mod codec;
#[cfg(feature = "conformance")]
pub mod conformance;
mod dek_digest;
mod ec_key_pair;
mod engine;
mod error;
pub mod hex;
mod import_token;
mod key_id;
mod key_spec;
#[cfg(feature = "conformance")]
pub mod lifecycle_model;
mod memory_store;
pub mod models;
mod operation;
mod secret;
mod spec;
mod store;
mod tenant;

pub use backend::{
    Backend, Capabilities, CmkHandle, KeyBlob, KeyPair, MacKeyHandle, NONCE_LEN, PrivateKeyHandle,
    TAG_LEN, WrappedMaterial, WrappingKey,
};
pub use ciphertext::{
    BLOB_OVERHEAD, BLOB_VERSION, BlobKey, HEADER_LEN, MAX_AAD_LEN, open_blob, plaintext_len,
    seal_blob,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use codec::{
    HexError, decode_base64, decode_hex, decode_hex_secret, encode_base64, encode_base64_secret,
    encode_hex, encode_hex_secret,
};
pub use dek_digest::{DEK_DIGEST_LEN, dek_digest, verify_dek_digest};
pub use engine::{Kms, KmsConfig, Maintenance, PoolStats, Purge};
pub use error::{KmsError, Result};
pub use import_token::{ImportClaims, open_token, seal_token};
pub use key_id::{KEY_ID_LEN, KeyId};
pub use key_spec::{
    AsymmetricEncryption, AsymmetricSpec, HashAlgorithm, KeySpec, MacAlgorithm, MacSpec,
    MessageType, SignatureScheme, SignedData, SigningAlgorithm,
};
pub use memory_store::MemoryStore;
pub use operation::{Operation, parse};
pub use secret::{SecretBytes, SecretString};
pub use spec::{
    CmkSpec, KeyOrigin, KeyPairSpec, KeyState, KeyUsage, WrappingAlgorithm, WrappingKeySpec,
};
pub use store::{
    ImportRecord, KeyChanges, KeyRecord, KeyStore, KeyText, NewMaterial, ROTATION_INTERVAL_DAYS,
    RetiredMaterial, Rotation, StateChange, Tag, TagChange,
};
pub use tenant::{MAX_PROJECT_ID_LEN, ProjectId, Tenant};
