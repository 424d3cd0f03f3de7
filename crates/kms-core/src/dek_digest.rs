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
    if bool::from(dek_digest(spec, dek).ct_eq(digest)) {
        Ok(())
    } else {
        Err(KmsError::DekDigestMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_rejects_a_digest_of_the_other_algorithm() {
        let sm3 = dek_digest(CmkSpec::Sm4, b"dek");
        assert!(verify_dek_digest(CmkSpec::Sm4, b"dek", &sm3).is_ok());
        let err = verify_dek_digest(CmkSpec::Aes256, b"dek", &sm3).unwrap_err();
        assert_eq!(err.code(), "KMS.2103");
    }
}
