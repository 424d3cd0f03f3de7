//! DEK envelope encryption through the engine and the soft backend: round trips, the
//! opaque failure of every tampered ciphertext, and the exact code of every input rule.

use crate::common::{call, create_key, decrypt, encrypt, engine, error_code, hex, plain_text};
use kms_core::{CmkSpec, Operation, dek_digest};
use proptest::prelude::*;
use serde_json::json;

const SPECS: [(&str, CmkSpec); 2] = [("AES_256", CmkSpec::Aes256), ("SM4", CmkSpec::Sm4)];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_dek_and_aad_round_trips_under_every_cmk_spec(
        dek in proptest::collection::vec(any::<u8>(), 1..=1024),
        aad in "[ -~]{0,128}",
    ) {
        let kms = engine();
        for (wire, spec) in SPECS {
            let key_id = create_key(&kms, wire);
            let cipher_text = encrypt(&kms, &key_id, spec, &dek, &aad);
            let opened = decrypt(&kms, &key_id, &cipher_text, dek.len(), &aad).unwrap();
            prop_assert_eq!(opened["data_key"].as_str().unwrap(), hex(&dek));
            prop_assert_eq!(opened["datakey_length"].as_str().unwrap(), dek.len().to_string());
            prop_assert_eq!(opened["datakey_dgst"].as_str().unwrap(), hex(&dek_digest(spec, &dek)));
        }
    }
}

/// One sealed blob, and the engine and keys it belongs to, for the tampering tests.
struct Sealed {
    kms: kms_core::Kms,
    key_id: String,
    other_key_id: String,
    blob: Vec<u8>,
}

const DEK: [u8; 32] = [0x42; 32];
const AAD: &str = "order-7";

fn sealed(wire: &str, spec: CmkSpec) -> Sealed {
    let kms = engine();
    let key_id = create_key(&kms, wire);
    let other_key_id = create_key(&kms, wire);
    let blob = kms_core::decode_hex(&encrypt(&kms, &key_id, spec, &DEK, AAD)).unwrap();
    Sealed {
        kms,
        key_id,
        other_key_id,
        blob,
    }
}

/// The error decryption gives for `blob`, as (code, message).
fn decrypt_error(sealed: &Sealed, key_id: &str, blob: &[u8], aad: &str) -> (String, String) {
    let err = decrypt(&sealed.kms, key_id, &hex(blob), DEK.len(), aad).unwrap_err();
    (err.code().to_owned(), err.to_string())
}

fn opaque() -> (String, String) {
    ("KMS.2201".to_owned(), "Invalid cipher_text.".to_owned())
}

proptest! {
    #[test]
    fn any_flipped_bit_fails_with_the_one_opaque_error(position in 0usize..(54 + 32 + 16) * 8) {
        for (wire, spec) in SPECS {
            let sealed = sealed(wire, spec);
            let mut blob = sealed.blob.clone();
            blob[position / 8] ^= 1 << (position % 8);
            prop_assert_eq!(decrypt_error(&sealed, &sealed.key_id, &blob, AAD), opaque());
        }
    }

    #[test]
    fn any_other_aad_fails_with_the_one_opaque_error(aad in "[ -~]{0,128}") {
        prop_assume!(aad != AAD);
        let sealed = sealed("AES_256", CmkSpec::Aes256);
        prop_assert_eq!(decrypt_error(&sealed, &sealed.key_id, &sealed.blob, &aad), opaque());
    }
}

#[test]
fn the_untampered_blob_opens() {
    for (wire, spec) in SPECS {
        let sealed = sealed(wire, spec);
        let opened = decrypt(&sealed.kms, &sealed.key_id, &hex(&sealed.blob), 32, AAD).unwrap();
        assert_eq!(opened["data_key"], hex(&DEK));
    }
}

#[test]
fn another_key_of_the_same_spec_fails_with_the_one_opaque_error() {
    for (wire, spec) in SPECS {
        let sealed = sealed(wire, spec);
        let error = decrypt_error(&sealed, &sealed.other_key_id, &sealed.blob, AAD);
        assert_eq!(error, opaque());
    }
}

#[test]
fn a_blob_truncated_by_one_byte_fails_with_the_one_opaque_error() {
    for (wire, spec) in SPECS {
        let sealed = sealed(wire, spec);
        let blob = &sealed.blob;
        for truncated in [&blob[..blob.len() - 1], &blob[1..]] {
            assert_eq!(
                decrypt_error(&sealed, &sealed.key_id, truncated, AAD),
                opaque()
            );
        }
        assert_eq!(decrypt_error(&sealed, &sealed.key_id, &[], AAD), opaque());
    }
}

#[test]
fn a_blob_sealed_under_an_sm4_key_does_not_open_under_an_aes_key() {
    let kms = engine();
    let sm4 = create_key(&kms, "SM4");
    let aes = create_key(&kms, "AES_256");
    let blob = encrypt(&kms, &sm4, CmkSpec::Sm4, &DEK, AAD);
    assert_eq!(
        decrypt(&kms, &aes, &blob, 32, AAD).unwrap_err().code(),
        "KMS.2201"
    );
}

#[test]
fn decrypt_datakey_checks_datakey_cipher_length_after_opening() {
    let sealed = sealed("AES_256", CmkSpec::Aes256);
    let err = decrypt(&sealed.kms, &sealed.key_id, &hex(&sealed.blob), 31, AAD).unwrap_err();
    assert_eq!(err.code(), "KMS.2204");
    for bad in ["0", "4097", "x"] {
        assert_eq!(
            error_code(
                &sealed.kms,
                Operation::DecryptDatakey,
                &json!({"key_id": sealed.key_id, "cipher_text": hex(&sealed.blob), "datakey_cipher_length": bad})
            ),
            "KMS.2202",
            "{bad}"
        );
    }
}

#[test]
fn cipher_text_is_upper_case_hex_of_a_v1_blob_naming_its_key() {
    for (wire, spec) in SPECS {
        let kms = engine();
        let key_id = create_key(&kms, wire);
        let cipher_text = encrypt(&kms, &key_id, spec, &DEK, "");
        assert_eq!(cipher_text, cipher_text.to_uppercase());
        let blob = kms_core::decode_hex(&cipher_text).unwrap();
        assert_eq!(blob.len(), 54 + DEK.len() + 16);
        assert_eq!(blob[0], 0x01);
        assert_eq!(blob[1], if spec == CmkSpec::Aes256 { 0x01 } else { 0x02 });
        assert_eq!(&blob[2..38], key_id.as_bytes());
        assert_eq!(&blob[38..42], &[0, 0, 0, 0]);
        // Lower-case input hex is accepted too.
        let opened = decrypt(&kms, &key_id, &cipher_text.to_lowercase(), 32, "").unwrap();
        assert_eq!(opened["data_key"], hex(&DEK));
    }
}

#[test]
fn two_encryptions_of_one_dek_use_different_nonces() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let first = encrypt(&kms, &key_id, CmkSpec::Aes256, &DEK, "");
    let second = encrypt(&kms, &key_id, CmkSpec::Aes256, &DEK, "");
    assert_ne!(first[84..108], second[84..108], "nonces at bytes 42..54");
}

fn encrypt_error(kms: &kms_core::Kms, key_id: &str, plain_text: &str, len: &str) -> String {
    call(
        kms,
        Operation::EncryptDatakey,
        &json!({"key_id": key_id, "plain_text": plain_text, "datakey_plain_length": len}),
    )
    .unwrap_err()
    .code()
    .to_owned()
}

#[test]
fn encrypt_datakey_rejects_wrong_sha256_digest() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let mut bytes = kms_core::decode_hex(&plain_text(CmkSpec::Aes256, &DEK)).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    assert_eq!(encrypt_error(&kms, &key_id, &hex(&bytes), "32"), "KMS.2103");
}

#[test]
fn encrypt_datakey_rejects_the_digest_of_the_other_algorithm() {
    let kms = engine();
    let aes = create_key(&kms, "AES_256");
    let sm4 = create_key(&kms, "SM4");
    let sm3_digest = plain_text(CmkSpec::Sm4, &DEK);
    let sha256_digest = plain_text(CmkSpec::Aes256, &DEK);
    assert_eq!(encrypt_error(&kms, &aes, &sm3_digest, "32"), "KMS.2103");
    assert_eq!(encrypt_error(&kms, &sm4, &sha256_digest, "32"), "KMS.2103");
}

#[test]
fn encrypt_datakey_rejects_length_mismatch_odd_and_non_hex_plain_text() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let good = plain_text(CmkSpec::Aes256, &DEK);
    assert_eq!(encrypt_error(&kms, &key_id, &good, "31"), "KMS.2104");
    assert_eq!(encrypt_error(&kms, &key_id, &good, "33"), "KMS.2104");
    assert_eq!(encrypt_error(&kms, &key_id, &good[1..], "32"), "KMS.2101");
    let non_hex = format!("{}g", &good[..good.len() - 1]);
    assert_eq!(encrypt_error(&kms, &key_id, &non_hex, "32"), "KMS.2101");
    let spaced = format!("{} ", &good[..good.len() - 1]);
    assert_eq!(encrypt_error(&kms, &key_id, &spaced, "32"), "KMS.2101");
}

#[test]
fn encrypt_datakey_refuses_the_level4_fields() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    for (field, value) in [
        ("pin", "123456"),
        ("pin_type", "CipherText"),
        ("key_spec", "SM2"),
    ] {
        let mut body = json!({
            "key_id": key_id,
            "plain_text": plain_text(CmkSpec::Aes256, &DEK),
            "datakey_plain_length": "32",
        });
        body[field] = json!(value);
        let err = call(&kms, Operation::EncryptDatakey, &body).unwrap_err();
        assert_eq!(err.code(), "KMS.9001");
        assert!(err.to_string().contains(field), "{err}");
    }
}

#[test]
fn create_datakey_returns_a_dek_its_cipher_text_decrypts_to() {
    for wire in ["AES_256", "SM4"] {
        let kms = engine();
        let key_id = create_key(&kms, wire);
        for (field, value, len) in [
            ("key_spec", "AES_256", 32),
            ("key_spec", "AES_128", 16),
            ("datakey_length", "8", 1),
            ("datakey_length", "8192", 1024),
        ] {
            let created = call(
                &kms,
                Operation::CreateDatakey,
                &json!({"key_id": key_id, field: value, "additional_authenticated_data": "ctx"}),
            )
            .unwrap();
            let plain = created["plain_text"].as_str().unwrap();
            assert_eq!(plain.len(), 2 * len);
            assert_eq!(created["key_id"], key_id.as_str());
            let cipher_text = created["cipher_text"].as_str().unwrap();
            let opened = decrypt(&kms, &key_id, cipher_text, len, "ctx").unwrap();
            assert_eq!(opened["data_key"], plain);
        }
    }
}

#[test]
fn create_datakey_without_plaintext_returns_only_a_cipher_text() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let created = call(
        &kms,
        Operation::CreateDatakeyWithoutPlaintext,
        &json!({"key_id": key_id, "datakey_length": "512"}),
    )
    .unwrap();
    assert_eq!(created.as_object().unwrap().len(), 2, "{created}");
    let cipher_text = created["cipher_text"].as_str().unwrap();
    let opened = decrypt(&kms, &key_id, cipher_text, 64, "").unwrap();
    assert_eq!(opened["data_key"].as_str().unwrap().len(), 128);
}

#[test]
fn encryption_under_an_unknown_key_is_key_not_found() {
    let kms = engine();
    let err = call(
        &kms,
        Operation::CreateDatakey,
        &json!({"key_id": "0d0466b0-e727-4d9c-b35d-f84bb474a37f", "key_spec": "AES_256"}),
    )
    .unwrap_err();
    assert_eq!((err.code(), err.status()), ("KMS.0207", 404));
}
