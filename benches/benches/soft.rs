//! The soft backend's hot paths, each engine operation beside its raw primitive, so the
//! engine's overhead is a ratio read in one run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "benchmark set-up fails loudly"
)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kms_core::models::{
    CreateDatakeyRequest, CreateEcDatakeyPairRequest, CreateKeyRequest, DecryptDatakeyRequest,
    EncryptDatakeyRequest,
};
use kms_core::{
    CmkHandle, CmkSpec, Kms, KmsConfig, MemoryStore, SecretBytes, SecretString, dek_digest,
    encode_hex, verify_dek_digest,
};
use kms_soft::{RootKey, SoftBackend, SoftCmk};
use p256::elliptic_curve::Generate;
use pkcs8::{EncodePrivateKey, EncodePublicKey};
use rand_core::SeedableRng;

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

fn create_key(kms: &Kms, spec: CmkSpec) -> String {
    let request = CreateKeyRequest {
        key_alias: Some(format!("bench-{}", spec.as_str())),
        key_spec: Some(spec.as_str().into()),
        ..CreateKeyRequest::default()
    };
    kms.create_key(&request).unwrap().key_info.key_id
}

fn encrypt_request(key_id: &str, spec: CmkSpec, dek: &[u8]) -> EncryptDatakeyRequest {
    EncryptDatakeyRequest {
        key_id: Some(key_id.into()),
        plain_text: Some(SecretString::new(encode_hex(
            &[dek, &dek_digest(spec, dek)].concat(),
        ))),
        datakey_plain_length: Some(dek.len().to_string()),
        additional_authenticated_data: Some("bench".into()),
        ..EncryptDatakeyRequest::default()
    }
}

/// encrypt-datakey and decrypt-datakey against digest + AEAD with the same key and sizes.
fn envelope(c: &mut Criterion) {
    let kms = engine();
    for spec in [CmkSpec::Aes256, CmkSpec::Sm4] {
        let key_id = create_key(&kms, spec);
        let raw_cmk = SoftCmk::new(spec, &SecretBytes::new(vec![7; spec.material_len()])).unwrap();
        for len in [32usize, 64, 1024] {
            let dek = vec![0x5A; len];
            let encrypt = encrypt_request(&key_id, spec, &dek);
            let mut group = c.benchmark_group(format!("encrypt-datakey/{}", spec.as_str()));
            group.throughput(Throughput::Elements(1));
            group.bench_function(BenchmarkId::new("engine", len), |b| {
                b.iter(|| kms.encrypt_datakey(black_box(&encrypt)).unwrap());
            });
            let digest = dek_digest(spec, &dek);
            group.bench_function(BenchmarkId::new("raw", len), |b| {
                b.iter(|| {
                    verify_dek_digest(spec, black_box(&dek), &digest).unwrap();
                    let mut buffer = dek.clone();
                    raw_cmk
                        .seal_in_place(&[1; 12], b"bench", &mut buffer)
                        .unwrap()
                });
            });
            group.finish();

            let cipher_text = kms.encrypt_datakey(&encrypt).unwrap().cipher_text;
            let decrypt = DecryptDatakeyRequest {
                key_id: Some(key_id.clone()),
                cipher_text: Some(cipher_text),
                datakey_cipher_length: Some(len.to_string()),
                additional_authenticated_data: Some("bench".into()),
                ..DecryptDatakeyRequest::default()
            };
            let mut sealed = dek.clone();
            let tag = raw_cmk
                .seal_in_place(&[1; 12], b"bench", &mut sealed)
                .unwrap();
            let mut group = c.benchmark_group(format!("decrypt-datakey/{}", spec.as_str()));
            group.throughput(Throughput::Elements(1));
            group.bench_function(BenchmarkId::new("engine", len), |b| {
                b.iter(|| kms.decrypt_datakey(black_box(&decrypt)).unwrap());
            });
            group.bench_function(BenchmarkId::new("raw", len), |b| {
                b.iter(|| {
                    let mut buffer = sealed.clone();
                    raw_cmk
                        .open_in_place(&[1; 12], b"bench", &mut buffer, &tag)
                        .unwrap();
                    dek_digest(spec, &buffer)
                });
            });
            group.finish();
        }
    }
}

/// create-datakey of a 32-byte DEK.
fn create_datakey(c: &mut Criterion) {
    let kms = engine();
    let key_id = create_key(&kms, CmkSpec::Aes256);
    let request = CreateDatakeyRequest {
        key_id: Some(key_id),
        key_spec: Some("AES_256".into()),
        ..CreateDatakeyRequest::default()
    };
    c.bench_function("create-datakey/AES_256/engine", |b| {
        b.iter(|| kms.create_datakey(black_box(&request)).unwrap());
    });
}

/// create-ec-datakey-pair P-256 against keygen + SPKI/PKCS#8 encoding + seal.
fn ec_pair(c: &mut Criterion) {
    let kms = engine();
    let key_id = create_key(&kms, CmkSpec::Aes256);
    let request = CreateEcDatakeyPairRequest {
        key_id: Some(key_id),
        key_spec: Some("ECC_NIST_P256".into()),
        ..CreateEcDatakeyPairRequest::default()
    };
    let raw_cmk = SoftCmk::new(CmkSpec::Aes256, &SecretBytes::new(vec![7; 32])).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
    let mut group = c.benchmark_group("create-ec-datakey-pair/ECC_NIST_P256");
    group.bench_function("engine", |b| {
        b.iter(|| kms.create_ec_datakey_pair(black_box(&request)).unwrap());
    });
    group.bench_function("raw", |b| {
        b.iter(|| {
            let secret = p256::SecretKey::generate_from_rng(&mut rng);
            let spki = secret.public_key().to_public_key_der().unwrap();
            let mut pkcs8 = secret.to_pkcs8_der().unwrap().as_bytes().to_vec();
            let tag = raw_cmk
                .seal_in_place(&[1; 12], b"bench", &mut pkcs8)
                .unwrap();
            (spki, pkcs8, tag)
        });
    });
    group.finish();
}

criterion_group!(benches, envelope, create_datakey, ec_pair);
criterion_main!(benches);
