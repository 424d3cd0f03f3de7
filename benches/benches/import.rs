//! Import on the soft backend: get-parameters-for-import with the wrapping-key pool warm and
//! cold, and import-key-material for each wrapping algorithm beside its raw unwrap.
//!
//! Each timed call needs a fresh import token, so these groups time only the call itself
//! (`iter_custom`) and make the token, and wait for the pool, outside the clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark set-up fails loudly"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use aes_kw::KeyInit;
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use kms_benches::{create_key, soft_engine};
use kms_core::models::{GetParametersForImportRequest, ImportKeyMaterialRequest};
use kms_core::{CmkSpec, Kms, WrappingAlgorithm, WrappingKeySpec, decode_base64, encode_base64};
use p256::elliptic_curve::Generate;
use pkcs8::{DecodePublicKey, EncodePublicKey};
use rand_core::SeedableRng;

/// A get-parameters-for-import request for a new external key.
fn parameters_request(kms: &Kms, algorithm: &str, key_spec: &str) -> GetParametersForImportRequest {
    GetParametersForImportRequest {
        key_id: Some(create_key(kms, CmkSpec::Aes256, true)),
        wrapping_algorithm: Some(algorithm.into()),
        wrapping_key_spec: Some(key_spec.into()),
        ..GetParametersForImportRequest::default()
    }
}

/// Waits until the pool holds an RSA_2048 wrapping key.
fn wait_for_warm_pool(kms: &Kms) {
    assert!(kms.wait_for_wrapping_key(WrappingKeySpec::Rsa2048, Duration::from_secs(600)));
}

fn get_parameters_for_import(c: &mut Criterion) {
    let mut group = c.benchmark_group("get-parameters-for-import/RSA_2048");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(200));
    group.measurement_time(Duration::from_secs(1));
    let warm = soft_engine(1);
    let request = parameters_request(&warm, "RSAES_OAEP_SHA_256", "RSA_2048");
    group.bench_function("engine-warm-pool", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                wait_for_warm_pool(&warm);
                let start = Instant::now();
                black_box(
                    warm.get_parameters_for_import(warm.default_tenant(), &request)
                        .unwrap(),
                );
                timed += start.elapsed();
            }
            timed
        });
    });
    drop(warm);
    let cold = soft_engine(0);
    let request = parameters_request(&cold, "RSAES_OAEP_SHA_256", "RSA_2048");
    group.bench_function("engine-cold-pool", |b| {
        b.iter(|| {
            cold.get_parameters_for_import(cold.default_tenant(), black_box(&request))
                .unwrap()
        });
    });
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([5; 32]);
    group.bench_function("raw-rsa-keygen", |b| {
        b.iter(|| rsa::PrivateKey::new(&mut rng, 2048).unwrap());
    });
    group.finish();
}

/// The import algorithms and the wrapping key spec each is benchmarked with.
const ALGORITHMS: [(WrappingAlgorithm, &str); 5] = [
    (WrappingAlgorithm::RsaesOaepSha256, "RSA_2048"),
    (WrappingAlgorithm::RsaesOaepSha1, "RSA_2048"),
    (WrappingAlgorithm::RsaAesKeyWrapSha256, "RSA_2048"),
    (WrappingAlgorithm::RsaAesKeyWrapSha1, "RSA_2048"),
    (WrappingAlgorithm::Sm2Encrypt, "SM2"),
];

/// 32 bytes of AES-256 key material.
const MATERIAL: [u8; 32] = [0x42; 32];

/// [`MATERIAL`] wrapped to `spki` with `algorithm`, as a client does it.
fn client_wrap(spki: &[u8], algorithm: WrappingAlgorithm) -> Vec<u8> {
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([8; 32]);
    if algorithm == WrappingAlgorithm::Sm2Encrypt {
        let key = sm2::PublicKey::from_public_key_der(spki).unwrap();
        return sm2::pke::EncryptingKey::new(key)
            .encrypt_der(&mut rng, &MATERIAL)
            .unwrap();
    }
    let key = rsa::PublicKey::from_public_key_der(spki).unwrap();
    let sha256 = matches!(
        algorithm,
        WrappingAlgorithm::RsaesOaepSha256 | WrappingAlgorithm::RsaAesKeyWrapSha256
    );
    let mut oaep = |message: &[u8]| {
        if sha256 {
            key.encrypt(&mut rng, rsa::Oaep::<sha2::Sha256>::new(), message)
        } else {
            key.encrypt(&mut rng, rsa::Oaep::<sha1::Sha1>::new(), message)
        }
        .unwrap()
    };
    match algorithm {
        WrappingAlgorithm::RsaesOaepSha256 | WrappingAlgorithm::RsaesOaepSha1 => oaep(&MATERIAL),
        _ => {
            let temporary_key = [0x24u8; 32];
            let mut buffer = vec![0u8; MATERIAL.len() + 16];
            let kwp_part = aes_kw::KwpAes256::new_from_slice(&temporary_key)
                .unwrap()
                .wrap_key(&MATERIAL, &mut buffer)
                .unwrap()
                .to_vec();
            [oaep(&temporary_key), kwp_part].concat()
        }
    }
}

/// A fresh external key's import request: parameters fetched and the material wrapped to
/// the wrapping key.
fn import_request(
    kms: &Kms,
    algorithm: WrappingAlgorithm,
    key_spec: &str,
) -> ImportKeyMaterialRequest {
    let request = parameters_request(kms, algorithm.as_str(), key_spec);
    let parameters = kms
        .get_parameters_for_import(kms.default_tenant(), &request)
        .unwrap();
    let wrapped = client_wrap(&decode_base64(&parameters.public_key).unwrap(), algorithm);
    ImportKeyMaterialRequest {
        key_id: request.key_id,
        import_token: Some(parameters.import_token),
        encrypted_key_material: Some(encode_base64(&wrapped)),
        ..ImportKeyMaterialRequest::default()
    }
}

/// The raw unwrap primitive of an algorithm: its private-key decryption (and AES-KWP
/// unwrap), on a key pair of the bench's own and material wrapped to it.
enum RawUnwrap {
    Oaep {
        key: Box<rsa::PrivateKey>,
        sha256: bool,
        wrapped: Vec<u8>,
    },
    OaepAndKwp {
        key: Box<rsa::PrivateKey>,
        sha256: bool,
        wrapped: Vec<u8>,
    },
    Sm2 {
        key: sm2::pke::DecryptingKey,
        wrapped: Vec<u8>,
    },
}

impl RawUnwrap {
    fn new(algorithm: WrappingAlgorithm) -> Self {
        let mut rng = rand_chacha::ChaCha20Rng::from_seed([6; 32]);
        let wrap = |spki: Vec<u8>| client_wrap(&spki, algorithm);
        if algorithm == WrappingAlgorithm::Sm2Encrypt {
            let secret = sm2::SecretKey::generate_from_rng(&mut rng);
            let wrapped = wrap(secret.public_key().to_public_key_der().unwrap().into_vec());
            return Self::Sm2 {
                key: sm2::pke::DecryptingKey::new(secret),
                wrapped,
            };
        }
        let key = Box::new(rsa::PrivateKey::new(&mut rng, 2048).unwrap());
        let wrapped = wrap(key.to_public_key().to_public_key_der().unwrap().into_vec());
        let sha256 = matches!(
            algorithm,
            WrappingAlgorithm::RsaesOaepSha256 | WrappingAlgorithm::RsaAesKeyWrapSha256
        );
        match algorithm {
            WrappingAlgorithm::RsaesOaepSha256 | WrappingAlgorithm::RsaesOaepSha1 => Self::Oaep {
                key,
                sha256,
                wrapped,
            },
            _ => Self::OaepAndKwp {
                key,
                sha256,
                wrapped,
            },
        }
    }

    fn unwrap(&self) -> Vec<u8> {
        let oaep = |key: &rsa::PrivateKey, sha256: bool, part: &[u8]| {
            if sha256 {
                key.decrypt(rsa::Oaep::<sha2::Sha256>::new(), part).unwrap()
            } else {
                key.decrypt(rsa::Oaep::<sha1::Sha1>::new(), part).unwrap()
            }
        };
        match self {
            Self::Oaep {
                key,
                sha256,
                wrapped,
            } => oaep(key, *sha256, wrapped),
            Self::OaepAndKwp {
                key,
                sha256,
                wrapped,
            } => {
                let (oaep_part, kwp_part) = wrapped.split_at(256);
                let temporary_key = oaep(key, *sha256, oaep_part);
                let mut out = vec![0u8; kwp_part.len()];
                aes_kw::KwpAes256::new_from_slice(&temporary_key)
                    .unwrap()
                    .unwrap_key(kwp_part, &mut out)
                    .unwrap()
                    .to_vec()
            }
            Self::Sm2 { key, wrapped } => key.decrypt_der(wrapped).unwrap(),
        }
    }
}

fn import_key_material(c: &mut Criterion) {
    let kms = soft_engine(0);
    for (algorithm, key_spec) in ALGORITHMS {
        let mut group = c.benchmark_group(format!("import-key-material/{}", algorithm.as_str()));
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(100));
        group.measurement_time(Duration::from_millis(500));
        let raw = RawUnwrap::new(algorithm);
        group.bench_function("raw-unwrap", |b| b.iter(|| raw.unwrap()));
        group.bench_function("engine", |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let request = import_request(&kms, algorithm, key_spec);
                    let start = Instant::now();
                    black_box(
                        kms.import_key_material(kms.default_tenant(), &request)
                            .unwrap(),
                    );
                    timed += start.elapsed();
                }
                timed
            });
        });
        group.finish();
    }
}

criterion_group!(benches, get_parameters_for_import, import_key_material);
criterion_main!(benches);
