//! The digest appended to a DEK in encrypt-datakey and returned by decrypt-datakey:
//! SHA-256 for AES CMKs, SM3 for SM4 CMKs.

use sha2::{Digest, Sha256};
use sm3::Sm3;
use subtle::ConstantTimeEq;

use crate::error::{KmsError, Result};
use crate::spec::CmkSpec;

/// Length of both digests in bytes.
pub const DEK_DIGEST_LEN: usize = 32;

/// The DEK digest the API uses with a CMK of `spec`.
#[must_use]
pub fn dek_digest(spec: CmkSpec, dek: &[u8]) -> [u8; DEK_DIGEST_LEN] {
    match spec {
        CmkSpec::Aes256 => Sha256::digest(dek).into(),
        CmkSpec::Sm4 => Sm3::digest(dek).into(),
    }
}

/// Checks, in constant time, that `digest` is the DEK digest of `dek` for a CMK of `spec`.
///
/// # Errors
/// [`KmsError::DekDigestMismatch`] (KMS.2103) when it is not.
pub fn verify_dek_digest(spec: CmkSpec, dek: &[u8], digest: &[u8]) -> Result<()> {
    if digests_equal(&dek_digest(spec, dek), digest) {
        Ok(())
    } else {
        Err(KmsError::DekDigestMismatch)
    }
}

/// Whether `claimed` is `expected`, in constant time: the lengths are public, and the
/// bytes' differences are ORed together with no early exit, then judged once through
/// `subtle` (an optimisation barrier), not once per byte as `<[u8]>::ct_eq` does, whose
/// per-byte barrier cost more than the comparison on the hot path.
fn digests_equal(expected: &[u8; DEK_DIGEST_LEN], claimed: &[u8]) -> bool {
    if claimed.len() != DEK_DIGEST_LEN {
        return false;
    }
    let difference = expected
        .iter()
        .zip(claimed)
        .fold(0u8, |difference, (a, b)| difference | (a ^ b));
    bool::from(difference.ct_eq(&0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_differing_in_any_bit_or_length_is_refused() {
        let digest = dek_digest(CmkSpec::Aes256, b"dek");
        assert!(verify_dek_digest(CmkSpec::Aes256, b"dek", &digest).is_ok());
        for byte in 0..DEK_DIGEST_LEN {
            for bit in 0..8 {
                let mut wrong = digest;
                wrong[byte] ^= 1 << bit;
                let err = verify_dek_digest(CmkSpec::Aes256, b"dek", &wrong).unwrap_err();
                assert_eq!(err.code(), "KMS.2103", "{byte} {bit}");
            }
        }
        for wrong in [&digest[..31], &[digest.as_slice(), &[0]].concat(), &[]] {
            let err = verify_dek_digest(CmkSpec::Aes256, b"dek", wrong).unwrap_err();
            assert_eq!(err.code(), "KMS.2103", "{}", wrong.len());
        }
    }

    #[test]
    fn verify_rejects_a_digest_of_the_other_algorithm() {
        let sm3 = dek_digest(CmkSpec::Sm4, b"dek");
        assert!(verify_dek_digest(CmkSpec::Sm4, b"dek", &sm3).is_ok());
        let err = verify_dek_digest(CmkSpec::Aes256, b"dek", &sm3).unwrap_err();
        assert_eq!(err.code(), "KMS.2103");
    }
}
