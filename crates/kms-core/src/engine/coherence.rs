//! Keeping the key cache true to the store when other engines change it (DESIGN 11).
//!
//! Every state or material change made through any engine on the store enters the store's
//! change feed ([`KeyStore::key_changes_since`]). A background thread reads the feed
//! several times per bound (and at once when the store notifies a change) and drops each
//! changed key from the cache. A read of the feed that succeeds confirms the whole cache as
//! of the moment it started; the engine uses a cached key only while the last confirmation
//! is within the bound. Past it (the store unreachable, or the thread starved) the caller
//! reads the feed itself, and when that fails too the call is refused: a node that cannot
//! vouch for a key's state does no crypto with it (fail closed).
//!
//! The bound is real time, on the monotonic clock: a step of the wall clock (or an
//! engine's configured clock) neither stretches nor breaks it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, TryLockError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{KmsError, Result};
use crate::store::KeyStore;

use super::key_cache::KeyCache;

/// How many reads of the feed the background thread makes per bound.
const READS_PER_BOUND: u32 = 4;

/// The key cache and what confirms it.
#[derive(Debug)]
pub(crate) struct CoherentCache {
    pub(crate) keys: KeyCache,
    bound_ms: u64,
    /// The monotonic clock's origin for the times below.
    origin: Instant,
    /// Start of the last read of the feed that succeeded, in milliseconds after `origin`
    /// plus one; 0 before the first.
    confirmed_ms: AtomicU64,
    feed: Mutex<Feed>,
    reader: Mutex<Reader>,
    /// Wakes the reader early when it is to stop.
    wake_reader: Condvar,
}

/// The background reader of the feed.
#[derive(Debug, Default)]
struct Reader {
    thread: Option<JoinHandle<()>>,
    stopping: bool,
}

#[derive(Debug, Default)]
struct Feed {
    position: Option<u64>,
    /// When the last read failed (ended), and why: callers do not retry sooner than the
    /// thread would.
    last_failure: Option<(u64, String)>,
}

impl CoherentCache {
    pub(crate) fn new(bound: Duration) -> Self {
        Self {
            keys: KeyCache::default(),
            bound_ms: u64::try_from(bound.as_millis()).unwrap_or(u64::MAX),
            origin: Instant::now(),
            confirmed_ms: AtomicU64::new(0),
            feed: Mutex::new(Feed::default()),
            reader: Mutex::new(Reader::default()),
            wake_reader: Condvar::new(),
        }
    }

    /// Milliseconds since `origin`, plus one so that 0 means never.
    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }

    fn read_interval(&self) -> Duration {
        (Duration::from_millis(self.bound_ms) / READS_PER_BOUND).max(Duration::from_millis(1))
    }

    /// Whether the cache was confirmed within the bound at `now_ms`.
    fn confirmed_at(&self, now_ms: u64) -> bool {
        let confirmed = self.confirmed_ms.load(Ordering::Acquire);
        confirmed != 0 && now_ms.saturating_sub(confirmed) <= self.bound_ms
    }

    /// Succeeds when cached keys may be used now: the cache was confirmed within the
    /// bound, or a read of the feed made now confirms it.
    ///
    /// # Errors
    /// KMS.0102 when the feed cannot be read, saying why: the cached key is not used.
    pub(crate) fn ensure_confirmed(&self, store: &dyn KeyStore) -> Result<()> {
        if self.confirmed_at(self.now_ms()) {
            return Ok(());
        }
        // The feed's lock is held across store reads.
        super::no_wait::admit_wait()?;
        let mut feed = if self.confirmed_ms.load(Ordering::Acquire) == 0 {
            // Never confirmed (the engine just started): wait for the read in progress.
            self.feed.lock().unwrap_or_else(PoisonError::into_inner)
        } else {
            match self.feed.try_lock() {
                Ok(feed) => feed,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                // A read is under way and has not confirmed the cache in time: the store is
                // slow or gone, and waiting would hold the request for its timeout.
                Err(TryLockError::WouldBlock) => {
                    return Err(self.unconfirmed("the key store has not answered in time"));
                }
            }
        };
        let now_ms = self.now_ms();
        if self.confirmed_at(now_ms) {
            // Another caller confirmed it while this one waited.
            return Ok(());
        }
        if let Some((failed_ms, cause)) = &feed.last_failure
            && now_ms.saturating_sub(*failed_ms) < self.bound_ms / u64::from(READS_PER_BOUND)
        {
            return Err(self.unconfirmed(cause));
        }
        self.read_feed(&mut feed, store, now_ms)
            .map_err(|error| self.unconfirmed(&error.to_string()))
    }

    fn unconfirmed(&self, cause: &str) -> KmsError {
        KmsError::Store(format!(
            "the key's state could not be confirmed with the key store within {} ms, so it \
             is not used: {cause}",
            self.bound_ms
        ))
    }

    /// Reads the feed from the last position and drops every changed key (the whole cache
    /// when the feed cannot say which); confirms the cache as of `started_ms`.
    fn read_feed(&self, feed: &mut Feed, store: &dyn KeyStore, started_ms: u64) -> Result<()> {
        match store.key_changes_since(feed.position) {
            Ok(changes) => {
                match changes.changed {
                    Some(changed) => changed.iter().for_each(|key_id| self.keys.remove(key_id)),
                    None => self.keys.clear(),
                }
                feed.position = Some(changes.position);
                feed.last_failure = None;
                self.confirmed_ms.fetch_max(started_ms, Ordering::AcqRel);
                Ok(())
            }
            Err(error) => {
                feed.last_failure = Some((self.now_ms(), error.to_string()));
                Err(error)
            }
        }
    }

    /// Starts the background reader of the feed, once: it runs until
    /// [`stop_reader`](Self::stop_reader).
    pub(crate) fn start_reader(self: &Arc<Self>, store: &Arc<dyn KeyStore>) {
        let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        if reader.thread.is_some() || reader.stopping {
            return;
        }
        let cache = Arc::downgrade(self);
        let store = Arc::clone(store);
        let interval = self.read_interval();
        // Without the thread callers read the feed themselves: nothing is lost if the
        // system cannot start it.
        reader.thread = std::thread::Builder::new()
            .name("kms-key-feed".into())
            .spawn(move || read_until_stopped(&cache, store.as_ref(), interval))
            .ok();
    }

    /// Stops the background reader and waits for it, so that the cache (and with it every
    /// loaded key's backend handle) is dropped by the engine's owner, never by the reader
    /// after the engine is gone (on PKCS#11 that would close sessions while the process
    /// may be exiting). Waits at most one read interval.
    pub(crate) fn stop_reader(&self) {
        let thread = {
            let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
            reader.stopping = true;
            reader.thread.take()
        };
        self.wake_reader.notify_all();
        if let Some(thread) = thread {
            // A reader that panicked has nothing left to release.
            let _ = thread.join();
        }
    }

    /// Waits `interval` for the store's notification, or on its own when the store cannot
    /// notify; returns whether the reader is to stop.
    fn wait_for_next_read(&self, store: &dyn KeyStore, interval: Duration) -> bool {
        if !store.wait_for_key_change(interval) {
            let reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
            if !reader.stopping {
                drop(
                    self.wake_reader
                        .wait_timeout(reader, interval)
                        .unwrap_or_else(PoisonError::into_inner),
                );
            }
        }
        self.reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stopping
    }
}

fn read_until_stopped(cache: &Weak<CoherentCache>, store: &dyn KeyStore, interval: Duration) {
    while let Some(cache) = cache.upgrade() {
        let mut feed = cache.feed.lock().unwrap_or_else(PoisonError::into_inner);
        let started_ms = cache.now_ms();
        // A failure is recorded for callers; the next read tries again.
        let _ = cache.read_feed(&mut feed, store, started_ms);
        drop(feed);
        if cache.wait_for_next_read(store, interval) {
            return;
        }
    }
}
