//! Import tokens (DESIGN 4): what get-parameters-for-import hands out and
//! import-key-material must present.
//!
//! ```text
//! 0   1    version = 0x01
//! 1   16   token ID (random; the store's single-use record is keyed by it)
//! 17  12   nonce
//! 29  110  AEAD ciphertext of the claims:
//!            key_id (36) ‖ wrapping algorithm (1) ‖ wrapping key spec (1) ‖
//!            expiry, epoch ms, u64 BE (8) ‖ SHA-256 of the wrapping key reference (32) ‖
//!            SHA-256 of the wrapping public key (32)
//! 139 16   tag
//! ```
//!
//! The AEAD is the engine's token key (a CMK kept sealed in the store); its associated data
//! is a domain string, the version and the token ID. The whole is standard base64: 208
//! characters, inside the `^[0-9a-zA-Z+/=]{200,6144}$` clients check for.

use base64ct::{Base64, Encoding};
use sha2::{Digest, Sha256};

use crate::backend::{CmkHandle, NONCE_LEN, TAG_LEN};
use crate::error::{KmsError, Result};
use crate::key_id::{KEY_ID_LEN, KeyId};
use crate::spec::{WrappingAlgorithm, WrappingKeySpec};

const VERSION: u8 = 0x01;
const DOMAIN: &[u8] = b"kms-engine import token v1";
const TOKEN_ID_LEN: usize = 16;
const DIGEST_LEN: usize = 32;
const CLAIMS_LEN: usize = KEY_ID_LEN + 1 + 1 + 8 + DIGEST_LEN + DIGEST_LEN;
const TOKEN_LEN: usize = 1 + TOKEN_ID_LEN + NONCE_LEN + CLAIMS_LEN + TAG_LEN;
/// Shortest and longest token text clients accept.
const TEXT_LEN: core::ops::RangeInclusive<usize> = 200..=6144;

/// What a token authorizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportClaims {
    /// The token's ID.
    pub token_id: [u8; TOKEN_ID_LEN],
    /// The key it imports into.
    pub key_id: KeyId,
    /// How the material must be wrapped.
    pub algorithm: WrappingAlgorithm,
    /// The wrapping key's spec.
    pub wrapping_key_spec: WrappingKeySpec,
    /// Expiry, epoch milliseconds.
    pub expires_ms: u64,
    /// SHA-256 of the backend's reference to the wrapping private key.
    pub wrapping_key_digest: [u8; DIGEST_LEN],
    /// SHA-256 of the wrapping public key's SPKI DER.
    pub public_key_digest: [u8; DIGEST_LEN],
}

/// SHA-256, the digest claims use for key references.
#[must_use]
pub fn reference_digest(bytes: &[u8]) -> [u8; DIGEST_LEN] {
    Sha256::digest(bytes).into()
}

fn associated_data(token_id: &[u8; TOKEN_ID_LEN]) -> Vec<u8> {
    [DOMAIN, &[VERSION], token_id].concat()
}

fn index_of<T: PartialEq>(all: &[T], value: &T) -> u8 {
    all.iter()
        .position(|candidate| candidate == value)
        .and_then(|at| u8::try_from(at).ok())
        .unwrap_or(u8::MAX)
}

/// Seals `claims` into token text under the token key.
///
/// # Errors
/// [`KmsError::Backend`] when the backend fails.
pub fn seal_token(
    key: &dyn CmkHandle,
    nonce: &[u8; NONCE_LEN],
    claims: &ImportClaims,
) -> Result<String> {
    let mut token = Vec::with_capacity(TOKEN_LEN);
    token.push(VERSION);
    token.extend_from_slice(&claims.token_id);
    token.extend_from_slice(nonce);
    token.extend_from_slice(claims.key_id.as_bytes());
    token.push(index_of(WrappingAlgorithm::ALL, &claims.algorithm));
    token.push(index_of(WrappingKeySpec::ALL, &claims.wrapping_key_spec));
    token.extend_from_slice(&claims.expires_ms.to_be_bytes());
    token.extend_from_slice(&claims.wrapping_key_digest);
    token.extend_from_slice(&claims.public_key_digest);
    let body = token
        .get_mut(1 + TOKEN_ID_LEN + NONCE_LEN..)
        .unwrap_or_default();
    let tag = key.seal_in_place(nonce, &associated_data(&claims.token_id), body)?;
    token.extend_from_slice(&tag);
    Ok(Base64::encode_string(&token))
}

/// Opens token text sealed by [`seal_token`] under the same key.
///
/// # Errors
/// [`KmsError::ImportTokenInvalid`] (KMS.2605) for text that is not a token of this engine:
/// malformed, truncated, tampered with or forged. [`KmsError::Backend`] when the backend
/// fails.
pub fn open_token(key: &dyn CmkHandle, text: &str) -> Result<ImportClaims> {
    let well_formed = TEXT_LEN.contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
    if !well_formed {
        return Err(KmsError::ImportTokenInvalid);
    }
    let mut token = Base64::decode_vec(text).map_err(|_| KmsError::ImportTokenInvalid)?;
    if token.len() != TOKEN_LEN || token.first() != Some(&VERSION) {
        return Err(KmsError::ImportTokenInvalid);
    }
    let (head, rest) = token.split_at_mut(1 + TOKEN_ID_LEN + NONCE_LEN);
    let (body, tag) = rest.split_at_mut(CLAIMS_LEN);
    let token_id: [u8; TOKEN_ID_LEN] = array(head.get(1..=TOKEN_ID_LEN))?;
    let nonce: [u8; NONCE_LEN] = array(head.get(1 + TOKEN_ID_LEN..))?;
    let tag: [u8; TAG_LEN] = array(Some(tag))?;
    key.open_in_place(&nonce, &associated_data(&token_id), body, &tag)
        .map_err(|error| match error {
            KmsError::Backend(_) => error,
            _ => KmsError::ImportTokenInvalid,
        })?;
    let (key_id, rest) = body.split_at(KEY_ID_LEN);
    let (choices, rest) = rest.split_at(2);
    let (expires, digests) = rest.split_at(8);
    let (wrapping_key_digest, public_key_digest) = digests.split_at(DIGEST_LEN);
    let invalid = || KmsError::ImportTokenInvalid;
    Ok(ImportClaims {
        token_id,
        key_id: KeyId::from_bytes(array(Some(key_id))?).map_err(|_| invalid())?,
        algorithm: choices
            .first()
            .and_then(|at| WrappingAlgorithm::ALL.get(usize::from(*at)))
            .copied()
            .ok_or_else(invalid)?,
        wrapping_key_spec: choices
            .get(1)
            .and_then(|at| WrappingKeySpec::ALL.get(usize::from(*at)))
            .copied()
            .ok_or_else(invalid)?,
        expires_ms: u64::from_be_bytes(array(Some(expires))?),
        wrapping_key_digest: array(Some(wrapping_key_digest))?,
        public_key_digest: array(Some(public_key_digest))?,
    })
}

/// A fixed-size array from a slice of exactly its length.
fn array<const N: usize>(bytes: Option<&[u8]>) -> Result<[u8; N]> {
    bytes
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(KmsError::ImportTokenInvalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_text_is_208_base64_characters() {
        assert_eq!(TOKEN_LEN, 155);
        assert_eq!(Base64::encode_string(&[0u8; TOKEN_LEN]).len(), 208);
        assert!(TEXT_LEN.contains(&208));
    }

    #[test]
    fn text_outside_the_client_pattern_is_refused_before_decoding() {
        struct Unused;
        impl core::fmt::Debug for Unused {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("Unused")
            }
        }
        impl CmkHandle for Unused {
            fn seal_in_place(
                &self,
                _: &[u8; NONCE_LEN],
                _: &[u8],
                _: &mut [u8],
            ) -> Result<[u8; TAG_LEN]> {
                unreachable!()
            }
            fn open_in_place(
                &self,
                _: &[u8; NONCE_LEN],
                _: &[u8],
                _: &mut [u8],
                _: &[u8; TAG_LEN],
            ) -> Result<()> {
                unreachable!()
            }
        }
        for text in [
            "",
            "short",
            &"A".repeat(199),
            &"A".repeat(6145),
            &format!("{}-", "A".repeat(207)),
        ] {
            assert_eq!(open_token(&Unused, text).unwrap_err().code(), "KMS.2605");
        }
        // Right length and alphabet, but not a token of this version.
        assert_eq!(
            open_token(&Unused, &"A".repeat(208)).unwrap_err().code(),
            "KMS.2605"
        );
    }
}
