//! The access log (DESIGN 10): one JSON line per request (and one per maintenance run that
//! did something), written by a thread of its own so a slow sink never stalls the reactor.
//! Lines are handed over in batches: the first line into an empty batch wakes the writer,
//! which lets the batch grow for [`BATCH_INTERVAL`] and then writes and flushes it whole,
//! so a busy server wakes its writer at most that often rather than once a request. A line
//! names the request, its caller and its outcome; it never carries a request field that
//! could be secret (only the key ID).

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;

/// One request, as logged.
#[derive(Debug, Serialize)]
pub(crate) struct AccessRecord<'a> {
    /// When the request arrived, RFC 3339 UTC with milliseconds.
    pub(crate) time: String,
    /// The `X-Request-Id` the response carried.
    pub(crate) request_id: &'a str,
    /// The HTTP method and the path as received (paths hold no secrets).
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    /// The project of the path, for API requests.
    pub(crate) project: Option<&'a str>,
    /// The caller's access key, once authenticated (`token` for X-Auth-Token callers).
    pub(crate) access_key: Option<&'a str>,
    /// The operation, for API requests.
    pub(crate) operation: Option<&'a str>,
    /// The request's `key_id`, when it has one.
    pub(crate) key_id: Option<&'a str>,
    /// The HTTP status of the response.
    pub(crate) status: u16,
    /// The error code, when the request failed.
    pub(crate) error_code: Option<&'a str>,
    /// Why authentication failed, for the operator (the client is told nothing).
    pub(crate) auth_failure: Option<&'a str>,
    /// Milliseconds from the request's arrival to its response.
    pub(crate) latency_ms: f64,
}

/// One run of the periodic maintenance that did something or failed: counts and key IDs
/// only.
#[derive(Debug, Serialize)]
pub(crate) struct MaintenanceRecord {
    /// Keys whose expired imported material was destroyed.
    pub(crate) expired_material: usize,
    /// Keys deleted because their pending deletion time had come.
    pub(crate) deleted: usize,
    /// Wrapping keys of import tokens that expired unused, destroyed.
    pub(crate) wrapping_keys_destroyed: usize,
    /// This store's wrapping keys left by a killed engine, destroyed.
    pub(crate) orphaned_wrapping_keys_destroyed: usize,
    /// Such orphans the backend failed to destroy (tried again next run).
    pub(crate) orphaned_wrapping_keys_left: usize,
    /// Keys whose material the backend failed to destroy, with the error code.
    pub(crate) material_left: Vec<String>,
    /// Keys rotated because their rotation interval had passed.
    pub(crate) rotated: usize,
    /// Keys whose scheduled rotation failed, with the error code (tried again next run).
    pub(crate) rotation_failures: Vec<String>,
    /// The error code, when the run failed as a whole (the store was unreachable).
    pub(crate) error_code: Option<&'static str>,
}

impl MaintenanceRecord {
    pub(crate) fn failed(code: &'static str) -> Self {
        Self {
            expired_material: 0,
            deleted: 0,
            wrapping_keys_destroyed: 0,
            orphaned_wrapping_keys_destroyed: 0,
            orphaned_wrapping_keys_left: 0,
            material_left: Vec::new(),
            rotated: 0,
            rotation_failures: Vec::new(),
            error_code: Some(code),
        }
    }
}

/// How long the writer lets a batch grow after its first line: what a reader of the log
/// may wait for a line.
pub(crate) const BATCH_INTERVAL: Duration = Duration::from_millis(10);

/// Hands lines to the writer thread.
#[derive(Debug)]
pub(crate) struct AccessLog {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

/// The batch being filled, and the writer's wake-up.
#[derive(Debug, Default)]
struct Shared {
    batch: Mutex<Batch>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct Batch {
    /// Whole lines, each ending in a newline.
    lines: Vec<u8>,
    /// Set once by `Drop`: the writer writes what is left and returns.
    stopping: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Batch> {
        self.batch.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AccessLog {
    /// A log writing to `sink`, one line per record, flushed after each batch.
    pub(crate) fn new(sink: Box<dyn Write + Send>) -> Self {
        let shared = Arc::new(Shared::default());
        let writer_shared = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("kms-access-log".into())
            .spawn(move || write_batches(sink, &writer_shared))
            .ok();
        Self { shared, writer }
    }

    /// Logs `record`.
    pub(crate) fn write(&self, record: &AccessRecord<'_>) {
        self.send(record);
    }

    /// Logs a maintenance run at `now_ms`, as `{"time":...,"maintenance":{...}}`.
    pub(crate) fn write_maintenance(&self, now_ms: u64, record: &MaintenanceRecord) {
        #[derive(Serialize)]
        struct Line<'a> {
            time: String,
            maintenance: &'a MaintenanceRecord,
        }
        self.send(&Line {
            time: crate::handler::rfc3339_ms(now_ms),
            maintenance: record,
        });
    }

    fn send(&self, record: &impl Serialize) {
        // A log without its writer thread (the system could not start one) keeps nothing.
        if self.writer.is_none() {
            return;
        }
        let Ok(mut line) = serde_json::to_vec(record) else {
            return;
        };
        line.push(b'\n');
        let first = {
            let mut batch = self.shared.lock();
            batch.lines.extend_from_slice(&line);
            batch.lines.len() == line.len()
        };
        if first {
            self.shared.wake.notify_one();
        }
    }
}

impl Drop for AccessLog {
    /// Writes every line logged so far before returning.
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.wake.notify_one();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Until stopped: waits for a first line, lets the batch grow for [`BATCH_INTERVAL`] (cut
/// short by a stop), then writes and flushes it.
fn write_batches(mut sink: Box<dyn Write + Send>, shared: &Shared) {
    let mut spare = Vec::new();
    let mut batch = shared.lock();
    loop {
        while batch.lines.is_empty() {
            if batch.stopping {
                return;
            }
            batch = shared
                .wake
                .wait(batch)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if !batch.stopping {
            // Only a stop notifies while the batch holds lines.
            batch = shared
                .wake
                .wait_timeout(batch, BATCH_INTERVAL)
                .map_or_else(|poisoned| poisoned.into_inner().0, |(guard, _)| guard);
        }
        let mut lines = std::mem::replace(&mut batch.lines, std::mem::take(&mut spare));
        drop(batch);
        // A failing sink loses its lines; the server goes on.
        let _ = sink.write_all(&lines).and_then(|()| sink.flush());
        lines.clear();
        spare = lines;
        batch = shared.lock();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use super::*;

    /// A sink the test reads while the log writes to it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn lines(&self) -> Vec<String> {
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect()
        }
    }

    fn record(request_id: &str) -> AccessRecord<'_> {
        AccessRecord {
            time: "2026-12-01T00:00:00.000Z".into(),
            request_id,
            method: "POST",
            path: "/",
            project: None,
            access_key: None,
            operation: None,
            key_id: None,
            status: 200,
            error_code: None,
            auth_failure: None,
            latency_ms: 0.1,
        }
    }

    #[test]
    fn every_line_from_every_thread_is_written_whole_by_the_time_the_log_is_dropped() {
        let sink = Shared::default();
        let log = AccessLog::new(Box::new(sink.clone()));
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let log = &log;
                scope.spawn(move || {
                    for n in 0..2500 {
                        log.write(&record(&format!("{thread}-{n}")));
                    }
                });
            }
        });
        drop(log);
        let lines = sink.lines();
        assert_eq!(lines.len(), 10_000);
        for thread in 0..4 {
            let ids: Vec<String> = lines
                .iter()
                .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
                .map(|value| value["request_id"].as_str().unwrap().to_owned())
                .filter(|id| id.starts_with(&format!("{thread}-")))
                .collect();
            let expected: Vec<String> = (0..2500).map(|n| format!("{thread}-{n}")).collect();
            assert_eq!(ids, expected, "thread {thread}'s lines, in order");
        }
    }

    #[test]
    fn a_line_is_written_soon_after_it_is_logged_while_the_log_runs() {
        let sink = Shared::default();
        let log = AccessLog::new(Box::new(sink.clone()));
        for round in 0..3 {
            log.write(&record(&format!("r{round}")));
            let logged = Instant::now();
            while sink.lines().len() <= round {
                assert!(
                    logged.elapsed() < Duration::from_secs(10),
                    "line {round} not written"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            assert!(sink.lines()[round].contains(&format!("\"r{round}\"")));
        }
    }
}
