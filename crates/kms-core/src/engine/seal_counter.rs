//! Counting a key's encryptions from many threads without contending for one counter.
//!
//! Each thread counts on a stripe (a cache line of its own) and moves its count to the key's
//! total every [`FLUSH_EVERY`] encryptions, so the total trails the true count by at most
//! [`LAG`]. An encryption proceeds only while the total plus that lag is under the limit: a
//! key may refuse its last few thousand encryptions early, never one late.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Stripes per key: 512 bytes of counters for each loaded key.
const STRIPES: usize = 8;
/// Encryptions a stripe counts before adding them to the total.
const FLUSH_EVERY: u64 = 1024;
/// The most the total can trail the true count.
const LAG: u64 = STRIPES as u64 * FLUSH_EVERY;

/// One stripe's count, alone on its cache line.
#[repr(align(64))]
#[derive(Debug, Default)]
struct Stripe(AtomicU64);

/// A key's encryption count against a limit.
#[derive(Debug)]
pub(crate) struct SealCounter {
    limit: u64,
    stripes: [Stripe; STRIPES],
    total: AtomicU64,
}

impl SealCounter {
    /// A counter allowing at most `limit` encryptions.
    pub(crate) fn new(limit: u64) -> Self {
        Self {
            limit,
            stripes: Default::default(),
            total: AtomicU64::new(0),
        }
    }

    /// Counts one encryption; false when it must not happen (the limit may be reached).
    pub(crate) fn count(&self) -> bool {
        let [first, ..] = &self.stripes;
        let stripe = self.stripes.get(this_thread_stripe()).unwrap_or(first);
        // Counted first, checked after: every encryption that proceeds was among the first
        // `limit` counted, whatever other threads do meanwhile.
        if (stripe.0.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(FLUSH_EVERY) {
            self.total.fetch_add(FLUSH_EVERY, Ordering::Relaxed);
        }
        self.total.load(Ordering::Relaxed).saturating_add(LAG) < self.limit
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

    #[test]
    fn one_thread_gets_all_but_the_lag() {
        let counter = SealCounter::new(LAG + 3 * FLUSH_EVERY);
        let allowed = (0..10 * FLUSH_EVERY)
            .take_while(|_| counter.count())
            .count() as u64;
        // The total reaches 3 × FLUSH_EVERY after that many counts; the next is refused.
        assert_eq!(allowed, 3 * FLUSH_EVERY - 1);
        assert!(!counter.count());
        assert!(!counter.count());
    }

    #[test]
    fn threads_together_never_pass_the_limit() {
        let limit = LAG + 20 * FLUSH_EVERY;
        let counter = SealCounter::new(limit);
        let allowed = AtomicU64::new(0);
        std::thread::scope(|scope| {
            for _ in 0..2 * STRIPES {
                scope.spawn(|| {
                    while counter.count() {
                        allowed.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        let allowed = allowed.into_inner();
        assert!(allowed <= limit, "{allowed} > {limit}");
        assert!(allowed >= limit - 2 * LAG, "{allowed} refused too early");
    }
}
