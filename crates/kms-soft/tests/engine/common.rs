//! Shared set-up for the soft backend's integration tests: an engine over a fresh root key
//! and an in-memory store, JSON helpers that call it as a client would, and the OpenSSL CLI
//! commands a customer runs to wrap material for import or to open a wrapped private key.
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64ct::{Base64, Encoding};
use kms_core::{
    Backend, Capabilities, CmkHandle, CmkSpec, KeyBlob, KeyId, KeyPair, KeyPairSpec, Kms,
    KmsConfig, KmsError, ManualClock, MemoryStore, Operation, SecretBytes, WrappedMaterial,
    WrappingAlgorithm, WrappingKey, WrappingKeySpec, dek_digest,
};
use kms_soft::{RootKey, SoftBackend};
use serde_json::{Value, json};

/// A fresh engine over the soft backend and an in-memory store, without a wrapping key
/// pool (tests make thousands of engines; a pool would generate RSA keys for each).
pub fn engine() -> Kms {
    engine_with(KmsConfig {
        wrapping_key_pool_size: 0,
        ..KmsConfig::default()
    })
}

/// A fresh engine over the soft backend and an in-memory store, with `config`.
pub fn engine_with(config: KmsConfig) -> Kms {
    Kms::with_config(
        Arc::new(SoftBackend::new(RootKey::generate().unwrap())),
        Arc::new(MemoryStore::new()),
        config,
    )
}

/// An engine over `backend` and an in-memory store whose clock is `clock`, without a
/// wrapping key pool.
pub fn engine_on_clock(backend: Arc<dyn kms_core::Backend>, clock: &Arc<ManualClock>) -> Kms {
    Kms::with_config(
        backend,
        Arc::new(MemoryStore::new()),
        KmsConfig {
            wrapping_key_pool_size: 0,
            clock: Arc::clone(clock) as _,
            ..KmsConfig::default()
        },
    )
}

/// The soft backend, instrumented: it counts the key pairs it generates, records the keys
/// it destroys and, when told to, fails every `destroy_key`.
#[derive(Debug)]
pub struct InstrumentedBackend {
    inner: SoftBackend,
    generated: AtomicUsize,
    refuse_destroy: AtomicBool,
    destroyed: Mutex<Vec<KeyBlob>>,
    /// The threads that dropped each loaded CMK handle, in order.
    handles_dropped_on: Arc<Mutex<Vec<std::thread::ThreadId>>>,
}

/// A loaded CMK that records the thread it is dropped on.
#[derive(Debug)]
struct RecordedHandle {
    inner: Box<dyn CmkHandle>,
    dropped_on: Arc<Mutex<Vec<std::thread::ThreadId>>>,
}

impl CmkHandle for RecordedHandle {
    fn seal_in_place(
        &self,
        nonce: &[u8; 12],
        associated_data: &[u8],
        buffer: &mut [u8],
    ) -> kms_core::Result<[u8; 16]> {
        self.inner.seal_in_place(nonce, associated_data, buffer)
    }
    fn open_in_place(
        &self,
        nonce: &[u8; 12],
        associated_data: &[u8],
        buffer: &mut [u8],
        tag: &[u8; 16],
    ) -> kms_core::Result<()> {
        self.inner
            .open_in_place(nonce, associated_data, buffer, tag)
    }
}

impl Drop for RecordedHandle {
    fn drop(&mut self) {
        self.dropped_on
            .lock()
            .unwrap()
            .push(std::thread::current().id());
    }
}

impl InstrumentedBackend {
    /// A soft backend over a fresh root key, counting from zero, destroying.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: SoftBackend::new(RootKey::generate().unwrap()),
            generated: AtomicUsize::new(0),
            refuse_destroy: AtomicBool::new(false),
            destroyed: Mutex::new(Vec::new()),
            handles_dropped_on: Arc::default(),
        })
    }

    /// The threads that dropped the CMK handles it loaded, in order.
    pub fn handles_dropped_on(&self) -> Vec<std::thread::ThreadId> {
        self.handles_dropped_on.lock().unwrap().clone()
    }

    /// How many times `key` was destroyed.
    pub fn times_destroyed(&self, key: &KeyBlob) -> usize {
        let destroyed = self.destroyed.lock().unwrap();
        destroyed.iter().filter(|blob| *blob == key).count()
    }

    /// How many keys it destroyed.
    pub fn keys_destroyed(&self) -> usize {
        self.destroyed.lock().unwrap().len()
    }

    /// How many key pairs it generated.
    pub fn key_pairs_generated(&self) -> usize {
        self.generated.load(Ordering::Relaxed)
    }

    /// From now on `destroy_key` fails with a backend error (KMS.0103).
    pub fn refuse_destroy(&self) {
        self.refuse_destroy.store(true, Ordering::Relaxed);
    }
}

impl Backend for InstrumentedBackend {
    fn capabilities(&self) -> &Capabilities {
        self.inner.capabilities()
    }
    fn generate_cmk(
        &self,
        id: &KeyId,
        spec: CmkSpec,
        generation: u32,
    ) -> kms_core::Result<KeyBlob> {
        self.inner.generate_cmk(id, spec, generation)
    }
    fn load_cmk(
        &self,
        id: &KeyId,
        spec: CmkSpec,
        blob: &KeyBlob,
    ) -> kms_core::Result<Box<dyn CmkHandle>> {
        Ok(Box::new(RecordedHandle {
            inner: self.inner.load_cmk(id, spec, blob)?,
            dropped_on: Arc::clone(&self.handles_dropped_on),
        }))
    }
    fn generate_key_pair(&self, spec: KeyPairSpec) -> kms_core::Result<KeyPair> {
        self.generated.fetch_add(1, Ordering::Relaxed);
        self.inner.generate_key_pair(spec)
    }
    fn random(&self, out: &mut [u8]) -> kms_core::Result<()> {
        self.inner.random(out)
    }
    fn check_recipient(
        &self,
        recipient_spki: &[u8],
        algorithm: WrappingAlgorithm,
    ) -> kms_core::Result<()> {
        self.inner.check_recipient(recipient_spki, algorithm)
    }
    fn wrap_for_recipient(
        &self,
        recipient_spki: &[u8],
        algorithm: WrappingAlgorithm,
        plaintext: &SecretBytes,
    ) -> kms_core::Result<Vec<u8>> {
        self.inner
            .wrap_for_recipient(recipient_spki, algorithm, plaintext)
    }
    fn create_wrapping_key(
        &self,
        spec: WrappingKeySpec,
        object_id: &[u8],
    ) -> kms_core::Result<WrappingKey> {
        self.inner.create_wrapping_key(spec, object_id)
    }
    fn unwrap_cmk(
        &self,
        wrapping_key: &KeyBlob,
        wrapping_key_spec: WrappingKeySpec,
        algorithm: WrappingAlgorithm,
        wrapped: &WrappedMaterial<'_>,
        id: &KeyId,
        cmk_spec: CmkSpec,
    ) -> kms_core::Result<KeyBlob> {
        self.inner.unwrap_cmk(
            wrapping_key,
            wrapping_key_spec,
            algorithm,
            wrapped,
            id,
            cmk_spec,
        )
    }
    fn destroy_key(&self, key: &KeyBlob) -> kms_core::Result<()> {
        if self.refuse_destroy.load(Ordering::Relaxed) {
            return Err(KmsError::Backend(
                "destroying a key: refused by the test".into(),
            ));
        }
        self.destroyed.lock().unwrap().push(key.clone());
        self.inner.destroy_key(key)
    }
}

/// Calls `operation` with `body` and parses the response.
pub fn call(kms: &Kms, operation: Operation, body: &Value) -> Result<Value, KmsError> {
    kms.call_json(operation, &body.to_string())
        .map(|response| serde_json::from_str(response.expose_secret()).unwrap())
}

/// Creates an enabled CMK of `spec` ("AES_256" or "SM4") and returns its ID.
/// Creates a key of `spec` with `usage` and returns its ID.
pub fn create_key_of(kms: &Kms, spec: &str, usage: &str) -> String {
    let created = call(
        kms,
        Operation::CreateKey,
        &json!({"key_alias": format!("{spec}-{usage}"), "key_spec": spec, "key_usage": usage}),
    )
    .unwrap();
    created["key_info"]["key_id"].as_str().unwrap().to_owned()
}

pub fn create_key(kms: &Kms, spec: &str) -> String {
    let alias = format!("test-{}", kms_core::encode_hex(&random_bytes(8)));
    let response = call(
        kms,
        Operation::CreateKey,
        &json!({ "key_alias": alias, "key_spec": spec }),
    )
    .unwrap();
    response["key_info"]["key_id"].as_str().unwrap().to_owned()
}

/// Creates an external key (alias "external") and gets an SM2_ENCRYPT import token for it;
/// returns the key's ID and the token.
pub fn external_key_with_import_token(kms: &Kms) -> (String, Value) {
    let external = call(
        kms,
        Operation::CreateKey,
        &json!({"key_alias": "external", "origin": "external"}),
    )
    .unwrap()["key_info"]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = call(
        kms,
        Operation::GetParametersForImport,
        &json!({"key_id": external, "wrapping_algorithm": "SM2_ENCRYPT"}),
    )
    .unwrap()["import_token"]
        .clone();
    (external, token)
}

/// Imports `material` into the external key `key_id` with a fresh SM2_ENCRYPT token,
/// wrapped by the engine's own backend as a client would; `expiration_time` (epoch seconds)
/// when given. Returns the error code on failure.
pub fn import_material(
    kms: &Kms,
    key_id: &str,
    material: &[u8],
    expiration_time: Option<u64>,
) -> Result<(), String> {
    let parameters = call(
        kms,
        Operation::GetParametersForImport,
        &json!({"key_id": key_id, "wrapping_algorithm": "SM2_ENCRYPT"}),
    )
    .map_err(|error| error.code().to_owned())?;
    let public_key = Base64::decode_vec(parameters["public_key"].as_str().unwrap()).unwrap();
    let wrapped = kms
        .backend()
        .wrap_for_recipient(
            &public_key,
            WrappingAlgorithm::Sm2Encrypt,
            &SecretBytes::new(material.to_vec()),
        )
        .unwrap();
    let mut body = json!({
        "key_id": key_id,
        "import_token": parameters["import_token"],
        "encrypted_key_material": Base64::encode_string(&wrapped),
    });
    if let Some(seconds) = expiration_time {
        body["expiration_time"] = json!(seconds);
    }
    call(kms, Operation::ImportKeyMaterial, &body)
        .map(drop)
        .map_err(|error| error.code().to_owned())
}

/// `len` bytes from the OS.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    getrandom::fill(&mut out).unwrap();
    out
}

/// The `plain_text` of encrypt-datakey: hex of the DEK and its digest for `spec`.
pub fn plain_text(spec: CmkSpec, dek: &[u8]) -> String {
    kms_core::encode_hex(&[dek, &dek_digest(spec, dek)].concat())
}

/// Encrypts `dek` under `key_id` with `aad` and returns the `cipher_text`.
pub fn encrypt(kms: &Kms, key_id: &str, spec: CmkSpec, dek: &[u8], aad: &str) -> String {
    let response = call(
        kms,
        Operation::EncryptDatakey,
        &json!({
            "key_id": key_id,
            "plain_text": plain_text(spec, dek),
            "datakey_plain_length": dek.len().to_string(),
            "additional_authenticated_data": aad,
        }),
    )
    .unwrap();
    assert_eq!(response["datakey_length"], dek.len().to_string());
    response["cipher_text"].as_str().unwrap().to_owned()
}

/// Calls decrypt-datakey.
pub fn decrypt(
    kms: &Kms,
    key_id: &str,
    cipher_text: &str,
    dek_len: usize,
    aad: &str,
) -> Result<Value, KmsError> {
    call(
        kms,
        Operation::DecryptDatakey,
        &json!({
            "key_id": key_id,
            "cipher_text": cipher_text,
            "datakey_cipher_length": dek_len.to_string(),
            "additional_authenticated_data": aad,
        }),
    )
}

/// Upper-case hex.
pub fn hex(bytes: &[u8]) -> String {
    kms_core::encode_hex(bytes)
}

/// The key's state as describe-key reports it.
pub fn key_state(kms: &Kms, key_id: &str) -> String {
    let response = call(kms, Operation::DescribeKey, &json!({ "key_id": key_id })).unwrap();
    response["key_info"]["key_state"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The code of the error `operation` answers `body` with; fails the test if it succeeds.
pub fn error_code(kms: &Kms, operation: Operation, body: &Value) -> String {
    match call(kms, operation, body) {
        Ok(response) => panic!("{} succeeded: {response}", operation.as_str()),
        Err(err) => err.code().to_owned(),
    }
}

/// A directory of its own under the system temp dir, removed when dropped.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// A fresh, empty directory.
    pub fn new() -> Self {
        let name = format!("kms-test-{}-{}", std::process::id(), hex(&random_bytes(8)));
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    /// Writes `bytes` to `name` in the directory and returns its path as text.
    pub fn write(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the OpenSSL CLI with `args`, `input` on standard input; returns standard output.
pub fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the OpenSSL CLI is required for these tests (apt-get install openssl)");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// No `-pkeyopt` at all (SM2 encryption).
pub const NO_OPTIONS: [&str; 0] = [];

/// The `-pkeyopt`s of RSA-OAEP with `digest` for both the hash and MGF1.
pub fn oaep_options(digest: &str) -> Vec<String> {
    vec![
        "rsa_padding_mode:oaep".into(),
        format!("rsa_oaep_md:{digest}"),
        format!("rsa_mgf1_md:{digest}"),
    ]
}

/// `openssl pkeyutl -encrypt` of `input` to the public key `spki` with `options`.
pub fn pkeyutl_encrypt<S: AsRef<str>>(
    dir: &TempDir,
    spki: &[u8],
    options: &[S],
    input: &[u8],
) -> Vec<u8> {
    let key = dir.write("wrapping-key.der", spki);
    let mut args = vec![
        "pkeyutl",
        "-encrypt",
        "-pubin",
        "-keyform",
        "DER",
        "-inkey",
        key.as_str(),
    ];
    for option in options {
        args.extend(["-pkeyopt", option.as_ref()]);
    }
    openssl(&args, input)
}

/// `openssl pkeyutl -decrypt` of `input` with the private key in `private_key_file`.
pub fn pkeyutl_decrypt<S: AsRef<str>>(
    private_key_file: &str,
    options: &[S],
    input: &[u8],
) -> Vec<u8> {
    let mut args = vec!["pkeyutl", "-decrypt", "-inkey", private_key_file];
    for option in options {
        args.extend(["-pkeyopt", option.as_ref()]);
    }
    openssl(&args, input)
}

/// The `openssl enc` cipher of AES-KWP (RFC 5649) under `key`.
fn kwp_cipher(key: &[u8]) -> &'static str {
    if key.len() == 16 {
        "-id-aes128-wrap-pad"
    } else {
        "-id-aes256-wrap-pad"
    }
}

/// `openssl enc -id-aes256-wrap-pad` (AES-KWP, RFC 5649) of `input` under `key`.
pub fn kwp_wrap(key: &[u8], input: &[u8]) -> Vec<u8> {
    openssl(
        &["enc", kwp_cipher(key), "-iv", "A65959A6", "-K", &hex(key)],
        input,
    )
}

/// `openssl enc -d -id-aes256-wrap-pad` of `input` under `key`.
pub fn kwp_unwrap(key: &[u8], input: &[u8]) -> Vec<u8> {
    openssl(
        &[
            "enc",
            "-d",
            kwp_cipher(key),
            "-iv",
            "A65959A6",
            "-K",
            &hex(key),
        ],
        input,
    )
}

/// RSA_AES_KEY_WRAP with `digest` as a customer does it with OpenSSL: `temporary_key`
/// under OAEP to `spki`, followed by the AES-KWP of `material` under it.
pub fn rsa_aes_wrap_with_openssl(
    dir: &TempDir,
    spki: &[u8],
    digest: &str,
    temporary_key: &[u8],
    material: &[u8],
) -> Vec<u8> {
    let oaep_part = pkeyutl_encrypt(dir, spki, &oaep_options(digest), temporary_key);
    [oaep_part, kwp_wrap(temporary_key, material)].concat()
}

/// A key pair made by OpenSSL: the private key's file and the public SPKI DER.
pub struct RecipientKey {
    /// The PEM private key, as a path.
    pub private_key_file: String,
    /// SubjectPublicKeyInfo DER.
    pub public_key: Vec<u8>,
}

/// `openssl genpkey` with `genpkey_args`, the private key written to `name` in `dir`.
pub fn recipient_key(dir: &TempDir, name: &str, genpkey_args: &[&str]) -> RecipientKey {
    let pem = openssl(&[&["genpkey"], genpkey_args].concat(), b"");
    let private_key_file = dir.write(name, &pem);
    let public_key = openssl(
        &[
            "pkey",
            "-in",
            &private_key_file,
            "-pubout",
            "-outform",
            "DER",
        ],
        b"",
    );
    RecipientKey {
        private_key_file,
        public_key,
    }
}

/// An RSA key pair of `bits` made by OpenSSL.
pub fn rsa_key(dir: &TempDir, bits: u32) -> RecipientKey {
    recipient_key(
        dir,
        &format!("rsa{bits}.pem"),
        &[
            "-algorithm",
            "RSA",
            "-pkeyopt",
            &format!("rsa_keygen_bits:{bits}"),
        ],
    )
}

/// An SM2 key pair made by OpenSSL.
pub fn sm2_key(dir: &TempDir) -> RecipientKey {
    recipient_key(dir, "sm2.pem", &["-algorithm", "SM2"])
}

/// The recipient opens what was wrapped to it with `algorithm` (its wire name) with
/// OpenSSL, as it would in real life. RSA recipients here are 2048-bit keys.
pub fn unwrap_as_recipient(recipient: &RecipientKey, algorithm: &str, wrapped: &[u8]) -> Vec<u8> {
    let key = recipient.private_key_file.as_str();
    match algorithm {
        "SM2_ENCRYPT" => pkeyutl_decrypt(key, &NO_OPTIONS, wrapped),
        "RSAES_OAEP_SHA_256" => pkeyutl_decrypt(key, &oaep_options("sha256"), wrapped),
        "RSA_AES_KEY_WRAP_SHA_256" => {
            let modulus_len = 256;
            let (oaep_part, kwp_part) = wrapped.split_at(modulus_len);
            let temporary_key = pkeyutl_decrypt(key, &oaep_options("sha256"), oaep_part);
            assert_eq!(temporary_key.len(), 32);
            kwp_unwrap(&temporary_key, kwp_part)
        }
        _ => unreachable!("{algorithm}"),
    }
}
