//! The HSM boundary (DESIGN 3): every operation that touches key material goes through a
//! [`Backend`]. Backends never see JSON; the engine never sees CMK material.

use core::fmt;

use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::key_spec::{
    AsymmetricEncryption, AsymmetricSpec, KeySpec, MacSpec, SignedData, SigningAlgorithm,
};
use crate::secret::SecretBytes;
use crate::spec::{CmkSpec, KeyPairSpec, KeyUsage, WrappingAlgorithm, WrappingKeySpec};

/// Length of an AEAD nonce in bytes (96 bits, NIST SP 800-38D).
pub const NONCE_LEN: usize = 12;
/// Length of an AEAD tag in bytes.
pub const TAG_LEN: usize = 16;

/// The backend's opaque, persistable reference to a CMK: for the soft backend the material
/// sealed under its root key, for PKCS#11 the object's CKA_ID.
///
/// Not secret by construction (it never holds plaintext material), but `Debug` still shows
/// only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBlob(Vec<u8>);

impl KeyBlob {
    /// Wraps the backend's bytes.
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The bytes to persist.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for KeyBlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyBlob({} bytes)", self.0.len())
    }
}

/// A freshly generated data key pair, DER encoded.
pub struct KeyPair {
    /// SubjectPublicKeyInfo DER of the public key.
    pub public_key_spki: Vec<u8>,
    /// PKCS#8 `PrivateKeyInfo` DER of the private key.
    pub private_key_pkcs8: SecretBytes,
}

impl KeyPair {
    /// The DER of a pair whose key type writes its own encodings (RSA): `private_key`'s
    /// PKCS#8 and `public_key`'s SubjectPublicKeyInfo. `spec` names the pair in errors.
    ///
    /// # Errors
    /// [`KmsError::Backend`] if an encoding fails.
    pub fn from_encodable(
        spec: KeyPairSpec,
        private_key: &impl pkcs8::EncodePrivateKey,
        public_key: &impl spki::EncodePublicKey,
    ) -> Result<Self> {
        let failed = |what: &str| KmsError::Backend(format!("{} {what} encoding", spec.as_str()));
        let private_key_pkcs8 = private_key.to_pkcs8_der().map_err(|_| failed("PKCS#8"))?;
        let public_key_spki = public_key.to_public_key_der().map_err(|_| failed("SPKI"))?;
        Ok(Self {
            public_key_spki: public_key_spki.into_vec(),
            private_key_pkcs8: SecretBytes::new(private_key_pkcs8.as_bytes().to_vec()),
        })
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public_key_spki_len", &self.public_key_spki.len())
            .field("private_key_pkcs8", &self.private_key_pkcs8)
            .finish()
    }
}

/// A key pair that receives wrapped key material: the backend's reference to the private
/// half, and the public half for the customer.
pub struct WrappingKey {
    /// The backend's persistable reference to the private key (never plaintext).
    pub private_key: KeyBlob,
    /// SubjectPublicKeyInfo DER of the public key.
    pub public_key_spki: Vec<u8>,
}

impl fmt::Debug for WrappingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappingKey")
            .field("private_key", &self.private_key)
            .field("public_key_spki_len", &self.public_key_spki.len())
            .finish()
    }
}

/// Key material as the customer wrapped it, base64-decoded.
#[derive(Debug, Clone, Copy)]
pub struct WrappedMaterial<'a> {
    /// `encrypted_key_material`: the whole wrapped material, or for RSA_AES_KEY_WRAP either
    /// the OAEP-wrapped temporary AES key followed by the AES-KWP-wrapped material, or only
    /// the former when `encrypted_privatekey` holds the latter.
    pub encrypted_key_material: &'a [u8],
    /// `encrypted_privatekey`: the AES-KWP-wrapped material, when sent as a second field.
    pub encrypted_privatekey: Option<&'a [u8]>,
}

/// What a backend can do, as data: the engine refuses anything else before calling it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// A name for messages, such as `"soft"` or a PKCS#11 token label.
    pub name: String,
    /// CMK specs the backend can generate and use.
    pub cmk_specs: Vec<CmkSpec>,
    /// Asymmetric CMK specs the backend can generate and use.
    pub asymmetric_specs: Vec<AsymmetricSpec>,
    /// HMAC CMK specs the backend can generate and use.
    pub mac_specs: Vec<MacSpec>,
    /// Data key pair specs the backend can generate.
    pub key_pair_specs: Vec<KeyPairSpec>,
    /// Wrapping key specs the backend can create for import.
    pub wrapping_key_specs: Vec<WrappingKeySpec>,
    /// Wrapping algorithms the backend can unwrap imported material with.
    pub wrapping_algorithms: Vec<WrappingAlgorithm>,
    /// Why specs or algorithms are missing, as (wire name, what the backend lacks), so the
    /// refusal can name the mechanism.
    pub missing: Vec<(String, String)>,
}

impl Capabilities {
    /// Checks that CMKs of `spec` are supported.
    ///
    /// # Errors
    /// [`KmsError::BackendUnsupported`] naming the spec and the backend.
    pub fn require_cmk(&self, spec: CmkSpec) -> Result<()> {
        self.require(self.cmk_specs.contains(&spec), "CMK spec", spec.as_str())
    }

    /// Checks that CMKs of `spec`, of any kind, are supported.
    ///
    /// # Errors
    /// [`KmsError::BackendUnsupported`] naming the spec and the backend.
    pub fn require_key_spec(&self, spec: KeySpec) -> Result<()> {
        let supported = match spec {
            KeySpec::Symmetric(spec) => self.cmk_specs.contains(&spec),
            KeySpec::Asymmetric(spec) => self.asymmetric_specs.contains(&spec),
            KeySpec::Mac(spec) => self.mac_specs.contains(&spec),
        };
        self.require(supported, "CMK spec", spec.as_str())
    }

    /// Checks that key pairs of `spec` are supported.
    ///
    /// # Errors
    /// [`KmsError::BackendUnsupported`] naming the spec and the backend.
    pub fn require_key_pair(&self, spec: KeyPairSpec) -> Result<()> {
        self.require(
            self.key_pair_specs.contains(&spec),
            "key pair spec",
            spec.as_str(),
        )
    }

    /// Checks that import with `algorithm` under a wrapping key of `spec` is supported.
    ///
    /// # Errors
    /// [`KmsError::BackendUnsupported`] naming what is missing and the backend.
    pub fn require_import(
        &self,
        algorithm: WrappingAlgorithm,
        spec: WrappingKeySpec,
    ) -> Result<()> {
        self.require(
            self.wrapping_algorithms.contains(&algorithm),
            "wrapping algorithm",
            algorithm.as_str(),
        )?;
        self.require(
            self.wrapping_key_specs.contains(&spec),
            "wrapping key spec",
            spec.as_str(),
        )
    }

    fn require(&self, supported: bool, kind: &str, spec: &str) -> Result<()> {
        if supported {
            return Ok(());
        }
        let reason = self
            .missing
            .iter()
            .find(|(name, _)| name == spec)
            .map(|(_, lacking)| format!(" (needs {lacking})"))
            .unwrap_or_default();
        Err(KmsError::BackendUnsupported(format!(
            "{kind} {spec} on backend {}{reason}",
            self.name
        )))
    }
}

/// A CMK loaded for use: the soft backend's expanded cipher, an HSM's object handle. The
/// engine caches these so the hot path does no store I/O and no key unsealing.
///
/// Implementations wipe any key schedule they hold when dropped.
pub trait CmkHandle: Send + Sync + fmt::Debug {
    /// Encrypts `buffer` in place with the CMK's AEAD (AES-256-GCM or SM4-GCM) and returns
    /// the tag.
    ///
    /// # Errors
    /// [`KmsError::Backend`] when the backend fails.
    fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        associated_data: &[u8],
        buffer: &mut [u8],
    ) -> Result<[u8; TAG_LEN]>;

    /// Decrypts `buffer` in place after checking `tag`.
    ///
    /// # Errors
    /// [`KmsError::InvalidCipherText`] when authentication fails (and `buffer` is then
    /// unspecified: the caller wipes it); [`KmsError::Backend`] when the backend fails.
    fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        associated_data: &[u8],
        buffer: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()>;
}

/// An asymmetric CMK loaded for use: the soft backend's private key opened from its sealed
/// blob, an HSM's key pair objects. Its private half never leaves the handle.
pub trait PrivateKeyHandle: Send + Sync + fmt::Debug {
    /// The public half, SubjectPublicKeyInfo DER.
    fn public_key_spki(&self) -> &[u8];

    /// Signs `data` with `algorithm` (one of the key's, checked by the engine) and returns
    /// the signature as the API carries it: DER `SEQUENCE { r, s }` for ECDSA and SM2, the
    /// modulus-sized octets for RSA.
    ///
    /// # Errors
    /// [`KmsError::BackendUnsupported`] naming a mechanism the backend lacks;
    /// [`KmsError::Backend`] when the backend fails.
    fn sign(&self, algorithm: SigningAlgorithm, data: SignedData<'_>) -> Result<Vec<u8>>;

    /// Whether `signature` is a valid signature of `data` under `algorithm`: `false` for
    /// any signature that is not, a malformed encoding included.
    ///
    /// # Errors
    /// As [`sign`](Self::sign).
    fn verify(
        &self,
        algorithm: SigningAlgorithm,
        data: SignedData<'_>,
        signature: &[u8],
    ) -> Result<bool>;

    /// Encrypts `plaintext` to the public half.
    ///
    /// # Errors
    /// As [`sign`](Self::sign).
    fn encrypt(&self, algorithm: AsymmetricEncryption, plaintext: &[u8]) -> Result<Vec<u8>>;

    /// Decrypts `ciphertext` with the private half.
    ///
    /// # Errors
    /// [`KmsError::InvalidCipherText`], one opaque error for every way the ciphertext can
    /// be wrong; otherwise as [`sign`](Self::sign).
    fn decrypt(&self, algorithm: AsymmetricEncryption, ciphertext: &[u8]) -> Result<SecretBytes>;
}

/// An HMAC CMK loaded for use.
pub trait MacKeyHandle: Send + Sync + fmt::Debug {
    /// The HMAC of `message` with the key's hash.
    ///
    /// # Errors
    /// [`KmsError::Backend`] when the backend fails.
    fn mac(&self, message: &[u8]) -> Result<Vec<u8>>;

    /// Whether `mac` is the HMAC of `message`, compared in constant time.
    ///
    /// # Errors
    /// [`KmsError::Backend`] when the backend fails.
    fn verify(&self, message: &[u8], mac: &[u8]) -> Result<bool> {
        use subtle::ConstantTimeEq as _;
        Ok(bool::from(self.mac(message)?.as_slice().ct_eq(mac)))
    }
}

/// A key backend: a pure-Rust implementation or an HSM.
pub trait Backend: Send + Sync + fmt::Debug {
    /// What this backend can do.
    fn capabilities(&self) -> &Capabilities;

    /// Whether every call of this backend, and of the handles it loads, returns without
    /// waiting on I/O, a device, or a lock held across either (a pure-Rust backend does;
    /// a token does not). The engine runs quick calls on an async reactor only over such a
    /// backend ([`Kms::call_json_now`](crate::Kms::call_json_now)). `false` unless the
    /// backend says so.
    fn never_waits(&self) -> bool {
        false
    }

    /// Generates material generation `generation` of CMK `id` (0 at creation, one more at
    /// each rotation) and returns its persistable reference. Each call makes a new
    /// material with a reference of its own, even for a generation made before (two
    /// engines rotating one key at once: the store keeps one, the other is destroyed).
    ///
    /// # Errors
    /// [`KmsError::BackendUnsupported`] for a spec it cannot do; [`KmsError::Backend`] when
    /// generation fails.
    fn generate_cmk(&self, id: &KeyId, spec: CmkSpec, generation: u32) -> Result<KeyBlob>;

    /// Loads a CMK for use from its persisted reference.
    ///
    /// # Errors
    /// [`KmsError::Backend`] when the blob does not belong to this backend or key, or is
    /// damaged.
    fn load_cmk(&self, id: &KeyId, spec: CmkSpec, blob: &KeyBlob) -> Result<Box<dyn CmkHandle>>;

    /// Generates a data key pair, returned as SPKI and PKCS#8 DER.
    ///
    /// # Errors
    /// [`KmsError::BackendUnsupported`] for a spec it cannot do; [`KmsError::Backend`] when
    /// generation or encoding fails.
    fn generate_key_pair(&self, spec: KeyPairSpec) -> Result<KeyPair>;

    /// Fills `out` from a CSPRNG (nonces, DEKs, key IDs).
    ///
    /// # Errors
    /// [`KmsError::Backend`] when the random source fails.
    fn random(&self, out: &mut [u8]) -> Result<()>;

    /// Creates a key pair that receives wrapped key material for import. A backend that
    /// keeps the private key as an object names it `object_id` (its reference is then
    /// `object_id`, and [`wrapping_keys`](Self::wrapping_keys) finds it); a backend of
    /// self-contained blobs ignores it.
    ///
    /// # Errors
    /// [`KmsError::BackendUnsupported`] by default and for specs it cannot do;
    /// [`KmsError::Backend`] when generation fails.
    fn create_wrapping_key(&self, spec: WrappingKeySpec, object_id: &[u8]) -> Result<WrappingKey> {
        let _ = object_id;
        Err(self.unsupported(&format!("wrapping key spec {}", spec.as_str())))
    }

    /// The references of the wrapping keys this backend holds as objects whose name
    /// starts with `prefix`, each once: what a killed engine may have left behind. A
    /// backend of self-contained blobs holds none (the default).
    ///
    /// # Errors
    /// [`KmsError::Backend`] when the backend fails to list them.
    fn wrapping_keys(&self, prefix: &[u8]) -> Result<Vec<KeyBlob>> {
        let _ = prefix;
        Ok(Vec::new())
    }

    /// Unwraps imported material with the wrapping private key and makes it CMK `id` of
    /// `cmk_spec`, without the material leaving the backend (where the backend can).
    ///
    /// # Errors
    /// [`KmsError::UnwrapFailed`], one opaque error for every way the wrapped material or
    /// its length can be wrong; [`KmsError::BackendUnsupported`] by default;
    /// [`KmsError::Backend`] when the backend fails.
    fn unwrap_cmk(
        &self,
        wrapping_key: &KeyBlob,
        wrapping_key_spec: WrappingKeySpec,
        algorithm: WrappingAlgorithm,
        wrapped: &WrappedMaterial<'_>,
        id: &KeyId,
        cmk_spec: CmkSpec,
    ) -> Result<KeyBlob> {
        let _ = (wrapping_key, wrapping_key_spec, wrapped, id, cmk_spec);
        Err(self.unsupported(&format!("wrapping algorithm {}", algorithm.as_str())))
    }

    /// Checks a recipient's public key (SPKI DER) for `algorithm` as
    /// [`wrap_for_recipient`](Self::wrap_for_recipient) would, so that a request with a bad
    /// recipient is refused before a key pair is generated for it.
    ///
    /// # Errors
    /// The key errors of [`wrap_for_recipient`](Self::wrap_for_recipient);
    /// [`KmsError::BackendUnsupported`] by default.
    fn check_recipient(&self, recipient_spki: &[u8], algorithm: WrappingAlgorithm) -> Result<()> {
        let _ = recipient_spki;
        Err(self.unsupported(&format!("recipient algorithm {}", algorithm.as_str())))
    }

    /// Wraps `plaintext` (a PKCS#8 private key) to a recipient's public key (SPKI DER).
    ///
    /// # Errors
    /// [`KmsError::InvalidParameter`] for a recipient key that is malformed, off its curve,
    /// of the wrong kind for `algorithm`, or RSA under 2048 bits;
    /// [`KmsError::RecipientWrapTooLong`] when `plaintext` does not fit RSAES_OAEP_SHA_256;
    /// [`KmsError::BackendUnsupported`] by default.
    fn wrap_for_recipient(
        &self,
        recipient_spki: &[u8],
        algorithm: WrappingAlgorithm,
        plaintext: &SecretBytes,
    ) -> Result<Vec<u8>> {
        let _ = (recipient_spki, plaintext);
        Err(self.unsupported(&format!("recipient algorithm {}", algorithm.as_str())))
    }

    /// Generates asymmetric CMK `id` of `spec` whose private half may do what `usage`
    /// allows and nothing else (sign, or decrypt), and returns its persistable reference.
    ///
    /// # Errors
    /// [`KmsError::BackendUnsupported`] by default and for specs it cannot do;
    /// [`KmsError::Backend`] when generation fails.
    fn generate_private_key(
        &self,
        id: &KeyId,
        spec: AsymmetricSpec,
        usage: KeyUsage,
    ) -> Result<KeyBlob> {
        let _ = (id, usage);
        Err(self.unsupported(&format!("CMK spec {}", spec.as_str())))
    }

    /// Loads an asymmetric CMK for use from its persisted reference.
    ///
    /// # Errors
    /// [`KmsError::Backend`] when the blob does not belong to this backend or key, or is
    /// damaged; [`KmsError::BackendUnsupported`] by default.
    fn load_private_key(
        &self,
        id: &KeyId,
        spec: AsymmetricSpec,
        usage: KeyUsage,
        blob: &KeyBlob,
    ) -> Result<Box<dyn PrivateKeyHandle>> {
        let _ = (id, usage, blob);
        Err(self.unsupported(&format!("CMK spec {}", spec.as_str())))
    }

    /// Generates HMAC CMK `id` of `spec` and returns its persistable reference.
    ///
    /// # Errors
    /// [`KmsError::BackendUnsupported`] by default and for specs it cannot do;
    /// [`KmsError::Backend`] when generation fails.
    fn generate_mac_key(&self, id: &KeyId, spec: MacSpec) -> Result<KeyBlob> {
        let _ = id;
        Err(self.unsupported(&format!("CMK spec {}", spec.as_str())))
    }

    /// Loads an HMAC CMK for use from its persisted reference.
    ///
    /// # Errors
    /// As [`load_private_key`](Self::load_private_key).
    fn load_mac_key(
        &self,
        id: &KeyId,
        spec: MacSpec,
        blob: &KeyBlob,
    ) -> Result<Box<dyn MacKeyHandle>> {
        let _ = (id, blob);
        Err(self.unsupported(&format!("CMK spec {}", spec.as_str())))
    }

    /// Destroys a key the engine no longer needs: a used or expired wrapping key, or a CMK
    /// whose import was refused. Self-contained blobs need nothing, so the default does
    /// nothing.
    ///
    /// # Errors
    /// [`KmsError::Backend`] when the backend fails to destroy it.
    fn destroy_key(&self, key: &KeyBlob) -> Result<()> {
        let _ = key;
        Ok(())
    }

    /// The error for an optional operation this backend does not offer.
    fn unsupported(&self, what: &str) -> KmsError {
        KmsError::BackendUnsupported(format!("{what} on backend {}", self.capabilities().name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsupported_spec_is_refused_naming_spec_and_backend() {
        let capabilities = Capabilities {
            name: "token-a".into(),
            cmk_specs: vec![CmkSpec::Aes256],
            asymmetric_specs: vec![AsymmetricSpec::EcP256],
            mac_specs: Vec::new(),
            key_pair_specs: vec![KeyPairSpec::EccNistP256],
            wrapping_key_specs: vec![WrappingKeySpec::Rsa2048],
            wrapping_algorithms: vec![WrappingAlgorithm::RsaesOaepSha1],
            missing: vec![("SM4".into(), "CKM_SM4_KEY_GEN".into())],
        };
        assert!(capabilities.require_cmk(CmkSpec::Aes256).is_ok());
        let err = capabilities.require_cmk(CmkSpec::Sm4).unwrap_err();
        assert_eq!(err.code(), "KMS.9002");
        assert_eq!(
            err.to_string(),
            "Not supported by the backend: CMK spec SM4 on backend token-a (needs CKM_SM4_KEY_GEN)"
        );
        let err = capabilities.require_key_pair(KeyPairSpec::Sm2).unwrap_err();
        assert!(
            err.to_string()
                .contains("key pair spec SM2 on backend token-a")
        );
    }
}
