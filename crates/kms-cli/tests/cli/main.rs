//! Integration tests of the `kms` command: every operation, the exit codes, and what the
//! store keeps across restarts, crashes and concurrent processes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests report failure by panicking"
)]

mod bench;
mod bench_endpoint;
mod common;
mod durability;
mod kryoptic_processes;
mod multi_node;
mod operations;
mod orphaned_wrapping_keys;
mod pkcs11;
mod serve;
