//! The recipient key target: the DER decoding of `recipient_public_key` (SPKI of an RSA or
//! SM2 key) by the soft backend, through `Backend::wrap_for_recipient`.
//!
//! Input: a selector byte, then the SPKI DER. The selector's low 7 bits modulo 5 pick the
//! wrapping algorithm (in `WrappingAlgorithm::ALL` order); bit 7 picks the private key to
//! wrap: 138 bytes (a P-256 PKCS#8) or 1218 bytes (an RSA-2048 PKCS#8).
//!
//! Invariant: a key is accepted (and the private key wrapped to it) or refused with
//! KMS.0308; KMS.1904 only for the long private key under RSAES_OAEP_SHA_256.

use kms_core::{Backend, SecretBytes, WrappingAlgorithm};

use crate::{Outcome, fixture};

/// Sizes of a P-256 and of an RSA-2048 private key in PKCS#8 DER.
const SHORT_PRIVATE_KEY: usize = 138;
const LONG_PRIVATE_KEY: usize = 1218;

/// Wraps a private key to the SPKI in `data` and checks the outcome.
///
/// # Panics
/// When a wrap succeeds with no output, or a refusal is anything but KMS.0308 (or KMS.1904
/// where a private key cannot fit).
pub fn recipient_key(data: &[u8]) -> Outcome {
    let Some((&selector, spki)) = data.split_first() else {
        return Outcome::Refused;
    };
    let algorithms = WrappingAlgorithm::ALL;
    let Some(&algorithm) = algorithms.get(usize::from(selector & 0x7F) % algorithms.len()) else {
        return Outcome::Refused;
    };
    let long = selector & 0x80 != 0;
    let length = if long {
        LONG_PRIVATE_KEY
    } else {
        SHORT_PRIVATE_KEY
    };
    let private_key = SecretBytes::new(vec![0x5A; length]);
    match fixture::backend().wrap_for_recipient(spki, algorithm, &private_key) {
        Ok(wrapped) => {
            assert!(!wrapped.is_empty(), "a private key was wrapped to nothing");
            Outcome::Accepted
        }
        Err(error) => {
            let too_long = long && algorithm == WrappingAlgorithm::RsaesOaepSha256;
            assert!(
                error.code() == "KMS.0308" || (too_long && error.code() == "KMS.1904"),
                "a recipient key was refused with {error}"
            );
            Outcome::Refused
        }
    }
}
