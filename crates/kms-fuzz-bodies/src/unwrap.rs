//! The unwrap targets: `encrypted_key_material` through the soft backend's unwrap path
//! (`Backend::unwrap_cmk`), one target per wrapping algorithm, with the fixture wrapping
//! key of that algorithm (RSA_2048 or SM2).
//!
//! Input: a flags byte, then the wrapped material. Bit 0 of the flags picks the CMK spec
//! the material must fit (AES_256: 32 bytes, SM4: 16 bytes). Bit 1 sends it as two fields:
//! a big-endian u16 length, that many bytes of `encrypted_key_material`, and the rest as
//! `encrypted_privatekey`; otherwise the rest is `encrypted_key_material` alone.
//!
//! Invariant: material unwraps only to a CMK holding exactly the fixture material of the
//! spec (the committed seeds wrap it); every other input is refused with KMS.0311 alone.
//! One exception: anyone holding an SM2 public key can encrypt any material to it, so an
//! SM2 ciphertext of other material may unwrap, to exactly what the `sm2` crate decrypts
//! from it. The fuzzer made such a ciphertext once: the crate's C3 check (not the
//! engine's, which is constant time now) told it, comparison by comparison, the C3 of a C2
//! it had altered (`fuzz/regressions/unwrap_sm2_encrypt/`). The reference decryption runs
//! only for material other than the fixture's, so its comparison is no oracle for inputs
//! the engine refuses.

use kms_core::{Backend, CmkSpec, SecretBytes, WrappedMaterial, WrappingAlgorithm};
use kms_soft::SoftCmk;
use sm2::pke::DecryptingKey;

use crate::{Outcome, fixture};

/// Unwraps `data` with `algorithm` and checks the outcome.
///
/// # Panics
/// When material unwraps to anything but the fixture material of the spec, or when a
/// refusal is anything but KMS.0311.
pub fn unwrap(algorithm: WrappingAlgorithm, data: &[u8]) -> Outcome {
    let Some((&flags, material)) = data.split_first() else {
        return Outcome::Refused;
    };
    let cmk_spec = if flags & 1 == 0 {
        CmkSpec::Aes256
    } else {
        CmkSpec::Sm4
    };
    let wrapped = if flags & 2 == 0 {
        WrappedMaterial {
            encrypted_key_material: material,
            encrypted_privatekey: None,
        }
    } else {
        let (length, fields) = material.split_first_chunk::<2>().unwrap_or((&[0, 0], &[]));
        let (first, second) =
            fields.split_at(usize::from(u16::from_be_bytes(*length)).min(fields.len()));
        WrappedMaterial {
            encrypted_key_material: first,
            encrypted_privatekey: Some(second),
        }
    };
    let backend = fixture::backend();
    let (wrapping_key_spec, wrapping_key) = fixture::wrapping_key(algorithm);
    let key_id = fixture::key_id();
    match backend.unwrap_cmk(
        &wrapping_key,
        wrapping_key_spec,
        algorithm,
        &wrapped,
        &key_id,
        cmk_spec,
    ) {
        Ok(key_blob) => {
            let cmk = backend
                .load_cmk(&key_id, cmk_spec, &key_blob)
                .expect("an unwrapped CMK loads");
            let unwrapped = fixture::fingerprint(cmk.as_ref());
            assert!(
                unwrapped == fixture::fingerprint(&fixture::cmk(cmk_spec))
                    || sm2_reference(algorithm, &wrapped, cmk_spec)
                        .is_some_and(|reference| unwrapped == fixture::fingerprint(&reference)),
                "material unwrapped to a CMK other than the one wrapped"
            );
            Outcome::Accepted
        }
        Err(error) => {
            assert_eq!(
                error.code(),
                "KMS.0311",
                "material was refused with {error}"
            );
            Outcome::Refused
        }
    }
}

/// For SM2_ENCRYPT, the CMK of `spec` holding what the `sm2` crate decrypts from the
/// ciphertext (GM/T 0009 DER or raw C1C3C2), if it decrypts to material of the spec's
/// length.
fn sm2_reference(
    algorithm: WrappingAlgorithm,
    wrapped: &WrappedMaterial<'_>,
    spec: CmkSpec,
) -> Option<SoftCmk> {
    if algorithm != WrappingAlgorithm::Sm2Encrypt || wrapped.encrypted_privatekey.is_some() {
        return None;
    }
    let key = DecryptingKey::new(fixture::sm2_wrapping_private_key());
    let ciphertext = wrapped.encrypted_key_material;
    let material = key
        .decrypt_der(ciphertext)
        .or_else(|_| key.decrypt(ciphertext))
        .ok()?;
    SoftCmk::new(spec, &SecretBytes::new(material)).ok()
}
