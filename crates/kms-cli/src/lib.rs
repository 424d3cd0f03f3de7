//! The part of the `kms` command that holds request and response bodies: reading a request
//! and writing an operation's response, without leaving a copy of a secret in memory it
//! gives up. The command (`src/main.rs`) runs it; it is a library so that the tests that
//! look in freed memory for such copies run this very code, in-process.
#![forbid(unsafe_code)]

mod exchange;

pub use exchange::{read_request, run_operation};
