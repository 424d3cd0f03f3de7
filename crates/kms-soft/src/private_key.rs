//! Asymmetric CMKs of the soft backend: the PKCS#8 private key sealed under the root key,
//! bound to the key ID, spec and usage, and opened into a signer or decrypter on load.

use kms_core::{
    AsymmetricEncryption, AsymmetricSpec, KeyBlob, KeyId, KeyUsage, KmsError, PrivateKeyHandle,
    Result, SecretBytes, SignatureScheme, SignedData, SigningAlgorithm,
};
use pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::Oaep;
use rsa::signature::hazmat::{PrehashSigner, RandomizedPrehashSigner};
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use sha2::Sha256;

use crate::public_key::{SM2_DEFAULT_USER_ID, SoftPublicKey, with_sha2};
use crate::rng::with_thread_rng;
use crate::root_key::RootKey;

/// What a signature draws from the generator (RSA blinding, the nonce's added entropy).
const SIGN_DRAW: usize = 1024;

/// The label a private key is sealed under: it opens only as the same key, spec and usage.
fn label(id: &KeyId, spec: AsymmetricSpec, usage: KeyUsage) -> Vec<u8> {
    [
        b"kms-soft-private-key-v1".as_slice(),
        id.as_bytes(),
        spec.as_str().as_bytes(),
        b"/",
        usage.as_str().as_bytes(),
    ]
    .concat()
}

/// Generates a key pair of `spec` and seals its private half.
pub(crate) fn generate(
    root_key: &RootKey,
    id: &KeyId,
    spec: AsymmetricSpec,
    usage: KeyUsage,
) -> Result<KeyBlob> {
    let pair_spec = spec.key_pair_spec().ok_or_else(|| {
        KmsError::BackendUnsupported(format!("CMK spec {} on backend soft", spec.as_str()))
    })?;
    let pair = crate::key_pair::generate(pair_spec)?;
    root_key.seal(&label(id, spec, usage), &pair.private_key_pkcs8)
}

/// The private half, ready to sign or decrypt.
enum Private {
    Rsa(rsa::PrivateKey),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    K256(k256::ecdsa::SigningKey),
    Sm2(sm2::SecretKey),
}

/// A loaded soft asymmetric CMK.
pub(crate) struct SoftPrivateKey {
    spec: AsymmetricSpec,
    private: Private,
    public: SoftPublicKey,
    spki: Vec<u8>,
}

impl core::fmt::Debug for SoftPrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "SoftPrivateKey({}, private half hidden)",
            self.spec.as_str()
        )
    }
}

fn damaged(id: &KeyId) -> KmsError {
    KmsError::Backend(format!("the private key of CMK {id} does not decode"))
}

/// Opens the sealed private key of CMK `id`.
pub(crate) fn load(
    root_key: &RootKey,
    id: &KeyId,
    spec: AsymmetricSpec,
    usage: KeyUsage,
    blob: &KeyBlob,
) -> Result<SoftPrivateKey> {
    let pkcs8 = root_key.open(&label(id, spec, usage), blob, &format!("CMK {id}"))?;
    let der = pkcs8.expose_secret();
    let private = match spec {
        AsymmetricSpec::Rsa2048 | AsymmetricSpec::Rsa3072 | AsymmetricSpec::Rsa4096 => {
            rsa::PrivateKey::from_pkcs8_der(der).map(Private::Rsa).ok()
        }
        AsymmetricSpec::EcP256 => p256::ecdsa::SigningKey::from_pkcs8_der(der)
            .map(Private::P256)
            .ok(),
        AsymmetricSpec::EcP384 => p384::ecdsa::SigningKey::from_pkcs8_der(der)
            .map(Private::P384)
            .ok(),
        AsymmetricSpec::Secp256k1 => k256::ecdsa::SigningKey::from_pkcs8_der(der)
            .map(Private::K256)
            .ok(),
        AsymmetricSpec::Sm2 => sm2::SecretKey::from_pkcs8_der(der).map(Private::Sm2).ok(),
        AsymmetricSpec::Ed25519 => None,
    }
    .ok_or_else(|| damaged(id))?;
    let spki = match &private {
        Private::Rsa(key) => key.to_public_key().to_public_key_der(),
        Private::P256(key) => key.verifying_key().to_public_key_der(),
        Private::P384(key) => key.verifying_key().to_public_key_der(),
        Private::K256(key) => key.verifying_key().to_public_key_der(),
        Private::Sm2(key) => key.public_key().to_public_key_der(),
    }
    .map_err(|_| damaged(id))?
    .into_vec();
    let public = SoftPublicKey::from_spki(&spki).map_err(|_| damaged(id))?;
    Ok(SoftPrivateKey {
        spec,
        private,
        public,
        spki,
    })
}

impl SoftPrivateKey {
    fn unsupported(&self, algorithm: SigningAlgorithm) -> KmsError {
        KmsError::BackendUnsupported(format!(
            "signing algorithm {} with a {} key on backend soft",
            algorithm.as_str(),
            self.spec.as_str()
        ))
    }
}

fn signing_failed(_: rsa::signature::Error) -> KmsError {
    KmsError::Backend("signing failed".into())
}

impl PrivateKeyHandle for SoftPrivateKey {
    fn public_key_spki(&self) -> &[u8] {
        &self.spki
    }

    fn sign(&self, algorithm: SigningAlgorithm, data: SignedData<'_>) -> Result<Vec<u8>> {
        let hash = algorithm.hash();
        let signature = with_thread_rng(SIGN_DRAW, |rng| {
            match (&self.private, algorithm.scheme(), data) {
                (Private::Rsa(key), SignatureScheme::RsaPkcs1V15, SignedData::Digest(digest)) => {
                    // Blinded with the OS generator (this signer takes none).
                    with_sha2!(hash, D => rsa::pkcs1v15::SigningKey::<D>::new(key.clone())
                    .sign_prehash(digest)
                    .map(|signature| signature.to_vec())
                    .map_err(signing_failed), Err(self.unsupported(algorithm)))
                }
                (Private::Rsa(key), SignatureScheme::RsaPss, SignedData::Digest(digest)) => {
                    with_sha2!(hash, D => rsa::pss::SigningKey::<D>::new_with_salt_len(
                        key.clone(),
                        hash.digest_len(),
                    )
                    .sign_prehash_with_rng(rng, digest)
                    .map(|signature| signature.to_vec())
                    .map_err(signing_failed), Err(self.unsupported(algorithm)))
                }
                (Private::P256(key), SignatureScheme::Ecdsa, SignedData::Digest(digest)) => {
                    RandomizedPrehashSigner::<p256::ecdsa::Signature>::sign_prehash_with_rng(
                        key, rng, digest,
                    )
                    .map(|signature| signature.to_der().as_bytes().to_vec())
                    .map_err(signing_failed)
                }
                (Private::P384(key), SignatureScheme::Ecdsa, SignedData::Digest(digest)) => {
                    RandomizedPrehashSigner::<p384::ecdsa::Signature>::sign_prehash_with_rng(
                        key, rng, digest,
                    )
                    .map(|signature| signature.to_der().as_bytes().to_vec())
                    .map_err(signing_failed)
                }
                (Private::K256(key), SignatureScheme::Ecdsa, SignedData::Digest(digest)) => {
                    RandomizedPrehashSigner::<k256::ecdsa::Signature>::sign_prehash_with_rng(
                        key, rng, digest,
                    )
                    .map(|signature| signature.to_der().as_bytes().to_vec())
                    .map_err(signing_failed)
                }
                (Private::Sm2(key), SignatureScheme::Sm2, data) => {
                    let signer = sm2::dsa::SigningKey::new(SM2_DEFAULT_USER_ID, key)
                        .map_err(signing_failed)?;
                    match data {
                        SignedData::Digest(digest) => signer.sign_prehash_with_rng(rng, digest),
                        SignedData::Sm2Message(message) => signer.try_sign_with_rng(rng, message),
                    }
                    .map(|signature: sm2::dsa::Signature| signature.to_der().as_bytes().to_vec())
                    .map_err(signing_failed)
                }
                _ => Err(self.unsupported(algorithm)),
            }
        })??;
        Ok(signature)
    }

    fn verify(
        &self,
        algorithm: SigningAlgorithm,
        data: SignedData<'_>,
        signature: &[u8],
    ) -> Result<bool> {
        self.public.verify(algorithm, data, signature)
    }

    fn encrypt(&self, algorithm: AsymmetricEncryption, plaintext: &[u8]) -> Result<Vec<u8>> {
        self.public.encrypt(&self.spki, algorithm, plaintext)
    }

    fn decrypt(&self, algorithm: AsymmetricEncryption, ciphertext: &[u8]) -> Result<SecretBytes> {
        match (&self.private, algorithm) {
            (Private::Rsa(key), AsymmetricEncryption::RsaesOaepSha256) => key
                .decrypt(Oaep::<Sha256>::new(), ciphertext)
                .map(SecretBytes::new)
                .map_err(|_| KmsError::InvalidCipherText),
            (Private::Sm2(key), AsymmetricEncryption::Sm2Encrypt) => {
                crate::wrapping::sm2_decrypt(&key.to_nonzero_scalar(), ciphertext)
                    .map_err(|_| KmsError::InvalidCipherText)
            }
            _ => Err(KmsError::BackendUnsupported(format!(
                "encryption algorithm {} with a {} key on backend soft",
                algorithm.as_str(),
                self.spec.as_str()
            ))),
        }
    }
}
