//! Published test secrets and the keys made from them. They protect nothing; they make
//! every fuzzing process agree with the committed corpus, whose ciphertext blobs, import
//! tokens and wrapped key material were made under them.

use std::sync::{Arc, OnceLock};

use kms_core::{
    CmkHandle, CmkSpec, KeyBlob, KeyId, NONCE_LEN, SecretBytes, WrappingAlgorithm, WrappingKeySpec,
};
use kms_soft::{RootKey, SoftBackend, SoftCmk};

/// The soft backend's root key; the wrapping key fixtures are sealed under it.
const ROOT_KEY: &[u8; 32] = b"kms-fuzz published root key 32B!";
/// The material of the fixture CMK: all 32 bytes for AES_256, the first 16 for SM4. The
/// committed wrapped material wraps exactly these bytes.
const CMK_MATERIAL: &[u8; 32] = b"kms-fuzz published CMK material!";
/// The key that seals the fixture import tokens.
const TOKEN_KEY_MATERIAL: &[u8; 32] = b"kms-fuzz published token key 32B";
/// The key ID of the fixture CMK, written into blob headers and token claims.
const KEY_ID: &str = "f022f022-0000-4000-8000-000000000001";

/// The wrapping key pairs the committed wrapped material was made for, sealed under
/// [`ROOT_KEY`] by `Backend::create_wrapping_key`; their public halves are beside them as
/// SPKI DER (`fixtures/*.spki.der`), for wrapping more material with the OpenSSL CLI.
const RSA_2048_WRAPPING_KEY: &[u8] = include_bytes!("../fixtures/rsa_2048_wrapping_key.blob");
const SM2_WRAPPING_KEY: &[u8] = include_bytes!("../fixtures/sm2_wrapping_key.blob");

/// The private half of the SM2 wrapping key, as PKCS#8 DER: a published test secret like
/// the rest, for the reference decryption of the SM2 unwrap target.
const SM2_WRAPPING_PRIVATE_KEY: &[u8] = include_bytes!("../fixtures/sm2_wrapping_key.pkcs8.der");

/// The soft backend over [`ROOT_KEY`], made once per process.
pub(crate) fn backend() -> &'static Arc<SoftBackend> {
    static BACKEND: OnceLock<Arc<SoftBackend>> = OnceLock::new();
    BACKEND.get_or_init(|| {
        let root_key = RootKey::from_bytes(&SecretBytes::new(ROOT_KEY.to_vec()))
            .expect("the fixture root key is 32 bytes");
        Arc::new(SoftBackend::new(root_key))
    })
}

/// The fixture CMK's key ID.
pub(crate) fn key_id() -> KeyId {
    KeyId::parse(KEY_ID).expect("the fixture key ID is well formed")
}

/// The fixture CMK of `spec`, loaded.
pub(crate) fn cmk(spec: CmkSpec) -> SoftCmk {
    SoftCmk::new(spec, &cmk_material(spec)).expect("the fixture material fits every CMK spec")
}

/// The fixture CMK material of `spec`, for wrapping.
pub(crate) fn cmk_material(spec: CmkSpec) -> SecretBytes {
    SecretBytes::new(
        CMK_MATERIAL
            .get(..spec.material_len())
            .unwrap_or_default()
            .to_vec(),
    )
}

/// The key that seals the fixture import tokens, loaded.
pub(crate) fn token_key() -> SoftCmk {
    SoftCmk::new(
        CmkSpec::Aes256,
        &SecretBytes::new(TOKEN_KEY_MATERIAL.to_vec()),
    )
    .expect("the fixture token key is 32 bytes")
}

/// The fixture wrapping key for `algorithm`, its spec and sealed private half: RSA_2048
/// serves the four RSA algorithms, SM2 serves SM2_ENCRYPT.
pub(crate) fn wrapping_key(algorithm: WrappingAlgorithm) -> (WrappingKeySpec, KeyBlob) {
    let spec = algorithm.default_key_spec();
    let sealed = if spec == WrappingKeySpec::Sm2 {
        SM2_WRAPPING_KEY
    } else {
        RSA_2048_WRAPPING_KEY
    };
    (spec, KeyBlob::new(sealed.to_vec()))
}

/// The SM2 wrapping key's private half, for decrypting with the `sm2` crate.
pub(crate) fn sm2_wrapping_private_key() -> sm2::SecretKey {
    use pkcs8::DecodePrivateKey;
    sm2::SecretKey::from_pkcs8_der(SM2_WRAPPING_PRIVATE_KEY)
        .expect("the SM2 wrapping key fixture is PKCS#8 DER")
}

/// A keyed fingerprint of a CMK's material: the GCM tag of an empty message. Two handles
/// of one spec have the same fingerprint exactly when they hold the same material.
pub(crate) fn fingerprint(cmk: &dyn CmkHandle) -> [u8; 16] {
    cmk.seal_in_place(&[0; NONCE_LEN], b"kms-fuzz fingerprint", &mut [])
        .expect("sealing an empty message cannot fail")
}
