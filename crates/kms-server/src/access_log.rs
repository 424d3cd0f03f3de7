//! The access log (DESIGN 10): one JSON line per request (and one per maintenance run that
//! did something), written by a thread of its own
//! so a slow sink never stalls the reactor. A line names the request, its caller and its
//! outcome; it never carries a request field that could be secret (only the key ID).

use std::io::Write;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

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

/// Hands lines to the writer thread.
#[derive(Debug)]
pub(crate) struct AccessLog {
    lines: Option<Sender<String>>,
    writer: Option<JoinHandle<()>>,
}

impl AccessLog {
    /// A log writing to `sink`, one line per record, flushed after each.
    pub(crate) fn new(sink: Box<dyn Write + Send>) -> Self {
        let (lines, received) = channel();
        let writer = std::thread::Builder::new()
            .name("kms-access-log".into())
            .spawn(move || write_lines(sink, &received))
            .ok();
        Self {
            lines: Some(lines),
            writer,
        }
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
        if let (Some(lines), Ok(line)) = (&self.lines, serde_json::to_string(record)) {
            let _ = lines.send(line);
        }
    }
}

impl Drop for AccessLog {
    /// Writes every line logged so far before returning.
    fn drop(&mut self) {
        drop(self.lines.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

fn write_lines(mut sink: Box<dyn Write + Send>, lines: &Receiver<String>) {
    for line in lines {
        let _ = writeln!(sink, "{line}");
        let _ = sink.flush();
    }
}
