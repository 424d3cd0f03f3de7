//! create-ec-datakey-pair for every curve and create-rsa-datakey-pair RSA_2048 on the soft
//! backend, each beside the raw primitive: key generation, SPKI and PKCS#8 encoding, and
//! the AEAD seal of the private key. EC pairs also beside the same with the curve crate's
//! own encoders, which cost a second scalar multiplication.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark set-up fails loudly"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kms_benches::{BENCH_AAD, create_key, raw_cmk, raw_seal, soft_engine};
use kms_core::models::{CreateEcDatakeyPairRequest, CreateRsaDatakeyPairRequest};
use kms_core::{CmkSpec, KeyPair};
use p256::elliptic_curve::Generate;
use pkcs8::{EncodePrivateKey, EncodePublicKey};
use rand_core::SeedableRng;

/// Keygen of one spec with `rng`, then both DER encodings.
type RawKeygen = fn(&mut rand_chacha::ChaCha20Rng) -> (Vec<u8>, Vec<u8>);

/// The SPKI and PKCS#8 DER from the key types' own encoders.
fn encode(secret: &impl EncodePrivateKey, public: &impl EncodePublicKey) -> (Vec<u8>, Vec<u8>) {
    (
        public.to_public_key_der().unwrap().into_vec(),
        secret.to_pkcs8_der().unwrap().as_bytes().to_vec(),
    )
}

/// An EC spec's two raw keygens: `raw`, the encoding the backends use (one scalar
/// multiplication), and `raw-crate-encoders`, the curve crate's own encoders (which
/// compute the public point once each: two).
macro_rules! ec_keygens {
    ($curve:ident) => {
        (
            |rng| {
                let pair = KeyPair::from_ec_secret_key(&$curve::SecretKey::generate_from_rng(rng))
                    .unwrap();
                let pkcs8 = pair.private_key_pkcs8.expose_secret().to_vec();
                (pair.public_key_spki, pkcs8)
            },
            |rng| {
                let secret = $curve::SecretKey::generate_from_rng(rng);
                encode(&secret, &secret.public_key())
            },
        )
    };
}

const EC_SPECS: [(&str, (RawKeygen, RawKeygen)); 5] = [
    ("ECC_NIST_P256", ec_keygens!(p256)),
    ("ECC_NIST_P384", ec_keygens!(p384)),
    ("ECC_NIST_P521", ec_keygens!(p521)),
    ("ECC_SECG_P256K1", ec_keygens!(k256)),
    ("SM2", ec_keygens!(sm2)),
];

fn ec_pairs(c: &mut Criterion) {
    let kms = soft_engine(0);
    let key_id = create_key(&kms, CmkSpec::Aes256, false);
    let cmk = raw_cmk(CmkSpec::Aes256);
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
    for (spec, (raw_keygen, crate_keygen)) in EC_SPECS {
        let request = CreateEcDatakeyPairRequest {
            key_id: Some(key_id.clone()),
            key_spec: Some(spec.into()),
            additional_authenticated_data: Some(BENCH_AAD.into()),
            ..CreateEcDatakeyPairRequest::default()
        };
        let mut group = c.benchmark_group(format!("create-ec-datakey-pair/{spec}"));
        group.bench_function("engine", |b| {
            b.iter(|| {
                kms.create_ec_datakey_pair(kms.default_tenant(), black_box(&request))
                    .unwrap()
            });
        });
        for (name, keygen) in [("raw", raw_keygen), ("raw-crate-encoders", crate_keygen)] {
            group.bench_function(name, |b| {
                b.iter(|| {
                    let (spki, pkcs8) = keygen(&mut rng);
                    (spki, raw_seal(&cmk, pkcs8))
                });
            });
        }
        group.finish();
    }
}

fn rsa_pair(c: &mut Criterion) {
    let kms = soft_engine(0);
    let key_id = create_key(&kms, CmkSpec::Aes256, false);
    let cmk = raw_cmk(CmkSpec::Aes256);
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
    let request = CreateRsaDatakeyPairRequest {
        key_id: Some(key_id),
        key_spec: Some("RSA_2048".into()),
        additional_authenticated_data: Some(BENCH_AAD.into()),
        ..CreateRsaDatakeyPairRequest::default()
    };
    let mut group = c.benchmark_group("create-rsa-datakey-pair/RSA_2048");
    // RSA key generation takes tens of milliseconds with a long tail.
    group.sample_size(10);
    group.bench_function("engine", |b| {
        b.iter(|| {
            kms.create_rsa_datakey_pair(kms.default_tenant(), black_box(&request))
                .unwrap()
        });
    });
    group.bench_function("raw", |b| {
        b.iter(|| {
            let secret = rsa::PrivateKey::new(&mut rng, 2048).unwrap();
            let (spki, pkcs8) = encode(&secret, &secret.to_public_key());
            (spki, raw_seal(&cmk, pkcs8))
        });
    });
    group.finish();
}

criterion_group!(benches, ec_pairs, rsa_pair);
criterion_main!(benches);
