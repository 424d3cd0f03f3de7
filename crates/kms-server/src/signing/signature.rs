//! Checking a signature over the StringToSign under each of the four algorithms.
//!
//! - HMAC-SHA256 / HMAC-SM3: keyed with the secret key's UTF-8 bytes, the 32-byte tag
//!   compared in constant time.
//! - ECDSA P-256 over SHA-256: a DER signature, verified with the derived public key
//!   (high-s signatures are accepted: the SDKs do not normalise s).
//! - SM2 with SM3 and user ID `1234567812345678`: a DER signature, verified with the
//!   derived public key under the standard Z_A, and, for a key whose Z_A the Python SDK
//!   computes differently (a public coordinate with a leading zero byte), under the SDK's
//!   Z_A too: e = SM3(Z_A' ‖ StringToSign) through the sm2 crate's prehash verifier. Both
//!   are hashes of the same StringToSign with a prefix fixed by the public key, so
//!   accepting either asks as much of a forger as standard SM2 does.

use sm2::dsa::signature::Verifier;
use sm2::dsa::signature::hazmat::PrehashVerifier;
use sm3::{Digest, Sm3};

use super::algorithm::Algorithm;
use super::credential::Credential;
use super::failure::{AuthFailure, FailureReason};
use super::mac::{self, MacHash};

/// Whether `signature` (raw bytes, hex-decoded) signs `string_to_sign` for `credential`.
pub(crate) fn check<T>(
    algorithm: Algorithm,
    credential: &Credential<T>,
    string_to_sign: &str,
    signature: &[u8],
) -> Result<(), AuthFailure> {
    let mismatch = || AuthFailure::new(FailureReason::SignatureMismatch);
    let malformed = || AuthFailure::new(FailureReason::MalformedSignature);
    let message = string_to_sign.as_bytes();
    match algorithm {
        Algorithm::HmacSha256 | Algorithm::HmacSm3 => {
            if signature.len() != 32 {
                return Err(malformed());
            }
            let hash = if algorithm.uses_sm3() {
                MacHash::Sm3
            } else {
                MacHash::Sha256
            };
            let key = credential.secret_key().expose_secret().as_bytes();
            if mac::verify(hash, key, message, signature) {
                Ok(())
            } else {
                Err(mismatch())
            }
        }
        Algorithm::EcdsaP256Sha256 => {
            let signature = p256::ecdsa::Signature::from_der(signature).map_err(|_| malformed())?;
            let key = credential.p256_key()?;
            key.verifying_key
                .verify(message, &signature)
                .map_err(|_| mismatch())
        }
        Algorithm::Sm2Sm3 => {
            let signature = sm2::dsa::Signature::from_der(signature).map_err(|_| malformed())?;
            let key = credential.sm2_key()?;
            if key.verifying_key.verify(message, &signature).is_ok() {
                return Ok(());
            }
            let Some(sdk_za) = key.sdk_za else {
                return Err(mismatch());
            };
            let mut e = Sm3::new();
            e.update(sdk_za);
            e.update(message);
            let e: [u8; 32] = e.finalize().into();
            key.verifying_key
                .verify_prehash(&e, &signature)
                .map_err(|_| mismatch())
        }
    }
}
