//! kms-fuzz-bodies: the bodies of kms-engine's fuzz targets, one public function per
//! target family. The cargo-fuzz targets in `fuzz/` each call one of them on libFuzzer's
//! input, and the corpus test runs them over the committed corpus and regression inputs,
//! so `cargo test` exercises them on a stable toolchain.
//!
//! A body never panics on any input unless an invariant of the engine breaks: a panic is a
//! bug found. Each module's documentation gives its input layout and invariants.
//!
//! | function | targets | what it drives |
//! |---|---|---|
//! | [`request`] | `request_<operation>`, one per [`Operation`](kms_core::Operation) | JSON decoding, validation and the engine call, through `Kms::call_json` |
//! | [`ciphertext_blob`] | `ciphertext_blob` | parsing and opening a ciphertext blob v1 |
//! | [`import_token`] | `import_token` | parsing and verifying an import token |
//! | [`unwrap`] | `unwrap_<algorithm>`, one per [`WrappingAlgorithm`](kms_core::WrappingAlgorithm) | `encrypted_key_material` through the soft backend's unwrap |
//! | [`recipient_key`] | `recipient_key` | the DER decoding of `recipient_public_key` |
//!
//! Request bodies name the fixture engine's keys with placeholders (`$AES`, `$SM4`, `$OFF`,
//! `$DEL`, `$EXT`, `$IMP`, `$TOKEN`, `$WRAPPED`, `$BLOB`), listed in the `engine` module.
//!
//! ```
//! use kms_core::{Operation, WrappingAlgorithm};
//! use kms_fuzz_bodies::{Outcome, request, unwrap};
//!
//! let describe = request(Operation::DescribeKey, br#"{"key_id":"$AES"}"#);
//! assert_eq!(describe, Outcome::Accepted);
//! let disabled = request(Operation::CreateDatakey, br#"{"key_id":"$OFF"}"#);
//! assert_eq!(disabled, Outcome::Refused);
//! assert_eq!(unwrap(WrappingAlgorithm::Sm2Encrypt, b"\x00garbage"), Outcome::Refused);
//! ```
#![forbid(unsafe_code)]
#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "a fuzz body reports a broken invariant by panicking"
)]

mod ciphertext_blob;
mod engine;
mod fixture;
mod import_token;
mod recipient_key;
mod request;
mod unwrap;

pub use ciphertext_blob::ciphertext_blob;
pub use import_token::import_token;
pub use recipient_key::recipient_key;
pub use request::request;
pub use unwrap::unwrap;

/// What the engine did with an input. The fuzz targets ignore it; the corpus test checks
/// that the committed seeds reach the accepting path of every target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The input was accepted: a request succeeded, a blob opened, a token verified,
    /// material unwrapped, a recipient key took a private key.
    Accepted,
    /// The input was refused with the error its invariants allow.
    Refused,
}
