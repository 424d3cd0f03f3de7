//! Token-neutral (every test token).
//!
//! Imported material that expires on the PKCS#11 backend: the CMK object leaves the token,
//! a key pending deletion or disabled keeps its state, and the lifecycle model holds with
//! the token as the backend. In a process of its own: it counts token objects.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests report failure by panicking"
)]

use std::sync::Arc;

use kms_core::lifecycle_model::LifecycleModel;
use kms_core::{KeyId, KeyState, KeyStore, Kms, KmsConfig, ManualClock, MemoryStore, Operation};
use pkcs8::DecodePublicKey;
use rsa::Oaep;
use serde_json::json;
use softhsm_tests::{Token, call, external_key, import, import_parameters, on_each_token};

on_each_token!(
    expiry_destroys_the_cmk_object_and_never_revives_a_key_pending_deletion_or_disabled,
    the_engine_follows_the_lifecycle_model_on_the_token,
);

const NOW_MS: u64 = 1_900_000_000_000;

fn engine_on(token: Token, clock: Arc<ManualClock>, store: Arc<dyn KeyStore>) -> Kms {
    Kms::with_config(
        token.backend(),
        store,
        KmsConfig {
            wrapping_key_pool_size: 0,
            clock,
            ..KmsConfig::default()
        },
    )
}

/// RSAES_OAEP_SHA_1: what SoftHSM2 2.6.1 unwraps inside the token (and Kryoptic too).
fn wrap_oaep_sha1(public_key: &rsa::PublicKey, material: &[u8]) -> Vec<u8> {
    public_key
        .encrypt(&mut getrandom::SysRng, Oaep::<sha1::Sha1>::new(), material)
        .unwrap()
}

/// Imports `material` into `key_id`, expiring `expires_in_s` seconds after `NOW_MS`.
fn import_expiring(kms: &Kms, key_id: &str, material: &[u8], expires_in_s: u64) {
    let (token, public_key) = import_parameters(kms, key_id, "RSAES_OAEP_SHA_1").unwrap();
    call(
        kms,
        Operation::ImportKeyMaterial,
        &json!({
            "key_id": key_id,
            "import_token": token,
            "encrypted_key_material": kms_core::encode_base64(&wrap_oaep_sha1(&public_key, material)),
            "expiration_time": NOW_MS / 1000 + expires_in_s,
        }),
    )
    .unwrap();
}

fn state_of(kms: &Kms, key_id: &str) -> String {
    let described = call(kms, Operation::DescribeKey, &json!({"key_id": key_id})).unwrap();
    described["key_info"]["key_state"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn expiry_destroys_the_cmk_object_and_never_revives_a_key_pending_deletion_or_disabled(
    token: Token,
) {
    let clock = Arc::new(ManualClock::new(NOW_MS));
    let store = Arc::new(MemoryStore::new());
    let kms = engine_on(token, clock.clone(), store.clone());
    let material = [0x42; 32];
    let pending_deletion = external_key(&kms);
    let disabled = external_key(&kms);
    for key_id in [&pending_deletion, &disabled] {
        import_expiring(&kms, key_id, &material, 3);
        assert_eq!(token.cmk_objects_of(key_id), 1);
    }
    call(
        &kms,
        Operation::ScheduleKeyDeletion,
        &json!({"key_id": pending_deletion, "pending_days": "7"}),
    )
    .unwrap();
    call(&kms, Operation::DisableKey, &json!({"key_id": disabled})).unwrap();
    clock.advance_ms(3_000);

    let done = kms.maintain().unwrap();
    assert_eq!(done.expired_material.len(), 2);
    assert!(done.material_left.is_empty());
    for (key_id, state) in [
        (&pending_deletion, KeyState::PendingDeletion),
        (&disabled, KeyState::Disabled),
    ] {
        assert_eq!(
            token.cmk_objects_of(key_id),
            0,
            "the CMK object of {key_id} is left"
        );
        let stored = store
            .get_key(&KeyId::parse(key_id).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!((stored.state, stored.key_blob), (state, None));
        let refused = import_parameters(&kms, key_id, "RSAES_OAEP_SHA_1").unwrap_err();
        assert_eq!(refused.code(), "KMS.0310");
    }
    let again = call(
        &kms,
        Operation::ScheduleKeyDeletion,
        &json!({"key_id": pending_deletion, "pending_days": "7"}),
    )
    .unwrap_err();
    assert_eq!(again.code(), "KMS.1402");

    // Cancelled, the key waits for the same material, which comes back as one object.
    let cancelled = call(
        &kms,
        Operation::CancelKeyDeletion,
        &json!({"key_id": pending_deletion}),
    )
    .unwrap();
    assert_eq!(cancelled["key_state"], "5");
    let (import_token, public_key) =
        import_parameters(&kms, &pending_deletion, "RSAES_OAEP_SHA_1").unwrap();
    import(
        &kms,
        &pending_deletion,
        &import_token,
        &wrap_oaep_sha1(&public_key, &material),
    )
    .unwrap();
    assert_eq!(state_of(&kms, &pending_deletion), "2");
    assert_eq!(token.cmk_objects_of(&pending_deletion), 1);

    // Scheduled again, it is purged when its days have passed.
    call(
        &kms,
        Operation::ScheduleKeyDeletion,
        &json!({"key_id": pending_deletion, "pending_days": "7"}),
    )
    .unwrap();
    clock.advance_ms(7 * 86_400_000);
    let purged = kms.maintain().unwrap();
    assert_eq!(purged.deleted.len(), 1);
    assert_eq!(token.cmk_objects_of(&pending_deletion), 0);
    assert_eq!(state_of(&kms, &disabled), "3");
    kms.destroy_all_keys().unwrap();
}

fn the_engine_follows_the_lifecycle_model_on_the_token(token: Token) {
    let wrap = |spki: &[u8], material: &[u8]| {
        wrap_oaep_sha1(
            &rsa::PublicKey::from_public_key_der(spki).unwrap(),
            material,
        )
    };
    LifecycleModel {
        cases: 24,
        max_steps: 24,
        wrapping_algorithm: "RSAES_OAEP_SHA_1",
        wrap: &wrap,
        engine: &|clock| {
            let store: Arc<dyn KeyStore> = Arc::new(MemoryStore::new());
            (engine_on(token, clock, Arc::clone(&store)), store)
        },
    }
    .check();
}
