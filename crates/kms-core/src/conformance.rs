//! The backend conformance suite (feature `conformance`): the same checks for every
//! backend, each driven through an engine over it and a [`MemoryStore`].
//!
//! A backend crate runs the suite with [`conformance_tests!`](crate::conformance_tests),
//! which makes one `#[test]` per check. A spec the backend's capabilities leave out must be
//! refused with KMS.9002 before the backend is called; every other spec must work.
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a conformance check reports failure by panicking, like a test"
)]

use serde_json::{Value, json};

use crate::dek_digest::dek_digest;
use crate::engine::Kms;
use crate::error::Result;
use crate::operation::Operation;
use crate::spec::{CmkSpec, KeyPairSpec};

/// Generates one `#[test]` per conformance check, each on a fresh engine from `$engine`
/// (an expression of type [`Kms`]).
#[macro_export]
macro_rules! conformance_tests {
    ($engine:expr) => {
        #[test]
        fn conformance_dek_round_trip_for_every_cmk_spec() {
            $crate::conformance::dek_round_trip_for_every_cmk_spec(&$engine);
        }
        #[test]
        fn conformance_tampering_fails_with_the_one_opaque_error() {
            $crate::conformance::tampering_fails_with_the_one_opaque_error(&$engine);
        }
        #[test]
        fn conformance_data_key_pairs_for_every_spec() {
            $crate::conformance::data_key_pairs_for_every_spec(&$engine);
        }
        #[test]
        fn conformance_key_states_gate_crypto() {
            $crate::conformance::key_states_gate_crypto(&$engine);
        }
        #[test]
        fn conformance_encrypt_data_and_re_encrypt_for_every_cmk_spec() {
            $crate::conformance::encrypt_data_and_re_encrypt_for_every_cmk_spec(&$engine);
        }
        #[test]
        fn conformance_every_generation_opens_its_blobs_after_two_rotations() {
            $crate::conformance::every_generation_opens_its_blobs_after_two_rotations(&$engine);
        }
        #[test]
        fn conformance_random_bytes_differ() {
            $crate::conformance::random_bytes_differ(&$engine);
        }
    };
}

fn call(kms: &Kms, operation: Operation, body: &Value) -> Result<Value> {
    kms.call_json(operation, &body.to_string()).map(|response| {
        serde_json::from_str(response.expose_secret())
            .unwrap_or_else(|error| panic!("{} answered invalid JSON: {error}", operation.as_str()))
    })
}

fn ok(kms: &Kms, operation: Operation, body: &Value) -> Value {
    call(kms, operation, body)
        .unwrap_or_else(|error| panic!("{} {body}: {error}", operation.as_str()))
}

fn code(kms: &Kms, operation: Operation, body: &Value) -> String {
    match call(kms, operation, body) {
        Ok(response) => panic!("{} {body} succeeded: {response}", operation.as_str()),
        Err(error) => error.code().to_owned(),
    }
}

fn text(value: &Value, field: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {value}"))
        .to_owned()
}

/// A new CMK of `spec`, or `None` after checking the refusal if the backend lacks it.
fn cmk(kms: &Kms, spec: CmkSpec) -> Option<String> {
    let mut alias_bytes = [0u8; 8];
    kms.backend()
        .random(&mut alias_bytes)
        .unwrap_or_else(|error| panic!("random: {error}"));
    let alias = format!("conformance-{}", crate::codec::encode_hex(&alias_bytes));
    let body = json!({"key_alias": alias, "key_spec": spec.as_str()});
    if kms.backend().capabilities().cmk_specs.contains(&spec) {
        let created = ok(kms, Operation::CreateKey, &body);
        Some(text(&created["key_info"], "key_id"))
    } else {
        assert_eq!(
            code(kms, Operation::CreateKey, &body),
            "KMS.9002",
            "{}",
            spec.as_str()
        );
        None
    }
}

fn encrypt(kms: &Kms, key_id: &str, spec: CmkSpec, dek: &[u8], aad: &str) -> String {
    let plain_text = crate::codec::encode_hex(&[dek, &dek_digest(spec, dek)].concat());
    let body = json!({"key_id": key_id, "plain_text": plain_text,
                      "datakey_plain_length": dek.len().to_string(), "additional_authenticated_data": aad});
    text(&ok(kms, Operation::EncryptDatakey, &body), "cipher_text")
}

fn decrypt_body(key_id: &str, cipher_text: &str, len: usize, aad: &str) -> Value {
    json!({"key_id": key_id, "cipher_text": cipher_text,
           "datakey_cipher_length": len.to_string(), "additional_authenticated_data": aad})
}

/// Every CMK spec: DEKs of 1, 32 and 1024 bytes encrypt and decrypt to the same bytes with
/// the right digest; an unsupported spec is refused with KMS.9002.
pub fn dek_round_trip_for_every_cmk_spec(kms: &Kms) {
    for spec in CmkSpec::ALL {
        let Some(key_id) = cmk(kms, *spec) else {
            continue;
        };
        for len in [1usize, 32, 1024] {
            let dek: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
            let cipher_text = encrypt(kms, &key_id, *spec, &dek, "conformance");
            let opened = ok(
                kms,
                Operation::DecryptDatakey,
                &decrypt_body(&key_id, &cipher_text, len, "conformance"),
            );
            assert_eq!(text(&opened, "data_key"), crate::codec::encode_hex(&dek));
            assert_eq!(
                text(&opened, "datakey_dgst"),
                crate::codec::encode_hex(&dek_digest(*spec, &dek))
            );
        }
    }
}

/// A flipped bit anywhere, another AAD, another key, a truncated blob: one opaque error.
pub fn tampering_fails_with_the_one_opaque_error(kms: &Kms) {
    let spec = kms.backend().capabilities().cmk_specs.first().copied();
    let Some(spec) = spec else {
        panic!("the backend offers no CMK spec")
    };
    let (Some(key_id), Some(other)) = (cmk(kms, spec), cmk(kms, spec)) else {
        unreachable!()
    };
    let cipher_text = encrypt(kms, &key_id, spec, &[5; 32], "aad");
    let blob =
        crate::codec::decode_hex(&cipher_text).unwrap_or_else(|_| panic!("cipher_text is not hex"));
    let mut cases = Vec::new();
    for at in [0, 1, 2, 37, 38, 41, 42, 53, 54, 70, blob.len() - 1] {
        let mut flipped = blob.clone();
        flipped[at] ^= 0x10;
        cases.push((key_id.clone(), crate::codec::encode_hex(&flipped), "aad"));
    }
    cases.push((key_id.clone(), cipher_text.clone(), "other"));
    cases.push((other, cipher_text.clone(), "aad"));
    cases.push((
        key_id,
        crate::codec::encode_hex(&blob[..blob.len() - 1]),
        "aad",
    ));
    for (key, cipher_text, aad) in cases {
        assert_eq!(
            code(
                kms,
                Operation::DecryptDatakey,
                &decrypt_body(&key, &cipher_text, 32, aad)
            ),
            "KMS.2201"
        );
    }
}

/// Every EC and RSA spec the backend offers: the sealed private key decrypts to the
/// plaintext one; the others are refused with KMS.9002.
pub fn data_key_pairs_for_every_spec(kms: &Kms) {
    let spec = kms.backend().capabilities().cmk_specs.first().copied();
    let Some(key_id) = spec.and_then(|spec| cmk(kms, spec)) else {
        panic!("the backend offers no CMK spec")
    };
    for pair_spec in KeyPairSpec::ALL {
        // RSA 3072/4096 generation takes seconds; 2048 stands for the family.
        if matches!(pair_spec, KeyPairSpec::Rsa3072 | KeyPairSpec::Rsa4096) {
            continue;
        }
        let operation = if pair_spec.is_ec() {
            Operation::CreateEcDatakeyPair
        } else {
            Operation::CreateRsaDatakeyPair
        };
        let body = json!({"key_id": key_id, "key_spec": pair_spec.as_str(), "additional_authenticated_data": "pair"});
        if !kms
            .backend()
            .capabilities()
            .key_pair_specs
            .contains(pair_spec)
        {
            assert_eq!(
                code(kms, operation, &body),
                "KMS.9002",
                "{}",
                pair_spec.as_str()
            );
            continue;
        }
        let pair = ok(kms, operation, &body);
        let pkcs8 = crate::codec::decode_base64(&text(&pair, "private_key_plain_text"))
            .unwrap_or_else(|_| panic!("private_key_plain_text is not base64"));
        assert!(crate::codec::decode_base64(&text(&pair, "public_key")).is_ok());
        let opened = ok(
            kms,
            Operation::DecryptDatakey,
            &decrypt_body(
                &key_id,
                &text(&pair, "private_key_cipher_text"),
                pkcs8.len(),
                "pair",
            ),
        );
        assert_eq!(
            text(&opened, "data_key"),
            crate::codec::encode_hex(&pkcs8),
            "{}",
            pair_spec.as_str()
        );
    }
}

/// Disabled keys refuse crypto with KMS.0209 and work again when enabled; keys pending
/// deletion refuse it with KMS.0210.
pub fn key_states_gate_crypto(kms: &Kms) {
    let spec = kms.backend().capabilities().cmk_specs.first().copied();
    let Some(spec) = spec else {
        panic!("the backend offers no CMK spec")
    };
    let Some(key_id) = cmk(kms, spec) else {
        unreachable!()
    };
    let cipher_text = encrypt(kms, &key_id, spec, &[9; 16], "");
    let decrypt = decrypt_body(&key_id, &cipher_text, 16, "");
    ok(kms, Operation::DisableKey, &json!({"key_id": key_id}));
    assert_eq!(code(kms, Operation::DecryptDatakey, &decrypt), "KMS.0209");
    ok(kms, Operation::EnableKey, &json!({"key_id": key_id}));
    ok(kms, Operation::DecryptDatakey, &decrypt);
    ok(
        kms,
        Operation::ScheduleKeyDeletion,
        &json!({"key_id": key_id, "pending_days": "7"}),
    );
    assert_eq!(code(kms, Operation::DecryptDatakey, &decrypt), "KMS.0210");
}

/// encrypt-data of 1 and 4096 bytes round-trips under every CMK spec offered, and
/// re-encrypt moves an encrypt-data blob and a data-key blob to a key of every spec
/// offered, where only the destination opens it.
pub fn encrypt_data_and_re_encrypt_for_every_cmk_spec(kms: &Kms) {
    let specs = kms.backend().capabilities().cmk_specs.clone();
    let keys: Vec<(CmkSpec, String)> = specs
        .iter()
        .filter_map(|spec| cmk(kms, *spec).map(|key_id| (*spec, key_id)))
        .collect();
    for (spec, key_id) in &keys {
        for len in [1, 4096] {
            let plain = "k".repeat(len);
            let body = json!({"key_id": key_id, "plain_text": plain, "additional_authenticated_data": "c"});
            let sealed = text(&ok(kms, Operation::EncryptData, &body), "cipher_text");
            let opened = ok(
                kms,
                Operation::DecryptData,
                &json!({"cipher_text": sealed, "additional_authenticated_data": "c"}),
            );
            assert_eq!(text(&opened, "plain_text"), plain, "{}", spec.as_str());
            assert_eq!(text(&opened, "key_id"), *key_id);
        }
        let Some((_, first)) = keys.first() else {
            unreachable!()
        };
        let destination = cmk(kms, *spec).unwrap_or_else(|| unreachable!());
        let body =
            json!({"key_id": first, "plain_text": "moved", "additional_authenticated_data": "c"});
        let sealed = text(&ok(kms, Operation::EncryptData, &body), "cipher_text");
        let dek = [0x24; 32];
        let first_spec = keys[0].0;
        let datakey = encrypt(kms, first, first_spec, &dek, "c");
        for (cipher_text, length) in [(sealed, None), (datakey, Some("32"))] {
            let mut body = json!({"source_additional_authenticated_data": "c",
                                  "destination_key_id": destination, "cipher_text": cipher_text,
                                  "destination_additional_authenticated_data": "d"});
            if let Some(length) = length {
                body["datakey_cipher_length"] = json!(length);
            }
            let moved = text(&ok(kms, Operation::ReEncrypt, &body), "cipher_text");
            match length {
                None => {
                    let opened = ok(
                        kms,
                        Operation::DecryptData,
                        &json!({"cipher_text": moved, "additional_authenticated_data": "d"}),
                    );
                    assert_eq!(text(&opened, "plain_text"), "moved");
                    assert_eq!(text(&opened, "key_id"), destination);
                }
                Some(_) => {
                    let opened = ok(
                        kms,
                        Operation::DecryptDatakey,
                        &decrypt_body(&destination, &moved, 32, "d"),
                    );
                    assert_eq!(text(&opened, "data_key"), crate::codec::encode_hex(&dek));
                    assert_eq!(
                        code(
                            kms,
                            Operation::DecryptDatakey,
                            &decrypt_body(first, &moved, 32, "d")
                        ),
                        "KMS.2201"
                    );
                }
            }
        }
    }
}

/// After two rotations of a CMK of every spec, blobs sealed under generations 0, 1 and 2
/// (data-key blobs and encrypt-data blobs) all open, new blobs name generation 2, a blob
/// whose generation field is changed is the opaque KMS.2201, and get-key-rotation-status
/// counts the rotations and lists every material.
pub fn every_generation_opens_its_blobs_after_two_rotations(kms: &Kms) {
    use crate::ciphertext::blob_generation;
    const GENERATION_AT: usize = 38;
    for spec in [CmkSpec::Aes256, CmkSpec::Sm4] {
        let Some(key_id) = cmk(kms, spec) else {
            continue;
        };
        let key = json!({"key_id": key_id});
        let mut sealed = Vec::new();
        for generation in 0u8..3 {
            if generation > 0 {
                let rotated = ok(kms, Operation::RotateOnDemand, &key);
                assert_eq!(text(&rotated, "key_id"), key_id);
            }
            let dek = [generation; 32];
            let dek_blob = encrypt(kms, &key_id, spec, &dek, "a");
            let data = json!({"key_id": key_id, "plain_text": format!("generation {generation}")});
            let data_blob = text(&ok(kms, Operation::EncryptData, &data), "cipher_text");
            let bytes = crate::codec::decode_hex(&dek_blob).unwrap_or_else(|_| panic!("hex"));
            assert_eq!(
                blob_generation(&bytes),
                Some(u32::from(generation)),
                "{}",
                spec.as_str()
            );
            let bytes = crate::codec::decode_base64(&data_blob).unwrap_or_else(|_| panic!("b64"));
            assert_eq!(blob_generation(&bytes), Some(u32::from(generation)));
            sealed.push((generation, dek_blob, data_blob));
        }
        for (generation, dek_blob, data_blob) in &sealed {
            let opened = ok(
                kms,
                Operation::DecryptDatakey,
                &decrypt_body(&key_id, dek_blob, 32, "a"),
            );
            assert_eq!(
                text(&opened, "data_key"),
                crate::codec::encode_hex(&[*generation; 32])
            );
            let opened = ok(
                kms,
                Operation::DecryptData,
                &json!({"cipher_text": data_blob}),
            );
            assert_eq!(
                text(&opened, "plain_text"),
                format!("generation {generation}")
            );
        }
        // The newest blob with its generation field changed to every other value tried.
        let (_, newest, _) = &sealed[2];
        let bytes = crate::codec::decode_hex(newest).unwrap_or_else(|_| panic!("hex"));
        for generation in [0u32, 1, 3, u32::MAX] {
            let mut changed = bytes.clone();
            changed[GENERATION_AT..GENERATION_AT + 4].copy_from_slice(&generation.to_be_bytes());
            let body = decrypt_body(&key_id, &crate::codec::encode_hex(&changed), 32, "a");
            assert_eq!(
                code(kms, Operation::DecryptDatakey, &body),
                "KMS.2201",
                "{generation}"
            );
        }
        let status = ok(kms, Operation::GetKeyRotationStatus, &key);
        assert_eq!(status["number_of_rotations"], json!(2));
        assert_eq!(status["key_rotation_enabled"], json!(false));
        let materials = status["key_materials"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let listed: Vec<(String, u64)> = materials
            .iter()
            .map(|material| {
                (
                    text(material, "material_id"),
                    material["state"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [("0".into(), 2), ("1".into(), 2), ("2".into(), 1)],
            "{}",
            spec.as_str()
        );
    }
}

/// The backend's random source gives different bytes each time, and gen-random gives
/// exactly the bits asked for from it.
pub fn random_bytes_differ(kms: &Kms) {
    let random = |bits: u32| {
        text(
            &ok(
                kms,
                Operation::GenRandom,
                &json!({"random_data_length": bits}),
            ),
            "random_data",
        )
    };
    assert_eq!(random(8).len(), 2);
    let (first, second) = (random(8192), random(8192));
    assert_eq!(first.len(), 2048);
    assert_ne!(first, second);
    let draw = || {
        let mut bytes = [0u8; 32];
        kms.backend()
            .random(&mut bytes)
            .unwrap_or_else(|error| panic!("random: {error}"));
        bytes
    };
    let (first, second) = (draw(), draw());
    assert_ne!(first, second);
    assert_ne!(first, [0u8; 32]);
}
