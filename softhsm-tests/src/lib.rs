//! kms-engine against real PKCS#11 tokens: SoftHSM2 and Kryoptic. The tests live in
//! `tests/`; this library holds their fixture: the backend on each token `.ci/test` makes
//! for the run (for SoftHSM2 a private config and token directory in a temp dir,
//! `softhsm2-util --init-token`; for Kryoptic a private SQLite token, `.ci/kryoptic token`).
//!
//! Each test file says at its top whether it is token-neutral (about the backend: it runs
//! on every [`Token`], through [`on_each_token!`]) or about one token's quirks.
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

/// A test token: the run's token on one PKCS#11 module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    /// SoftHSM2 (`SOFTHSM2_CONF`, `KMS_TEST_PKCS11_LABEL`, `KMS_PKCS11_PIN`; the module is
    /// `KMS_PKCS11_MODULE`, else Debian's).
    SoftHsm2,
    /// Kryoptic (`KMS_TEST_KRYOPTIC_MODULE`, `KRYOPTIC_CONF`, `KMS_TEST_KRYOPTIC_LABEL`,
    /// `KMS_TEST_KRYOPTIC_PIN`, all set by `.ci/kryoptic token`).
    Kryoptic,
}

/// Runs each named test function (taking a [`Token`]) on every token: for a function
/// `name`, the tests `name::softhsm2` and `name::kryoptic`.
#[macro_export]
macro_rules! on_each_token {
    ($($test:ident),+ $(,)?) => {
        $(
            mod $test {
                #[test]
                fn softhsm2() {
                    super::$test($crate::Token::SoftHsm2);
                }
                #[test]
                fn kryoptic() {
                    super::$test($crate::Token::Kryoptic);
                }
            }
        )+
    };
}

/// The value of the environment variable `name`, which `.ci/test` sets for `token`.
fn required(token: Token, name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run these tests through .ci/test, which makes a {token:?} token for them")
    })
}

impl Token {
    /// Both tokens.
    pub const ALL: [Self; 2] = [Self::SoftHsm2, Self::Kryoptic];

    /// The PKCS#11 module's path.
    #[must_use]
    pub fn module(self) -> String {
        match self {
            Self::SoftHsm2 => {
                required(self, "SOFTHSM2_CONF");
                std::env::var("KMS_PKCS11_MODULE")
                    .unwrap_or_else(|_| "/usr/lib/softhsm/libsofthsm2.so".into())
            }
            Self::Kryoptic => {
                required(self, "KRYOPTIC_CONF");
                required(self, "KMS_TEST_KRYOPTIC_MODULE")
            }
        }
    }

    /// The token's label.
    #[must_use]
    pub fn label(self) -> String {
        match self {
            Self::SoftHsm2 => {
                std::env::var("KMS_TEST_PKCS11_LABEL").unwrap_or_else(|_| "kms-test".into())
            }
            Self::Kryoptic => required(self, "KMS_TEST_KRYOPTIC_LABEL"),
        }
    }

    /// The environment variable holding the user PIN.
    #[must_use]
    pub fn pin_variable(self) -> &'static str {
        match self {
            Self::SoftHsm2 => "KMS_PKCS11_PIN",
            Self::Kryoptic => "KMS_TEST_KRYOPTIC_PIN",
        }
    }

    /// How the backend names the token in messages: `token '<label>'`.
    #[must_use]
    pub fn name(self) -> String {
        format!("token '{}'", self.label())
    }

    /// The backend configuration of the token.
    #[must_use]
    pub fn config(self) -> Pkcs11Config {
        let module = self.module();
        required(self, self.pin_variable());
        let pin = Pkcs11Config::pin_from_env(self.pin_variable())
            .unwrap_or_else(|error| panic!("{error}"));
        let mut config = Pkcs11Config::new(module, TokenSelector::Label(self.label()), pin);
        config.session_pool_size = SESSION_POOL_SIZE;
        config
    }

    /// The backend on the token, one per token and process (one PKCS#11 context per module
    /// and process).
    #[must_use]
    pub fn backend(self) -> Arc<Pkcs11Backend> {
        static SOFTHSM2: OnceLock<Arc<Pkcs11Backend>> = OnceLock::new();
        static KRYOPTIC: OnceLock<Arc<Pkcs11Backend>> = OnceLock::new();
        let cell = match self {
            Self::SoftHsm2 => &SOFTHSM2,
            Self::Kryoptic => &KRYOPTIC,
        };
        cell.get_or_init(|| {
            Arc::new(Pkcs11Backend::open(self.config()).unwrap_or_else(|error| panic!("{error}")))
        })
        .clone()
    }

    /// An engine over the token's backend and an in-memory store.
    #[must_use]
    pub fn engine(self) -> Kms {
        engine_on(self.backend())
    }

    /// An engine on this token and an in-memory store whose clock is `clock`, with no
    /// wrapping-key pool.
    #[must_use]
    pub fn engine_on_clock(self, clock: &Arc<kms_core::ManualClock>) -> Kms {
        Kms::with_config(
            self.backend(),
            Arc::new(MemoryStore::new()),
            KmsConfig {
                wrapping_key_pool_size: 0,
                clock: Arc::clone(clock) as _,
                ..KmsConfig::default()
            },
        )
    }

    /// Every object in the token the test user can see: keys and data objects (Kryoptic
    /// also shows mechanism objects to an empty template). (Tests that count them run alone
    /// on their token in their test binary, so no other test changes the count meanwhile.)
    #[must_use]
    pub fn objects(self) -> usize {
        use cryptoki::object::{Attribute, ObjectClass};

        let backend = self.backend();
        let session = backend.session_pool().get().unwrap();
        [
            ObjectClass::SECRET_KEY,
            ObjectClass::PUBLIC_KEY,
            ObjectClass::PRIVATE_KEY,
            ObjectClass::DATA,
        ]
        .into_iter()
        .map(|class| {
            session
                .find_objects(&[Attribute::Class(class)])
                .unwrap()
                .len()
        })
        .sum()
    }

    /// Objects whose CKA_LABEL is `key_id`: the CMK objects of that key.
    #[must_use]
    pub fn cmk_objects_of(self, key_id: &str) -> usize {
        let backend = self.backend();
        let session = backend.session_pool().get().unwrap();
        session
            .find_objects(&[cryptoki::object::Attribute::Label(
                key_id.as_bytes().to_vec(),
            )])
            .unwrap()
            .len()
    }
}

/// The SoftHSM2 module: [`Token::module`] of [`Token::SoftHsm2`].
#[must_use]
pub fn module() -> String {
    Token::SoftHsm2.module()
}

/// The SoftHSM2 token's label: [`Token::label`] of [`Token::SoftHsm2`].
#[must_use]
pub fn label() -> String {
    Token::SoftHsm2.label()
}

/// The configuration of the SoftHSM2 token.
#[must_use]
pub fn config() -> Pkcs11Config {
    Token::SoftHsm2.config()
}

/// The backend on the SoftHSM2 token.
#[must_use]
pub fn backend() -> Arc<Pkcs11Backend> {
    Token::SoftHsm2.backend()
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

/// An engine over the SoftHSM2 backend and an in-memory store.
#[must_use]
pub fn engine() -> Kms {
    Token::SoftHsm2.engine()
}

/// An engine on a SoftHSM2 backend of its own with the `host_assisted_unwrap` policy on,
/// and that backend.
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

/// Every object in the SoftHSM2 token: [`Token::objects`].
#[must_use]
pub fn token_objects() -> usize {
    Token::SoftHsm2.objects()
}

/// The CMK objects of `key_id` in the SoftHSM2 token: [`Token::cmk_objects_of`].
#[must_use]
pub fn cmk_objects_of(key_id: &str) -> usize {
    Token::SoftHsm2.cmk_objects_of(key_id)
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
    import_parameters_for(kms, key_id, algorithm, None)
}

/// [`import_parameters`] with a wrapping key spec (`RSA_2048`, ...) when `spec` is given.
///
/// # Errors
/// The engine's error.
pub fn import_parameters_for(
    kms: &Kms,
    key_id: &str,
    algorithm: &str,
    spec: Option<&str>,
) -> Result<(String, rsa::PublicKey), KmsError> {
    use pkcs8::DecodePublicKey;

    let mut body = json!({"key_id": key_id, "wrapping_algorithm": algorithm});
    if let Some(spec) = spec {
        body["wrapping_key_spec"] = json!(spec);
    }
    let response = call(kms, Operation::GetParametersForImport, &body)?;
    let spki = kms_core::decode_base64(response["public_key"].as_str().unwrap()).unwrap();
    Ok((
        response["import_token"].as_str().unwrap().to_owned(),
        rsa::PublicKey::from_public_key_der(&spki).unwrap(),
    ))
}

/// The output of the OpenSSL CLI run with `args` and `input` on its standard input.
fn openssl(args: &[&std::ffi::OsStr], input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::Stdio;

    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("openssl (apt-get install openssl): {error}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// RSAES_OAEP_SHA_256 of `material` to `public` as a customer makes it with the OpenSSL CLI
/// (`openssl pkeyutl -encrypt`, OAEP with SHA-256 and MGF1-SHA-256).
#[must_use]
pub fn openssl_oaep_sha256(public: &rsa::PublicKey, material: &[u8]) -> Vec<u8> {
    use pkcs8::EncodePublicKey;

    openssl_oaep(
        public.to_public_key_der().unwrap().as_bytes(),
        "sha256",
        material,
    )
}

/// RSA-OAEP of `material` to the public key `spki` (DER) with the digest `md` (`sha1`,
/// `sha256`) for both OAEP and MGF1, made with the OpenSSL CLI as a customer makes it.
#[must_use]
pub fn openssl_oaep(spki: &[u8], md: &str, material: &[u8]) -> Vec<u8> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let key_file = std::env::temp_dir().join(format!(
        "kms-{}-{}-wrapping.der",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&key_file, spki).unwrap();
    let oaep_md = format!("rsa_oaep_md:{md}");
    let mgf1_md = format!("rsa_mgf1_md:{md}");
    let options = [
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        &oaep_md,
        "-pkeyopt",
        &mgf1_md,
    ];
    let args: Vec<&std::ffi::OsStr> =
        ["pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey"]
            .iter()
            .map(std::ffi::OsStr::new)
            .chain([key_file.as_os_str()])
            .chain(options.iter().map(std::ffi::OsStr::new))
            .collect();
    let wrapped = openssl(&args, material);
    std::fs::remove_file(&key_file).unwrap();
    wrapped
}

/// The SPKI DER public key of the PKCS#8 DER private key `pkcs8`, as the OpenSSL CLI
/// derives it (`openssl pkey -pubout`; the private key goes through a pipe, never a file).
#[must_use]
pub fn openssl_public_key(pkcs8: &[u8]) -> Vec<u8> {
    let args = ["pkey", "-inform", "DER", "-pubout", "-outform", "DER"].map(std::ffi::OsStr::new);
    openssl(&args, pkcs8)
}

/// An engine over `backend` and a store of its own holding the external AES_256 key
/// `key_id`, pending import: so the same key can take the same material in several
/// backends.
#[must_use]
pub fn engine_awaiting(backend: Arc<dyn kms_core::Backend>, key_id: &str) -> Kms {
    use kms_core::{KeyId, KeyOrigin, KeyRecord, KeyState, KeyStore, KeyUsage, ProjectId};

    let store = Arc::new(MemoryStore::new());
    store
        .insert_key(&KeyRecord {
            project_id: ProjectId::default_project(),
            key_id: KeyId::parse(key_id).unwrap(),
            alias: format!("cross-{key_id}"),
            description: String::new(),
            spec: CmkSpec::Aes256.into(),
            usage: KeyUsage::EncryptDecrypt,
            origin: KeyOrigin::External,
            state: KeyState::PendingImport,
            created_ms: 0,
            scheduled_deletion_ms: None,
            generation: 0,
            key_blob: None,
            material_expiry_ms: None,
            material_fingerprint: None,
            retired_materials: Vec::new(),
            rotation: kms_core::Rotation::default(),
        })
        .unwrap();
    Kms::with_config(
        backend,
        store,
        KmsConfig {
            wrapping_key_pool_size: 0,
            ..KmsConfig::default()
        },
    )
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
