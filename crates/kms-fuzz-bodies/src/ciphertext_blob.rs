//! The ciphertext blob target: a v1 blob parsed and opened with the fixture CMK.
//!
//! Input: a selector byte, then the blob. Bit 0 of the selector picks the CMK (AES_256 or
//! SM4), bit 1 the caller's AAD (none or `fuzz-aad`); the other bits are ignored.
//!
//! Invariant: a blob opens only if it is the one the body sealed for that CMK and AAD, and
//! then to the DEK sealed in it; every other blob is refused with KMS.2201 alone.

use std::sync::OnceLock;

use kms_core::{BlobKey, CmkSpec, open_blob, seal_blob};
use kms_soft::SoftCmk;

use crate::{Outcome, fixture};

/// The DEK every reference blob holds.
const DEK: &[u8; 32] = b"kms-fuzz published data key 32B!";
/// The caller AADs a blob can be opened with.
const AADS: [&[u8]; 2] = [b"", b"fuzz-aad"];

/// One CMK and AAD, and the blob the body sealed under them.
struct Reference {
    cmk: SoftCmk,
    key: BlobKey,
    aad: &'static [u8],
    blob: Vec<u8>,
}

/// The reference for each selector value (bit 0: CMK spec, bit 1: AAD), made once per
/// process with fixed nonces, so they are the same blobs as the committed seeds.
fn references() -> &'static [Reference; 4] {
    static REFERENCES: OnceLock<[Reference; 4]> = OnceLock::new();
    REFERENCES.get_or_init(|| {
        core::array::from_fn(|selector| {
            let spec = if selector & 1 == 0 {
                CmkSpec::Aes256
            } else {
                CmkSpec::Sm4
            };
            let aad = if selector & 2 == 0 { AADS[0] } else { AADS[1] };
            let cmk = fixture::cmk(spec);
            let key = BlobKey {
                key_id: fixture::key_id(),
                spec,
                generation: 0,
            };
            let nonce = [0x10 + u8::try_from(selector).unwrap_or_default(); 12];
            let blob = seal_blob(&cmk, &key, &nonce, aad, DEK).expect("sealing a reference blob");
            Reference {
                cmk,
                key,
                aad,
                blob,
            }
        })
    })
}

/// Opens `data` (a selector byte, then a blob) and checks the outcome.
///
/// # Panics
/// When a blob the body did not seal opens, when it opens to another DEK, or when a refusal
/// is anything but KMS.2201.
pub fn ciphertext_blob(data: &[u8]) -> Outcome {
    let Some((&selector, blob)) = data.split_first() else {
        return Outcome::Refused;
    };
    let Some(reference) = references().get(usize::from(selector & 3)) else {
        return Outcome::Refused;
    };
    match open_blob(&reference.cmk, &reference.key, reference.aad, blob) {
        Ok(dek) => {
            assert!(
                blob == reference.blob,
                "a blob the body never sealed opened"
            );
            assert!(dek.expose_secret() == DEK, "a blob opened to another DEK");
            Outcome::Accepted
        }
        Err(error) => {
            assert_eq!(error.code(), "KMS.2201", "a blob was refused with {error}");
            Outcome::Refused
        }
    }
}
