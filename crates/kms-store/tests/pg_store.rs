//! `PgStore` keeps the store contract `MemoryStore` and `SqliteStore` keep, and what several
//! engine nodes on one database need: each item taken exactly once, leases that never pass
//! their bound, migrations safe to start together, notifications that wake other nodes.
//!
//! Every test has a database of its own on the server `KMS_TEST_POSTGRES_URL` names; the
//! tests fail (never skip) when it is not set. `.ci/test` starts a server and sets it.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests panic to fail"
)]

mod contract;
mod pg_database;

use std::time::{Duration, Instant};

use kms_core::{KeyState, KeyStore, SecretString, StateChange};
use kms_store::{PgStore, SCHEMA_VERSION};
use pg_database::TestDatabase;

#[test]
fn pg_store_keeps_the_store_contract_and_its_data_across_reconnecting() {
    let database = TestDatabase::create();
    let store = database.store();
    contract::keeps_the_contract(&store);
    let before = store.list_keys().unwrap();
    drop(store);
    let reconnected = database.store();
    assert_eq!(reconnected.list_keys().unwrap(), before);
    assert_eq!(
        reconnected
            .get_import(&[3; 16])
            .unwrap()
            .map(|i| i.expires_ms),
        Some(300)
    );
}

#[test]
fn pg_store_keeps_the_change_feed_contract() {
    let database = TestDatabase::create();
    let store = database.store();
    contract::the_change_feed_keeps_the_contract(&store);
    contract::waiting_for_a_change_ends_by_the_timeout(&store);
}

#[test]
fn pg_store_keeps_the_rotation_and_tag_contract() {
    let database = TestDatabase::create();
    let store = database.store();
    contract::rotation_keeps_the_contract(&store);
    contract::tags_keep_the_contract(&store);
}

#[test]
fn two_pg_stores_rotating_at_once_add_each_generation_exactly_once() {
    let database = TestDatabase::create();
    contract::each_generation_goes_to_one_of_two_stores(&database.store(), &database.store());
}

#[test]
fn two_pg_stores_on_one_database_see_each_others_changes() {
    let database = TestDatabase::create();
    contract::changes_through_one_store_reach_the_others_feed(&database.store(), &database.store());
}

#[test]
fn pg_store_keeps_the_lease_contract() {
    let database = TestDatabase::create();
    let store = database.store();
    contract::leases_keep_the_contract(&store);
    contract::leases_from_eight_threads_never_pass_the_limit(&[&store]);
}

#[test]
fn leases_from_two_pg_stores_on_one_database_never_pass_the_limit() {
    let database = TestDatabase::create();
    let (first, second) = (database.store(), database.store());
    contract::leases_from_eight_threads_never_pass_the_limit(&[&first, &second]);
}

#[test]
fn two_pg_stores_taking_due_deletions_at_once_take_each_key_exactly_once() {
    let database = TestDatabase::create();
    contract::each_due_deletion_goes_to_one_of_two_stores(&database.store(), &database.store());
}

#[test]
fn two_pg_stores_expiring_material_at_once_take_each_expiry_exactly_once() {
    let database = TestDatabase::create();
    contract::each_expiry_goes_to_one_of_two_stores(&database.store(), &database.store());
}

#[test]
fn two_pg_stores_using_one_import_token_at_once_get_it_exactly_once() {
    let database = TestDatabase::create();
    contract::each_import_token_goes_to_one_of_two_stores(&database.store(), &database.store());
}

#[test]
fn two_pg_stores_inserting_at_once_agree_on_the_engine_key_and_the_alias() {
    let database = TestDatabase::create();
    contract::concurrent_inserts_agree(&database.store(), &database.store());
}

#[test]
fn positions_follow_commit_order_under_concurrent_changes() {
    // Eight threads over two stores change keys as fast as they can while a reader
    // follows the feed. Were positions out of commit order, a read could pass a position
    // whose change was not yet committed, and miss it for good: every read must report
    // exactly the keys the finished feed holds between its two positions.
    let database = TestDatabase::create();
    let (first, second) = (database.store(), database.store());
    let keys: Vec<_> = (0..8u8)
        .map(|n| {
            let record = contract::key(n, &format!("churn-{n}"));
            first.insert_key(&record).unwrap();
            record.key_id
        })
        .collect();
    let start = first.key_changes_since(None).unwrap().position;
    let flip = |from: KeyState, to: KeyState| StateChange {
        from,
        has_material: false,
        to,
        scheduled_deletion_ms: None,
    };
    let mut reads = Vec::new();
    std::thread::scope(|scope| {
        for (n, key_id) in keys.iter().enumerate() {
            let store = if n % 2 == 0 { &first } else { &second };
            scope.spawn(move || {
                for _ in 0..10 {
                    let there = flip(KeyState::PendingImport, KeyState::PendingDeletion);
                    let back = flip(KeyState::PendingDeletion, KeyState::PendingImport);
                    assert!(store.change_state(key_id, there).unwrap());
                    assert!(store.change_state(key_id, back).unwrap());
                }
            });
        }
        let mut position = start;
        while position < start + 160 {
            let changes = second.key_changes_since(Some(position)).unwrap();
            assert!(changes.position >= position, "the position went back");
            let mut changed = changes.changed.unwrap();
            changed.sort_unstable();
            reads.push((position, changes.position, changed));
            position = changes.position;
        }
    });
    let mut client = database.client();
    let (count, lowest, highest): (i64, i64, i64) = {
        let row = client
            .query_one(
                "SELECT COUNT(*), MIN(position), MAX(position) FROM key_changes",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1), row.get(2))
    };
    let start = i64::try_from(start).unwrap();
    assert_eq!(
        (count, lowest, highest),
        (160, start + 1, start + 160),
        "no gaps"
    );
    println!("{} reads alongside the writers", reads.len());
    for (after, head, reported) in reads {
        let mut expected: Vec<kms_core::KeyId> = client
            .query(
                "SELECT DISTINCT key_id FROM key_changes WHERE position > $1 AND position <= $2",
                &[
                    &i64::try_from(after).unwrap(),
                    &i64::try_from(head).unwrap(),
                ],
            )
            .unwrap()
            .iter()
            .map(|row| kms_core::KeyId::parse(row.get(0)).unwrap())
            .collect();
        expected.sort_unstable();
        assert_eq!(reported, expected, "the read after {after} up to {head}");
    }
}

#[test]
fn waiting_for_a_change_returns_early_when_another_store_changes_a_key() {
    let database = TestDatabase::create();
    let (waiter, changer) = (database.store(), database.store());
    let record = contract::key(1, "watched");
    changer.insert_key(&record).unwrap();
    // The first wait opens the listening connection; from then on no change is missed.
    waiter.wait_for_key_change(Duration::from_millis(100));
    let timeout = Duration::from_secs(30);
    let waited = std::thread::scope(|scope| {
        let waiting = scope.spawn(|| {
            let started = Instant::now();
            waiter.wait_for_key_change(timeout);
            started.elapsed()
        });
        std::thread::sleep(Duration::from_millis(300));
        let schedule = StateChange {
            from: KeyState::PendingImport,
            has_material: false,
            to: KeyState::PendingDeletion,
            scheduled_deletion_ms: Some(1),
        };
        assert!(changer.change_state(&record.key_id, schedule).unwrap());
        waiting.join().unwrap()
    });
    assert!(
        waited < Duration::from_secs(5),
        "waited {waited:?} of {timeout:?}"
    );
    // The notification was used up: the next wait runs to its timeout.
    let started = Instant::now();
    waiter.wait_for_key_change(Duration::from_millis(300));
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[test]
fn a_pg_database_from_a_newer_engine_is_refused() {
    let database = TestDatabase::create();
    drop(database.store());
    let newer = i32::try_from(SCHEMA_VERSION).unwrap() + 1;
    database
        .client()
        .execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&newer],
        )
        .unwrap();
    let err = PgStore::connect(database.url(), None).unwrap_err();
    assert_eq!(err.code(), "KMS.0102");
    assert!(err.to_string().contains("this engine knows up to"), "{err}");
}

#[test]
fn a_version_1_pg_database_moves_its_keys_to_the_default_project_and_scopes_aliases() {
    let database = TestDatabase::create();
    database
        .client()
        .batch_execute(contract::VERSION_1_DATABASE)
        .unwrap();
    let store = database.store();
    contract::a_version_1_database_moves_its_keys_to_the_default_project(&store);
    assert_eq!(
        recorded_versions(&database),
        (1..=SCHEMA_VERSION).collect::<Vec<_>>()
    );
}

#[test]
fn a_version_2_pg_database_gains_leases_and_the_change_feed() {
    let database = TestDatabase::create();
    let mut client = database.client();
    client.batch_execute(contract::VERSION_1_DATABASE).unwrap();
    // Migration 2 by hand: what an engine of version 2 left.
    client
        .batch_execute(
            "CREATE TABLE keys_v2 (
                 key_id VARCHAR(36) NOT NULL PRIMARY KEY, seq BIGINT NOT NULL UNIQUE,
                 project_id VARCHAR(64) NOT NULL, alias VARCHAR(255) NOT NULL,
                 description VARCHAR(255) NOT NULL, spec VARCHAR(16) NOT NULL,
                 usage VARCHAR(32) NOT NULL, origin VARCHAR(16) NOT NULL,
                 state VARCHAR(2) NOT NULL, created_ms BIGINT NOT NULL,
                 scheduled_deletion_ms BIGINT, generation BIGINT NOT NULL, key_blob TEXT,
                 material_expiry_ms BIGINT, material_fingerprint TEXT,
                 UNIQUE (project_id, alias));
             INSERT INTO keys_v2 SELECT key_id, seq, 'default', alias, description, spec,
                 usage, origin, state, created_ms, scheduled_deletion_ms, generation,
                 key_blob, material_expiry_ms, material_fingerprint FROM keys;
             DROP TABLE keys;
             ALTER TABLE keys_v2 RENAME TO keys;
             INSERT INTO schema_version (version) VALUES (2);",
        )
        .unwrap();
    drop(client);
    let store = database.store();
    contract::a_version_1_database_moves_its_keys_to_the_default_project(&store);
    assert_eq!(
        recorded_versions(&database),
        (1..=SCHEMA_VERSION).collect::<Vec<_>>()
    );
    contract::the_change_feed_keeps_the_contract(&store);
}

#[test]
fn four_pg_stores_starting_at_once_on_an_empty_database_migrate_it_once() {
    let database = TestDatabase::create();
    let start = std::sync::Barrier::new(4);
    let stores: Vec<PgStore> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    PgStore::connect(database.url(), None).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        recorded_versions(&database),
        (1..=SCHEMA_VERSION).collect::<Vec<_>>()
    );
    contract::changes_through_one_store_reach_the_others_feed(&stores[0], &stores[3]);
}

#[test]
fn a_pg_url_with_a_password_or_asking_for_tls_is_refused() {
    let with_password =
        PgStore::connect("postgres://kms:hunter2@127.0.0.1:5432/kms", None).unwrap_err();
    assert_eq!(with_password.code(), "KMS.0308");
    assert!(
        with_password
            .to_string()
            .contains("the password comes from PGPASSWORD or a password file, never the URL"),
        "{with_password}"
    );
    assert!(!with_password.to_string().contains("hunter2"));
    let tls =
        PgStore::connect("postgres://kms@127.0.0.1:5432/kms?sslmode=require", None).unwrap_err();
    assert_eq!(tls.code(), "KMS.0308");
    assert!(tls.to_string().contains("sslmode=require"), "{tls}");
}

#[test]
fn an_unreachable_pg_database_fails_promptly_with_kms_0102() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let err =
        PgStore::connect(&format!("postgres://kms@127.0.0.1:{closed_port}/kms"), None).unwrap_err();
    assert_eq!(err.code(), "KMS.0102");
    assert!(err.to_string().contains("migrating the schema"), "{err}");
    assert!(err.to_string().contains("cannot reach PostgreSQL"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn debug_of_a_pg_store_shows_the_url_and_not_the_password() {
    let database = TestDatabase::create();
    // The test server trusts its clients: the password is sent for nothing, but kept.
    let store =
        PgStore::connect(database.url(), Some(SecretString::new("hunter2".into()))).unwrap();
    let debug = format!("{store:?}");
    assert!(debug.contains(database.url()), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert_eq!(store.url(), database.url());
}

/// The versions `schema_version` records, in order.
fn recorded_versions(database: &TestDatabase) -> Vec<usize> {
    database
        .client()
        .query("SELECT version FROM schema_version ORDER BY version", &[])
        .unwrap()
        .iter()
        .map(|row| usize::try_from(row.get::<_, i32>(0)).unwrap())
        .collect()
}
