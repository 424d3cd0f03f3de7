//! One contract, two stores: `SqliteStore` behaves as `MemoryStore` does, call for call.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests panic to fail"
)]

use kms_core::{
    CmkSpec, ImportRecord, KeyBlob, KeyId, KeyOrigin, KeyRecord, KeyState, KeyStore, KeyUsage,
    MemoryStore, NewMaterial, ProjectId, StateChange, WrappingAlgorithm, WrappingKeySpec,
};
use kms_store::SqliteStore;

fn key(n: u8, alias: &str) -> KeyRecord {
    KeyRecord {
        key_id: KeyId::from_random([n; 16]),
        project_id: ProjectId::default_project(),
        alias: alias.into(),
        description: format!("key {n}"),
        spec: if n.is_multiple_of(2) {
            CmkSpec::Aes256
        } else {
            CmkSpec::Sm4
        },
        usage: KeyUsage::EncryptDecrypt,
        origin: KeyOrigin::External,
        state: KeyState::PendingImport,
        created_ms: 1_700_000_000_000 + u64::from(n),
        scheduled_deletion_ms: None,
        generation: 0,
        key_blob: None,
        material_expiry_ms: None,
        material_fingerprint: None,
    }
}

fn import(n: u8, key_id: KeyId, expires_ms: u64) -> ImportRecord {
    ImportRecord {
        token_id: [n; 16],
        key_id,
        algorithm: WrappingAlgorithm::RsaAesKeyWrapSha1,
        wrapping_key_spec: WrappingKeySpec::Rsa3072,
        wrapping_key: KeyBlob::new(vec![n; 40]),
        expires_ms,
    }
}

fn keeps_the_contract(store: &dyn KeyStore) {
    // Keys: insertion order, unique aliases, exact round trip.
    let keys: Vec<KeyRecord> = (0..5).map(|n| key(n, &format!("alias-{n}"))).collect();
    for record in &keys {
        store.insert_key(record).unwrap();
    }
    assert_eq!(store.list_keys().unwrap(), keys);
    let err = store.insert_key(&key(9, "alias-3")).unwrap_err();
    assert_eq!(err.code(), "KMS.1104");
    assert_eq!(store.list_keys().unwrap().len(), 5);
    assert_eq!(
        store.get_key(&keys[2].key_id).unwrap().as_ref(),
        Some(&keys[2])
    );
    assert_eq!(store.get_key(&KeyId::from_random([99; 16])).unwrap(), None);

    // Material: attached only to a key pending import without material (once); deletion
    // keeps the fingerprint.
    let id = keys[1].key_id;
    let material = NewMaterial {
        key_blob: KeyBlob::new(vec![1, 2, 3]),
        fingerprint: vec![7; 16],
        expiry_ms: Some(1_900_000_000_000),
    };
    assert!(store.set_material(&id, &material).unwrap());
    assert!(!store.set_material(&id, &material).unwrap());
    let with_material = store.get_key(&id).unwrap().unwrap();
    assert_eq!(with_material.state, KeyState::Enabled);
    assert_eq!(with_material.key_blob, Some(KeyBlob::new(vec![1, 2, 3])));
    assert_eq!(with_material.material_expiry_ms, Some(1_900_000_000_000));
    assert!(!store.delete_material(&id, KeyState::Disabled).unwrap());
    assert!(store.delete_material(&id, KeyState::Enabled).unwrap());
    let deleted = store.get_key(&id).unwrap().unwrap();
    assert_eq!(
        (deleted.state, deleted.key_blob, deleted.material_expiry_ms),
        (KeyState::PendingImport, None, None)
    );
    assert_eq!(deleted.material_fingerprint, Some(vec![7; 16]));
    assert!(!store.delete_material(&id, KeyState::PendingImport).unwrap());

    // State changes are compare-and-swap, of the state and of whether there is material.
    let change = StateChange {
        from: KeyState::PendingImport,
        has_material: false,
        to: KeyState::PendingDeletion,
        scheduled_deletion_ms: Some(42),
    };
    let with_material_expected = StateChange {
        has_material: true,
        ..change
    };
    assert!(!store.change_state(&id, with_material_expected).unwrap());
    assert!(store.change_state(&id, change).unwrap());
    assert!(!store.change_state(&id, change).unwrap());
    assert_eq!(
        store.get_key(&id).unwrap().unwrap().scheduled_deletion_ms,
        Some(42)
    );

    // Import tokens: readable until taken, taken once, expired ones swept.
    store.insert_import(&import(1, id, 100)).unwrap();
    store.insert_import(&import(2, id, 200)).unwrap();
    store.insert_import(&import(3, id, 300)).unwrap();
    assert_eq!(
        store.get_import(&[1; 16]).unwrap(),
        Some(import(1, id, 100))
    );
    assert_eq!(
        store.take_import(&[1; 16]).unwrap(),
        Some(import(1, id, 100))
    );
    assert_eq!(store.take_import(&[1; 16]).unwrap(), None);
    assert_eq!(store.get_import(&[1; 16]).unwrap(), None);
    assert_eq!(
        store.take_expired_imports(200).unwrap(),
        vec![import(2, id, 200)]
    );
    assert_eq!(
        store.get_import(&[3; 16]).unwrap(),
        Some(import(3, id, 300))
    );

    // Deletion: only keys pending deletion whose time has come are taken, oldest first,
    // once; their aliases are free again.
    let schedule = |key_id: &KeyId, at_ms: u64| {
        let change = StateChange {
            from: KeyState::PendingImport,
            has_material: false,
            to: KeyState::PendingDeletion,
            scheduled_deletion_ms: Some(at_ms),
        };
        assert!(store.change_state(key_id, change).unwrap());
        store.get_key(key_id).unwrap().unwrap()
    };
    let due_later = schedule(&keys[3].key_id, 50);
    schedule(&keys[4].key_id, 500);
    let due_first = store.get_key(&id).unwrap().unwrap();
    assert_eq!(store.take_due_deletions(41).unwrap(), vec![]);
    assert_eq!(
        store.take_due_deletions(50).unwrap(),
        vec![due_first, due_later]
    );
    assert_eq!(store.take_due_deletions(50).unwrap(), vec![]);
    let left: Vec<KeyId> = store
        .list_keys()
        .unwrap()
        .iter()
        .map(|k| k.key_id)
        .collect();
    assert_eq!(left, [0, 2, 4].map(|n| keys[n].key_id));
    assert_eq!(store.get_key(&id).unwrap(), None);
    store.insert_key(&key(7, "alias-1")).unwrap();

    material_expiry_is_a_transition_of_its_own(store);

    // Engine keys: the first stored wins.
    assert_eq!(store.engine_key("token").unwrap(), None);
    let first = KeyBlob::new(vec![5; 8]);
    assert_eq!(store.insert_engine_key("token", &first).unwrap(), first);
    assert_eq!(
        store
            .insert_engine_key("token", &KeyBlob::new(vec![6; 8]))
            .unwrap(),
        first
    );
    assert_eq!(store.engine_key("token").unwrap(), Some(first));
}

/// Expiry takes the material once, keeps the fingerprint, moves only an enabled key (to
/// pending import), and is limited to one key when asked.
fn material_expiry_is_a_transition_of_its_own(store: &dyn KeyStore) {
    let expiring = |n: u8, state: KeyState, expiry_ms: u64| {
        let mut record = key(n, &format!("expiring-{n}"));
        record.state = state;
        record.key_blob = Some(KeyBlob::new(vec![n; 4]));
        record.material_expiry_ms = Some(expiry_ms);
        record.material_fingerprint = Some(vec![n; 16]);
        store.insert_key(&record).unwrap();
        record
    };
    let enabled = expiring(20, KeyState::Enabled, 1_000);
    let disabled = expiring(21, KeyState::Disabled, 1_000);
    let pending_deletion = expiring(22, KeyState::PendingDeletion, 1_000);
    let later = expiring(23, KeyState::Enabled, 2_000);
    assert_eq!(store.take_expired_material(999, None).unwrap(), vec![]);
    assert_eq!(
        store
            .take_expired_material(1_000, Some(&disabled.key_id))
            .unwrap(),
        vec![disabled.clone()]
    );
    assert_eq!(
        store.take_expired_material(1_500, None).unwrap(),
        vec![enabled.clone(), pending_deletion.clone()]
    );
    assert_eq!(store.take_expired_material(1_500, None).unwrap(), vec![]);
    for (before, state_after) in [
        (&enabled, KeyState::PendingImport),
        (&disabled, KeyState::Disabled),
        (&pending_deletion, KeyState::PendingDeletion),
    ] {
        let after = store.get_key(&before.key_id).unwrap().unwrap();
        assert_eq!(
            (after.state, after.key_blob, after.material_expiry_ms),
            (state_after, None, None)
        );
        assert_eq!(after.material_fingerprint, before.material_fingerprint);
        assert_eq!(after.scheduled_deletion_ms, before.scheduled_deletion_ms);
    }
    assert_eq!(store.get_key(&later.key_id).unwrap(), Some(later));
}

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
    keeps_the_contract(&MemoryStore::new());
}

#[test]
fn sqlite_store_keeps_the_store_contract_and_its_data_across_reopening() {
    let (dir, path) = fresh_store_path("contract");
    let store = SqliteStore::open(&path).unwrap();
    keeps_the_contract(&store);
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
    let keys: Vec<KeyId> = (0..200u8)
        .map(|n| key(n, &format!("k{n}")).key_id)
        .collect();
    for n in 0..200u8 {
        first.insert_key(&key(n, &format!("k{n}"))).unwrap();
        let due_at_n = StateChange {
            from: KeyState::PendingImport,
            has_material: false,
            to: KeyState::PendingDeletion,
            scheduled_deletion_ms: Some(u64::from(n)),
        };
        assert!(first.change_state(&keys[usize::from(n)], due_at_n).unwrap());
    }
    // Two engines (each with a store of its own on the file) purge as time passes.
    let second = SqliteStore::open(&path).unwrap();
    let start = std::sync::Barrier::new(2);
    let purger = |store: &SqliteStore| {
        start.wait();
        (0..200)
            .flat_map(|now_ms| store.take_due_deletions(now_ms).unwrap())
            .map(|record| record.key_id)
            .collect::<Vec<_>>()
    };
    let taken: Vec<Vec<KeyId>> = std::thread::scope(|scope| {
        let handles = [&first, &second].map(|store| scope.spawn(|| purger(store)));
        handles.map(|handle| handle.join().unwrap()).into()
    });
    let mut all: Vec<KeyId> = taken.concat();
    all.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let mut expected = keys.clone();
    expected.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(all, expected, "every key taken, none twice");
    assert!(first.list_keys().unwrap().is_empty());
    println!(
        "taken by each store: {:?}",
        taken.iter().map(Vec::len).collect::<Vec<_>>()
    );
    drop((first, second));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_version_1_store_moves_its_keys_to_the_default_project_and_scopes_aliases() {
    let (dir, path) = fresh_store_path("v1");
    let connection = rusqlite::Connection::open(&path).unwrap();
    // The version 1 schema, as engines before projects wrote it, with one key.
    connection
        .execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version (version) VALUES (1);
             CREATE TABLE keys (
                 key_id VARCHAR(36) NOT NULL PRIMARY KEY, seq BIGINT NOT NULL UNIQUE,
                 alias VARCHAR(255) NOT NULL UNIQUE, description VARCHAR(255) NOT NULL,
                 spec VARCHAR(16) NOT NULL, usage VARCHAR(32) NOT NULL,
                 origin VARCHAR(16) NOT NULL, state VARCHAR(2) NOT NULL,
                 created_ms BIGINT NOT NULL, scheduled_deletion_ms BIGINT,
                 generation BIGINT NOT NULL, key_blob TEXT, material_expiry_ms BIGINT,
                 material_fingerprint TEXT);
             CREATE TABLE imports (token_id VARCHAR(32) NOT NULL PRIMARY KEY,
                 key_id VARCHAR(36) NOT NULL, algorithm VARCHAR(32) NOT NULL,
                 wrapping_key_spec VARCHAR(16) NOT NULL, wrapping_key TEXT NOT NULL,
                 expires_ms BIGINT NOT NULL);
             CREATE TABLE engine_keys (name VARCHAR(64) NOT NULL PRIMARY KEY,
                 key_blob TEXT NOT NULL);
             INSERT INTO keys VALUES ('0d0466b0-e727-4d9c-b35d-f84bb474a37f', 1, 'legacy',
                 'from before projects', 'AES_256', 'ENCRYPT_DECRYPT', 'kms', '2',
                 1700000000000, NULL, 0, 'AQID', NULL, NULL);",
        )
        .unwrap();
    drop(connection);
    let store = SqliteStore::open(&path).unwrap();
    let keys = store.list_keys().unwrap();
    assert_eq!(keys.len(), 1);
    let legacy = &keys[0];
    assert_eq!(legacy.project_id, ProjectId::default_project());
    assert_eq!(
        (legacy.alias.as_str(), legacy.state, legacy.key_blob.clone()),
        (
            "legacy",
            KeyState::Enabled,
            Some(KeyBlob::new(vec![1, 2, 3]))
        )
    );
    // The alias is taken in the default project only.
    let mut same_alias = key(50, "legacy");
    assert_eq!(
        store.insert_key(&same_alias).unwrap_err().code(),
        "KMS.1104"
    );
    same_alias.project_id = ProjectId::parse("another").unwrap();
    store.insert_key(&same_alias).unwrap();
    assert_eq!(store.get_key(&same_alias.key_id).unwrap(), Some(same_alias));
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}
