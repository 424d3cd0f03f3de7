//! Token-neutral (every test token): a rotation makes a new CMK object in the token with
//! the CMK policy, CKA_ID `<key ID>.<generation>.<random>` and CKA_LABEL the key ID; blobs
//! of every generation open; rotations racing on two threads leave one object per
//! generation (a loser's object is destroyed); deletion destroys every generation.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests report failure by panicking"
)]

use std::sync::Arc;

use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use kms_core::{ManualClock, Operation};
use serde_json::json;
use softhsm_tests::{Token, call, create_key, decrypt, encrypt, on_each_token};

on_each_token!(each_generation_is_a_token_object_of_its_own_and_deletion_destroys_them_all);

fn each_generation_is_a_token_object_of_its_own_and_deletion_destroys_them_all(token: Token) {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let kms = token.engine_on_clock(&clock);
    let key_id = create_key(&kms, "AES_256");
    let key = json!({"key_id": key_id});
    let first = encrypt(&kms, &key_id, &[1; 32], "");
    // Two threads rotating at once, three times each: every rotation is counted once.
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                for _ in 0..3 {
                    call(&kms, Operation::RotateOnDemand, &key).unwrap();
                }
            });
        }
    });
    let last = encrypt(&kms, &key_id, &[2; 32], "");
    assert_eq!(&last[76..84], "00000006");
    for (blob, dek) in [(&first, [1u8; 32]), (&last, [2u8; 32])] {
        let opened = decrypt(&kms, &key_id, blob, 32, "").unwrap();
        assert_eq!(opened["data_key"], kms_core::encode_hex(&dek));
    }

    let backend = token.backend();
    let session = backend.session_pool().get().unwrap();
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::Label(key_id.as_bytes().to_vec()),
    ];
    let objects = session.find_objects(&template).unwrap();
    assert_eq!(
        objects.len(),
        7,
        "one object per generation, none of a lost race"
    );
    let mut ids: Vec<String> = Vec::new();
    for object in objects {
        let attributes = session
            .get_attributes(
                object,
                &[
                    AttributeType::Id,
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::NeverExtractable,
                    AttributeType::Wrap,
                    AttributeType::Encrypt,
                    AttributeType::Decrypt,
                ],
            )
            .unwrap();
        let Attribute::Id(id) = &attributes[0] else {
            panic!("no CKA_ID");
        };
        ids.push(String::from_utf8(id.clone()).unwrap());
        assert_eq!(
            attributes[1..],
            [
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::NeverExtractable(true),
                Attribute::Wrap(false),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
            ]
        );
    }
    ids.sort();
    assert_eq!(ids[0], key_id);
    for (generation, id) in (1..=6).zip(&ids[1..]) {
        let prefix = format!("{key_id}.{generation}.");
        let suffix = id.strip_prefix(&prefix).unwrap_or_else(|| panic!("{id}"));
        assert_eq!(suffix.len(), 16, "{id}");
    }
    drop(session);

    call(
        &kms,
        Operation::ScheduleKeyDeletion,
        &json!({"key_id": key_id, "pending_days": "7"}),
    )
    .unwrap();
    clock.advance_ms(7 * 86_400_000);
    assert_eq!(kms.purge_due_deletions().unwrap().deleted.len(), 1);
    assert_eq!(token.cmk_objects_of(&key_id), 0);
    kms.destroy_all_keys().unwrap();
}
