//! Integration tests of the engine over the soft backend, one test binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests report failure by panicking"
)]

mod cache_race;
mod coherence;
mod common;
mod data;
mod envelope;
mod error_messages;
mod hostile_input;
mod import;
mod key_lifecycle;
mod key_pairs;
mod key_text;
mod material_expiry;
mod no_wait;
mod openssl_differential;
mod recipient;
mod response_layout;
mod rotation;
mod secret_debug;
mod seed_examples;
mod signing;
mod switchable_store;
mod tags;
mod tenancy;
mod vectors;
mod wire_compat;
mod wycheproof_recipient_keys;
