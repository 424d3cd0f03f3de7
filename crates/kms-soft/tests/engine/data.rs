//! encrypt-data / decrypt-data, re-encrypt and gen-random through the engine's JSON entry
//! point: round trips at the length limits under both CMK specs, the documented
//! `cipher_text` form, the one opaque error for every tampering, blobs of one kind never
//! opening as the other, and the refusals with their codes.

use base64ct::{Base64, Encoding};
use kms_core::{CmkSpec, Operation};
use serde_json::{Value, json};

use crate::common::{call, create_key, decrypt, encrypt, engine, error_code};

/// Text of `len` bytes of UTF-8 with multi-byte characters in it (`é` is two bytes).
fn text(len: usize) -> String {
    let mut text = "é".repeat(len / 2);
    if len % 2 == 1 {
        text.push('a');
    }
    assert_eq!(text.len(), len);
    text
}

/// Whether `cipher_text` has the documented form `^[0-9a-zA-Z+/=]{128,5648}$`.
fn documented_form(cipher_text: &str) -> bool {
    (128..=5648).contains(&cipher_text.len())
        && cipher_text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"+/=".contains(&byte))
}

fn encrypt_data(kms: &kms_core::Kms, key_id: &str, plain_text: &str, aad: &str) -> String {
    let response = call(
        kms,
        Operation::EncryptData,
        &json!({"key_id": key_id, "plain_text": plain_text, "additional_authenticated_data": aad}),
    )
    .unwrap();
    assert_eq!(response["key_id"], key_id);
    response["cipher_text"].as_str().unwrap().to_owned()
}

fn decrypt_data(kms: &kms_core::Kms, body: &Value) -> Result<Value, kms_core::KmsError> {
    call(kms, Operation::DecryptData, body)
}

#[test]
fn one_and_4096_bytes_of_text_round_trip_under_both_specs_in_the_documented_form() {
    let kms = engine();
    for spec in ["AES_256", "SM4"] {
        let key_id = create_key(&kms, spec);
        for len in [1, 2, 4095, 4096] {
            let plain = text(len);
            let cipher_text = encrypt_data(&kms, &key_id, &plain, "aad");
            assert!(documented_form(&cipher_text), "{spec} {len}: {cipher_text}");
            for named in [json!(key_id), Value::Null] {
                let mut body = json!({"cipher_text": cipher_text, "additional_authenticated_data": "aad",
                                      "encryption_algorithm": "SYMMETRIC_DEFAULT"});
                if !named.is_null() {
                    body["key_id"] = named;
                }
                let opened = decrypt_data(&kms, &body).unwrap();
                assert_eq!(opened["key_id"], key_id.as_str());
                assert_eq!(opened["plain_text"], plain.as_str());
                assert_eq!(
                    opened["plain_text_base64"],
                    Base64::encode_string(plain.as_bytes())
                );
            }
        }
    }
}

#[test]
fn a_flipped_bit_anywhere_a_wrong_aad_or_another_key_is_the_opaque_error() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let other = create_key(&kms, "AES_256");
    let cipher_text = encrypt_data(&kms, &key_id, "secret", "aad");
    let blob = Base64::decode_vec(&cipher_text).unwrap();
    for bit in 0..blob.len() * 8 {
        let mut flipped = blob.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let body = json!({"cipher_text": Base64::encode_string(&flipped),
                          "additional_authenticated_data": "aad", "key_id": key_id});
        assert_eq!(
            decrypt_data(&kms, &body).unwrap_err().code(),
            "KMS.2201",
            "bit {bit}"
        );
    }
    // Without `key_id` the engine goes by the key the blob names: a flip there names a key
    // that does not exist (KMS.0207) or no key at all (KMS.2201); never a plaintext.
    let mut renamed = blob.clone();
    renamed[2 + 35] ^= 0x01;
    let body = json!({"cipher_text": Base64::encode_string(&renamed), "additional_authenticated_data": "aad"});
    assert!(["KMS.0207", "KMS.2201"].contains(&decrypt_data(&kms, &body).unwrap_err().code()));
    for body in [
        json!({"cipher_text": cipher_text, "additional_authenticated_data": "aaD"}),
        json!({"cipher_text": cipher_text}),
        json!({"cipher_text": cipher_text, "additional_authenticated_data": "aad", "key_id": other}),
        json!({"cipher_text": &cipher_text[..cipher_text.len() - 4], "additional_authenticated_data": "aad"}),
        json!({"cipher_text": "not base64!", "additional_authenticated_data": "aad"}),
        json!({"cipher_text": "", "additional_authenticated_data": "aad"}),
    ] {
        assert_eq!(
            error_code(&kms, Operation::DecryptData, &body),
            "KMS.2201",
            "{body}"
        );
    }
}

#[test]
fn data_key_blobs_and_encrypt_data_blobs_never_open_as_each_other() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let dek = [7u8; 32];
    let datakey_blob = encrypt(&kms, &key_id, CmkSpec::Aes256, &dek, "aad");
    let as_base64 = Base64::encode_string(&kms_core::decode_hex(&datakey_blob).unwrap());
    let body = json!({"cipher_text": as_base64, "additional_authenticated_data": "aad"});
    assert_eq!(error_code(&kms, Operation::DecryptData, &body), "KMS.2201");

    let data_blob = encrypt_data(&kms, &key_id, &text(32), "aad");
    let as_hex = kms_core::encode_hex(&Base64::decode_vec(&data_blob).unwrap());
    for len in [32, 96 - 70] {
        assert_eq!(
            decrypt(&kms, &key_id, &as_hex, len, "aad")
                .unwrap_err()
                .code(),
            "KMS.2201"
        );
    }
}

#[test]
fn encrypt_data_refuses_bad_text_algorithms_and_aad_with_the_apis_codes() {
    let kms = engine();
    let key_id = create_key(&kms, "SM4");
    for (body, code) in [
        (json!({"key_id": key_id, "plain_text": ""}), "KMS.2101"),
        (
            json!({"key_id": key_id, "plain_text": text(4097)}),
            "KMS.2101",
        ),
        (json!({"key_id": key_id}), "KMS.0204"),
        (json!({"plain_text": "a"}), "KMS.0204"),
        (
            json!({"key_id": key_id, "plain_text": "a", "encryption_algorithm": "RSAES_OAEP_SHA_1"}),
            "KMS.0308",
        ),
        (
            json!({"key_id": key_id, "plain_text": "a", "encryption_algorithm": "RSAES_OAEP_SHA_256"}),
            "KMS.2105",
        ),
        (
            json!({"key_id": key_id, "plain_text": "a", "additional_authenticated_data": "x".repeat(129)}),
            "KMS.0308",
        ),
        (json!({"key_id": "nope", "plain_text": "a"}), "KMS.0205"),
        (
            json!({"key_id": key_id, "plain_text": "a", "plaintext": "a"}),
            "KMS.0202",
        ),
    ] {
        assert_eq!(
            error_code(&kms, Operation::EncryptData, &body),
            code,
            "{body}"
        );
    }
    call(&kms, Operation::DisableKey, &json!({"key_id": key_id})).unwrap();
    assert_eq!(
        error_code(
            &kms,
            Operation::EncryptData,
            &json!({"key_id": key_id, "plain_text": "a"})
        ),
        "KMS.0209"
    );
}

/// re-encrypt of `cipher_text` (with `datakey_cipher_length` when it is a data-key blob)
/// from `source` to `destination`: the new `cipher_text`.
fn re_encrypt(
    kms: &kms_core::Kms,
    source: &str,
    destination: &str,
    cipher_text: &str,
    datakey_len: Option<usize>,
) -> String {
    let mut body = json!({
        "source_key_id": source,
        "source_additional_authenticated_data": "from",
        "destination_key_id": destination,
        "destination_additional_authenticated_data": "to",
        "cipher_text": cipher_text,
    });
    if let Some(len) = datakey_len {
        body["datakey_cipher_length"] = json!(len);
    }
    let response = call(kms, Operation::ReEncrypt, &body).unwrap();
    assert_eq!(response["key_id"], destination);
    assert_eq!(response["source_key_id"], source);
    assert_eq!(response["source_encryption_algorithm"], "SYMMETRIC_DEFAULT");
    assert_eq!(
        response["destination_encryption_algorithm"],
        "SYMMETRIC_DEFAULT"
    );
    response["cipher_text"].as_str().unwrap().to_owned()
}

/// As [`re_encrypt`], for a blob sealed with the AAD `to` (one [`re_encrypt`] made).
fn re_encrypt_back(
    kms: &kms_core::Kms,
    source: &str,
    destination: &str,
    cipher_text: &str,
    datakey_len: Option<usize>,
) -> String {
    let mut body = json!({
        "source_key_id": source,
        "source_additional_authenticated_data": "to",
        "destination_key_id": destination,
        "destination_additional_authenticated_data": "to",
        "cipher_text": cipher_text,
    });
    if let Some(len) = datakey_len {
        body["datakey_cipher_length"] = json!(len.to_string());
    }
    call(kms, Operation::ReEncrypt, &body).unwrap()["cipher_text"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn re_encrypt_moves_both_kinds_of_blob_from_aes_to_sm4_and_back_and_only_the_destination_opens_them()
 {
    let kms = engine();
    let aes = create_key(&kms, "AES_256");
    let sm4 = create_key(&kms, "SM4");
    let dek = [0x42u8; 48];

    // A data-key blob: hex in, hex out.
    let blob = encrypt(&kms, &aes, CmkSpec::Aes256, &dek, "from");
    let moved = re_encrypt(&kms, &aes, &sm4, &blob, Some(dek.len()));
    let opened = decrypt(&kms, &sm4, &moved, dek.len(), "to").unwrap();
    assert_eq!(opened["data_key"], kms_core::encode_hex(&dek));
    assert_eq!(
        decrypt(&kms, &aes, &moved, dek.len(), "to")
            .unwrap_err()
            .code(),
        "KMS.2201"
    );
    assert_eq!(
        decrypt(&kms, &sm4, &moved, dek.len(), "from")
            .unwrap_err()
            .code(),
        "KMS.2201"
    );
    // The SM4 key's digest is SM3: decrypt-datakey reports the destination's.
    assert_eq!(
        opened["datakey_dgst"],
        kms_core::encode_hex(&kms_core::dek_digest(CmkSpec::Sm4, &dek))
    );
    let back = re_encrypt_back(&kms, &sm4, &aes, &moved, Some(dek.len()));
    let body_back = decrypt(&kms, &aes, &back, dek.len(), "to").unwrap();
    assert_eq!(body_back["data_key"], kms_core::encode_hex(&dek));

    // An encrypt-data blob: base64 in, base64 out.
    let data = encrypt_data(&kms, &aes, "small secret", "from");
    let moved = re_encrypt(&kms, &aes, &sm4, &data, None);
    let opened = decrypt_data(
        &kms,
        &json!({"cipher_text": moved, "additional_authenticated_data": "to"}),
    )
    .unwrap();
    assert_eq!(
        (opened["key_id"].as_str(), opened["plain_text"].as_str()),
        (Some(sm4.as_str()), Some("small secret"))
    );
    let body = json!({"cipher_text": moved, "additional_authenticated_data": "to", "key_id": aes});
    assert_eq!(error_code(&kms, Operation::DecryptData, &body), "KMS.2201");
    let back = re_encrypt_back(&kms, &sm4, &aes, &moved, None);
    let opened = decrypt_data(
        &kms,
        &json!({"cipher_text": back, "additional_authenticated_data": "to"}),
    )
    .unwrap();
    assert_eq!(opened["plain_text"], "small secret");
}

#[test]
fn re_encrypt_refuses_a_wrong_source_kind_or_length_and_changes_nothing() {
    let kms = engine();
    let aes = create_key(&kms, "AES_256");
    let sm4 = create_key(&kms, "SM4");
    let dek = [0x42u8; 32];
    let blob = encrypt(&kms, &aes, CmkSpec::Aes256, &dek, "from");
    let data = encrypt_data(&kms, &aes, "x", "from");
    let body = |cipher_text: &str, len: Option<u64>, source: &str| {
        let mut body = json!({"source_key_id": source, "source_additional_authenticated_data": "from",
                              "destination_key_id": sm4, "cipher_text": cipher_text});
        if let Some(len) = len {
            body["datakey_cipher_length"] = json!(len);
        }
        body
    };
    let before = call(&kms, Operation::ListKeys, &json!({})).unwrap();
    for (body, code) in [
        (body(&blob, Some(31), &aes), "KMS.2204"),
        (body(&blob, Some(0), &aes), "KMS.2202"),
        (body(&blob, Some(4097), &aes), "KMS.2202"),
        (body(&blob, None, &aes), "KMS.2201"),
        (body(&data, Some(32), &aes), "KMS.2201"),
        (body(&blob, Some(32), &sm4), "KMS.2201"),
        (
            json!({"source_key_id": aes, "cipher_text": blob, "datakey_cipher_length": 32}),
            "KMS.0204",
        ),
        (
            json!({"destination_key_id": sm4, "datakey_cipher_length": 32}),
            "KMS.0204",
        ),
    ] {
        assert_eq!(
            error_code(&kms, Operation::ReEncrypt, &body),
            code,
            "{body}"
        );
    }
    assert_eq!(call(&kms, Operation::ListKeys, &json!({})).unwrap(), before);
}

#[test]
fn gen_random_gives_exactly_the_bits_asked_for_and_refuses_the_rest() {
    let kms = engine();
    for (bits, string) in [(8, false), (8192, true), (512, false)] {
        let length = if string {
            json!(bits.to_string())
        } else {
            json!(bits)
        };
        let first = call(
            &kms,
            Operation::GenRandom,
            &json!({"random_data_length": length}),
        )
        .unwrap();
        let second = call(
            &kms,
            Operation::GenRandom,
            &json!({"random_data_length": length}),
        )
        .unwrap();
        let random = first["random_data"].as_str().unwrap();
        assert_eq!(random.len(), bits / 4);
        assert!(
            random
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        );
        if bits >= 512 {
            assert_ne!(first, second);
        }
    }
    for (length, code) in [
        (json!("0"), "KMS.1801"),
        (json!("7"), "KMS.1801"),
        (json!("8200"), "KMS.1801"),
        (json!(16384), "KMS.1801"),
        (json!("12"), "KMS.1802"),
        (json!(-8), "KMS.1801"),
        (json!(8.5), "KMS.1801"),
        (json!("eight"), "KMS.1801"),
    ] {
        let body = json!({"random_data_length": length});
        assert_eq!(
            error_code(&kms, Operation::GenRandom, &body),
            code,
            "{body}"
        );
    }
    assert_eq!(
        error_code(&kms, Operation::GenRandom, &json!({})),
        "KMS.0204"
    );
}
