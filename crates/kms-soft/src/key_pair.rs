//! Data key pair generation with RustCrypto, DER encoded by the `pkcs8`/`spki` traits.

use kms_core::{KeyPair, KeyPairSpec, KmsError, Result, SecretBytes};
use p256::elliptic_curve::Generate;
use pkcs8::{EncodePrivateKey, EncodePublicKey};

use crate::rng::with_thread_rng;

/// Bytes of randomness a key generation draws, counted towards the next reseed (an
/// estimate: RSA prime search draws more, and reseeding sooner is harmless).
const KEYGEN_DRAW_ESTIMATE: usize = 4096;

/// Generates a key pair of `spec`.
pub(crate) fn generate(spec: KeyPairSpec) -> Result<KeyPair> {
    with_thread_rng(KEYGEN_DRAW_ESTIMATE, |rng| match spec {
        KeyPairSpec::EccNistP256 => {
            let secret = p256::SecretKey::generate_from_rng(rng);
            encode(spec, &secret, &secret.public_key())
        }
        KeyPairSpec::EccNistP384 => {
            let secret = p384::SecretKey::generate_from_rng(rng);
            encode(spec, &secret, &secret.public_key())
        }
        KeyPairSpec::EccNistP521 => {
            let secret = p521::SecretKey::generate_from_rng(rng);
            encode(spec, &secret, &secret.public_key())
        }
        KeyPairSpec::EccSecgP256k1 => {
            let secret = k256::SecretKey::generate_from_rng(rng);
            encode(spec, &secret, &secret.public_key())
        }
        KeyPairSpec::Sm2 => {
            let secret = sm2::SecretKey::generate_from_rng(rng);
            encode(spec, &secret, &secret.public_key())
        }
        KeyPairSpec::Rsa2048 | KeyPairSpec::Rsa3072 | KeyPairSpec::Rsa4096 => {
            let bits = match spec {
                KeyPairSpec::Rsa2048 => 2048,
                KeyPairSpec::Rsa3072 => 3072,
                _ => 4096,
            };
            let secret = rsa::PrivateKey::new(rng, bits).map_err(|error| {
                KmsError::Backend(format!("{} generation: {error}", spec.as_str()))
            })?;
            encode(spec, &secret, &secret.to_public_key())
        }
    })?
}

fn encode(
    spec: KeyPairSpec,
    secret: &impl EncodePrivateKey,
    public: &impl EncodePublicKey,
) -> Result<KeyPair> {
    let failed = |what: &str| KmsError::Backend(format!("{} {what} encoding", spec.as_str()));
    let private_key_pkcs8 = secret.to_pkcs8_der().map_err(|_| failed("PKCS#8"))?;
    let public_key_spki = public.to_public_key_der().map_err(|_| failed("SPKI"))?;
    Ok(KeyPair {
        public_key_spki: public_key_spki.into_vec(),
        private_key_pkcs8: SecretBytes::new(private_key_pkcs8.as_bytes().to_vec()),
    })
}
