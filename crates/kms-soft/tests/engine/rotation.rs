//! Key rotation on the soft backend beyond the conformance check: the policy operations
//! and their refusals, scheduled rotation with an injected clock (once per interval, once
//! across engines sharing a store), and rotation combined with the key's lifecycle.

use std::sync::Arc;

use kms_core::{CmkSpec, Kms, KmsConfig, ManualClock, MemoryStore, Operation, SecretBytes};
use kms_soft::{RootKey, SoftBackend};
use serde_json::{Value, json};

use crate::common::{
    call, create_key, decrypt, encrypt, engine_on_clock, error_code, import_material, random_bytes,
};

const DAY_MS: u64 = 86_400_000;
const START_MS: u64 = 1_800_000_000_000;

/// An engine on `store` and `root` whose clock is `clock`.
fn engine_on(store: &Arc<MemoryStore>, root: &SecretBytes, clock: &Arc<ManualClock>) -> Kms {
    node(
        store,
        root,
        KmsConfig {
            clock: Arc::clone(clock) as _,
            ..KmsConfig::default()
        },
    )
}

/// An engine on `store` and `root` with `config`, without a wrapping key pool.
fn node(store: &Arc<MemoryStore>, root: &SecretBytes, config: KmsConfig) -> Kms {
    Kms::with_config(
        Arc::new(SoftBackend::new(RootKey::from_bytes(root).unwrap())),
        Arc::clone(store) as _,
        KmsConfig {
            wrapping_key_pool_size: 0,
            ..config
        },
    )
}

/// Two engines on one store that trust their caches for an hour, each key bounded to 40
/// encryptions leased 10 at a time, and a key of `spec` made through the first.
fn bounded_pair(spec: &str) -> (Kms, Kms, String) {
    let store = Arc::new(MemoryStore::new());
    let root = root_key();
    let bounded = || KmsConfig {
        max_encryptions_per_key: 40,
        encryption_lease: 10,
        coherence_bound: std::time::Duration::from_secs(3600),
        ..KmsConfig::default()
    };
    let (a, b) = (
        node(&store, &root, bounded()),
        node(&store, &root, bounded()),
    );
    let key_id = create_key(&a, spec);
    (a, b, key_id)
}

fn root_key() -> SecretBytes {
    SecretBytes::new(random_bytes(32))
}

fn status(kms: &Kms, key_id: &str) -> Value {
    call(
        kms,
        Operation::GetKeyRotationStatus,
        &json!({"key_id": key_id}),
    )
    .unwrap()
}

fn rotations(kms: &Kms, key_id: &str) -> u64 {
    status(kms, key_id)["number_of_rotations"].as_u64().unwrap()
}

fn describe(kms: &Kms, key_id: &str) -> Value {
    call(kms, Operation::DescribeKey, &json!({"key_id": key_id})).unwrap()["key_info"].clone()
}

#[test]
fn scheduled_rotation_with_an_injected_clock_rotates_once_per_interval() {
    let clock = Arc::new(ManualClock::new(START_MS));
    let kms = engine_on(&Arc::new(MemoryStore::new()), &root_key(), &clock);
    let key_id = create_key(&kms, "AES_256");
    let key = json!({"key_id": key_id});
    assert_eq!(describe(&kms, &key_id)["key_rotation_enabled"], "false");
    call(&kms, Operation::EnableKeyRotation, &key).unwrap();
    call(
        &kms,
        Operation::UpdateKeyRotationInterval,
        &json!({"key_id": key_id, "rotation_interval": 30}),
    )
    .unwrap();
    assert_eq!(describe(&kms, &key_id)["key_rotation_enabled"], "true");
    let first = encrypt(&kms, &key_id, CmkSpec::Aes256, &[1; 32], "");

    clock.advance_ms(30 * DAY_MS - 1);
    assert!(kms.maintain().unwrap().rotated.is_empty(), "one ms early");
    clock.advance_ms(1);
    assert_eq!(kms.maintain().unwrap().rotated.len(), 1);
    assert!(
        kms.maintain().unwrap().rotated.is_empty(),
        "twice in one interval"
    );
    assert_eq!(rotations(&kms, &key_id), 1);
    let second = encrypt(&kms, &key_id, CmkSpec::Aes256, &[2; 32], "");

    // Three intervals late: one rotation, and the next interval starts from it.
    clock.advance_ms(90 * DAY_MS);
    assert_eq!(kms.maintain().unwrap().rotated.len(), 1);
    assert!(kms.maintain().unwrap().rotated.is_empty());
    clock.advance_ms(30 * DAY_MS);
    assert_eq!(kms.maintain().unwrap().rotated.len(), 1);
    let status = status(&kms, &key_id);
    assert_eq!(status["number_of_rotations"], 3);
    assert_eq!(status["rotation_interval"], 30);
    assert_eq!(status["key_rotation_enabled"], true);
    assert_eq!(
        status["last_rotation_time"],
        ((START_MS + 150 * DAY_MS) / 1000).to_string()
    );
    assert_eq!(status["key_materials"].as_array().unwrap().len(), 4);
    for (blob, dek) in [(&first, [1u8; 32]), (&second, [2u8; 32])] {
        let opened = decrypt(&kms, &key_id, blob, 32, "").unwrap();
        assert_eq!(opened["data_key"], crate::common::hex(&dek));
    }

    // Disabled: no more scheduled rotations.
    call(&kms, Operation::DisableKeyRotation, &key).unwrap();
    clock.advance_ms(400 * DAY_MS);
    assert!(kms.maintain().unwrap().rotated.is_empty());
    assert_eq!(rotations(&kms, &key_id), 3);
}

#[test]
fn engines_sharing_a_store_rotate_a_due_key_once() {
    let clock = Arc::new(ManualClock::new(START_MS));
    let store = Arc::new(MemoryStore::new());
    let root = root_key();
    let nodes: Vec<Kms> = (0..3).map(|_| engine_on(&store, &root, &clock)).collect();
    let key_id = create_key(&nodes[0], "SM4");
    call(
        &nodes[1],
        Operation::EnableKeyRotation,
        &json!({"key_id": key_id}),
    )
    .unwrap();
    clock.advance_ms(365 * DAY_MS);
    let rotated: usize = std::thread::scope(|scope| {
        let runs: Vec<_> = nodes
            .iter()
            .map(|node| scope.spawn(|| node.maintain().unwrap().rotated.len()))
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).sum()
    });
    assert_eq!(rotated, 1);
    assert_eq!(rotations(&nodes[2], &key_id), 1);
    // Every node seals under the new generation and opens the others' blobs.
    for sealer in &nodes {
        let blob = encrypt(sealer, &key_id, CmkSpec::Sm4, &[7; 16], "x");
        assert_eq!(&blob[76..84], "00000001");
        for opener in &nodes {
            assert!(decrypt(opener, &key_id, &blob, 16, "x").is_ok());
        }
    }
}

#[test]
fn an_external_key_refuses_rotation_and_nothing_changes() {
    let kms = crate::common::engine();
    let external = call(
        &kms,
        Operation::CreateKey,
        &json!({"key_alias": "ext", "origin": "external"}),
    )
    .unwrap()["key_info"]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = json!({"key_id": external});
    // Pending import, then enabled with material: refused alike.
    for imported in [false, true] {
        if imported {
            import_material(&kms, &external, &[9; 32], None).unwrap();
        }
        let before = status(&kms, &external);
        for operation in [
            Operation::RotateOnDemand,
            Operation::EnableKeyRotation,
            Operation::DisableKeyRotation,
        ] {
            assert_eq!(
                error_code(&kms, operation, &key),
                "KMS.0312",
                "{operation:?}"
            );
        }
        let interval = json!({"key_id": external, "rotation_interval": 90});
        assert_eq!(
            error_code(&kms, Operation::UpdateKeyRotationInterval, &interval),
            "KMS.0312"
        );
        assert_eq!(status(&kms, &external), before);
        assert_eq!(before["number_of_rotations"], 0);
    }
    let materials = status(&kms, &external)["key_materials"].clone();
    assert_eq!(materials.as_array().unwrap().len(), 1);
}

#[test]
fn rotation_follows_the_key_state_and_its_own_policy() {
    let kms = crate::common::engine();
    let key_id = create_key(&kms, "AES_256");
    let key = json!({"key_id": key_id});
    let interval = |days: Value| json!({"key_id": key_id, "rotation_interval": days});
    // The interval means something only once rotation is on.
    assert_eq!(
        error_code(
            &kms,
            Operation::UpdateKeyRotationInterval,
            &interval(json!(90))
        ),
        "KMS.0313"
    );
    call(&kms, Operation::EnableKeyRotation, &key).unwrap();
    call(&kms, Operation::EnableKeyRotation, &key).unwrap();
    for days in [json!(29), json!(366), json!("abc"), json!(-1)] {
        let body = interval(days.clone());
        assert_eq!(
            error_code(&kms, Operation::UpdateKeyRotationInterval, &body),
            "KMS.3001",
            "{days}"
        );
    }
    assert_eq!(status(&kms, &key_id)["rotation_interval"], 365);
    call(
        &kms,
        Operation::UpdateKeyRotationInterval,
        &interval(json!("45")),
    )
    .unwrap();
    assert_eq!(status(&kms, &key_id)["rotation_interval"], 45);

    let blob = encrypt(&kms, &key_id, CmkSpec::Aes256, &[3; 32], "");
    call(&kms, Operation::DisableKey, &key).unwrap();
    assert_eq!(
        error_code(&kms, Operation::RotateOnDemand, &key),
        "KMS.0209"
    );
    call(&kms, Operation::EnableKey, &key).unwrap();
    call(&kms, Operation::RotateOnDemand, &key).unwrap();
    call(
        &kms,
        Operation::ScheduleKeyDeletion,
        &json!({"key_id": key_id, "pending_days": "7"}),
    )
    .unwrap();
    assert_eq!(
        error_code(&kms, Operation::RotateOnDemand, &key),
        "KMS.0210"
    );
    assert_eq!(
        error_code(&kms, Operation::EnableKeyRotation, &key),
        "KMS.0210"
    );
    call(&kms, Operation::CancelKeyDeletion, &key).unwrap();
    call(&kms, Operation::EnableKey, &key).unwrap();
    // The generation-0 blob still opens after the round trip through deletion.
    assert!(decrypt(&kms, &key_id, &blob, 32, "").is_ok());
    assert_eq!(rotations(&kms, &key_id), 1);
    let unknown = json!({"key_id": "0d0466b0-e727-4d9c-b35d-f84bb474a37f"});
    assert_eq!(
        error_code(&kms, Operation::RotateOnDemand, &unknown),
        "KMS.0207"
    );
    assert_eq!(
        error_code(&kms, Operation::GetKeyRotationStatus, &unknown),
        "KMS.0207"
    );
}

#[test]
fn deleting_a_rotated_key_destroys_every_generation() {
    let backend = crate::common::InstrumentedBackend::new();
    let clock = Arc::new(ManualClock::new(START_MS));
    let kms = engine_on_clock(Arc::clone(&backend) as _, &clock);
    let key_id = create_key(&kms, "AES_256");
    let key = json!({"key_id": key_id});
    call(&kms, Operation::RotateOnDemand, &key).unwrap();
    call(&kms, Operation::RotateOnDemand, &key).unwrap();
    call(
        &kms,
        Operation::ScheduleKeyDeletion,
        &json!({"key_id": key_id, "pending_days": "7"}),
    )
    .unwrap();
    clock.advance_ms(7 * DAY_MS);
    let purge = kms.purge_due_deletions().unwrap();
    assert_eq!(purge.deleted.len(), 1);
    assert_eq!(backend.keys_destroyed(), 3);
    assert_eq!(
        error_code(&kms, Operation::GetKeyRotationStatus, &key),
        "KMS.0207"
    );
}

#[test]
fn a_generation_made_through_another_engine_opens_at_once_in_one_with_the_key_cached() {
    let clock = Arc::new(ManualClock::new(START_MS));
    let store = Arc::new(MemoryStore::new());
    let root = root_key();
    let a = engine_on(&store, &root, &clock);
    // B trusts its cache for an hour: it cannot have heard of the rotation below.
    let b = node(
        &store,
        &root,
        KmsConfig {
            coherence_bound: std::time::Duration::from_secs(3600),
            ..KmsConfig::default()
        },
    );
    let key_id = create_key(&a, "AES_256");
    // B caches generation 0.
    let old = encrypt(&b, &key_id, CmkSpec::Aes256, &[4; 32], "");
    call(&a, Operation::RotateOnDemand, &json!({"key_id": key_id})).unwrap();
    let new = encrypt(&a, &key_id, CmkSpec::Aes256, &[5; 32], "");
    assert_eq!(&new[76..84], "00000001");
    // B has not heard of the rotation yet, and opens the new blob all the same.
    let opened = decrypt(&b, &key_id, &new, 32, "").unwrap();
    assert_eq!(opened["data_key"], crate::common::hex(&[5; 32]));
    assert!(decrypt(&a, &key_id, &old, 32, "").is_ok());
    // A generation no engine made is the one opaque error.
    let mut forged = kms_core::decode_hex(&new).unwrap();
    forged[38..42].copy_from_slice(&7u32.to_be_bytes());
    let forged = crate::common::hex(&forged);
    assert_eq!(
        decrypt(&b, &key_id, &forged, 32, "").unwrap_err().code(),
        "KMS.2201"
    );
}

#[test]
fn a_rotation_starts_a_new_encryption_count_that_an_engine_with_the_old_generation_cached_cannot_spend_on_it()
 {
    let (a, b, key_id) = bounded_pair("AES_256");
    let generation = |blob: &str| blob[76..84].to_owned();
    for _ in 0..40 {
        let blob = encrypt(&b, &key_id, CmkSpec::Aes256, &[6; 32], "");
        assert_eq!(generation(&blob), "00000000");
    }
    let body = json!({"key_id": key_id, "datakey_length": "256"});
    assert_eq!(error_code(&b, Operation::CreateDatakey, &body), "KMS.9003");
    call(&a, Operation::RotateOnDemand, &json!({"key_id": key_id})).unwrap();
    // B has not heard of the rotation: its next seal finds generation 0 spent, learns of
    // generation 1 from the store, and seals under it. Generation 0 sealed exactly 40.
    // (A cached key dropped when the change feed reports the rotation forfeits what is
    // left of its lease, so fewer than 40 may remain for generation 1.)
    for _ in 0..20 {
        let blob = encrypt(&b, &key_id, CmkSpec::Aes256, &[7; 32], "");
        assert_eq!(generation(&blob), "00000001");
        assert!(decrypt(&a, &key_id, &blob, 32, "").is_ok());
    }
}

#[test]
fn a_retired_generation_never_seals_past_its_bound_in_an_engine_that_has_not_heard_of_the_rotation()
{
    let (a, b, key_id) = bounded_pair("SM4");
    let seal = || encrypt(&b, &key_id, CmkSpec::Sm4, &[8; 16], "");
    // 35 sealed: B has leased all 40 of generation 0 and holds 5.
    let mut under_first = (0..35).filter(|_| seal()[76..84] == *"00000000").count();
    call(&a, Operation::RotateOnDemand, &json!({"key_id": key_id})).unwrap();
    under_first += (0..30).filter(|_| seal()[76..84] == *"00000000").count();
    assert!(
        (35..=40).contains(&under_first),
        "generation 0 sealed {under_first} times, its bound is 40"
    );
}

#[test]
fn an_engine_that_loaded_a_key_before_a_rotation_and_seals_after_it_seals_under_the_new_generation()
{
    let store = Arc::new(MemoryStore::new());
    let root = root_key();
    let stale = || KmsConfig {
        coherence_bound: std::time::Duration::from_secs(3600),
        ..KmsConfig::default()
    };
    let (a, b) = (node(&store, &root, stale()), node(&store, &root, stale()));
    let key_id = create_key(&a, "AES_256");
    let old = encrypt(&a, &key_id, CmkSpec::Aes256, &[1; 32], "");
    // B loads generation 0 by opening, which leases nothing; then A rotates.
    assert!(decrypt(&b, &key_id, &old, 32, "").is_ok());
    call(&a, Operation::RotateOnDemand, &json!({"key_id": key_id})).unwrap();
    let sealed = encrypt(&b, &key_id, CmkSpec::Aes256, &[2; 32], "");
    assert_eq!(&sealed[76..84], "00000001");
    assert!(decrypt(&a, &key_id, &sealed, 32, "").is_ok());
}
