//! The key pairs of the two asymmetric schemes, derived from the access key and secret key
//! exactly as the SDKs derive them:
//!
//! for ctr in 0..=254, c = int(HMAC-H(SK, 00000001 ‖ ALG ‖ 00 ‖ AK ‖ ctr ‖ 00000100))
//! (ctr one byte, the rest big-endian u32 and ASCII); the first c <= n-2 gives d = c + 1,
//! the public key d·G. H is SHA-256 for `SDK-ECDSA-P256-SHA256` on P-256 and SM3 for
//! `SDK-SM2-SM3` on the SM2 curve.
//!
//! Derivation costs an HMAC (rarely more) and a scalar multiplication, so a
//! [`Credential`](super::Credential) derives each public key once, on first use, and keeps
//! it. The private scalar is only ever held briefly, except by [`derive_private_key`].

use elliptic_curve::ff::{Field, PrimeField};
use elliptic_curve::sec1::ToSec1Point;
use elliptic_curve::{CurveArithmetic, FieldBytes, NonZeroScalar, PublicKey, Scalar};
use kms_core::{SecretBytes, SecretString};

use super::algorithm::Algorithm;
use super::failure::{AuthFailure, FailureReason};
use super::mac::{self, MacHash};
use super::sm2_za::{self, SM2_USER_ID};

/// A derived `SDK-ECDSA-P256-SHA256` public key.
#[derive(Clone, Debug)]
pub(crate) struct P256Key {
    pub(crate) verifying_key: p256::ecdsa::VerifyingKey,
}

/// A derived `SDK-SM2-SM3` public key, with the Python SDK's Z_A when it differs from the
/// standard one.
#[derive(Clone, Debug)]
pub(crate) struct Sm2Key {
    pub(crate) verifying_key: sm2::dsa::VerifyingKey,
    pub(crate) sdk_za: Option<[u8; 32]>,
}

impl P256Key {
    pub(crate) fn derive(access_key: &str, secret_key: &SecretString) -> Result<Self, AuthFailure> {
        let d =
            derive_scalar::<p256::NistP256>(Algorithm::EcdsaP256Sha256, access_key, secret_key)?;
        let public_key = PublicKey::<p256::NistP256>::from_secret_scalar(&d);
        Ok(Self {
            verifying_key: p256::ecdsa::VerifyingKey::from(&public_key),
        })
    }
}

impl Sm2Key {
    pub(crate) fn derive(access_key: &str, secret_key: &SecretString) -> Result<Self, AuthFailure> {
        let d = derive_scalar::<sm2::Sm2>(Algorithm::Sm2Sm3, access_key, secret_key)?;
        let public_key = sm2::PublicKey::from_secret_scalar(&d);
        let sdk_za = sm2_za::sdk_za(&public_key);
        let verifying_key = sm2::dsa::VerifyingKey::new(SM2_USER_ID, public_key)
            .map_err(|_| AuthFailure::new(FailureReason::KeyDerivation))?;
        Ok(Self {
            verifying_key,
            sdk_za,
        })
    }
}

/// The private scalar d (32 bytes, big-endian) that `access_key` and `secret_key` derive
/// for an asymmetric algorithm: what the client signs with.
///
/// # Errors
/// [`FailureReason::UnsupportedAlgorithm`] for the HMAC algorithms (they use the secret key
/// itself); [`FailureReason::KeyDerivation`] if no counter gives a scalar (probability
/// below 2^-8000).
pub fn derive_private_key(
    algorithm: Algorithm,
    access_key: &str,
    secret_key: &SecretString,
) -> Result<SecretBytes, AuthFailure> {
    fn to_secret<C: CurveArithmetic>(d: &NonZeroScalar<C>) -> SecretBytes {
        SecretBytes::new(d.to_repr().to_vec())
    }
    match algorithm {
        Algorithm::EcdsaP256Sha256 => Ok(to_secret(&derive_scalar::<p256::NistP256>(
            algorithm, access_key, secret_key,
        )?)),
        Algorithm::Sm2Sm3 => Ok(to_secret(&derive_scalar::<sm2::Sm2>(
            algorithm, access_key, secret_key,
        )?)),
        Algorithm::HmacSha256 | Algorithm::HmacSm3 => {
            Err(FailureReason::UnsupportedAlgorithm.into())
        }
    }
}

/// The public key, SEC1 uncompressed (`04 ‖ x ‖ y`, 65 bytes), that `access_key` and
/// `secret_key` derive for an asymmetric algorithm.
///
/// # Errors
/// As [`derive_private_key`].
pub fn derive_public_key(
    algorithm: Algorithm,
    access_key: &str,
    secret_key: &SecretString,
) -> Result<Vec<u8>, AuthFailure> {
    match algorithm {
        Algorithm::EcdsaP256Sha256 => {
            let key = P256Key::derive(access_key, secret_key)?;
            Ok(key.verifying_key.to_sec1_point(false).as_bytes().to_vec())
        }
        Algorithm::Sm2Sm3 => {
            let key = Sm2Key::derive(access_key, secret_key)?;
            Ok(key.verifying_key.to_sec1_point(false).as_bytes().to_vec())
        }
        Algorithm::HmacSha256 | Algorithm::HmacSm3 => {
            Err(FailureReason::UnsupportedAlgorithm.into())
        }
    }
}

/// d for curve `C` under `algorithm` (whose name is part of the derivation input).
fn derive_scalar<C: CurveArithmetic>(
    algorithm: Algorithm,
    access_key: &str,
    secret_key: &SecretString,
) -> Result<NonZeroScalar<C>, AuthFailure> {
    let failed = || AuthFailure::new(FailureReason::KeyDerivation);
    let hash = if algorithm.uses_sm3() {
        MacHash::Sm3
    } else {
        MacHash::Sha256
    };
    for counter in 0..=254_u8 {
        let candidate = mac::tag(
            hash,
            secret_key.expose_secret().as_bytes(),
            &[
                &[0, 0, 0, 1],
                algorithm.name().as_bytes(),
                &[0],
                access_key.as_bytes(),
                &[counter],
                &[0, 0, 1, 0],
            ],
        )
        .ok_or_else(failed)?;
        let repr = FieldBytes::<C>::try_from(candidate.as_slice()).map_err(|_| failed())?;
        // c < n, then c + 1 != 0 (c != n - 1): together c <= n - 2.
        let c: Option<Scalar<C>> = Scalar::<C>::from_repr(repr).into();
        if let Some(d) = c.and_then(|c| NonZeroScalar::new(c + Scalar::<C>::ONE).into()) {
            return Ok(d);
        }
    }
    Err(failed())
}
