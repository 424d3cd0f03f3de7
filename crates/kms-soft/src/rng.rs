//! The soft backend's random source: a ChaCha20 CSPRNG per thread, seeded from the OS, so
//! the hot path makes no OS-RNG syscall per operation (DESIGN 9).
//!
//! Each thread's generator reseeds from the OS after [`RESEED_AFTER_BYTES`] bytes, and at
//! once in a forked child, so a parent and child never share a stream and never repeat a
//! nonce. A fork is seen through a `pthread_atfork` counter: one relaxed atomic load per
//! draw, where reading the process ID would be a syscall per draw.

use std::cell::RefCell;

use kms_core::{KmsError, Result};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

/// Output after which a thread's generator takes a fresh OS seed.
pub(crate) const RESEED_AFTER_BYTES: u64 = 1 << 20;

struct ThreadRng {
    rng: ChaCha20Rng,
    fork_guard: forkguard::Guard,
    output_since_seed: u64,
}

impl ThreadRng {
    fn seeded() -> Result<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|error| KmsError::Backend(format!("OS random source: {error}")))?;
        let rng = ChaCha20Rng::from_seed(seed);
        zeroize::Zeroize::zeroize(&mut seed);
        let fork_guard = forkguard::Guard::try_new()
            .map_err(|error| KmsError::Backend(format!("fork detection: {error}")))?;
        Ok(Self {
            rng,
            fork_guard,
            output_since_seed: 0,
        })
    }

    fn is_stale(&mut self) -> bool {
        self.fork_guard.detected_fork() || self.output_since_seed >= RESEED_AFTER_BYTES
    }
}

thread_local! {
    static THREAD_RNG: RefCell<Option<ThreadRng>> = const { RefCell::new(None) };
}

/// Runs `use_rng` with this thread's generator, first (re)seeding it if needed;
/// `output_len` is what the caller will draw, counted towards the next reseed.
pub(crate) fn with_thread_rng<T>(
    output_len: usize,
    use_rng: impl FnOnce(&mut ChaCha20Rng) -> T,
) -> Result<T> {
    THREAD_RNG.with(|cell| {
        let mut slot = cell
            .try_borrow_mut()
            .map_err(|_| KmsError::Backend("random source re-entered".into()))?;
        if slot.as_mut().is_none_or(ThreadRng::is_stale) {
            *slot = Some(ThreadRng::seeded()?);
        }
        let thread_rng = slot
            .as_mut()
            .ok_or_else(|| KmsError::Backend("random source unavailable".into()))?;
        thread_rng.output_since_seed = thread_rng
            .output_since_seed
            .saturating_add(output_len as u64);
        Ok(use_rng(&mut thread_rng.rng))
    })
}

/// Fills `out` from this thread's generator.
pub(crate) fn fill(out: &mut [u8]) -> Result<()> {
    with_thread_rng(out.len(), |rng| rng.fill_bytes(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_draws_differ() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        fill(&mut a).unwrap();
        fill(&mut b).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
    }

    #[test]
    fn threads_get_independent_streams() {
        let draw = || {
            let mut out = [0u8; 32];
            fill(&mut out).unwrap();
            out
        };
        let other = std::thread::spawn(draw).join().unwrap();
        assert_ne!(draw(), other);
    }

    #[test]
    fn generator_reseeds_after_its_output_budget() {
        let mut first = [0u8; 16];
        fill(&mut first).unwrap();
        THREAD_RNG.with(|cell| {
            let mut slot = cell.borrow_mut();
            slot.as_mut().unwrap().output_since_seed = RESEED_AFTER_BYTES;
        });
        fill(&mut first).unwrap();
        THREAD_RNG.with(|cell| {
            assert_eq!(cell.borrow().as_ref().unwrap().output_since_seed, 16);
        });
    }
}
