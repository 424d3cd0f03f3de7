//! Differential tests against the OpenSSL 3.0 CLI, on random sizes and contents from a
//! seeded generator (the seed is printed; `KMS_DIFFERENTIAL_SEED=<seed>` replays a run).
//!
//! - OpenSSL wraps, the soft backend's import path (`Backend::unwrap_cmk`, which
//!   import-key-material calls) unwraps: material of the CMK's length becomes a CMK of
//!   exactly that material; any other length is refused with exactly KMS.0311.
//! - The soft backend wraps to a recipient (`Backend::wrap_for_recipient`, which the data
//!   key pair operations call), OpenSSL unwraps to exactly the plaintext.
//!
//! Each direction uses one key and runs [`CASES`] cases, one or two OpenSSL runs each.

use std::time::Instant;

use kms_core::{
    Backend, CmkHandle, CmkSpec, KeyId, SecretBytes, WrappedMaterial, WrappingAlgorithm,
    WrappingKeySpec,
};
use kms_soft::{RootKey, SoftBackend, SoftCmk};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

use crate::common::{
    NO_OPTIONS, RecipientKey, TempDir, oaep_options, pkeyutl_encrypt, rsa_aes_wrap_with_openssl,
    rsa_key, sm2_key, unwrap_as_recipient,
};

/// Cases per direction and algorithm.
const CASES: usize = 200;
/// Set to a seed to replay a run.
const SEED_VARIABLE: &str = "KMS_DIFFERENTIAL_SEED";
/// The longest plaintext RSAES_OAEP_SHA_256 takes under RSA-2048: 256 - 2 × 32 - 2.
const OAEP_SHA256_CAPACITY_2048: usize = 190;

/// The seed of this run, from the environment or the OS, and a generator seeded with it.
fn seeded(name: &str) -> (u64, ChaCha20Rng) {
    let seed = match std::env::var(SEED_VARIABLE) {
        Ok(seed) => seed.parse().unwrap(),
        Err(_) => {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).unwrap();
            u64::from_le_bytes(bytes)
        }
    };
    println!("{name}: seed {seed} (replay with {SEED_VARIABLE}={seed})");
    (seed, ChaCha20Rng::seed_from_u64(seed))
}

/// A number in `0..bound`.
fn below(rng: &mut ChaCha20Rng, bound: usize) -> usize {
    rng.next_u32() as usize % bound
}

fn random_bytes(rng: &mut ChaCha20Rng, len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    rng.fill_bytes(&mut bytes);
    bytes
}

fn soft_backend() -> SoftBackend {
    SoftBackend::new(RootKey::generate().unwrap())
}

/// The CMK `backend` made of `blob` has `material`: it seals exactly as a CMK built from it.
fn assert_cmk_material(
    backend: &SoftBackend,
    id: &KeyId,
    spec: CmkSpec,
    blob: &kms_core::KeyBlob,
    material: &[u8],
) {
    let imported = backend.load_cmk(id, spec, blob).unwrap();
    let expected = SoftCmk::new(spec, &SecretBytes::new(material.to_vec())).unwrap();
    let (mut sealed, mut reference) = ([0u8; 32], [0u8; 32]);
    let tag = imported.seal_in_place(&[7; 12], b"differential", &mut sealed);
    let reference_tag = expected.seal_in_place(&[7; 12], b"differential", &mut reference);
    assert_eq!((sealed, tag.unwrap()), (reference, reference_tag.unwrap()));
}

/// Wraps material to the wrapping public key with OpenSSL, drawing any randomness from the
/// generator.
type OpensslWrap = dyn Fn(&mut ChaCha20Rng, &TempDir, &[u8], &[u8]) -> Vec<u8>;

/// OpenSSL wraps [`CASES`] random materials to one wrapping key of `spec`; the soft
/// backend's import path unwraps each. Three in four have the length of a random CMK spec.
fn openssl_to_import(
    name: &str,
    spec: WrappingKeySpec,
    algorithm: WrappingAlgorithm,
    wrap: &OpensslWrap,
) {
    let (seed, mut rng) = seeded(name);
    let started = Instant::now();
    let backend = soft_backend();
    let wrapping_key = backend.create_wrapping_key(spec, b"").unwrap();
    let dir = TempDir::new();
    let (mut imported, mut refused) = (0, 0);
    for case in 0..CASES {
        let cmk_spec = [CmkSpec::Aes256, CmkSpec::Sm4][below(&mut rng, 2)];
        let len = if below(&mut rng, 4) == 0 {
            // 1..=64 bytes, anything but the CMK's length.
            let other = 1 + below(&mut rng, 63);
            if other >= cmk_spec.material_len() {
                other + 1
            } else {
                other
            }
        } else {
            cmk_spec.material_len()
        };
        let material = random_bytes(&mut rng, len);
        let wrapped = wrap(&mut rng, &dir, &wrapping_key.public_key_spki, &material);
        let id = KeyId::from_random(random_bytes(&mut rng, 16).try_into().unwrap());
        let result = backend.unwrap_cmk(
            &wrapping_key.private_key,
            spec,
            algorithm,
            &WrappedMaterial {
                encrypted_key_material: &wrapped,
                encrypted_privatekey: None,
            },
            &id,
            cmk_spec,
        );
        let context =
            format!("{name}, case {case} of seed {seed}: {len}-byte material for {cmk_spec:?}");
        if len == cmk_spec.material_len() {
            let blob = result.unwrap_or_else(|err| panic!("{context}: {err}"));
            assert_cmk_material(&backend, &id, cmk_spec, &blob, &material);
            imported += 1;
        } else {
            let err = result
                .err()
                .unwrap_or_else(|| panic!("{context}: imported"));
            assert_eq!(err.code(), "KMS.0311", "{context}");
            refused += 1;
        }
    }
    println!(
        "{name}: {CASES} cases, {imported} imported exactly, {refused} of another length refused with KMS.0311, in {:.1?}",
        started.elapsed()
    );
    assert!(imported > 0 && refused > 0, "{name}: both kinds of case");
}

/// The soft backend wraps [`CASES`] random plaintexts of 1 to `max_len` bytes to
/// `recipient` with `algorithm`; OpenSSL unwraps each.
fn recipient_to_openssl(
    name: &str,
    recipient: &RecipientKey,
    algorithm: WrappingAlgorithm,
    max_len: usize,
) {
    let (seed, mut rng) = seeded(name);
    let started = Instant::now();
    let backend = soft_backend();
    for case in 0..CASES {
        let len = 1 + below(&mut rng, max_len);
        let plaintext = random_bytes(&mut rng, len);
        let wrapped = backend
            .wrap_for_recipient(
                &recipient.public_key,
                algorithm,
                &SecretBytes::new(plaintext.clone()),
            )
            .unwrap();
        assert_eq!(
            unwrap_as_recipient(recipient, algorithm.as_str(), &wrapped),
            plaintext,
            "{name}, case {case} of seed {seed}: {len} bytes"
        );
    }
    println!(
        "{name}: {CASES} cases of 1 to {max_len} bytes unwrapped exactly, in {:.1?}",
        started.elapsed()
    );
}

#[test]
fn openssl_sm2_ciphertexts_import_exactly() {
    openssl_to_import(
        "SM2 (GM/T 0009 DER), OpenSSL -> import",
        WrappingKeySpec::Sm2,
        WrappingAlgorithm::Sm2Encrypt,
        &|_, dir, spki, material| pkeyutl_encrypt(dir, spki, &NO_OPTIONS, material),
    );
}

#[test]
fn soft_sm2_recipient_wraps_decrypt_in_openssl() {
    let dir = TempDir::new();
    recipient_to_openssl(
        "SM2, recipient wrap -> OpenSSL",
        &sm2_key(&dir),
        WrappingAlgorithm::Sm2Encrypt,
        256,
    );
}

#[test]
fn openssl_oaep_sha256_ciphertexts_import_exactly() {
    openssl_to_import(
        "RSAES_OAEP_SHA_256, OpenSSL -> import",
        WrappingKeySpec::Rsa2048,
        WrappingAlgorithm::RsaesOaepSha256,
        &|_, dir, spki, material| pkeyutl_encrypt(dir, spki, &oaep_options("sha256"), material),
    );
}

#[test]
fn soft_oaep_sha256_recipient_wraps_decrypt_in_openssl() {
    let dir = TempDir::new();
    recipient_to_openssl(
        "RSAES_OAEP_SHA_256, recipient wrap -> OpenSSL",
        &rsa_key(&dir, 2048),
        WrappingAlgorithm::RsaesOaepSha256,
        OAEP_SHA256_CAPACITY_2048,
    );
}

#[test]
fn openssl_kwp_wrapped_material_imports_exactly() {
    openssl_to_import(
        "RSA_AES_KEY_WRAP_SHA_256 (AES-KWP), OpenSSL -> import",
        WrappingKeySpec::Rsa2048,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        &|rng, dir, spki, material| {
            let temporary_len = [16, 32][below(rng, 2)];
            let temporary_key = random_bytes(rng, temporary_len);
            rsa_aes_wrap_with_openssl(dir, spki, "sha256", &temporary_key, material)
        },
    );
}

#[test]
fn soft_kwp_recipient_wraps_unwrap_in_openssl() {
    let dir = TempDir::new();
    recipient_to_openssl(
        "RSA_AES_KEY_WRAP_SHA_256 (AES-KWP), recipient wrap -> OpenSSL",
        &rsa_key(&dir, 2048),
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        600,
    );
}
