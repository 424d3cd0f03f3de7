//! Imported material that expires, where it meets the rest of the lifecycle: deletion,
//! disable, re-import, list-keys filters, the periodic maintenance. Expiry is a transition
//! of its own: the material leaves the store and the backend once, an enabled key goes to
//! pending import, and no other state changes.

use std::sync::Arc;

use kms_core::{KeyId, KeyState, KeyStore, Kms, KmsConfig, ManualClock, MemoryStore, Operation};
use serde_json::{Value, json};

use crate::common::{InstrumentedBackend, call, error_code, import_material, key_state};

const NOW_MS: u64 = 1_900_000_000_000;
const MATERIAL: [u8; 32] = [0x3C; 32];

/// An engine on a manual clock, with the store and backend it uses at hand.
struct Fixture {
    kms: Kms,
    store: Arc<MemoryStore>,
    backend: Arc<InstrumentedBackend>,
    clock: Arc<ManualClock>,
}

fn fixture() -> Fixture {
    fixture_with(KmsConfig::default())
}

fn fixture_with(config: KmsConfig) -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let backend = InstrumentedBackend::new();
    let clock = Arc::new(ManualClock::new(NOW_MS));
    let kms = Kms::with_config(
        backend.clone(),
        store.clone(),
        KmsConfig {
            wrapping_key_pool_size: 0,
            clock: clock.clone(),
            ..config
        },
    );
    Fixture {
        kms,
        store,
        backend,
        clock,
    }
}

impl Fixture {
    fn external_key(&self) -> String {
        let created = call(
            &self.kms,
            Operation::CreateKey,
            &json!({"key_alias": format!("expiring-{}", self.store.list_keys().unwrap().len()), "origin": "external"}),
        )
        .unwrap();
        created["key_info"]["key_id"].as_str().unwrap().to_owned()
    }

    /// get-parameters-for-import for `key_id` with SM2 wrapping.
    fn parameters(&self, key_id: &str) -> Result<Value, String> {
        call(
            &self.kms,
            Operation::GetParametersForImport,
            &json!({"key_id": key_id, "wrapping_algorithm": "SM2_ENCRYPT"}),
        )
        .map_err(|error| error.code().to_owned())
    }

    /// Imports `material` into `key_id`, expiring `expires_in_s` seconds from now.
    fn import(
        &self,
        key_id: &str,
        material: &[u8],
        expires_in_s: Option<u64>,
    ) -> Result<(), String> {
        import_material(
            &self.kms,
            key_id,
            material,
            expires_in_s.map(|seconds| NOW_MS / 1000 + seconds),
        )
    }

    fn by_key(&self, operation: Operation, key_id: &str) -> Result<Value, String> {
        call(&self.kms, operation, &json!({"key_id": key_id})).map_err(|e| e.code().to_owned())
    }

    fn schedule_deletion(&self, key_id: &str) -> Result<Value, String> {
        call(
            &self.kms,
            Operation::ScheduleKeyDeletion,
            &json!({"key_id": key_id, "pending_days": "7"}),
        )
        .map_err(|e| e.code().to_owned())
    }

    fn stored(&self, key_id: &str) -> Option<kms_core::KeyRecord> {
        self.store.get_key(&KeyId::parse(key_id).unwrap()).unwrap()
    }
}

#[test]
fn expired_material_never_revives_a_key_pending_deletion_and_purge_deletes_it() {
    let f = fixture();
    let key_id = f.external_key();
    f.import(&key_id, &MATERIAL, Some(3)).unwrap();
    f.schedule_deletion(&key_id).unwrap();
    f.clock.advance_ms(3_000);

    // Re-importing the same material is refused: the key is pending deletion, not import.
    assert_eq!(f.import(&key_id, &MATERIAL, None).unwrap_err(), "KMS.0310");
    assert_eq!(key_state(&f.kms, &key_id), "4");
    assert_eq!(f.schedule_deletion(&key_id).unwrap_err(), "KMS.1402");
    let stored = f.stored(&key_id).unwrap();
    assert_eq!(stored.state, KeyState::PendingDeletion);
    assert_eq!((stored.key_blob, stored.material_expiry_ms), (None, None));

    // Cancel works (the key has no material, so it waits for import), and so does purge.
    let cancelled = f.by_key(Operation::CancelKeyDeletion, &key_id).unwrap();
    assert_eq!(cancelled["key_state"], "5");
    f.schedule_deletion(&key_id).unwrap();
    f.clock.advance_ms(7 * 86_400_000);
    let done = f.kms.maintain().unwrap();
    assert_eq!(done.deleted, vec![KeyId::parse(&key_id).unwrap()]);
    assert_eq!(f.stored(&key_id), None);
    assert_eq!(
        f.by_key(Operation::DescribeKey, &key_id).unwrap_err(),
        "KMS.0207"
    );
}

#[test]
fn expired_material_leaves_a_disabled_key_disabled_and_enabling_it_waits_for_material() {
    let f = fixture();
    let key_id = f.external_key();
    f.import(&key_id, &MATERIAL, Some(2)).unwrap();
    f.by_key(Operation::DisableKey, &key_id).unwrap();
    f.clock.advance_ms(2_000);

    assert_eq!(f.import(&key_id, &MATERIAL, None).unwrap_err(), "KMS.0310");
    assert_eq!(key_state(&f.kms, &key_id), "3");
    assert_eq!(f.stored(&key_id).unwrap().key_blob, None);
    let enabled = f.by_key(Operation::EnableKey, &key_id).unwrap();
    assert_eq!(enabled["key_info"]["key_state"], "5");
    f.import(&key_id, &MATERIAL, None).unwrap();
    assert_eq!(key_state(&f.kms, &key_id), "2");
}

#[test]
fn expired_material_is_destroyed_once_by_the_maintenance_and_kept_only_as_a_fingerprint() {
    let f = fixture();
    let key_id = f.external_key();
    f.import(&key_id, &MATERIAL, Some(1)).unwrap();
    let before = f.stored(&key_id).unwrap();
    let blob = before.key_blob.clone().unwrap();
    f.clock.advance_ms(1_000);

    // Nobody touches the key: the maintenance finds the expiry.
    let done = f.kms.maintain().unwrap();
    assert_eq!(done.expired_material, vec![KeyId::parse(&key_id).unwrap()]);
    assert!(done.material_left.is_empty());
    let after = f.stored(&key_id).unwrap();
    assert_eq!(
        (after.state, after.key_blob, after.material_expiry_ms),
        (KeyState::PendingImport, None, None)
    );
    assert_eq!(after.material_fingerprint, before.material_fingerprint);
    assert_eq!(f.backend.times_destroyed(&blob), 1);

    // Found again by use or by the maintenance, it is not expired a second time.
    assert!(f.kms.maintain().unwrap().expired_material.is_empty());
    assert_eq!(key_state(&f.kms, &key_id), "5");
    assert_eq!(f.backend.times_destroyed(&blob), 1);
    assert_eq!(
        f.by_key(Operation::DeleteImportedKeyMaterial, &key_id)
            .unwrap_err(),
        "KMS.2701"
    );
    assert_eq!(
        f.import(&key_id, &[0x3D; 32], None).unwrap_err(),
        "KMS.2606"
    );
    f.import(&key_id, &MATERIAL, None).unwrap();
    assert_eq!(key_state(&f.kms, &key_id), "2");
}

#[test]
fn expired_material_found_on_use_is_destroyed_once_and_the_call_refused() {
    let f = fixture();
    let key_id = f.external_key();
    f.import(&key_id, &MATERIAL, Some(1)).unwrap();
    let blob = f.stored(&key_id).unwrap().key_blob.unwrap();
    let create = json!({"key_id": key_id, "datakey_length": "256"});
    call(&f.kms, Operation::CreateDatakey, &create).unwrap();
    f.clock.advance_ms(1_000);

    // The key is cached from the first call; the expiry is found there all the same.
    assert_eq!(
        error_code(&f.kms, Operation::CreateDatakey, &create),
        "KMS.1301"
    );
    assert_eq!(f.stored(&key_id).unwrap().key_blob, None);
    assert_eq!(
        error_code(&f.kms, Operation::CreateDatakey, &create),
        "KMS.1301"
    );
    assert_eq!(f.backend.times_destroyed(&blob), 1);
    assert!(f.kms.maintain().unwrap().expired_material.is_empty());
}

#[test]
fn list_keys_state_filters_see_the_state_expiry_leaves() {
    let f = fixture();
    let disabled = f.external_key();
    let enabled = f.external_key();
    for key_id in [&disabled, &enabled] {
        f.import(key_id, &MATERIAL, Some(1)).unwrap();
    }
    f.by_key(Operation::DisableKey, &disabled).unwrap();
    f.clock.advance_ms(1_000);
    let listed = |state: &str| {
        call(&f.kms, Operation::ListKeys, &json!({"key_state": state})).unwrap()["keys"].clone()
    };
    assert_eq!(listed("3"), json!([disabled]));
    assert_eq!(listed("5"), json!([enabled]));
    assert_eq!(listed("2"), json!([]));
    assert_eq!(f.stored(&disabled).unwrap().key_blob, None);
}

#[test]
fn the_maintenance_destroys_the_wrapping_keys_of_tokens_that_expired_unused() {
    let f = fixture_with(KmsConfig {
        import_token_validity_ms: 60_000,
        ..KmsConfig::default()
    });
    let key_id = f.external_key();
    for _ in 0..3 {
        f.parameters(&key_id).unwrap();
    }
    assert_eq!(f.kms.maintain().unwrap().wrapping_keys_destroyed, 0);
    assert_eq!(f.backend.keys_destroyed(), 0);
    f.clock.advance_ms(60_000);
    let done = f.kms.maintain().unwrap();
    assert_eq!(done.wrapping_keys_destroyed, 3);
    assert_eq!(f.backend.keys_destroyed(), 3);
    assert_eq!(f.kms.maintain().unwrap().wrapping_keys_destroyed, 0);
}

#[test]
fn a_forged_token_is_kms_2605_before_the_material_or_its_expiry_is_looked_at() {
    let f = fixture();
    let key_id = f.external_key();
    let forged = "A".repeat(208);
    for (material, expiration_time) in [
        ("not base64!", json!(NOW_MS / 1000 + 60)),
        ("AAAA", json!(NOW_MS / 1000 - 60)),
        ("AAAA", json!("soon")),
        ("not base64!", json!(1)),
    ] {
        let body = json!({
            "key_id": key_id,
            "import_token": forged,
            "encrypted_key_material": material,
            "expiration_time": expiration_time,
        });
        assert_eq!(
            error_code(&f.kms, Operation::ImportKeyMaterial, &body),
            "KMS.2605",
            "{body}"
        );
    }
    let without_material = json!({"key_id": key_id, "import_token": forged});
    assert_eq!(
        error_code(&f.kms, Operation::ImportKeyMaterial, &without_material),
        "KMS.2605"
    );
    assert_eq!(key_state(&f.kms, &key_id), "5");
}
