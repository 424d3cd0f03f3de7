//! A `PgStore` outlives a PostgreSQL restart (DESIGN 11): while the server is down its
//! calls fail promptly with KMS.0102 saying what they were doing, and once it is back the
//! same store works again, nothing acknowledged lost.
//!
//! The test stops the whole server, so it has a test binary of its own: `cargo test` runs
//! one test binary at a time, and no other test's database goes away under it. The server
//! is stopped and started by the command `KMS_TEST_POSTGRES_CTL` names (`.ci/test` writes
//! one for its server), with the argument `stop` or `start`.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests panic to fail"
)]
#![allow(
    dead_code,
    reason = "this test uses one builder of the shared contract module"
)]

mod contract;
mod pg_database;

use std::process::Command;
use std::time::{Duration, Instant};

use kms_core::{KeyState, KeyStore, StateChange};
use pg_database::TestDatabase;

/// The variable naming the command that stops and starts the test server.
const CTL_VARIABLE: &str = "KMS_TEST_POSTGRES_CTL";

fn server_ctl(action: &str) {
    let ctl = std::env::var(CTL_VARIABLE).unwrap_or_else(|_| {
        panic!(
            "{CTL_VARIABLE} is not set: run the tests through .ci/test, or set it to a \
             command that takes `stop` or `start` and does that to the server \
             KMS_TEST_POSTGRES_URL names"
        )
    });
    let status = Command::new(&ctl).arg(action).status().unwrap();
    assert!(status.success(), "{ctl} {action}: {status}");
}

/// The server, stopped until this drops (or [`start`](Self::start) is called), so a
/// failing test still leaves it running for the tests after it.
struct ServerDown {
    down: bool,
}

impl ServerDown {
    fn stop() -> Self {
        server_ctl("stop");
        Self { down: true }
    }

    fn start(mut self) {
        self.down = false;
        server_ctl("start");
    }
}

impl Drop for ServerDown {
    fn drop(&mut self) {
        if self.down {
            server_ctl("start");
        }
    }
}

fn schedule(at_ms: u64) -> StateChange {
    StateChange {
        from: KeyState::PendingImport,
        has_material: false,
        to: KeyState::PendingDeletion,
        scheduled_deletion_ms: Some(at_ms),
    }
}

fn cancel() -> StateChange {
    StateChange {
        from: KeyState::PendingDeletion,
        has_material: false,
        to: KeyState::PendingImport,
        scheduled_deletion_ms: None,
    }
}

#[test]
fn a_pg_store_fails_with_kms_0102_while_the_server_is_down_and_works_again_after() {
    let database = TestDatabase::create();
    let (store, other) = (database.store(), database.store());
    let record = contract::key(1, "survivor");
    store.insert_key(&record).unwrap();
    store.wait_for_key_change(Duration::from_millis(100));
    let position = store.key_changes_since(None).unwrap().position;

    let down = ServerDown::stop();
    let started = Instant::now();
    let failures = [
        ("reading a key", store.get_key(&record.key_id).map(|_| ())),
        (
            "changing a key's state",
            store.change_state(&record.key_id, schedule(5)).map(|_| ()),
        ),
        (
            "reading the change feed",
            store.key_changes_since(Some(position)).map(|_| ()),
        ),
        (
            "leasing encryptions",
            store
                .lease_encryptions(&record.key_id, 0, 1, 10)
                .map(|_| ()),
        ),
    ];
    for (what, outcome) in failures {
        let error = outcome.unwrap_err();
        assert_eq!(error.code(), "KMS.0102", "{error}");
        assert!(error.to_string().contains(&format!("{what}: ")), "{error}");
    }
    let failing = started.elapsed();
    assert!(
        failing < Duration::from_secs(30),
        "four failures took {failing:?}"
    );
    // Waiting for changes sleeps out its timeout, so callers keep polling at their pace.
    let waiting = Instant::now();
    store.wait_for_key_change(Duration::from_millis(300));
    let waited = waiting.elapsed();
    assert!(
        (Duration::from_millis(250)..Duration::from_secs(5)).contains(&waited),
        "waited {waited:?}"
    );
    down.start();

    // The same stores, and nothing acknowledged lost.
    assert_eq!(store.get_key(&record.key_id).unwrap(), Some(record.clone()));
    assert!(other.change_state(&record.key_id, schedule(5)).unwrap());
    let changes = store.key_changes_since(Some(position)).unwrap();
    assert_eq!(changes.changed, Some(vec![record.key_id]));
    assert_eq!(changes.position, position + 1);
    assert_eq!(
        store.lease_encryptions(&record.key_id, 0, 1, 10).unwrap(),
        1
    );

    // The listening connection is opened again, and wakes the waiter early once more.
    store.wait_for_key_change(Duration::from_millis(100));
    let timeout = Duration::from_secs(30);
    let waited = std::thread::scope(|scope| {
        let waiting = scope.spawn(|| {
            let started = Instant::now();
            store.wait_for_key_change(timeout);
            started.elapsed()
        });
        std::thread::sleep(Duration::from_millis(300));
        assert!(other.change_state(&record.key_id, cancel()).unwrap());
        waiting.join().unwrap()
    });
    assert!(
        waited < Duration::from_secs(5),
        "waited {waited:?} of {timeout:?}"
    );
}
