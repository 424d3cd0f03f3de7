//! Counting a key's encryptions against its lifetime bound across every engine sharing the
//! store (DESIGN 11).
//!
//! The engine leases blocks of the key's count from the store
//! ([`KeyStore::lease_encryptions`](crate::KeyStore::lease_encryptions), atomic across
//! engines) and hands them to threads in chunks: each thread counts down the allowance of
//! its own stripe (a cache line of its own) and takes the pool's lock only when its stripe
//! runs dry, and the store only when the pool does. Every encryption that proceeds was
//! counted against a lease the store granted, so the engines together never pass the bound.
//! An engine that stops, or drops the key from its cache, forfeits only what is left of its
//! lease. Leases start small and double up to the configured size, so a key loaded often
//! wastes little of its bound.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, TryLockError};

use crate::error::Result;

/// Stripes per key: 512 bytes of counters for each loaded key.
const STRIPES: usize = 8;
/// The first lease a loaded key takes (smaller when the configured lease is).
const FIRST_LEASE: u64 = 4096;
/// The most a stripe takes from the pool at once.
const MAX_CHUNK: u64 = 1024;

/// One stripe's allowance, alone on its cache line.
#[repr(align(64))]
#[derive(Debug, Default)]
struct Stripe(AtomicU64);

impl Stripe {
    /// Takes one encryption from the allowance; false when it is empty.
    fn take_one(&self) -> bool {
        self.0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            })
            .is_ok()
    }
}

/// What is leased and not yet handed to a stripe.
#[derive(Debug)]
struct Pool {
    left: u64,
    next_lease: u64,
    /// The store granted nothing: the key's bound is reached, for good.
    exhausted: bool,
}

/// A loaded key's encryption allowance.
#[derive(Debug)]
pub(crate) struct SealLease {
    stripes: [Stripe; STRIPES],
    pool: Mutex<Pool>,
    max_lease: u64,
    chunk: u64,
}

impl SealLease {
    /// An empty allowance that leases at most `max_lease` encryptions at a time.
    pub(crate) fn new(max_lease: u64) -> Self {
        let max_lease = max_lease.max(1);
        Self {
            stripes: Default::default(),
            pool: Mutex::new(Pool {
                left: 0,
                next_lease: FIRST_LEASE.min(max_lease),
                exhausted: false,
            }),
            max_lease,
            chunk: (max_lease / (2 * STRIPES as u64)).clamp(1, MAX_CHUNK),
        }
    }

    /// Counts one encryption; `Ok(false)` when it must not happen because the key's bound
    /// is reached. `lease(wanted)` asks the store for more and returns what it granted.
    ///
    /// # Errors
    /// The store's failure to lease.
    pub(crate) fn count(&self, lease: impl FnOnce(u64) -> Result<u64>) -> Result<bool> {
        let [first, ..] = &self.stripes;
        let stripe = self.stripes.get(this_thread_stripe()).unwrap_or(first);
        if stripe.take_one() {
            return Ok(true);
        }
        let mut pool = match self.pool.try_lock() {
            Ok(pool) => pool,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            // Another thread holds it, perhaps across the store's lease.
            Err(TryLockError::WouldBlock) => {
                super::no_wait::admit_wait()?;
                self.pool.lock().unwrap_or_else(PoisonError::into_inner)
            }
        };
        // Another thread on this stripe may have refilled it while this one waited.
        if stripe.take_one() {
            return Ok(true);
        }
        if pool.left == 0 {
            if pool.exhausted {
                return Ok(self.take_from_any_stripe());
            }
            let granted = lease(pool.next_lease)?;
            if granted == 0 {
                pool.exhausted = true;
                return Ok(self.take_from_any_stripe());
            }
            pool.left = granted;
            pool.next_lease = pool.next_lease.saturating_mul(2).min(self.max_lease);
        }
        let chunk = pool.left.min(self.chunk);
        pool.left -= chunk;
        // One of the chunk is this encryption.
        stripe.0.fetch_add(chunk - 1, Ordering::Relaxed);
        Ok(true)
    }
}

impl SealLease {
    /// Once the store grants no more, what other threads' stripes still hold is all there
    /// is: take one from any of them, so every granted encryption can be used.
    fn take_from_any_stripe(&self) -> bool {
        self.stripes.iter().any(Stripe::take_one)
    }
}

/// This thread's stripe: threads take stripes in turn.
fn this_thread_stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    STRIPE.with(|stripe| *stripe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    /// A store's lease counter: grants what is left of `limit`.
    struct Bound {
        limit: u64,
        leased: AtomicU64,
        leases: AtomicU64,
    }

    impl Bound {
        fn new(limit: u64) -> Self {
            Self {
                limit,
                leased: AtomicU64::new(0),
                leases: AtomicU64::new(0),
            }
        }

        fn lease(&self, wanted: u64) -> Result<u64> {
            self.leases.fetch_add(1, Ordering::Relaxed);
            let mut granted = 0;
            self.leased
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |leased| {
                    granted = wanted.min(self.limit - leased);
                    Some(leased + granted)
                })
                .ok();
            Ok(granted)
        }
    }

    #[test]
    fn one_thread_gets_exactly_the_bound_then_refusals() {
        let bound = Bound::new(10_000);
        let seals = SealLease::new(1_000);
        let allowed = (0..20_000)
            .take_while(|_| seals.count(|wanted| bound.lease(wanted)).unwrap())
            .count();
        assert_eq!(allowed, 10_000);
        assert!(!seals.count(|wanted| bound.lease(wanted)).unwrap());
        // The refusal is remembered: the store is not asked again.
        let leases = bound.leases.load(Ordering::Relaxed);
        assert!(!seals.count(|wanted| bound.lease(wanted)).unwrap());
        assert_eq!(bound.leases.load(Ordering::Relaxed), leases);
        // 1,000 a lease: 10 leases and the one that found nothing left.
        assert_eq!(leases, 11);
    }

    #[test]
    fn leases_start_small_and_double_up_to_the_maximum() {
        let bound = Bound::new(u64::MAX);
        let seals = SealLease::new(1 << 20);
        let mut wanted = Vec::new();
        for _ in 0..(4096 + 8192 + 16_384 + 1) {
            assert!(
                seals
                    .count(|asked| {
                        wanted.push(asked);
                        bound.lease(asked)
                    })
                    .unwrap()
            );
        }
        assert_eq!(wanted, [4096, 8192, 16_384, 32_768]);
    }

    #[test]
    fn two_engines_threads_together_never_pass_the_bound() {
        let limit = 50_000;
        let bound = Bound::new(limit);
        let engines = [SealLease::new(700), SealLease::new(3_000)];
        let allowed = AtomicU64::new(0);
        std::thread::scope(|scope| {
            for seals in &engines {
                for _ in 0..2 * STRIPES {
                    scope.spawn(|| {
                        while seals.count(|wanted| bound.lease(wanted)).unwrap() {
                            allowed.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                }
            }
        });
        // Every lease is used up by threads that keep counting, so the total is the bound.
        assert_eq!(allowed.into_inner(), limit);
    }

    #[test]
    fn at_the_bound_a_thread_uses_what_other_threads_stripes_hold() {
        let bound = Bound::new(100);
        let seals = SealLease::new(64);
        // One thread takes a chunk into its stripe and uses one of it.
        std::thread::scope(|scope| {
            scope.spawn(|| assert!(seals.count(|wanted| bound.lease(wanted)).unwrap()));
        });
        // Another thread (another stripe) then gets every remaining encryption.
        let allowed = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    (0..200)
                        .take_while(|_| seals.count(|wanted| bound.lease(wanted)).unwrap())
                        .count()
                })
                .join()
                .unwrap()
        });
        assert_eq!(allowed, 99);
    }

    #[test]
    fn a_failed_lease_is_an_error_and_the_next_call_asks_again() {
        let seals = SealLease::new(10);
        let err = seals
            .count(|_| Err(crate::KmsError::Store("down".into())))
            .unwrap_err();
        assert_eq!(err.code(), "KMS.0102");
        assert!(seals.count(Ok).unwrap());
    }
}
