//! No copy of a secret in freed memory after the command handles an operation (DESIGN 8):
//! the request read from standard input, the engine's call, the response written compact
//! or pretty-printed, run in-process (`kms_cli::read_request` and
//! `kms_cli::run_operation`, what `kms <operation>` runs) with every freed block held and
//! scanned for the DEK, the private key or the imported material.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests report failure by panicking"
)]

use std::sync::Arc;

use kms_core::{
    Backend, CmkSpec, Kms, KmsConfig, MemoryStore, Operation, SecretBytes, WrappingAlgorithm,
    decode_base64, decode_hex, dek_digest, encode_base64, encode_hex,
};
use kms_soft::{RootKey, SoftBackend};
use kms_test_alloc::{Freed, HoldingAllocator, Needle, PrivateKeyNeedles, record};
use serde_json::{Value, json};

#[global_allocator]
static ALLOCATOR: HoldingAllocator = HoldingAllocator;

/// Room for the largest response here, made before a recording starts so that the output
/// written to it frees nothing.
const RESPONSE_ROOM: usize = 64 * 1024;

/// A DEK no allocator or table would hold by chance.
const DEK: [u8; 32] = *b"\x6b\xd0\x3f\x92\x18\xe5\x47\xac\x0b\x7e\xc1\x59\x24\xf6\x83\x3d\
                         \xa2\x15\x6c\xf9\x40\x8b\xd7\x2e\x91\x5a\xe3\x07\xbc\x48\x1f\x76";

fn engine() -> Kms {
    Kms::with_config(
        Arc::new(SoftBackend::new(RootKey::generate().unwrap())),
        Arc::new(MemoryStore::new()),
        KmsConfig {
            wrapping_key_pool_size: 0,
            ..KmsConfig::default()
        },
    )
}

/// A call made outside any recording: set-up.
fn call(kms: &Kms, operation: Operation, body: &Value) -> Value {
    let response = kms.call_json(operation, &body.to_string()).unwrap();
    serde_json::from_str(response.expose_secret()).unwrap()
}

fn create_key(kms: &Kms, alias: &str, origin: &str) -> String {
    let created = call(
        kms,
        Operation::CreateKey,
        &json!({"key_alias": alias, "origin": origin}),
    );
    created["key_info"]["key_id"].as_str().unwrap().to_owned()
}

/// `kms [--pretty] <operation>` with `body` on standard input, recorded: the read, the
/// call, the output and every drop. Returns the output (parsed after the recording) and
/// what was freed. The body is padded past the first read buffer so that reading it grows
/// the buffer.
fn traced(kms: &Kms, operation: Operation, body: &Value, pretty: bool) -> (Value, Freed) {
    let input = format!("{body}{}", " ".repeat(10_000)).into_bytes();
    let mut output = Vec::with_capacity(RESPONSE_ROOM);
    let (outcome, freed) = record(|| {
        let request = kms_cli::read_request(&mut input.as_slice())?;
        kms_cli::run_operation(
            kms,
            kms.default_tenant(),
            operation,
            &request,
            pretty,
            &mut output,
        )
    });
    assert_eq!(
        output.capacity(),
        RESPONSE_ROOM,
        "the output grew while recording"
    );
    assert_eq!(
        freed.not_held(),
        0,
        "more freed blocks than the table holds"
    );
    outcome.unwrap();
    let text = std::str::from_utf8(&output).unwrap();
    assert!(text.ends_with('\n'));
    // Pretty-printed: indented lines (but for an empty object, `{}` either way).
    assert_eq!(text.contains("\n  "), pretty && text != "{}\n", "{text}");
    (serde_json::from_str(text).unwrap(), freed)
}

fn assert_nothing_left(operation: Operation, pretty: bool, freed: &Freed, needles: &[Needle]) {
    assert_eq!(
        freed.hits(needles),
        [],
        "{} (pretty: {pretty}) left copies in {} freed blocks",
        operation.as_str(),
        freed.blocks()
    );
}

#[test]
fn the_dek_operations_leave_no_copy_of_the_dek() {
    let kms = engine();
    let key_id = create_key(&kms, "dek", "kms");
    let needles = Needle::renderings("DEK", &DEK);
    let plain_text = encode_hex(&[&DEK[..], &dek_digest(CmkSpec::Aes256, &DEK)].concat());
    for pretty in [false, true] {
        let operation = Operation::EncryptDatakey;
        let (encrypted, freed) = traced(
            &kms,
            operation,
            &json!({"key_id": key_id, "plain_text": plain_text, "datakey_plain_length": "32"}),
            pretty,
        );
        assert_nothing_left(operation, pretty, &freed, &needles);
        drop(freed);

        let operation = Operation::DecryptDatakey;
        let (decrypted, freed) = traced(
            &kms,
            operation,
            &json!({"key_id": key_id, "cipher_text": encrypted["cipher_text"],
                    "datakey_cipher_length": "32"}),
            pretty,
        );
        assert_eq!(
            decode_hex(decrypted["data_key"].as_str().unwrap()).unwrap(),
            DEK
        );
        assert_nothing_left(operation, pretty, &freed, &needles);
        drop(freed);

        let operation = Operation::CreateDatakey;
        let (created, freed) = traced(
            &kms,
            operation,
            &json!({"key_id": key_id, "key_spec": "AES_256"}),
            pretty,
        );
        let dek = decode_hex(created["plain_text"].as_str().unwrap()).unwrap();
        assert_nothing_left(operation, pretty, &freed, &Needle::renderings("DEK", &dek));
    }
}

#[test]
fn a_data_key_pair_leaves_no_copy_of_the_private_key() {
    let kms = engine();
    let key_id = create_key(&kms, "pairs", "kms");
    for pretty in [false, true] {
        let operation = Operation::CreateEcDatakeyPair;
        let (response, freed) = traced(
            &kms,
            operation,
            &json!({"key_id": key_id, "key_spec": "ECC_NIST_P256", "with_plain_text": true}),
            pretty,
        );
        let pkcs8 = decode_base64(response["private_key_plain_text"].as_str().unwrap()).unwrap();
        let needles = PrivateKeyNeedles::of(&pkcs8).unwrap();
        assert_nothing_left(operation, pretty, &freed, &needles.encoded);
        assert_nothing_left(operation, pretty, &freed, &needles.limbs);
    }
}

#[test]
fn import_key_material_leaves_no_copy_of_the_material() {
    let kms = engine();
    let needles = Needle::renderings("material", &DEK);
    for pretty in [false, true] {
        let key_id = create_key(&kms, &format!("import-{pretty}"), "external");
        let parameters = call(
            &kms,
            Operation::GetParametersForImport,
            &json!({"key_id": key_id, "wrapping_algorithm": "SM2_ENCRYPT"}),
        );
        let public_key = decode_base64(parameters["public_key"].as_str().unwrap()).unwrap();
        let client = SoftBackend::new(RootKey::generate().unwrap());
        let wrapped = client
            .wrap_for_recipient(
                &public_key,
                WrappingAlgorithm::Sm2Encrypt,
                &SecretBytes::new(DEK.to_vec()),
            )
            .unwrap();
        let operation = Operation::ImportKeyMaterial;
        let (_, freed) = traced(
            &kms,
            operation,
            &json!({"key_id": key_id, "import_token": parameters["import_token"],
                    "encrypted_key_material": encode_base64(&wrapped)}),
            pretty,
        );
        assert_nothing_left(operation, pretty, &freed, &needles);
    }
}
