//! The open connections: at most a cap of them, and when the cap is reached the one idle
//! longest is asked to close (HTTP/1.1 graceful close: it goes once no request is in
//! progress on it), so connections held open and idle cannot keep new clients out.
//! Shutdown asks every connection to close and waits until all have.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// One open connection, as the table sees it.
#[derive(Debug)]
pub(crate) struct Tracked {
    /// Requests in progress on it.
    busy: AtomicUsize,
    /// When it last started or finished a request, in milliseconds since the table began.
    last_active_ms: AtomicU64,
    /// Told when the connection should close once idle.
    close: Notify,
}

impl Tracked {
    /// Waits until the connection is asked to close.
    pub(crate) async fn close_requested(&self) {
        self.close.notified().await;
    }
}

/// Marks its connection busy for as long as it lives (one request).
pub(crate) struct Busy {
    tracked: Arc<Tracked>,
    table: Arc<Connections>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.tracked
            .last_active_ms
            .store(self.table.elapsed_ms(), Ordering::Relaxed);
        self.tracked.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A slot in the table, held by the connection's task; dropping it frees the slot.
pub(crate) struct Slot {
    id: u64,
    tracked: Arc<Tracked>,
    table: Arc<Connections>,
    _permit: OwnedSemaphorePermit,
}

impl Slot {
    /// The connection's entry.
    pub(crate) fn tracked(&self) -> &Arc<Tracked> {
        &self.tracked
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.table.open.lock() {
            open.remove(&self.id);
        }
    }
}

/// The table of open connections.
#[derive(Debug)]
pub(crate) struct Connections {
    cap: usize,
    permits: Arc<Semaphore>,
    open: Mutex<HashMap<u64, Arc<Tracked>>>,
    next_id: AtomicU64,
    started: Instant,
}

impl Connections {
    pub(crate) fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap,
            permits: Arc::new(Semaphore::new(cap)),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            started: Instant::now(),
        })
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A slot for a connection about to be accepted: at once if the cap allows, else after
    /// asking the connection idle longest to close and waiting for a slot to free.
    pub(crate) async fn slot(self: &Arc<Self>) -> Option<Slot> {
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                self.close_longest_idle();
                Arc::clone(&self.permits).acquire_owned().await.ok()?
            }
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let tracked = Arc::new(Tracked {
            busy: AtomicUsize::new(0),
            last_active_ms: AtomicU64::new(self.elapsed_ms()),
            close: Notify::new(),
        });
        if let Ok(mut open) = self.open.lock() {
            open.insert(id, Arc::clone(&tracked));
        }
        Some(Slot {
            id,
            tracked,
            table: Arc::clone(self),
            _permit: permit,
        })
    }

    /// Marks `tracked` busy until the returned guard drops.
    pub(crate) fn busy(self: &Arc<Self>, tracked: &Arc<Tracked>) -> Busy {
        tracked.busy.fetch_add(1, Ordering::AcqRel);
        Busy {
            tracked: Arc::clone(tracked),
            table: Arc::clone(self),
        }
    }

    fn close_longest_idle(&self) {
        let Ok(open) = self.open.lock() else { return };
        let longest_idle = open
            .values()
            .filter(|tracked| tracked.busy.load(Ordering::Acquire) == 0)
            .min_by_key(|tracked| tracked.last_active_ms.load(Ordering::Relaxed));
        if let Some(tracked) = longest_idle {
            // A permit is stored if the connection is not waiting yet: it closes as soon
            // as it looks.
            tracked.close.notify_one();
        }
    }

    /// Asks every open connection to close once idle.
    pub(crate) fn close_all(&self) {
        if let Ok(open) = self.open.lock() {
            for tracked in open.values() {
                tracked.close.notify_one();
            }
        }
    }

    /// Waits until every connection has closed, or `grace` passes.
    pub(crate) async fn closed(&self, grace: Duration) {
        let all = u32::try_from(self.cap).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(grace, self.permits.acquire_many(all)).await;
    }
}
