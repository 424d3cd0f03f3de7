//! One contract, two stores: `SqliteStore` behaves as `MemoryStore` does, call for call
//! (`pg_store.rs` runs the same contract on `PgStore`).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests panic to fail"
)]

mod contract;

use kms_core::{KeyStore, MemoryStore};
use kms_store::SqliteStore;

/// An empty directory of its own for the test `name`, and the store file's path in it.
fn fresh_store_path(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("kms-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keys.db");
    (dir, path)
}

#[test]
fn memory_store_keeps_the_store_contract() {
    contract::keeps_the_contract(&MemoryStore::new());
}

#[test]
fn memory_store_keeps_the_change_feed_contract() {
    contract::the_change_feed_keeps_the_contract(&MemoryStore::new());
    contract::waiting_for_a_change_ends_by_the_timeout(&MemoryStore::new());
}

#[test]
fn memory_store_keeps_the_lease_contract() {
    contract::leases_keep_the_contract(&MemoryStore::new());
    contract::leases_from_eight_threads_never_pass_the_limit(&[&MemoryStore::new()]);
}

#[test]
fn memory_store_keeps_the_rotation_and_tag_contract() {
    contract::rotation_keeps_the_contract(&MemoryStore::new());
    contract::tags_keep_the_contract(&MemoryStore::new());
}

#[test]
fn sqlite_store_keeps_the_rotation_and_tag_contract() {
    let (dir, path) = fresh_store_path("rotation-tags");
    let store = SqliteStore::open(&path).unwrap();
    contract::rotation_keeps_the_contract(&store);
    contract::tags_keep_the_contract(&store);
    drop(store);
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(
        reopened
            .get_key(&contract::key(60, "x").key_id)
            .unwrap()
            .unwrap()
            .generation,
        2
    );
    drop(reopened);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn two_sqlite_stores_rotating_at_once_add_each_generation_exactly_once() {
    let (dir, path) = fresh_store_path("shared-rotation");
    let first = SqliteStore::open(&path).unwrap();
    let second = SqliteStore::open(&path).unwrap();
    contract::each_generation_goes_to_one_of_two_stores(&first, &second);
    drop((first, second));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sqlite_store_keeps_the_change_feed_contract() {
    let (dir, path) = fresh_store_path("feed");
    let store = SqliteStore::open(&path).unwrap();
    contract::the_change_feed_keeps_the_contract(&store);
    contract::waiting_for_a_change_ends_by_the_timeout(&store);
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn two_sqlite_stores_on_one_file_see_each_others_changes() {
    let (dir, path) = fresh_store_path("shared-feed");
    let first = SqliteStore::open(&path).unwrap();
    let second = SqliteStore::open(&path).unwrap();
    contract::changes_through_one_store_reach_the_others_feed(&first, &second);
    drop((first, second));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sqlite_store_keeps_the_lease_contract() {
    let (dir, path) = fresh_store_path("leases");
    let store = SqliteStore::open(&path).unwrap();
    contract::leases_keep_the_contract(&store);
    contract::leases_from_eight_threads_never_pass_the_limit(&[&store]);
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn leases_from_two_sqlite_stores_on_one_file_never_pass_the_limit() {
    let (dir, path) = fresh_store_path("shared-leases");
    let first = SqliteStore::open(&path).unwrap();
    let second = SqliteStore::open(&path).unwrap();
    contract::leases_from_eight_threads_never_pass_the_limit(&[&first, &second]);
    drop((first, second));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sqlite_store_keeps_the_store_contract_and_its_data_across_reopening() {
    let (dir, path) = fresh_store_path("contract");
    let store = SqliteStore::open(&path).unwrap();
    contract::keeps_the_contract(&store);
    let before = store.list_keys().unwrap();
    drop(store);
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.list_keys().unwrap(), before);
    assert_eq!(
        reopened.get_import(&[3; 16]).unwrap().map(|i| i.expires_ms),
        Some(300)
    );
    assert_eq!(reopened.integrity_check().unwrap(), "ok");
    drop(reopened);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_store_from_a_newer_engine_is_refused() {
    let (dir, path) = fresh_store_path("newer");
    drop(SqliteStore::open(&path).unwrap());
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [kms_store::SCHEMA_VERSION as i64 + 1],
        )
        .unwrap();
    drop(connection);
    let err = SqliteStore::open(&path).unwrap_err();
    assert_eq!(err.code(), "KMS.0102");
    assert!(err.to_string().contains("this engine knows up to"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn two_stores_on_one_file_taking_due_deletions_at_once_take_each_key_exactly_once() {
    let (dir, path) = fresh_store_path("purge");
    let first = SqliteStore::open(&path).unwrap();
    let second = SqliteStore::open(&path).unwrap();
    contract::each_due_deletion_goes_to_one_of_two_stores(&first, &second);
    drop((first, second));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn two_stores_on_one_file_take_each_expiry_and_token_exactly_once_and_agree_on_inserts() {
    let (dir, path) = fresh_store_path("races");
    let first = SqliteStore::open(&path).unwrap();
    let second = SqliteStore::open(&path).unwrap();
    contract::each_expiry_goes_to_one_of_two_stores(&first, &second);
    contract::each_import_token_goes_to_one_of_two_stores(&first, &second);
    contract::concurrent_inserts_agree(&first, &second);
    drop((first, second));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_version_1_store_moves_its_keys_to_the_default_project_and_scopes_aliases() {
    let (dir, path) = fresh_store_path("v1");
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute_batch(contract::VERSION_1_DATABASE)
        .unwrap();
    drop(connection);
    let store = SqliteStore::open(&path).unwrap();
    contract::a_version_1_database_moves_its_keys_to_the_default_project(&store);
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}
