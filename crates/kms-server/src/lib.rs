//! kms-server: the HTTP front of kms-engine (DESIGN 10). It serves a [`kms_core::Kms`] at
//! the cloud KMS API's URIs so that the official SDKs work against it unchanged:
//! `POST /v1.0/{project_id}/kms/<operation>` with the engine's JSON bodies, each request
//! authenticated by its SDK signature (four algorithms, [`signing`]) or an `X-Auth-Token`,
//! scoped to its project, bounded, logged and counted.
//!
//! ```no_run
//! use std::sync::Arc;
//! use kms_core::{Kms, MemoryStore};
//! use kms_server::{Credentials, Server, ServerConfig};
//! use kms_soft::{RootKey, SoftBackend};
//!
//! # async fn run() -> Result<(), kms_core::KmsError> {
//! let kms = Arc::new(Kms::new(
//!     Arc::new(SoftBackend::new(RootKey::generate()?)),
//!     Arc::new(MemoryStore::new()),
//! ));
//! let credentials = Credentials::load("credentials.toml".as_ref())?;
//! let server = Server::bind(kms, ServerConfig::new("127.0.0.1:8080".parse().unwrap(), credentials)).await?;
//! println!("listening on {}", server.url()?);
//! server.serve(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
#![forbid(unsafe_code)]

mod access_log;
mod auth;
mod connections;
mod credentials;
mod handler;
mod metrics;
mod routes;
mod server;
pub mod signing;

pub use credentials::{CreatedCredentials, Credentials, Grant, default_path};
pub use server::{Limits, Server, ServerConfig, TlsFiles};
