//! The `KeyStore` contract every store keeps, call for call: each function runs on a fresh
//! store (or on stores sharing one fresh database) and panics where the store departs from
//! what `MemoryStore` does.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests panic to fail"
)]

use std::time::Duration;

use kms_core::{
    Clock, CmkSpec, ImportRecord, KeyBlob, KeyId, KeyOrigin, KeyRecord, KeyState, KeyStore,
    KeyText, KeyUsage, NewMaterial, ProjectId, StateChange, SystemClock, WrappingAlgorithm,
    WrappingKeySpec,
};

pub fn key(n: u8, alias: &str) -> KeyRecord {
    KeyRecord {
        key_id: KeyId::from_random([n; 16]),
        project_id: ProjectId::default_project(),
        alias: alias.into(),
        description: format!("key {n}"),
        spec: if n.is_multiple_of(2) {
            CmkSpec::Aes256.into()
        } else {
            CmkSpec::Sm4.into()
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
        retired_materials: Vec::new(),
        rotation: kms_core::Rotation::default(),
    }
}

pub fn import(n: u8, key_id: KeyId, expires_ms: u64) -> ImportRecord {
    ImportRecord {
        token_id: [n; 16],
        key_id,
        algorithm: WrappingAlgorithm::RsaAesKeyWrapSha1,
        wrapping_key_spec: WrappingKeySpec::Rsa3072,
        wrapping_key: KeyBlob::new(vec![n; 40]),
        expires_ms,
    }
}

/// Keys, material, state changes, import tokens, deletion, engine keys.
pub fn keeps_the_contract(store: &dyn KeyStore) {
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

    // Alias and description: a taken alias is refused (another project's is not taken),
    // the key's own is fine, an unknown key changes nothing.
    let renamed = KeyText::Alias("renamed".into());
    assert!(store.update_key_text(&keys[0].key_id, &renamed).unwrap());
    assert_eq!(
        store.get_key(&keys[0].key_id).unwrap().unwrap().alias,
        "renamed"
    );
    let taken = KeyText::Alias("alias-3".into());
    assert_eq!(
        store
            .update_key_text(&keys[0].key_id, &taken)
            .unwrap_err()
            .code(),
        "KMS.1104"
    );
    assert!(store.update_key_text(&keys[0].key_id, &renamed).unwrap());
    let described = KeyText::Description("now described".into());
    assert!(store.update_key_text(&keys[0].key_id, &described).unwrap());
    let after = store.get_key(&keys[0].key_id).unwrap().unwrap();
    assert_eq!(
        (after.alias.as_str(), after.description.as_str()),
        ("renamed", "now described")
    );
    assert!(
        !store
            .update_key_text(&KeyId::from_random([99; 16]), &described)
            .unwrap()
    );
    let mut elsewhere = key(77, "alias-3");
    elsewhere.project_id = ProjectId::parse("0123456789abcdef0123456789abcdef").unwrap();
    store.insert_key(&elsewhere).unwrap();
    assert!(
        store
            .update_key_text(&elsewhere.key_id, &KeyText::Alias("renamed".into()))
            .unwrap()
    );
    assert!(
        store
            .update_key_text(&keys[0].key_id, &KeyText::Alias("alias-0".into()))
            .unwrap()
    );
    assert!(
        store
            .update_key_text(&keys[0].key_id, &KeyText::Description("key 0".into()))
            .unwrap()
    );
    assert!(
        store
            .update_key_text(&elsewhere.key_id, &KeyText::Alias("alias-3".into()))
            .unwrap()
    );
    assert_eq!(
        store.get_key(&keys[0].key_id).unwrap().as_ref(),
        Some(&keys[0])
    );

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
    // A key pending deletion keeps its alias and description.
    for text in [
        KeyText::Alias("too-late".into()),
        KeyText::Description("too late".into()),
    ] {
        assert!(!store.update_key_text(&id, &text).unwrap());
    }
    assert_eq!(store.get_key(&id).unwrap().unwrap().alias, "alias-1");
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
    let mut referenced = store.import_wrapping_keys().unwrap();
    referenced.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(
        referenced,
        vec![
            import(2, id, 200).wrapping_key,
            import(3, id, 300).wrapping_key
        ]
    );
    assert_eq!(
        store.take_expired_imports(200).unwrap(),
        vec![import(2, id, 200)]
    );
    assert_eq!(
        store.import_wrapping_keys().unwrap(),
        vec![import(3, id, 300).wrapping_key]
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
    let mut expected: Vec<KeyId> = [0, 2, 4].map(|n| keys[n].key_id).to_vec();
    expected.push(key(77, "").key_id);
    assert_eq!(left, expected);
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
pub fn material_expiry_is_a_transition_of_its_own(store: &dyn KeyStore) {
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

/// A key pending deletion at `at_ms`, stored.
fn scheduled(store: &dyn KeyStore, n: u8, at_ms: u64) -> KeyRecord {
    let mut record = key(n, &format!("scheduled-{n}"));
    record.state = KeyState::PendingDeletion;
    record.scheduled_deletion_ms = Some(at_ms);
    store.insert_key(&record).unwrap();
    record
}

/// The keys changed after `position`, sorted (the feed gives them in no particular order);
/// `None` when the feed cannot say.
fn changed_after(store: &dyn KeyStore, position: u64) -> Option<Vec<KeyId>> {
    store
        .key_changes_since(Some(position))
        .unwrap()
        .changed
        .map(|mut keys| {
            keys.sort_unstable();
            keys
        })
}

fn sorted(mut keys: Vec<KeyId>) -> Vec<KeyId> {
    keys.sort_unstable();
    keys
}

/// The change feed: every change of state or material, and only those, moves the
/// position by one per key; a position gives the keys changed since, each once; a
/// position the pruned feed no longer reaches back to gives `None`; the newest entry
/// stays.
pub fn the_change_feed_keeps_the_contract(store: &dyn KeyStore) {
    let start = store.key_changes_since(None).unwrap();
    assert_eq!(start.changed, None, "no position: the feed cannot say");
    let p0 = start.position;
    assert_eq!(changed_after(store, p0), Some(vec![]));

    // Inserting a key or a token, reading, and a failed swap are not changes.
    let a = key(100, "feed-a");
    let b = key(101, "feed-b");
    store.insert_key(&a).unwrap();
    store.insert_key(&b).unwrap();
    store.insert_import(&import(100, a.key_id, 5)).unwrap();
    let wrong_from = StateChange {
        from: KeyState::Enabled,
        has_material: false,
        to: KeyState::Disabled,
        scheduled_deletion_ms: None,
    };
    assert!(!store.change_state(&a.key_id, wrong_from).unwrap());
    assert!(
        !store
            .delete_material(&a.key_id, KeyState::PendingImport)
            .unwrap()
    );
    assert_eq!(store.key_changes_since(Some(p0)).unwrap().position, p0);

    // Three changes, two of one key: the position moves by three, each key shows once.
    let material = NewMaterial {
        key_blob: KeyBlob::new(vec![9; 4]),
        fingerprint: vec![9; 16],
        expiry_ms: Some(1_000),
    };
    assert!(store.set_material(&b.key_id, &material).unwrap());
    assert!(store.delete_material(&b.key_id, KeyState::Enabled).unwrap());
    let schedule = StateChange {
        from: KeyState::PendingImport,
        has_material: false,
        to: KeyState::PendingDeletion,
        scheduled_deletion_ms: Some(10),
    };
    assert!(store.change_state(&a.key_id, schedule).unwrap());
    let after_three = store.key_changes_since(Some(p0)).unwrap();
    assert_eq!(after_three.position, p0 + 3, "one position per change");
    assert_eq!(
        after_three.changed.map(sorted),
        Some(sorted(vec![a.key_id, b.key_id]))
    );
    let p3 = after_three.position;
    assert_eq!(changed_after(store, p3), Some(vec![]));
    assert_eq!(changed_after(store, p3 - 1), Some(vec![a.key_id]));

    // Expiry and deletion: one entry per key taken.
    let mut expiring = key(102, "feed-expiring");
    expiring.state = KeyState::Enabled;
    expiring.key_blob = Some(KeyBlob::new(vec![1]));
    expiring.material_expiry_ms = Some(20);
    store.insert_key(&expiring).unwrap();
    let due = scheduled(store, 103, 10);
    assert_eq!(store.take_expired_material(20, None).unwrap().len(), 1);
    assert_eq!(store.take_due_deletions(10).unwrap().len(), 2);
    let p6 = store.key_changes_since(None).unwrap().position;
    assert_eq!(p6, p3 + 3);
    assert_eq!(
        changed_after(store, p3),
        Some(sorted(vec![expiring.key_id, a.key_id, due.key_id]))
    );

    // Pruning nothing old keeps the feed whole; pruning everything keeps the newest.
    store.prune_key_changes(0).unwrap();
    assert_eq!(changed_after(store, p0).map(|keys| keys.len()), Some(4));
    let tomorrow = SystemClock.now_ms() + 24 * 60 * 60 * 1000;
    store.prune_key_changes(tomorrow).unwrap();
    assert_eq!(changed_after(store, p0), None, "pruned past p0: cannot say");
    assert_eq!(changed_after(store, p6 - 2), None);
    assert_eq!(
        changed_after(store, p6 - 1).map(|keys| keys.len()),
        Some(1),
        "the newest entry stays"
    );
    assert_eq!(changed_after(store, p6), Some(vec![]));
    assert_eq!(store.key_changes_since(None).unwrap().position, p6);

    // The feed goes on from there.
    let c = key(104, "feed-c");
    store.insert_key(&c).unwrap();
    assert!(store.change_state(&c.key_id, schedule).unwrap());
    assert_eq!(changed_after(store, p6), Some(vec![c.key_id]));
    assert_eq!(store.key_changes_since(None).unwrap().position, p6 + 1);
}

/// A change made through `first` is in `second`'s feed as soon as the call returns (the
/// two share one database).
pub fn changes_through_one_store_reach_the_others_feed(
    first: &dyn KeyStore,
    second: &dyn KeyStore,
) {
    let before = second.key_changes_since(None).unwrap().position;
    let record = key(110, "shared-feed");
    first.insert_key(&record).unwrap();
    let schedule = StateChange {
        from: KeyState::PendingImport,
        has_material: false,
        to: KeyState::PendingDeletion,
        scheduled_deletion_ms: Some(1),
    };
    assert!(first.change_state(&record.key_id, schedule).unwrap());
    assert_eq!(changed_after(second, before), Some(vec![record.key_id]));
    let taken = second.take_due_deletions(1).unwrap();
    assert_eq!(
        taken.iter().map(|k| k.key_id).collect::<Vec<_>>(),
        [record.key_id]
    );
    assert_eq!(changed_after(first, before + 1), Some(vec![record.key_id]));
}

/// Leases: what is asked for, up to what is left of the limit; nothing for a key that does
/// not exist (or no longer does); each key counts on its own.
pub fn leases_keep_the_contract(store: &dyn KeyStore) {
    let missing = KeyId::from_random([120; 16]);
    assert_eq!(store.lease_encryptions(&missing, 0, 10, 25).unwrap(), 0);
    let first = scheduled(store, 121, 50);
    let second = key(122, "lease-second");
    store.insert_key(&second).unwrap();
    let id = first.key_id;
    assert_eq!(store.lease_encryptions(&id, 0, 10, 25).unwrap(), 10);
    assert_eq!(store.lease_encryptions(&id, 0, 10, 25).unwrap(), 10);
    assert_eq!(store.lease_encryptions(&id, 0, 10, 25).unwrap(), 5);
    assert_eq!(store.lease_encryptions(&id, 0, 10, 25).unwrap(), 0);
    assert_eq!(
        store.lease_encryptions(&id, 0, 10, 30).unwrap(),
        5,
        "a higher limit"
    );
    assert_eq!(store.lease_encryptions(&id, 0, 0, 100).unwrap(), 0);
    assert_eq!(
        store
            .lease_encryptions(&second.key_id, 0, 1 << 40, 1 << 32)
            .unwrap(),
        1 << 32
    );
    assert_eq!(
        store
            .lease_encryptions(&second.key_id, 0, 1, 1 << 32)
            .unwrap(),
        0
    );
    // Leases are not changes of state or material.
    let position = store.key_changes_since(None).unwrap().position;
    assert_eq!(store.lease_encryptions(&id, 0, 1, 100).unwrap(), 1);
    assert_eq!(store.key_changes_since(None).unwrap().position, position);
    // A deleted key's leases go with it.
    assert_eq!(store.take_due_deletions(50).unwrap().len(), 1);
    assert_eq!(store.lease_encryptions(&id, 0, 10, 100).unwrap(), 0);
}

/// Eight threads, spread over `stores` (one store, or several on one database), lease
/// encryptions of one key until none are left: the grants add up to the limit exactly.
pub fn leases_from_eight_threads_never_pass_the_limit(stores: &[&dyn KeyStore]) {
    const LIMIT: u64 = 1_000;
    const BLOCK: u64 = 7;
    let record = key(130, "lease-race");
    stores[0].insert_key(&record).unwrap();
    let start = std::sync::Barrier::new(8);
    let granted: Vec<Vec<u64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|thread| {
                let store = stores[thread % stores.len()];
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    let mut grants = Vec::new();
                    loop {
                        match store
                            .lease_encryptions(&record.key_id, 0, BLOCK, LIMIT)
                            .unwrap()
                        {
                            0 => return grants,
                            granted => grants.push(granted),
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: Vec<u64> = granted.concat();
    assert!(
        all.iter().all(|&g| g <= BLOCK),
        "a grant larger than asked: {all:?}"
    );
    assert_eq!(
        all.iter().sum::<u64>(),
        LIMIT,
        "the grants add up to the limit exactly"
    );
    assert_eq!(
        all.iter().filter(|&&g| g < BLOCK).count(),
        1,
        "one short grant: {all:?}"
    );
    for store in stores {
        assert_eq!(
            store
                .lease_encryptions(&record.key_id, 0, 1, LIMIT)
                .unwrap(),
            0
        );
    }
}

/// `wait_for_key_change` comes back by its timeout when nothing changes.
pub fn waiting_for_a_change_ends_by_the_timeout(store: &dyn KeyStore) {
    let started = std::time::Instant::now();
    store.wait_for_key_change(Duration::from_millis(200));
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
}

/// The version 1 schema, as engines before projects wrote it (SQLite and PostgreSQL
/// alike), at version 1, with one enabled key `legacy` whose blob is bytes 1, 2, 3.
pub const VERSION_1_DATABASE: &str = "CREATE TABLE schema_version (version INTEGER NOT NULL);
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
         1700000000000, NULL, 0, 'AQID', NULL, NULL);";

/// A store migrated from [`VERSION_1_DATABASE`]: its key is in the default project, the
/// alias is taken there only, and the key starts with no encryptions leased and an empty
/// feed.
pub fn a_version_1_database_moves_its_keys_to_the_default_project(store: &dyn KeyStore) {
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
    let mut same_alias = key(50, "legacy");
    assert_eq!(
        store.insert_key(&same_alias).unwrap_err().code(),
        "KMS.1104"
    );
    same_alias.project_id = ProjectId::parse("another").unwrap();
    store.insert_key(&same_alias).unwrap();
    assert_eq!(store.get_key(&same_alias.key_id).unwrap(), Some(same_alias));
    assert_eq!(store.lease_encryptions(&legacy.key_id, 0, 5, 8).unwrap(), 5);
    assert_eq!(
        store.key_changes_since(Some(0)).unwrap().changed,
        Some(vec![])
    );
}

/// Runs `take` on `first` and `second` at once (each on a thread of its own) and checks
/// that together they took every one of `expected`, none twice.
fn each_taken_once(
    first: &dyn KeyStore,
    second: &dyn KeyStore,
    expected: Vec<KeyId>,
    take: impl Fn(&dyn KeyStore) -> Vec<KeyId> + Sync,
) {
    let start = std::sync::Barrier::new(2);
    let taken: Vec<Vec<KeyId>> = std::thread::scope(|scope| {
        let handles = [first, second].map(|store| {
            let (start, take) = (&start, &take);
            scope.spawn(move || {
                start.wait();
                take(store)
            })
        });
        handles.map(|handle| handle.join().unwrap()).into()
    });
    assert_eq!(
        sorted(taken.concat()),
        sorted(expected),
        "every one taken, none twice"
    );
    println!(
        "taken by each store: {:?}",
        taken.iter().map(Vec::len).collect::<Vec<_>>()
    );
}

/// Two stores on one database purging as time passes take each due key exactly once.
pub fn each_due_deletion_goes_to_one_of_two_stores(first: &dyn KeyStore, second: &dyn KeyStore) {
    let keys: Vec<KeyId> = (0..200u8)
        .map(|n| scheduled(first, n, u64::from(n)).key_id)
        .collect();
    each_taken_once(first, second, keys, |store| {
        (0..200)
            .flat_map(|now_ms| store.take_due_deletions(now_ms).unwrap())
            .map(|record| record.key_id)
            .collect()
    });
    assert!(first.list_keys().unwrap().is_empty());
}

/// Two stores on one database expiring material as time passes take each expiry exactly
/// once.
pub fn each_expiry_goes_to_one_of_two_stores(first: &dyn KeyStore, second: &dyn KeyStore) {
    let keys: Vec<KeyId> = (0..100u8)
        .map(|n| {
            let mut record = key(n, &format!("expiring-{n}"));
            record.state = KeyState::Enabled;
            record.key_blob = Some(KeyBlob::new(vec![n; 4]));
            record.material_expiry_ms = Some(u64::from(n));
            first.insert_key(&record).unwrap();
            record.key_id
        })
        .collect();
    each_taken_once(first, second, keys, |store| {
        (0..100)
            .flat_map(|now_ms| store.take_expired_material(now_ms, None).unwrap())
            .map(|record| record.key_id)
            .collect()
    });
    assert!(
        first
            .list_keys()
            .unwrap()
            .iter()
            .all(|k| k.key_blob.is_none())
    );
}

/// Two stores on one database using the same import tokens at once get each exactly once.
pub fn each_import_token_goes_to_one_of_two_stores(first: &dyn KeyStore, second: &dyn KeyStore) {
    let owner = key(200, "import-race");
    first.insert_key(&owner).unwrap();
    let tokens: Vec<u8> = (0..100).collect();
    for &n in &tokens {
        first
            .insert_import(&import(n, owner.key_id, 1_000))
            .unwrap();
    }
    // A token's record names its key, not itself: keep the token's number in a key ID.
    let as_key = |n: u8| KeyId::from_random([n; 16]);
    each_taken_once(
        first,
        second,
        tokens.iter().map(|&n| as_key(n)).collect(),
        |store| {
            tokens
                .iter()
                .filter_map(|&n| store.take_import(&[n; 16]).unwrap().map(|_| as_key(n)))
                .collect()
        },
    );
    assert_eq!(first.take_expired_imports(u64::MAX).unwrap(), vec![]);
}

/// Eight threads over two stores storing the same engine key at once all get the one
/// stored; eight creating keys with one alias at once: one succeeds, the others get
/// KMS.1104.
pub fn concurrent_inserts_agree(first: &dyn KeyStore, second: &dyn KeyStore) {
    let stores = [first, second];
    let start = std::sync::Barrier::new(8);
    let (engine_keys, aliases): (Vec<KeyBlob>, Vec<Result<(), String>>) =
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8u8)
                .map(|n| {
                    let (store, start) = (stores[usize::from(n) % 2], &start);
                    scope.spawn(move || {
                        start.wait();
                        let stored = store
                            .insert_engine_key("token", &KeyBlob::new(vec![n; 8]))
                            .unwrap();
                        let inserted = store
                            .insert_key(&key(210 + n, "one-alias"))
                            .map_err(|error| error.code().to_owned());
                        (stored, inserted)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).unzip()
        });
    let stored = first.engine_key("token").unwrap().unwrap();
    assert!(
        engine_keys.iter().all(|key| *key == stored),
        "{engine_keys:?}"
    );
    assert_eq!(
        aliases.iter().filter(|r| r.is_ok()).count(),
        1,
        "{aliases:?}"
    );
    assert!(
        aliases
            .iter()
            .all(|r| r.as_ref().is_ok() || r.as_ref().is_err_and(|code| code == "KMS.1104")),
        "{aliases:?}"
    );
}

/// An enabled key `n` holding material, inserted.
fn enabled_key(store: &dyn KeyStore, n: u8) -> KeyRecord {
    let record = KeyRecord {
        origin: KeyOrigin::Kms,
        state: KeyState::Enabled,
        key_blob: Some(KeyBlob::new(vec![n; 36])),
        ..key(n, &format!("enabled-{n}"))
    };
    store.insert_key(&record).unwrap();
    record
}

/// Rotation: a policy changed by compare-and-swap, and each generation added once, the
/// one it replaces retired with its creation time, the rotation counted, the lease count
/// started again and the change in the feed.
pub fn rotation_keeps_the_contract(store: &dyn KeyStore) {
    use kms_core::{RetiredMaterial, Rotation};
    let record = enabled_key(store, 60);
    let id = record.key_id;
    let policy = Rotation {
        enabled: true,
        interval_days: 30,
        interval_start_ms: 5_000,
        ..Rotation::default()
    };
    assert!(
        store
            .update_rotation(&id, &Rotation::default(), &policy)
            .unwrap()
    );
    assert!(
        !store
            .update_rotation(&id, &Rotation::default(), &policy)
            .unwrap()
    );
    assert_eq!(store.get_key(&id).unwrap().unwrap().rotation, policy);
    assert_eq!(store.lease_encryptions(&id, 0, 10, 10).unwrap(), 10);
    let position = store.key_changes_since(None).unwrap().position;

    let second = KeyBlob::new(b"second generation".to_vec());
    assert!(
        store
            .add_generation(&id, 0, &policy, &second, 9_000)
            .unwrap()
    );
    assert!(
        !store
            .add_generation(&id, 0, &policy, &KeyBlob::new(vec![1]), 9_500)
            .unwrap()
    );
    let after_first = Rotation {
        interval_start_ms: 9_000,
        last_rotation_ms: Some(9_000),
        rotations: 1,
        ..policy
    };
    // A rotation policy other than the one the caller read fails the swap too.
    assert!(
        !store
            .add_generation(&id, 1, &policy, &KeyBlob::new(vec![5]), 9_700)
            .unwrap()
    );
    let third = KeyBlob::new(b"third".to_vec());
    assert!(
        store
            .add_generation(&id, 1, &after_first, &third, 10_000)
            .unwrap()
    );
    let rotated = store.get_key(&id).unwrap().unwrap();
    assert_eq!(rotated.generation, 2);
    assert_eq!(rotated.key_blob, Some(third));
    assert_eq!(
        rotated.retired_materials,
        [
            RetiredMaterial {
                generation: 0,
                key_blob: KeyBlob::new(vec![60; 36]),
                created_ms: record.created_ms,
            },
            RetiredMaterial {
                generation: 1,
                key_blob: second,
                created_ms: 9_000,
            },
        ]
    );
    assert_eq!(
        rotated.rotation,
        Rotation {
            interval_start_ms: 10_000,
            last_rotation_ms: Some(10_000),
            rotations: 2,
            ..policy
        }
    );
    assert_eq!(rotated.all_materials().count(), 3);
    assert_eq!(
        store.lease_encryptions(&id, 2, 10, 10).unwrap(),
        10,
        "a fresh count"
    );
    assert_eq!(
        store.lease_encryptions(&id, 0, 1, 1_000).unwrap(),
        0,
        "nothing more for a retired generation"
    );
    assert_eq!(changed_after(store, position), Some(vec![id]));
    // The policy swap compares the rotation count: a rotation in between fails it.
    assert!(
        !store
            .update_rotation(&id, &policy, &Rotation::default())
            .unwrap()
    );

    // Only an enabled key with material rotates.
    let disabled = enabled_key(store, 61);
    let change = StateChange {
        from: KeyState::Enabled,
        has_material: true,
        to: KeyState::Disabled,
        scheduled_deletion_ms: None,
    };
    assert!(store.change_state(&disabled.key_id, change).unwrap());
    assert!(
        !store
            .add_generation(
                &disabled.key_id,
                0,
                &Rotation::default(),
                &KeyBlob::new(vec![2]),
                1
            )
            .unwrap()
    );
    let pending = key(62, "pending");
    store.insert_key(&pending).unwrap();
    assert!(
        !store
            .add_generation(
                &pending.key_id,
                0,
                &Rotation::default(),
                &KeyBlob::new(vec![3]),
                1
            )
            .unwrap()
    );
    let unknown = KeyId::from_random([63; 16]);
    assert!(
        !store
            .add_generation(&unknown, 0, &Rotation::default(), &KeyBlob::new(vec![4]), 1)
            .unwrap()
    );
    assert!(
        !store
            .update_rotation(&unknown, &Rotation::default(), &policy)
            .unwrap()
    );
}

/// Tags: set and replaced by key, removed, limited per key, listed per key and per
/// project, refused on a key pending deletion, and gone with a deleted key.
pub fn tags_keep_the_contract(store: &dyn KeyStore) {
    use kms_core::{Tag, TagChange};
    let tag = |key: &str, value: &str| Tag {
        key: key.into(),
        value: value.into(),
    };
    let a = enabled_key(store, 70).key_id;
    let b = enabled_key(store, 71).key_id;
    let set = |tags: Vec<Tag>| TagChange::Set(tags);
    assert!(
        store
            .change_tags(&a, &set(vec![tag("env", "prod"), tag("环境", "")]), 3)
            .unwrap()
    );
    assert!(
        store
            .change_tags(&a, &set(vec![tag("env", "dev")]), 3)
            .unwrap()
    );
    assert!(
        store
            .change_tags(&b, &set(vec![tag("env", "prod")]), 3)
            .unwrap()
    );
    assert_eq!(
        store.key_tags(&a).unwrap(),
        [tag("env", "dev"), tag("环境", "")]
    );
    let over = set(vec![tag("x", ""), tag("y", "")]);
    assert_eq!(
        store.change_tags(&a, &over, 3).unwrap_err().code(),
        "KMS.0409"
    );
    assert_eq!(store.key_tags(&a).unwrap().len(), 2, "nothing changed");
    assert!(
        store
            .change_tags(&a, &TagChange::Remove(vec!["env".into(), "no".into()]), 3)
            .unwrap()
    );
    assert_eq!(store.key_tags(&a).unwrap(), [tag("环境", "")]);
    let mut project = store.project_tags(&ProjectId::default_project()).unwrap();
    project.sort();
    assert_eq!(project, [tag("env", "prod"), tag("环境", "")]);
    let other = ProjectId::parse("0123456789abcdef0123456789abcdef").unwrap();
    assert!(store.project_tags(&other).unwrap().is_empty());
    let unknown = KeyId::from_random([72; 16]);
    assert!(
        !store
            .change_tags(&unknown, &set(vec![tag("k", "")]), 3)
            .unwrap()
    );
    assert!(store.key_tags(&unknown).unwrap().is_empty());

    let to_deletion = StateChange {
        from: KeyState::Enabled,
        has_material: true,
        to: KeyState::PendingDeletion,
        scheduled_deletion_ms: Some(100),
    };
    assert!(store.change_state(&b, to_deletion).unwrap());
    assert!(!store.change_tags(&b, &set(vec![tag("k", "")]), 3).unwrap());
    assert_eq!(store.key_tags(&b).unwrap(), [tag("env", "prod")]);
    assert_eq!(store.take_due_deletions(100).unwrap().len(), 1);
    assert!(store.key_tags(&b).unwrap().is_empty());
    assert_eq!(
        store.project_tags(&ProjectId::default_project()).unwrap(),
        [tag("环境", "")]
    );
}

/// Two stores on one database adding the same generations of the same keys at once: each
/// generation goes to one, and every key ends at the last generation with every retired
/// material once.
pub fn each_generation_goes_to_one_of_two_stores(first: &dyn KeyStore, second: &dyn KeyStore) {
    let keys: Vec<KeyId> = (0..20u8)
        .map(|n| enabled_key(first, 100 + n).key_id)
        .collect();
    let expected: Vec<KeyId> = keys.iter().flat_map(|key_id| [*key_id; 5]).collect();
    each_taken_once(first, second, expected, |store| {
        let mut won = Vec::new();
        for from in 0..5u32 {
            for key_id in &keys {
                let blob = KeyBlob::new(format!("{key_id}.{}", from + 1).into_bytes());
                let rotation = store.get_key(key_id).unwrap().unwrap().rotation;
                if store
                    .add_generation(key_id, from, &rotation, &blob, 1_000)
                    .unwrap()
                {
                    won.push(*key_id);
                }
            }
        }
        won
    });
    for key_id in &keys {
        let record = first.get_key(key_id).unwrap().unwrap();
        assert_eq!((record.generation, record.rotation.rotations), (5, 5));
        let generations: Vec<u32> = record
            .retired_materials
            .iter()
            .map(|retired| retired.generation)
            .collect();
        assert_eq!(generations, [0, 1, 2, 3, 4]);
    }
}
