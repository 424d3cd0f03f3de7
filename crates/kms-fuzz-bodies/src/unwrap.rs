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

use kms_core::{Backend, CmkSpec, WrappedMaterial, WrappingAlgorithm};

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
            assert!(
                fixture::fingerprint(cmk.as_ref()) == fixture::fingerprint(&fixture::cmk(cmk_spec)),
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
