//! kms-engine against a real SoftHSM2 token. The tests live in `tests/`; this library
//! holds their fixture: the backend on the token `.ci/test` makes for each run (a private
//! SoftHSM2 config and token directory in a temp dir, `softhsm2-util --init-token`).
#![forbid(unsafe_code)]
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fixture reports failure by panicking"
)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};

use kms_core::{CmkSpec, Kms, KmsConfig, KmsError, MemoryStore, Operation, dek_digest, encode_hex};
use kms_pkcs11::{Pkcs11Backend, Pkcs11Config, TokenSelector};
use serde_json::{Value, json};

/// The session pool size of the test backend.
pub const SESSION_POOL_SIZE: usize = 4;

/// The PKCS#11 module: `$KMS_PKCS11_MODULE`, else Debian's SoftHSM2.
#[must_use]
pub fn module() -> String {
    assert!(
        std::env::var_os("SOFTHSM2_CONF").is_some(),
        "SOFTHSM2_CONF is not set: run these tests through .ci/test, which makes a SoftHSM2 token for them"
    );
    std::env::var("KMS_PKCS11_MODULE").unwrap_or_else(|_| "/usr/lib/softhsm/libsofthsm2.so".into())
}

/// The test token's label: `$KMS_TEST_PKCS11_LABEL`, else `kms-test`.
#[must_use]
pub fn label() -> String {
    std::env::var("KMS_TEST_PKCS11_LABEL").unwrap_or_else(|_| "kms-test".into())
}

/// The configuration of the test token.
#[must_use]
pub fn config() -> Pkcs11Config {
    let pin =
        Pkcs11Config::pin_from_env("KMS_PKCS11_PIN").unwrap_or_else(|error| panic!("{error}"));
    let mut config = Pkcs11Config::new(module(), TokenSelector::Label(label()), pin);
    config.session_pool_size = SESSION_POOL_SIZE;
    config
}

/// The backend on the test token, one per process (one PKCS#11 context per process).
#[must_use]
pub fn backend() -> Arc<Pkcs11Backend> {
    static BACKEND: OnceLock<Arc<Pkcs11Backend>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            Arc::new(Pkcs11Backend::open(config()).unwrap_or_else(|error| panic!("{error}")))
        })
        .clone()
}

/// An engine over `backend` and an in-memory store, with no wrapping-key pool (no
/// background key generation).
#[must_use]
pub fn engine_on(backend: Arc<Pkcs11Backend>) -> Kms {
    Kms::with_config(
        backend,
        Arc::new(MemoryStore::new()),
        KmsConfig {
            wrapping_key_pool_size: 0,
            ..KmsConfig::default()
        },
    )
}

/// An engine over the test backend and an in-memory store.
#[must_use]
pub fn engine() -> Kms {
    engine_on(backend())
}

/// An engine on a backend of its own with the `host_assisted_unwrap` policy on, and that
/// backend.
#[must_use]
pub fn assisted_engine() -> (Kms, Arc<Pkcs11Backend>) {
    let mut config = config();
    config.host_assisted_unwrap = true;
    let backend = Arc::new(Pkcs11Backend::open(config).unwrap_or_else(|error| panic!("{error}")));
    (engine_on(Arc::clone(&backend)), backend)
}

/// Compiles the C file `source` (relative to this crate) against the PKCS#11 header with
/// `args` (such as `-shared -fPIC`) into `name` in the temp dir (prefixed with this
/// process's ID) and returns its path.
pub fn build_c(source: &str, name: &str, args: &[String]) -> PathBuf {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(source);
    let output = std::env::temp_dir().join(format!("kms-{}-{name}", std::process::id()));
    let cflags = Command::new("pkg-config")
        .args(["--cflags", "p11-kit-1"])
        .output()
        .unwrap_or_else(|error| panic!("pkg-config (apt-get install pkg-config): {error}"));
    assert!(
        cflags.status.success(),
        "the PKCS#11 header is missing: apt-get install libp11-kit-dev"
    );
    let cflags = String::from_utf8(cflags.stdout).unwrap();
    let built = Command::new("cc")
        .args(["-Wall", "-Werror"])
        .args(args)
        .arg("-o")
        .arg(&output)
        .args(cflags.split_whitespace())
        .arg(&source)
        .arg("-ldl")
        .output()
        .unwrap_or_else(|error| panic!("cc (apt-get install gcc): {error}"));
    assert!(
        built.status.success(),
        "building {}: {}",
        source.display(),
        String::from_utf8_lossy(&built.stderr)
    );
    output
}

/// The RSA private key object in the token whose modulus is `public`'s: the wrapping key
/// get-parameters-for-import made.
#[must_use]
pub fn wrapping_private_key(
    session: &cryptoki::session::Session,
    public: &rsa::PublicKey,
) -> cryptoki::object::ObjectHandle {
    use cryptoki::object::{Attribute, ObjectClass};

    let template = [
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::Modulus(rsa::traits::PublicKeyParts::n_bytes(public).to_vec()),
    ];
    let found = session.find_objects(&template).unwrap();
    assert_eq!(found.len(), 1, "one wrapping private key");
    found[0]
}

/// C_WrapKey (CKM_AES_KEY_WRAP_PAD) of `key` under a session AES-256 key that can wrap,
/// made for the attempt and destroyed after it: how the token answers an attempt to take
/// `key` out.
///
/// # Errors
/// The token's refusal of C_WrapKey.
pub fn wrap_out(
    session: &cryptoki::session::Session,
    key: cryptoki::object::ObjectHandle,
) -> cryptoki::error::Result<Vec<u8>> {
    use cryptoki::mechanism::Mechanism;
    use cryptoki::object::{Attribute, KeyType, ObjectClass};

    let wrapping = session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(32u64.into()),
                Attribute::Token(false),
                Attribute::Wrap(true),
            ],
        )
        .unwrap();
    let wrapped = session.wrap_key(&Mechanism::AesKeyWrapPad, wrapping, key);
    session.destroy_object(wrapping).unwrap();
    wrapped
}

/// Calls `operation` with `body` and parses the response.
///
/// # Errors
/// The engine's error.
pub fn call(kms: &Kms, operation: Operation, body: &Value) -> Result<Value, KmsError> {
    kms.call_json(operation, &body.to_string())
        .map(|response| serde_json::from_str(response.expose_secret()).unwrap())
}

/// Creates a CMK of `spec` and returns its ID.
pub fn create_key(kms: &Kms, spec: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let alias = format!(
        "hsm-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let created = call(
        kms,
        Operation::CreateKey,
        &json!({"key_alias": alias, "key_spec": spec}),
    )
    .unwrap();
    created["key_info"]["key_id"].as_str().unwrap().to_owned()
}

/// encrypt-datakey of `dek` (with its SHA-256) under `key_id`; returns `cipher_text`.
pub fn encrypt(kms: &Kms, key_id: &str, dek: &[u8], aad: &str) -> String {
    let plain_text = encode_hex(&[dek, &dek_digest(CmkSpec::Aes256, dek)].concat());
    let response = call(
        kms,
        Operation::EncryptDatakey,
        &json!({"key_id": key_id, "plain_text": plain_text, "datakey_plain_length": dek.len().to_string(),
                "additional_authenticated_data": aad}),
    )
    .unwrap();
    response["cipher_text"].as_str().unwrap().to_owned()
}

/// decrypt-datakey of `cipher_text`.
///
/// # Errors
/// The engine's error.
pub fn decrypt(
    kms: &Kms,
    key_id: &str,
    cipher_text: &str,
    len: usize,
    aad: &str,
) -> Result<Value, KmsError> {
    call(
        kms,
        Operation::DecryptDatakey,
        &json!({"key_id": key_id, "cipher_text": cipher_text, "datakey_cipher_length": len.to_string(),
                "additional_authenticated_data": aad}),
    )
}

/// Every object in the token the test user can see. (Tests that count them run alone in
/// their test binary, so no other test changes the count meanwhile.)
#[must_use]
pub fn token_objects() -> usize {
    let backend = backend();
    let session = backend.session_pool().get().unwrap();
    session.find_objects(&[]).unwrap().len()
}

/// Objects whose CKA_LABEL is `key_id`: the CMK objects of that key.
#[must_use]
pub fn cmk_objects_of(key_id: &str) -> usize {
    let backend = backend();
    let session = backend.session_pool().get().unwrap();
    session
        .find_objects(&[cryptoki::object::Attribute::Label(
            key_id.as_bytes().to_vec(),
        )])
        .unwrap()
        .len()
}

/// Asserts that the CMK `key_id` has the policy of every CMK: a token object, sensitive,
/// not extractable, encrypt and decrypt only. (CKA_NEVER_EXTRACTABLE is true only for
/// generated CMKs: PKCS#11 sets it false for unwrapped and created ones.)
pub fn assert_cmk_policy(backend: &kms_pkcs11::Pkcs11Backend, key_id: &str) {
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};

    let session = backend.session_pool().get().unwrap();
    // CKA_LABEL is the key ID; an imported CMK's CKA_ID is an object ID of its own.
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::Label(key_id.as_bytes().to_vec()),
    ];
    let cmks = session.find_objects(&template).unwrap();
    assert_eq!(cmks.len(), 1, "one CMK object for {key_id}");
    let policy = [
        AttributeType::Token,
        AttributeType::Sensitive,
        AttributeType::Extractable,
        AttributeType::Wrap,
        AttributeType::Unwrap,
        AttributeType::Encrypt,
        AttributeType::Decrypt,
    ];
    assert_eq!(
        session.get_attributes(cmks[0], &policy).unwrap(),
        vec![
            Attribute::Token(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Wrap(false),
            Attribute::Unwrap(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
        ]
    );
}

/// Asserts that `kms` refuses an SM4 CMK and an SM2 data key pair with KMS.9002 naming the
/// missing mechanism; returns the two messages.
pub fn assert_sm4_and_sm2_refused(kms: &Kms) -> (String, String) {
    let sm4 = call(
        kms,
        Operation::CreateKey,
        &json!({"key_alias": format!("hsm-sm4-{}", std::process::id()), "key_spec": "SM4"}),
    )
    .unwrap_err();
    assert_eq!(sm4.code(), "KMS.9002");
    assert!(sm4.to_string().contains("CKM_SM4_KEY_GEN"), "{sm4}");
    let key_id = create_key(kms, "AES_256");
    let sm2 = call(
        kms,
        Operation::CreateEcDatakeyPair,
        &json!({"key_id": key_id, "key_spec": "SM2"}),
    )
    .unwrap_err();
    assert_eq!(sm2.code(), "KMS.9002");
    assert!(sm2.to_string().contains("CKM_SM2_KEY_PAIR_GEN"), "{sm2}");
    (sm4.to_string(), sm2.to_string())
}

/// Creates an external key waiting for material and returns its ID.
pub fn external_key(kms: &Kms) -> String {
    let mut random = [0u8; 8];
    kms.backend().random(&mut random).unwrap();
    let alias = format!("hsm-byok-{}", encode_hex(&random));
    let created = call(
        kms,
        Operation::CreateKey,
        &json!({"key_alias": alias, "origin": "external"}),
    )
    .unwrap();
    created["key_info"]["key_id"].as_str().unwrap().to_owned()
}

/// The import token and RSA wrapping public key get-parameters-for-import gives.
///
/// # Errors
/// The engine's error.
pub fn import_parameters(
    kms: &Kms,
    key_id: &str,
    algorithm: &str,
) -> Result<(String, rsa::PublicKey), KmsError> {
    use pkcs8::DecodePublicKey;

    let response = call(
        kms,
        Operation::GetParametersForImport,
        &json!({"key_id": key_id, "wrapping_algorithm": algorithm}),
    )?;
    let spki = kms_core::decode_base64(response["public_key"].as_str().unwrap()).unwrap();
    Ok((
        response["import_token"].as_str().unwrap().to_owned(),
        rsa::PublicKey::from_public_key_der(&spki).unwrap(),
    ))
}

/// import-key-material of `wrapped` with `token`.
///
/// # Errors
/// The engine's error.
pub fn import(kms: &Kms, key_id: &str, token: &str, wrapped: &[u8]) -> Result<Value, KmsError> {
    call(
        kms,
        Operation::ImportKeyMaterial,
        &json!({"key_id": key_id, "import_token": token,
                "encrypted_key_material": kms_core::encode_base64(wrapped)}),
    )
}

/// The DEK [`round_trip`] encrypts.
pub const ROUND_TRIP_DEK: [u8; 32] = [0x3C; 32];

/// encrypt-datakey then decrypt-datakey of [`ROUND_TRIP_DEK`] (no AAD) under `key_id`;
/// returns the `cipher_text`.
pub fn round_trip(kms: &Kms, key_id: &str) -> String {
    let cipher_text = encrypt(kms, key_id, &ROUND_TRIP_DEK, "");
    let opened = decrypt(kms, key_id, &cipher_text, ROUND_TRIP_DEK.len(), "").unwrap();
    assert_eq!(opened["data_key"], encode_hex(&ROUND_TRIP_DEK));
    cipher_text
}
