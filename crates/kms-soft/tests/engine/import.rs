//! Key import end to end: material wrapped by the OpenSSL CLI imports, the import path is
//! no oracle, tokens cannot be misused, and material can be deleted and brought back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use kms_core::{
    BlobKey, CmkSpec, KeyId, Kms, KmsConfig, KmsError, ManualClock, MemoryStore, Operation,
    WrappingKeySpec, open_blob,
};
use kms_soft::SoftCmk;
use serde_json::{Value, json};

use crate::common::{
    InstrumentedBackend, NO_OPTIONS, TempDir, call, decrypt, encrypt, engine, engine_with,
    error_code, hex, key_state, kwp_wrap, oaep_options, pkeyutl_encrypt, random_bytes,
    rsa_aes_wrap_with_openssl,
};

const RSA_ALGORITHMS: [&str; 4] = [
    "RSAES_OAEP_SHA_256",
    "RSAES_OAEP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
];

fn spec_of(wire: &str) -> CmkSpec {
    CmkSpec::from_wire(wire).unwrap()
}

/// Creates an external key of `spec` waiting for material.
fn external_key(kms: &Kms, spec: &str) -> String {
    let alias = format!("byok-{}", hex(&random_bytes(6)));
    let created = call(
        kms,
        Operation::CreateKey,
        &json!({"key_alias": alias, "key_spec": spec, "origin": "external"}),
    )
    .unwrap();
    created["key_info"]["key_id"].as_str().unwrap().to_owned()
}

/// What get-parameters-for-import hands out.
struct Parameters {
    token: String,
    public_key: Vec<u8>,
}

fn parameters(kms: &Kms, key_id: &str, algorithm: &str, spec: Option<&str>) -> Parameters {
    let mut body = json!({"key_id": key_id, "wrapping_algorithm": algorithm});
    if let Some(spec) = spec {
        body["wrapping_key_spec"] = json!(spec);
    }
    let response = call(kms, Operation::GetParametersForImport, &body).unwrap();
    assert_eq!(response["key_id"], key_id);
    let token = response["import_token"].as_str().unwrap().to_owned();
    assert!(token.len() >= 200 && token.len() <= 6144);
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
    );
    assert!(response["expiration_time"].as_u64().unwrap() > 1_700_000_000);
    Parameters {
        token,
        public_key: Base64::decode_vec(response["public_key"].as_str().unwrap()).unwrap(),
    }
}

fn import(
    kms: &Kms,
    key_id: &str,
    token: &str,
    material: &[u8],
    second: Option<&[u8]>,
) -> Result<Value, KmsError> {
    let mut body = json!({
        "key_id": key_id,
        "import_token": token,
        "encrypted_key_material": Base64::encode_string(material),
    });
    if let Some(second) = second {
        body["encrypted_privatekey"] = json!(Base64::encode_string(second));
    }
    call(kms, Operation::ImportKeyMaterial, &body)
}

/// Wraps `material` for `algorithm` the way the cloud documentation tells users to, with
/// the OpenSSL CLI. RSA_AES_KEY_WRAP comes back as one concatenated field.
fn wrap_with_openssl(dir: &TempDir, algorithm: &str, spki: &[u8], material: &[u8]) -> Vec<u8> {
    match algorithm {
        "RSAES_OAEP_SHA_256" => pkeyutl_encrypt(dir, spki, &oaep_options("sha256"), material),
        "RSAES_OAEP_SHA_1" => pkeyutl_encrypt(dir, spki, &oaep_options("sha1"), material),
        "SM2_ENCRYPT" => pkeyutl_encrypt(dir, spki, &NO_OPTIONS, material),
        "RSA_AES_KEY_WRAP_SHA_256" | "RSA_AES_KEY_WRAP_SHA_1" => {
            let digest = if algorithm.ends_with("256") {
                "sha256"
            } else {
                "sha1"
            };
            rsa_aes_wrap_with_openssl(dir, spki, digest, &random_bytes(32), material)
        }
        _ => unreachable!("{algorithm}"),
    }
}

/// The key's material is `material`: a blob the engine seals opens under it, outside the
/// engine, and the engine round-trips a DEK.
fn assert_material_is(kms: &Kms, key_id: &str, spec: CmkSpec, material: &[u8]) {
    assert_eq!(key_state(kms, key_id), "2");
    let dek = random_bytes(32);
    let cipher_text = encrypt(kms, key_id, spec, &dek, "import");
    let opened = decrypt(kms, key_id, &cipher_text, 32, "import").unwrap();
    assert_eq!(opened["data_key"], hex(&dek));
    let outside = SoftCmk::new(spec, &kms_core::SecretBytes::new(material.to_vec())).unwrap();
    let blob_key = BlobKey {
        key_id: KeyId::parse(key_id).unwrap(),
        spec,
        generation: 0,
    };
    let blob = kms_core::decode_hex(&cipher_text).unwrap();
    let plain = open_blob(&outside, &blob_key, b"import", &blob).unwrap();
    assert_eq!(plain.expose_secret(), dek.as_slice());
}

#[test]
fn openssl_wrapped_material_imports_with_every_rsa_algorithm_and_size() {
    let kms = engine();
    let dir = TempDir::new();
    for size in ["RSA_2048", "RSA_3072", "RSA_4096"] {
        for algorithm in RSA_ALGORITHMS {
            let key_id = external_key(&kms, "AES_256");
            let params = parameters(&kms, &key_id, algorithm, Some(size));
            let material = random_bytes(32);
            let wrapped = wrap_with_openssl(&dir, algorithm, &params.public_key, &material);
            let response = import(&kms, &key_id, &params.token, &wrapped, None).unwrap();
            assert_eq!(response, json!({}), "{size} {algorithm}");
            assert_material_is(&kms, &key_id, CmkSpec::Aes256, &material);
        }
    }
}

#[test]
fn openssl_sm2_wrapped_material_imports_into_aes_and_sm4_keys() {
    let kms = engine();
    let dir = TempDir::new();
    for (spec, len) in [("SM4", 16), ("AES_256", 32)] {
        let key_id = external_key(&kms, spec);
        let params = parameters(&kms, &key_id, "SM2_ENCRYPT", None);
        let material = random_bytes(len);
        let wrapped = wrap_with_openssl(&dir, "SM2_ENCRYPT", &params.public_key, &material);
        assert_eq!(wrapped[0], 0x30, "OpenSSL writes GM/T 0009 DER");
        import(&kms, &key_id, &params.token, &wrapped, None).unwrap();
        assert_material_is(&kms, &key_id, spec_of(spec), &material);
    }
}

#[test]
fn rsa_aes_key_wrap_accepts_the_two_field_form_and_a_16_byte_temporary_key() {
    let kms = engine();
    let dir = TempDir::new();
    for temporary_len in [32, 16] {
        let key_id = external_key(&kms, "SM4");
        let params = parameters(&kms, &key_id, "RSA_AES_KEY_WRAP_SHA_256", None);
        let material = random_bytes(16);
        let temporary_key = random_bytes(temporary_len);
        let options = oaep_options("sha256");
        let oaep_part = pkeyutl_encrypt(&dir, &params.public_key, &options, &temporary_key);
        let kwp_part = kwp_wrap(&temporary_key, &material);
        import(&kms, &key_id, &params.token, &oaep_part, Some(&kwp_part)).unwrap();
        assert_material_is(&kms, &key_id, CmkSpec::Sm4, &material);
    }
}

/// Wraps material to a wrapping public key (SPKI DER), one way or another.
type Wrapper<'a> = Box<dyn Fn(&[u8]) -> Vec<u8> + 'a>;

/// A fresh token for `key_id` and `algorithm`, and the error importing `wrapped(public key)`
/// with it gives.
fn refusal(
    kms: &Kms,
    key_id: &str,
    algorithm: &str,
    wrapped: impl Fn(&[u8]) -> Vec<u8>,
) -> (String, String) {
    let params = parameters(kms, key_id, algorithm, None);
    let err = import(
        kms,
        key_id,
        &params.token,
        &wrapped(&params.public_key),
        None,
    )
    .unwrap_err();
    (err.code().to_owned(), err.to_string())
}

#[test]
fn every_bad_wrapping_gives_one_identical_error_and_the_key_stays_pending_import() {
    let kms = engine();
    let dir = TempDir::new();
    let key_id = external_key(&kms, "AES_256");
    let material = random_bytes(32);
    let oaep256 = oaep_options("sha256");
    let other_key = parameters(
        &kms,
        &external_key(&kms, "AES_256"),
        "RSAES_OAEP_SHA_256",
        None,
    )
    .public_key;
    let cases: Vec<(&str, Wrapper)> = vec![
        (
            "PKCS#1 v1.5 padding",
            Box::new(|spki| pkeyutl_encrypt(&dir, spki, &["rsa_padding_mode:pkcs1"], &material)),
        ),
        (
            "an OAEP label",
            Box::new(|spki| {
                pkeyutl_encrypt(
                    &dir,
                    spki,
                    &[
                        oaep256.as_slice(),
                        &["rsa_oaep_label:0102030405".to_owned()],
                    ]
                    .concat(),
                    &material,
                )
            }),
        ),
        (
            "SHA-1 instead of SHA-256",
            Box::new(|spki| wrap_with_openssl(&dir, "RSAES_OAEP_SHA_1", spki, &material)),
        ),
        (
            "31-byte material",
            Box::new(|spki| pkeyutl_encrypt(&dir, spki, &oaep256, &material[..31])),
        ),
        (
            "33-byte material",
            Box::new(|spki| {
                pkeyutl_encrypt(&dir, spki, &oaep256, &[material.as_slice(), &[0]].concat())
            }),
        ),
        (
            "a truncated ciphertext",
            Box::new(|spki| {
                let mut wrapped = pkeyutl_encrypt(&dir, spki, &oaep256, &material);
                wrapped.pop();
                wrapped
            }),
        ),
        ("garbage", Box::new(|_| random_bytes(256))),
        ("nothing", Box::new(|_| Vec::new())),
        (
            "another wrapping key",
            Box::new(|_| pkeyutl_encrypt(&dir, &other_key, &oaep256, &material)),
        ),
    ];
    let mut errors = Vec::new();
    for (name, wrapped) in &cases {
        let error = refusal(&kms, &key_id, "RSAES_OAEP_SHA_256", wrapped);
        errors.push((name.to_string(), error));
        assert_eq!(key_state(&kms, &key_id), "5", "{name}");
    }
    let expected = (
        "KMS.0311".to_owned(),
        "Failed to decrypt the key material with the wrapping key.".to_owned(),
    );
    for (name, error) in errors {
        assert_eq!(error, expected, "{name}");
    }
    // After all that, the key still takes its material.
    let params = parameters(&kms, &key_id, "RSAES_OAEP_SHA_256", None);
    let wrapped = wrap_with_openssl(&dir, "RSAES_OAEP_SHA_256", &params.public_key, &material);
    import(&kms, &key_id, &params.token, &wrapped, None).unwrap();
    assert_material_is(&kms, &key_id, CmkSpec::Aes256, &material);
}

#[test]
fn bad_rsa_aes_key_wrap_and_sm2_material_give_the_same_identical_error() {
    let kms = engine();
    let dir = TempDir::new();
    let key_id = external_key(&kms, "SM4");
    let material = random_bytes(16);
    let oaep256 = oaep_options("sha256");
    let expected = (
        "KMS.0311".to_owned(),
        "Failed to decrypt the key material with the wrapping key.".to_owned(),
    );
    let kwp_cases: Vec<Wrapper> = vec![
        // A 24-byte temporary key.
        Box::new(|spki| {
            let temporary_key = random_bytes(24);
            [
                pkeyutl_encrypt(&dir, spki, &oaep256, &temporary_key),
                random_bytes(24),
            ]
            .concat()
        }),
        // Material wrapped under another temporary key.
        Box::new(|spki| {
            let temporary_key = random_bytes(32);
            [
                pkeyutl_encrypt(&dir, spki, &oaep256, &temporary_key),
                kwp_wrap(&random_bytes(32), &material),
            ]
            .concat()
        }),
        // An 8-byte key under AES-KWP (aes-kw itself would unwrap it).
        Box::new(|spki| {
            let temporary_key = random_bytes(32);
            [
                pkeyutl_encrypt(&dir, spki, &oaep256, &temporary_key),
                kwp_wrap(&temporary_key, &material[..8]),
            ]
            .concat()
        }),
        // Only the OAEP part.
        Box::new(|spki| pkeyutl_encrypt(&dir, spki, &oaep256, &random_bytes(32))),
    ];
    for wrapped in &kwp_cases {
        assert_eq!(
            refusal(&kms, &key_id, "RSA_AES_KEY_WRAP_SHA_256", wrapped),
            expected
        );
    }
    let sm2_cases: Vec<Wrapper> = vec![
        Box::new(|spki| {
            let mut wrapped = pkeyutl_encrypt(&dir, spki, &NO_OPTIONS, &material);
            let last = wrapped.len() - 1;
            wrapped[last] ^= 1;
            wrapped
        }),
        Box::new(|spki| pkeyutl_encrypt(&dir, spki, &NO_OPTIONS, &material[..15])),
        Box::new(|_| random_bytes(120)),
    ];
    for wrapped in &sm2_cases {
        assert_eq!(refusal(&kms, &key_id, "SM2_ENCRYPT", wrapped), expected);
    }
    assert_eq!(key_state(&kms, &key_id), "5");
}

/// An engine on a manual clock, an external AES key, a valid token and its material.
struct TokenFixture {
    kms: Kms,
    clock: Arc<ManualClock>,
    key_id: String,
    params: Parameters,
    wrapped: Vec<u8>,
    material: Vec<u8>,
}

fn token_fixture() -> TokenFixture {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let kms = engine_with(KmsConfig {
        wrapping_key_pool_size: 0,
        clock: clock.clone(),
        ..KmsConfig::default()
    });
    let key_id = external_key(&kms, "AES_256");
    let params = parameters(&kms, &key_id, "RSAES_OAEP_SHA_256", None);
    let material = random_bytes(32);
    let wrapped = wrap_with_openssl(
        &TempDir::new(),
        "RSAES_OAEP_SHA_256",
        &params.public_key,
        &material,
    );
    TokenFixture {
        kms,
        clock,
        key_id,
        params,
        wrapped,
        material,
    }
}

impl TokenFixture {
    fn import_with(&self, key_id: &str, token: &str) -> String {
        import(&self.kms, key_id, token, &self.wrapped, None)
            .unwrap_err()
            .code()
            .to_owned()
    }

    /// The key is enabled with the fixture's material.
    fn assert_has_its_material(&self) {
        assert_material_is(&self.kms, &self.key_id, CmkSpec::Aes256, &self.material);
    }

    /// The refusal changed nothing: the key waits, and the genuine token still works.
    fn assert_nothing_changed(&self) {
        assert_eq!(key_state(&self.kms, &self.key_id), "5");
        import(
            &self.kms,
            &self.key_id,
            &self.params.token,
            &self.wrapped,
            None,
        )
        .unwrap();
        self.assert_has_its_material();
    }
}

#[test]
fn a_tampered_token_is_kms_2605_and_changes_nothing() {
    let fixture = token_fixture();
    let token = &fixture.params.token;
    for at in [0, 10, 40, 100, 150, token.len() - 3] {
        let mut bytes = token.clone().into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            fixture.import_with(&fixture.key_id, &tampered),
            "KMS.2605",
            "char {at}"
        );
    }
    fixture.assert_nothing_changed();
}

#[test]
fn a_truncated_or_forged_token_is_kms_2605_and_changes_nothing() {
    let fixture = token_fixture();
    let token = &fixture.params.token;
    assert_eq!(
        fixture.import_with(&fixture.key_id, &token[..token.len() - 4]),
        "KMS.2605"
    );
    assert_eq!(
        fixture.import_with(&fixture.key_id, &token[..100]),
        "KMS.2605"
    );
    let forged = Base64::encode_string(&[&[1u8][..], &random_bytes(154)].concat());
    assert_eq!(fixture.import_with(&fixture.key_id, &forged), "KMS.2605");
    assert_eq!(
        fixture.import_with(&fixture.key_id, &format!("{token}AAAA")),
        "KMS.2605"
    );
    assert_eq!(
        fixture.import_with(&fixture.key_id, "not a token"),
        "KMS.2605"
    );
    fixture.assert_nothing_changed();
}

#[test]
fn a_token_for_another_key_is_kms_2603_and_changes_nothing() {
    let fixture = token_fixture();
    let other = external_key(&fixture.kms, "AES_256");
    assert_eq!(
        fixture.import_with(&other, &fixture.params.token),
        "KMS.2603"
    );
    assert_eq!(key_state(&fixture.kms, &other), "5");
    fixture.assert_nothing_changed();
}

#[test]
fn an_expired_token_is_kms_2601() {
    let fixture = token_fixture();
    fixture.clock.advance_ms(24 * 60 * 60 * 1000);
    assert_eq!(
        fixture.import_with(&fixture.key_id, &fixture.params.token),
        "KMS.2601"
    );
    assert_eq!(key_state(&fixture.kms, &fixture.key_id), "5");
    // A new token works, and issuing it swept away the expired one's wrapping key.
    let params = parameters(&fixture.kms, &fixture.key_id, "SM2_ENCRYPT", None);
    let material = random_bytes(32);
    let wrapped = wrap_with_openssl(
        &TempDir::new(),
        "SM2_ENCRYPT",
        &params.public_key,
        &material,
    );
    import(&fixture.kms, &fixture.key_id, &params.token, &wrapped, None).unwrap();
    assert_material_is(&fixture.kms, &fixture.key_id, CmkSpec::Aes256, &material);
}

#[test]
fn a_token_replayed_after_a_successful_import_is_kms_2605() {
    let fixture = token_fixture();
    import(
        &fixture.kms,
        &fixture.key_id,
        &fixture.params.token,
        &fixture.wrapped,
        None,
    )
    .unwrap();
    assert_eq!(
        fixture.import_with(&fixture.key_id, &fixture.params.token),
        "KMS.2605"
    );
    fixture.assert_has_its_material();
}

#[test]
fn material_wrapped_for_another_algorithm_than_the_token_says_is_refused_opaquely() {
    let fixture = token_fixture();
    let sha1 = wrap_with_openssl(
        &TempDir::new(),
        "RSAES_OAEP_SHA_1",
        &fixture.params.public_key,
        &fixture.material,
    );
    let err = import(
        &fixture.kms,
        &fixture.key_id,
        &fixture.params.token,
        &sha1,
        None,
    )
    .unwrap_err();
    assert_eq!(err.code(), "KMS.0311");
    assert_eq!(key_state(&fixture.kms, &fixture.key_id), "5");
    // The attempt used the token up.
    assert_eq!(
        fixture.import_with(&fixture.key_id, &fixture.params.token),
        "KMS.2605"
    );
}

#[test]
fn import_into_a_kms_key_or_an_enabled_external_key_is_refused_and_changes_nothing() {
    let fixture = token_fixture();
    let kms_key = crate::common::create_key(&fixture.kms, "AES_256");
    assert_eq!(
        error_code(
            &fixture.kms,
            Operation::GetParametersForImport,
            &json!({"key_id": kms_key})
        ),
        "KMS.0309"
    );
    assert_eq!(
        fixture.import_with(&kms_key, &fixture.params.token),
        "KMS.2603"
    );
    // A second token, taken while the key waited, is refused once the key has material.
    let second = parameters(&fixture.kms, &fixture.key_id, "RSAES_OAEP_SHA_256", None);
    import(
        &fixture.kms,
        &fixture.key_id,
        &fixture.params.token,
        &fixture.wrapped,
        None,
    )
    .unwrap();
    let wrapped = wrap_with_openssl(
        &TempDir::new(),
        "RSAES_OAEP_SHA_256",
        &second.public_key,
        &random_bytes(32),
    );
    let err = import(&fixture.kms, &fixture.key_id, &second.token, &wrapped, None).unwrap_err();
    assert_eq!(err.code(), "KMS.0310");
    assert_eq!(
        error_code(
            &fixture.kms,
            Operation::GetParametersForImport,
            &json!({"key_id": fixture.key_id})
        ),
        "KMS.0310"
    );
    fixture.assert_has_its_material();
}

#[test]
fn deleted_material_can_come_back_only_as_the_same_material() {
    let fixture = token_fixture();
    let kms = &fixture.kms;
    import(
        kms,
        &fixture.key_id,
        &fixture.params.token,
        &fixture.wrapped,
        None,
    )
    .unwrap();
    let old_blob = encrypt(kms, &fixture.key_id, CmkSpec::Aes256, &[5; 16], "");

    let deleted = call(
        kms,
        Operation::DeleteImportedKeyMaterial,
        &json!({"key_id": fixture.key_id}),
    )
    .unwrap();
    assert_eq!(deleted, json!({}));
    assert_eq!(key_state(kms, &fixture.key_id), "5");
    assert_eq!(
        decrypt(kms, &fixture.key_id, &old_blob, 16, "")
            .unwrap_err()
            .code(),
        "KMS.1301"
    );
    assert_eq!(
        error_code(
            kms,
            Operation::DeleteImportedKeyMaterial,
            &json!({"key_id": fixture.key_id})
        ),
        "KMS.2701"
    );

    let dir = TempDir::new();
    let params = parameters(kms, &fixture.key_id, "RSAES_OAEP_SHA_256", None);
    let other = wrap_with_openssl(
        &dir,
        "RSAES_OAEP_SHA_256",
        &params.public_key,
        &random_bytes(32),
    );
    let err = import(kms, &fixture.key_id, &params.token, &other, None).unwrap_err();
    assert_eq!(err.code(), "KMS.2606");
    assert_eq!(key_state(kms, &fixture.key_id), "5");

    let params = parameters(kms, &fixture.key_id, "RSA_AES_KEY_WRAP_SHA_1", None);
    let same = wrap_with_openssl(
        &dir,
        "RSA_AES_KEY_WRAP_SHA_1",
        &params.public_key,
        &fixture.material,
    );
    import(kms, &fixture.key_id, &params.token, &same, None).unwrap();
    let opened = decrypt(kms, &fixture.key_id, &old_blob, 16, "").unwrap();
    assert_eq!(opened["data_key"], hex(&[5; 16]));

    let kms_key = crate::common::create_key(kms, "AES_256");
    assert_eq!(
        error_code(
            kms,
            Operation::DeleteImportedKeyMaterial,
            &json!({"key_id": kms_key})
        ),
        "KMS.0309"
    );
}

#[test]
fn material_past_its_expiration_time_refuses_crypto_until_imported_again() {
    let fixture = token_fixture();
    let kms = &fixture.kms;
    let now_s: u64 = 1_800_000_000;
    let mut body = json!({
        "key_id": fixture.key_id,
        "import_token": fixture.params.token,
        "encrypted_key_material": Base64::encode_string(&fixture.wrapped),
        "expiration_time": now_s,
    });
    assert_eq!(
        error_code(kms, Operation::ImportKeyMaterial, &body),
        "KMS.2602"
    );
    body["expiration_time"] = json!((now_s + 100).to_string());
    call(kms, Operation::ImportKeyMaterial, &body).unwrap();
    let described = call(
        kms,
        Operation::DescribeKey,
        &json!({"key_id": fixture.key_id}),
    )
    .unwrap();
    assert_eq!(
        described["key_info"]["expiration_time"],
        ((now_s + 100) * 1000).to_string()
    );
    fixture.assert_has_its_material();

    fixture.clock.advance_ms(100_000);
    assert_eq!(key_state(kms, &fixture.key_id), "5");
    let err = call(
        kms,
        Operation::CreateDatakey,
        &json!({"key_id": fixture.key_id, "key_spec": "AES_256"}),
    )
    .unwrap_err();
    assert_eq!(err.code(), "KMS.1301");

    let params = parameters(kms, &fixture.key_id, "RSAES_OAEP_SHA_256", None);
    let wrapped = wrap_with_openssl(
        &TempDir::new(),
        "RSAES_OAEP_SHA_256",
        &params.public_key,
        &fixture.material,
    );
    import(kms, &fixture.key_id, &params.token, &wrapped, None).unwrap();
    fixture.assert_has_its_material();
}

#[test]
fn get_parameters_for_import_refuses_a_spec_the_algorithm_cannot_use() {
    let kms = engine();
    let key_id = external_key(&kms, "AES_256");
    let body = json!({"key_id": key_id, "wrapping_algorithm": "SM2_ENCRYPT", "wrapping_key_spec": "RSA_2048"});
    assert_eq!(
        error_code(&kms, Operation::GetParametersForImport, &body),
        "KMS.0308"
    );
    let defaulted = call(
        &kms,
        Operation::GetParametersForImport,
        &json!({"key_id": key_id}),
    )
    .unwrap();
    let spki = Base64::decode_vec(defaulted["public_key"].as_str().unwrap()).unwrap();
    let public = <rsa::PublicKey as pkcs8::DecodePublicKey>::from_public_key_der(&spki).unwrap();
    assert_eq!(rsa::traits::PublicKeyParts::n(&public).bit_width(), 2048);
}

#[test]
fn with_the_pool_warm_get_parameters_for_import_generates_no_key_on_the_request_path() {
    let kms = engine_with(KmsConfig {
        wrapping_key_pool_size: 1,
        ..KmsConfig::default()
    });
    assert!(
        kms.wait_for_wrapping_key(WrappingKeySpec::Rsa2048, Duration::from_secs(300)),
        "the pool never filled"
    );
    let key_id = external_key(&kms, "AES_256");
    parameters(&kms, &key_id, "RSAES_OAEP_SHA_256", Some("RSA_2048"));
    let stats = kms.wrapping_key_pool_stats();
    assert_eq!(stats.served_from_pool, 1);
    assert_eq!(stats.generated_on_request, 0);
    assert!(stats.generated_in_background >= 1);
}

#[test]
fn waiting_for_a_wrapping_key_the_pool_never_keeps_returns_false_without_waiting() {
    let with_pool = engine_with(KmsConfig {
        wrapping_key_pool_size: 1,
        ..KmsConfig::default()
    });
    let started = Instant::now();
    assert!(!engine().wait_for_wrapping_key(WrappingKeySpec::Rsa2048, Duration::from_secs(120)));
    assert!(!with_pool.wait_for_wrapping_key(WrappingKeySpec::Sm2, Duration::from_secs(120)));
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn without_a_pool_the_key_is_generated_on_the_request_path_and_counted() {
    let kms = engine();
    let key_id = external_key(&kms, "AES_256");
    parameters(&kms, &key_id, "RSAES_OAEP_SHA_1", Some("RSA_2048"));
    let stats = kms.wrapping_key_pool_stats();
    assert_eq!((stats.served_from_pool, stats.generated_on_request), (0, 1));
}

#[test]
fn a_key_pooled_for_an_hour_is_destroyed_and_never_handed_out() {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let backend = InstrumentedBackend::new();
    let kms = Kms::with_config(
        backend.clone(),
        Arc::new(MemoryStore::new()),
        KmsConfig {
            wrapping_key_pool_size: 1,
            clock: clock.clone(),
            ..KmsConfig::default()
        },
    );
    assert!(
        kms.wait_for_wrapping_key(WrappingKeySpec::Rsa2048, Duration::from_secs(300)),
        "the pool never filled"
    );
    let key_id = external_key(&kms, "AES_256");
    clock.advance_ms(60 * 60 * 1000);
    let destroyed_before = backend.keys_destroyed();
    parameters(&kms, &key_id, "RSAES_OAEP_SHA_256", Some("RSA_2048"));
    let stats = kms.wrapping_key_pool_stats();
    assert_eq!((stats.served_from_pool, stats.generated_on_request), (0, 1));
    assert!(backend.keys_destroyed() > destroyed_before);
}
