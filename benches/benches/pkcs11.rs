//! The PKCS#11 backend on a SoftHSM2 token and, when one is given, a Kryoptic token, each
//! engine operation beside a raw cryptoki loop on the same token: a pre-opened session, an
//! AES-256 token key like a CMK, the same mechanism. Groups are named
//! `pkcs11/<token>/<operation>`, so the two tokens' numbers sit side by side in one run.
//!
//! Run without `SOFTHSM2_CONF`, the bench makes its own SoftHSM2 token (a configuration and
//! token directory in a temporary directory, initialised with `softhsm2-util`) and runs
//! itself again against it; with `SOFTHSM2_CONF`, `KMS_PKCS11_PIN` and
//! `KMS_BENCH_PKCS11_LABEL` set, it uses that token. `KMS_PKCS11_MODULE` overrides the
//! module path. The Kryoptic token is the one `.ci/kryoptic token DIR` makes and describes
//! (`KMS_TEST_KRYOPTIC_MODULE`, `KRYOPTIC_CONF`, `KMS_TEST_KRYOPTIC_LABEL`,
//! `KMS_TEST_KRYOPTIC_PIN`); without `KMS_TEST_KRYOPTIC_MODULE` only SoftHSM2 is measured.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark set-up fails loudly"
)]

use std::hint::black_box;
use std::process::{Command, ExitCode};
use std::sync::Arc;

use criterion::Criterion;
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::Attribute;
use kms_benches::{BENCH_AAD, create_key};
use kms_core::models::{CreateEcDatakeyPairRequest, DecryptDatakeyRequest, EncryptDatakeyRequest};
use kms_core::{
    CmkSpec, Kms, KmsConfig, MemoryStore, SecretString, dek_digest, encode_hex, verify_dek_digest,
};
use kms_pkcs11::{Pkcs11Backend, Pkcs11Config, TokenSelector, cmk_template};
use pkcs8::AssociatedOid;
use pkcs8::der::Encode;

const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const OWN_TOKEN_LABEL: &str = "kms-bench";
/// The DEK length of the envelope groups.
const DEK_LEN: usize = 64;

fn main() -> ExitCode {
    if std::env::var_os("SOFTHSM2_CONF").is_none() {
        return run_in_own_token();
    }
    let mut c = Criterion::default().configure_from_args();
    for (token, backend) in tokens() {
        let backend = Arc::new(backend);
        envelope(&mut c, token, &backend);
        ec_pair(&mut c, token, &backend);
    }
    c.final_summary();
    ExitCode::SUCCESS
}

/// The tokens to measure, each with its name in the group names.
fn tokens() -> Vec<(&'static str, Pkcs11Backend)> {
    let module = std::env::var("KMS_PKCS11_MODULE").unwrap_or_else(|_| DEFAULT_MODULE.into());
    let label = std::env::var("KMS_BENCH_PKCS11_LABEL").unwrap_or_else(|_| OWN_TOKEN_LABEL.into());
    let mut tokens = vec![("softhsm2", open_backend(module, label, "KMS_PKCS11_PIN"))];
    if let Ok(module) = std::env::var("KMS_TEST_KRYOPTIC_MODULE") {
        let label = std::env::var("KMS_TEST_KRYOPTIC_LABEL").unwrap();
        tokens.push((
            "kryoptic",
            open_backend(module, label, "KMS_TEST_KRYOPTIC_PIN"),
        ));
    }
    tokens
}

/// Makes a SoftHSM2 token in a temporary directory and runs this bench again against it.
fn run_in_own_token() -> ExitCode {
    let dir = std::env::temp_dir().join(format!("kms-bench-softhsm-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("tokens")).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.join("tokens").display()
        ),
    )
    .unwrap();
    let mut pin = [0u8; 12];
    getrandom::fill(&mut pin).unwrap();
    let pin = encode_hex(&pin);
    let initialised = Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", &conf)
        .args(["--init-token", "--free", "--label", OWN_TOKEN_LABEL])
        .args(["--so-pin", &pin, "--pin", &pin])
        .output();
    let status = match initialised {
        Ok(output) if output.status.success() => Command::new(std::env::current_exe().unwrap())
            .args(std::env::args_os().skip(1))
            .env("SOFTHSM2_CONF", &conf)
            .env("KMS_PKCS11_PIN", &pin)
            .env("KMS_BENCH_PKCS11_LABEL", OWN_TOKEN_LABEL)
            .status()
            .map(|status| status.success()),
        Ok(output) => {
            eprintln!(
                "softhsm2-util --init-token failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            Ok(false)
        }
        Err(error) => {
            eprintln!("the PKCS#11 benchmarks need SoftHSM2 (apt-get install softhsm2): {error}");
            Ok(false)
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    if status.unwrap_or(false) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn open_backend(module: String, label: String, pin_variable: &str) -> Pkcs11Backend {
    let pin = Pkcs11Config::pin_from_env(pin_variable).unwrap();
    Pkcs11Backend::open(Pkcs11Config::new(module, TokenSelector::Label(label), pin)).unwrap()
}

fn engine(backend: &Arc<Pkcs11Backend>) -> Kms {
    Kms::with_config(
        Arc::clone(backend) as Arc<dyn kms_core::Backend>,
        Arc::new(MemoryStore::new()),
        KmsConfig {
            wrapping_key_pool_size: 0,
            ..KmsConfig::default()
        },
    )
}

/// encrypt-datakey and decrypt-datakey of a 64-byte DEK against SHA-256 + C_Encrypt /
/// C_Decrypt (CKM_AES_GCM) in a pre-opened session with an AES-256 token key made from the
/// CMK template (SoftHSM2 checks a token object's file on every use).
fn envelope(c: &mut Criterion, token: &str, backend: &Arc<Pkcs11Backend>) {
    let kms = engine(backend);
    let key_id = create_key(&kms, CmkSpec::Aes256, false);
    let dek = [0x5A; DEK_LEN];
    let digest = dek_digest(CmkSpec::Aes256, &dek);
    let encrypt = EncryptDatakeyRequest {
        key_id: Some(key_id.clone()),
        plain_text: Some(SecretString::new(encode_hex(&[&dek[..], &digest].concat()))),
        datakey_plain_length: Some(DEK_LEN.to_string()),
        additional_authenticated_data: Some(BENCH_AAD.into()),
        ..EncryptDatakeyRequest::default()
    };
    let decrypt = DecryptDatakeyRequest {
        key_id: Some(key_id),
        cipher_text: Some(
            kms.encrypt_datakey(kms.default_tenant(), &encrypt)
                .unwrap()
                .cipher_text,
        ),
        datakey_cipher_length: Some(DEK_LEN.to_string()),
        additional_authenticated_data: Some(BENCH_AAD.into()),
        ..DecryptDatakeyRequest::default()
    };

    let session = backend.session_pool().get().unwrap();
    let key = session
        .generate_key(
            &Mechanism::AesKeyGen,
            &cmk_template(b"kms-bench-raw", b"kms-bench-raw"),
        )
        .unwrap();
    let mut nonce = 0u128;
    let mut next_iv = move || {
        nonce += 1;
        let mut iv = [0u8; 12];
        iv.copy_from_slice(&nonce.to_be_bytes()[4..]);
        iv
    };
    let mut iv = next_iv();
    let sealed = session
        .encrypt(
            &Mechanism::AesGcm(GcmParams::new(&mut iv, BENCH_AAD.as_bytes(), 128.into()).unwrap()),
            key,
            &dek,
        )
        .unwrap();
    let sealed_iv = iv;

    let mut group = c.benchmark_group(format!("pkcs11/{token}/encrypt-datakey/AES_256/{DEK_LEN}"));
    group.bench_function("engine", |b| {
        b.iter(|| {
            kms.encrypt_datakey(kms.default_tenant(), black_box(&encrypt))
                .unwrap()
        });
    });
    group.bench_function("raw-cryptoki", |b| {
        b.iter(|| {
            verify_dek_digest(CmkSpec::Aes256, black_box(&dek), &digest).unwrap();
            let mut iv = next_iv();
            let params = GcmParams::new(&mut iv, BENCH_AAD.as_bytes(), 128.into()).unwrap();
            session
                .encrypt(&Mechanism::AesGcm(params), key, &dek)
                .unwrap()
        });
    });
    group.finish();

    let mut group = c.benchmark_group(format!("pkcs11/{token}/decrypt-datakey/AES_256/{DEK_LEN}"));
    group.bench_function("engine", |b| {
        b.iter(|| {
            kms.decrypt_datakey(kms.default_tenant(), black_box(&decrypt))
                .unwrap()
        });
    });
    group.bench_function("raw-cryptoki", |b| {
        b.iter(|| {
            let mut iv = sealed_iv;
            let params = GcmParams::new(&mut iv, BENCH_AAD.as_bytes(), 128.into()).unwrap();
            let opened = session
                .decrypt(&Mechanism::AesGcm(params), key, black_box(&sealed))
                .unwrap();
            dek_digest(CmkSpec::Aes256, &opened)
        });
    });
    group.finish();
    session.destroy_object(key).unwrap();
    drop(session);
    kms.destroy_all_keys().unwrap();
}

/// create-ec-datakey-pair P-256 against C_GenerateKeyPair of a P-256 session key pair.
fn ec_pair(c: &mut Criterion, token: &str, backend: &Arc<Pkcs11Backend>) {
    let kms = engine(backend);
    let request = CreateEcDatakeyPairRequest {
        key_id: Some(create_key(&kms, CmkSpec::Aes256, false)),
        key_spec: Some("ECC_NIST_P256".into()),
        additional_authenticated_data: Some(BENCH_AAD.into()),
        ..CreateEcDatakeyPairRequest::default()
    };
    // EC_PARAMS: the DER of the P-256 curve's OID.
    let p256_params = <p256::NistP256 as AssociatedOid>::OID.to_der().unwrap();
    let session = backend.session_pool().get().unwrap();
    let mut group = c.benchmark_group(format!(
        "pkcs11/{token}/create-ec-datakey-pair/ECC_NIST_P256"
    ));
    group.bench_function("engine", |b| {
        b.iter(|| {
            kms.create_ec_datakey_pair(kms.default_tenant(), black_box(&request))
                .unwrap()
        });
    });
    group.bench_function("raw-cryptoki-keygen", |b| {
        b.iter(|| {
            let (public, private) = session
                .generate_key_pair(
                    &Mechanism::EccKeyPairGen,
                    &[
                        Attribute::Token(false),
                        Attribute::EcParams(p256_params.clone()),
                    ],
                    &[Attribute::Token(false), Attribute::Sensitive(false)],
                )
                .unwrap();
            session.destroy_object(public).unwrap();
            session.destroy_object(private).unwrap();
        });
    });
    group.finish();
    drop(session);
    kms.destroy_all_keys().unwrap();
}
