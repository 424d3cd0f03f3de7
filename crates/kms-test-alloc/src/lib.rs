//! Test support: a global allocator that holds the blocks code frees, so that a test can
//! look in freed memory for copies of a secret (DESIGN 8: secrets are wiped; a copy left in
//! a freed block, by a growing buffer or a plain `String`, is not).
//!
//! Install [`HoldingAllocator`] as the `#[global_allocator]` of a test binary of its own,
//! and run the code under test inside [`record`]. Every block that code frees on the
//! recording thread, and the old block of every reallocation, is held instead of freed.
//! When the code has run, the test names the secrets as [`Needle`]s (often only the code's
//! output tells what they are: a DEK generated inside, say) and [`Freed::hits`] scans every
//! held block for them. Dropping the [`Freed`] frees the blocks.
//!
//! Holding instead of scanning at free time is what lets a test look for secrets it learns
//! only afterwards, and it keeps freed bytes from being overwritten by later allocations
//! before they are looked at. The allocator never allocates itself: what it holds is noted
//! in a static table of atomics.
//!
//! ```text
//! #[global_allocator]
//! static ALLOCATOR: kms_test_alloc::HoldingAllocator = kms_test_alloc::HoldingAllocator;
//!
//! let (response, freed) = kms_test_alloc::record(|| kms.call_json(operation, body));
//! let needles = kms_test_alloc::Needle::renderings("DEK", &dek);
//! assert_eq!(freed.hits(&needles), []);
//! ```
//!
//! [`engine_fixture`] is the engine those tests drive and the set-up calls they make.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod engine_fixture;
mod frozen;
mod holding;
mod needle;
mod private_key;

pub use holding::{CAPACITY, Freed, HoldingAllocator, record};
pub use needle::{FRAGMENT, Hit, Needle};
pub use private_key::PrivateKeyNeedles;
