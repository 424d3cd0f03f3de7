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

use kms_core::{Kms, Operation, WrappingAlgorithm};
use kms_test_alloc::engine_fixture::{
    RESPONSE_ROOM, assert_recorded_whole, create_key, engine, hex_field, import_request,
    plain_text, private_key,
};
use kms_test_alloc::{Freed, HoldingAllocator, Needle, PrivateKeyNeedles, record};
use serde_json::{Value, json};

#[global_allocator]
static ALLOCATOR: HoldingAllocator = HoldingAllocator;

/// A DEK no allocator or table would hold by chance.
const DEK: [u8; 32] = *b"\x6b\xd0\x3f\x92\x18\xe5\x47\xac\x0b\x7e\xc1\x59\x24\xf6\x83\x3d\
                         \xa2\x15\x6c\xf9\x40\x8b\xd7\x2e\x91\x5a\xe3\x07\xbc\x48\x1f\x76";

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
    assert_recorded_whole("output", &output, &freed);
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
    let plain_text = plain_text(&DEK);
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
        assert_eq!(hex_field(&decrypted, "data_key"), DEK);
        assert_nothing_left(operation, pretty, &freed, &needles);
        drop(freed);

        let operation = Operation::CreateDatakey;
        let (created, freed) = traced(
            &kms,
            operation,
            &json!({"key_id": key_id, "key_spec": "AES_256"}),
            pretty,
        );
        let dek = hex_field(&created, "plain_text");
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
        let needles = PrivateKeyNeedles::of(&private_key(&response)).unwrap();
        assert_nothing_left(operation, pretty, &freed, &needles.encoded);
        assert_nothing_left(operation, pretty, &freed, &needles.limbs);
    }
}

#[test]
fn import_key_material_leaves_no_copy_of_the_material() {
    let kms = engine();
    let needles = Needle::renderings("material", &DEK);
    for pretty in [false, true] {
        let body = import_request(
            &kms,
            &format!("import-{pretty}"),
            WrappingAlgorithm::Sm2Encrypt,
            &DEK,
        );
        let operation = Operation::ImportKeyMaterial;
        let (_, freed) = traced(&kms, operation, &body, pretty);
        assert_nothing_left(operation, pretty, &freed, &needles);
    }
}
