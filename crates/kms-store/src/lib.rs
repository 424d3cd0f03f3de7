//! kms-store: the persistent [`KeyStore`](kms_core::KeyStore)s of kms-engine.
//!
//! - [`SqliteStore`], the embedded default: one SQLite file, which several processes of
//!   one machine may share.
//! - [`PgStore`]: one PostgreSQL database that several engine nodes share (DESIGN 11):
//!   positions of the change feed in commit order, notifications that wake the other
//!   nodes, retries of transient failures, and a connection pool that recovers when the
//!   database comes back.
//!
//! Both run the same schema and migrations, keep to exactly the same contract (the same
//! tests run against each), and store the same values the same way. Every change is one
//! transaction; state changes and token use are compare-and-swap inside it, and each
//! change of a key's state or material enters the change feed in the same transaction.
//!
//! The stores hold no plaintext key material: only the backend's key blobs (for the soft
//! backend, sealed under its root key).
//!
//! ```
//! use kms_core::KeyStore;
//! use kms_store::SqliteStore;
//!
//! # fn main() -> Result<(), kms_core::KmsError> {
//! let dir = std::env::temp_dir().join(format!("kms-store-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).map_err(|e| kms_core::KmsError::Store(e.to_string()))?;
//! let store = SqliteStore::open(dir.join("keys.db"))?;
//! assert!(store.list_keys()?.is_empty());
//! assert_eq!(store.integrity_check()?, "ok");
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```
//!
//! PostgreSQL, with the password from a file only its owner can read (or `PGPASSWORD`):
//!
//! ```no_run
//! use std::path::Path;
//!
//! use kms_core::KeyStore;
//! use kms_store::{PgStore, password_from_env_or_file};
//!
//! # fn main() -> Result<(), kms_core::KmsError> {
//! let password = password_from_env_or_file(Some(Path::new("db-password")))?;
//! let store = PgStore::connect("postgres://kms@db.internal:5432/kms", password)?;
//! let feed = store.key_changes_since(None)?;
//! println!("{store:?} is at change {}", feed.position);
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod contract;
mod password;
mod pg;
mod rows;
mod schema;
mod sqlite;

pub use password::password_from_env_or_file;
pub use pg::PgStore;
pub use schema::SCHEMA_VERSION;
pub use sqlite::SqliteStore;
