//! The soft backend's hot paths, each engine operation beside its raw primitive, so the
//! engine's overhead is a ratio read in one run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark set-up fails loudly"
)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kms_benches::{BENCH_AAD, create_key, raw_cmk, soft_engine};
use kms_core::models::{CreateDatakeyRequest, DecryptDatakeyRequest, EncryptDatakeyRequest};
use kms_core::{
    CmkHandle, CmkSpec, HEADER_LEN, SecretBytes, SecretString, decode_hex, decode_hex_secret,
    dek_digest, encode_hex, encode_hex_secret, verify_dek_digest,
};
use rand_core::{Rng, SeedableRng};

fn encrypt_request(key_id: &str, spec: CmkSpec, dek: &[u8]) -> EncryptDatakeyRequest {
    EncryptDatakeyRequest {
        key_id: Some(key_id.into()),
        plain_text: Some(SecretString::new(encode_hex(
            &[dek, &dek_digest(spec, dek)].concat(),
        ))),
        datakey_plain_length: Some(dek.len().to_string()),
        additional_authenticated_data: Some(BENCH_AAD.into()),
        ..EncryptDatakeyRequest::default()
    }
}

/// The engine's blob header (54 bytes) and associated data (header, AAD length, AAD) for
/// the `raw+hex` functions, which add to the raw primitive what the API's format makes
/// necessary: the hex codecs and a blob's header.
const HEADER: [u8; HEADER_LEN] = [0x11; HEADER_LEN];

fn blob_associated_data() -> Vec<u8> {
    let aad = BENCH_AAD.as_bytes();
    [&HEADER[..], &(aad.len() as u32).to_be_bytes(), aad].concat()
}

/// encrypt-datakey and decrypt-datakey against digest + AEAD with the same key and sizes
/// (`raw`), and against that plus the hex codecs and blob header (`raw+hex`).
fn envelope(c: &mut Criterion) {
    let kms = soft_engine(0);
    for spec in [CmkSpec::Aes256, CmkSpec::Sm4] {
        let key_id = create_key(&kms, spec, false);
        let raw_cmk = raw_cmk(spec);
        for len in [32usize, 64, 1024] {
            let dek = vec![0x5A; len];
            let encrypt = encrypt_request(&key_id, spec, &dek);
            let mut group = c.benchmark_group(format!("encrypt-datakey/{}", spec.as_str()));
            group.throughput(Throughput::Elements(1));
            group.bench_function(BenchmarkId::new("engine", len), |b| {
                b.iter(|| {
                    kms.encrypt_datakey(kms.default_tenant(), black_box(&encrypt))
                        .unwrap()
                });
            });
            let digest = dek_digest(spec, &dek);
            group.bench_function(BenchmarkId::new("raw", len), |b| {
                b.iter(|| {
                    verify_dek_digest(spec, black_box(&dek), &digest).unwrap();
                    let mut buffer = dek.clone();
                    raw_cmk
                        .seal_in_place(&[1; 12], BENCH_AAD.as_bytes(), &mut buffer)
                        .unwrap()
                });
            });
            let associated_data = blob_associated_data();
            let plain_text = encrypt.plain_text.as_ref().unwrap().expose_secret();
            group.bench_function(BenchmarkId::new("raw+hex", len), |b| {
                b.iter(|| {
                    let bytes = decode_hex_secret(black_box(plain_text)).unwrap();
                    let (dek, digest) = bytes.expose_secret().split_at(len);
                    verify_dek_digest(spec, dek, digest).unwrap();
                    let mut blob = [&HEADER[..], dek].concat();
                    let tag = raw_cmk
                        .seal_in_place(&[1; 12], &associated_data, &mut blob[HEADER_LEN..])
                        .unwrap();
                    blob.extend_from_slice(&tag);
                    encode_hex(&blob)
                });
            });
            group.finish();

            let cipher_text = kms
                .encrypt_datakey(kms.default_tenant(), &encrypt)
                .unwrap()
                .cipher_text;
            let decrypt = DecryptDatakeyRequest {
                key_id: Some(key_id.clone()),
                cipher_text: Some(cipher_text),
                datakey_cipher_length: Some(len.to_string()),
                additional_authenticated_data: Some(BENCH_AAD.into()),
                ..DecryptDatakeyRequest::default()
            };
            let mut sealed = dek.clone();
            let tag = raw_cmk
                .seal_in_place(&[1; 12], BENCH_AAD.as_bytes(), &mut sealed)
                .unwrap();
            let mut group = c.benchmark_group(format!("decrypt-datakey/{}", spec.as_str()));
            group.throughput(Throughput::Elements(1));
            group.bench_function(BenchmarkId::new("engine", len), |b| {
                b.iter(|| {
                    kms.decrypt_datakey(kms.default_tenant(), black_box(&decrypt))
                        .unwrap()
                });
            });
            group.bench_function(BenchmarkId::new("raw", len), |b| {
                b.iter(|| {
                    let mut buffer = sealed.clone();
                    raw_cmk
                        .open_in_place(&[1; 12], BENCH_AAD.as_bytes(), &mut buffer, &tag)
                        .unwrap();
                    dek_digest(spec, &buffer)
                });
            });
            let mut blob = [&HEADER[..], &dek].concat();
            let blob_tag = raw_cmk
                .seal_in_place(&[1; 12], &associated_data, &mut blob[HEADER_LEN..])
                .unwrap();
            blob.extend_from_slice(&blob_tag);
            let blob_hex = encode_hex(&blob);
            group.bench_function(BenchmarkId::new("raw+hex", len), |b| {
                b.iter(|| {
                    let blob = decode_hex(black_box(&blob_hex)).unwrap();
                    let (body, tag) = blob[HEADER_LEN..].split_at(len);
                    let mut dek = SecretBytes::new(body.to_vec());
                    raw_cmk
                        .open_in_place(
                            &[1; 12],
                            &associated_data,
                            dek.expose_secret_mut(),
                            tag.try_into().unwrap(),
                        )
                        .unwrap();
                    let digest = encode_hex(&dek_digest(spec, dek.expose_secret()));
                    (encode_hex_secret(&dek), digest)
                });
            });
            group.finish();
        }
    }
}

/// create-datakey of a 32-byte DEK against a ChaCha20 draw of 32 bytes + AEAD seal.
fn create_datakey(c: &mut Criterion) {
    let kms = soft_engine(0);
    let key_id = create_key(&kms, CmkSpec::Aes256, false);
    let request = CreateDatakeyRequest {
        key_id: Some(key_id),
        key_spec: Some("AES_256".into()),
        additional_authenticated_data: Some(BENCH_AAD.into()),
        ..CreateDatakeyRequest::default()
    };
    let raw_cmk = raw_cmk(CmkSpec::Aes256);
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([9; 32]);
    let mut group = c.benchmark_group("create-datakey/AES_256");
    group.bench_function("engine", |b| {
        b.iter(|| {
            kms.create_datakey(kms.default_tenant(), black_box(&request))
                .unwrap()
        });
    });
    group.bench_function("raw", |b| {
        b.iter(|| {
            let mut dek = vec![0u8; 32];
            rng.fill_bytes(&mut dek);
            let tag = raw_cmk
                .seal_in_place(&[1; 12], BENCH_AAD.as_bytes(), &mut dek)
                .unwrap();
            (dek, tag)
        });
    });
    group.finish();
}

criterion_group!(benches, envelope, create_datakey);
criterion_main!(benches);
