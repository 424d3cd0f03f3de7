//! Data key pair generation with RustCrypto: EC pairs DER encoded by
//! [`KeyPair::from_ec_secret_key`], RSA pairs by the `pkcs8`/`spki` traits.

use kms_core::{KeyPair, KeyPairSpec, KmsError, Result};
use p256::elliptic_curve::Generate;

use crate::rng::with_thread_rng;

/// Bytes of randomness a key generation draws, counted towards the next reseed (an
/// estimate: RSA prime search draws more, and reseeding sooner is harmless).
const KEYGEN_DRAW_ESTIMATE: usize = 4096;

/// Generates a key pair of `spec`.
pub(crate) fn generate(spec: KeyPairSpec) -> Result<KeyPair> {
    with_thread_rng(KEYGEN_DRAW_ESTIMATE, |rng| match spec {
        KeyPairSpec::EccNistP256 => {
            KeyPair::from_ec_secret_key(&p256::SecretKey::generate_from_rng(rng))
        }
        KeyPairSpec::EccNistP384 => {
            KeyPair::from_ec_secret_key(&p384::SecretKey::generate_from_rng(rng))
        }
        KeyPairSpec::EccNistP521 => {
            KeyPair::from_ec_secret_key(&p521::SecretKey::generate_from_rng(rng))
        }
        KeyPairSpec::EccSecgP256k1 => {
            KeyPair::from_ec_secret_key(&k256::SecretKey::generate_from_rng(rng))
        }
        KeyPairSpec::Sm2 => KeyPair::from_ec_secret_key(&sm2::SecretKey::generate_from_rng(rng)),
        KeyPairSpec::Rsa2048 | KeyPairSpec::Rsa3072 | KeyPairSpec::Rsa4096 => {
            let bits = match spec {
                KeyPairSpec::Rsa2048 => 2048,
                KeyPairSpec::Rsa3072 => 3072,
                _ => 4096,
            };
            let secret = rsa::PrivateKey::new(rng, bits).map_err(|error| {
                KmsError::Backend(format!("{} generation: {error}", spec.as_str()))
            })?;
            KeyPair::from_encodable(spec, &secret, &secret.to_public_key())
        }
    })?
}

#[cfg(test)]
mod tests {
    use pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};

    use super::*;

    /// Each EC pair is byte for byte what the curve crate's own encoders write for its
    /// private key, and its public key is that private key's.
    macro_rules! same_as_the_curve_crate {
        ($name:ident, $curve:ident, $spec:expr) => {
            #[test]
            fn $name() {
                for _ in 0..20 {
                    let pair = generate($spec).unwrap();
                    let pkcs8 = pair.private_key_pkcs8.expose_secret();
                    let secret = $curve::SecretKey::from_pkcs8_der(pkcs8).unwrap();
                    assert_eq!(secret.to_pkcs8_der().unwrap().as_bytes(), pkcs8);
                    let spki = secret.public_key().to_public_key_der().unwrap();
                    assert_eq!(spki.as_bytes(), pair.public_key_spki.as_slice());
                }
            }
        };
    }

    same_as_the_curve_crate!(
        p256_pairs_match_the_p256_crate,
        p256,
        KeyPairSpec::EccNistP256
    );
    same_as_the_curve_crate!(
        p384_pairs_match_the_p384_crate,
        p384,
        KeyPairSpec::EccNistP384
    );
    same_as_the_curve_crate!(
        p521_pairs_match_the_p521_crate,
        p521,
        KeyPairSpec::EccNistP521
    );
    same_as_the_curve_crate!(
        secp256k1_pairs_match_the_k256_crate,
        k256,
        KeyPairSpec::EccSecgP256k1
    );
    same_as_the_curve_crate!(sm2_pairs_match_the_sm2_crate, sm2, KeyPairSpec::Sm2);
}
