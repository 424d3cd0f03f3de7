//! Every kind of CMK create-key makes: symmetric keys that seal blobs, asymmetric keys
//! whose private half stays in the backend, HMAC keys that only MAC (DESIGN 12); and the
//! algorithms of the operations that use the last two.

use crate::error::{KmsError, Result};
use crate::spec::{CmkSpec, KeyPairSpec, KeyUsage};

wire_enum! {
    /// The spec of an asymmetric CMK.
    AsymmetricSpec {
        /// RSA with a 2048-bit modulus.
        Rsa2048 = "RSA_2048",
        /// RSA with a 3072-bit modulus.
        Rsa3072 = "RSA_3072",
        /// RSA with a 4096-bit modulus.
        Rsa4096 = "RSA_4096",
        /// NIST P-256.
        EcP256 = "EC_P256",
        /// NIST P-384.
        EcP384 = "EC_P384",
        /// SEC 2 secp256k1.
        Secp256k1 = "SECP256K1",
        /// SM2 (GB/T 32918) on its recommended curve.
        Sm2 = "SM2",
        /// Ed25519 (RFC 8032). No backend here has it: refused with KMS.9002.
        Ed25519 = "ED25519",
    }
}

impl AsymmetricSpec {
    /// The key pair spec a backend generates for this CMK, if it is one of those.
    #[must_use]
    pub fn key_pair_spec(self) -> Option<KeyPairSpec> {
        match self {
            Self::Rsa2048 => Some(KeyPairSpec::Rsa2048),
            Self::Rsa3072 => Some(KeyPairSpec::Rsa3072),
            Self::Rsa4096 => Some(KeyPairSpec::Rsa4096),
            Self::EcP256 => Some(KeyPairSpec::EccNistP256),
            Self::EcP384 => Some(KeyPairSpec::EccNistP384),
            Self::Secp256k1 => Some(KeyPairSpec::EccSecgP256k1),
            Self::Sm2 => Some(KeyPairSpec::Sm2),
            Self::Ed25519 => None,
        }
    }

    /// Whether this is an RSA spec.
    #[must_use]
    pub fn is_rsa(self) -> bool {
        matches!(self, Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096)
    }

    /// The modulus size in bytes of an RSA spec.
    #[must_use]
    pub fn rsa_modulus_len(self) -> Option<usize> {
        match self {
            Self::Rsa2048 => Some(256),
            Self::Rsa3072 => Some(384),
            Self::Rsa4096 => Some(512),
            _ => None,
        }
    }

    /// The signing algorithms a key of this spec can use.
    #[must_use]
    pub fn signing_algorithms(self) -> &'static [SigningAlgorithm] {
        use SigningAlgorithm as A;
        match self {
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => &[
                A::RsassaPssSha256,
                A::RsassaPssSha384,
                A::RsassaPssSha512,
                A::RsassaPkcs1V15Sha256,
                A::RsassaPkcs1V15Sha384,
                A::RsassaPkcs1V15Sha512,
            ],
            Self::EcP256 | Self::Secp256k1 => &[A::EcdsaSha256],
            Self::EcP384 => &[A::EcdsaSha384],
            Self::Sm2 => &[A::Sm2dsaSm3],
            Self::Ed25519 => &[A::Ed25519Sha512, A::Ed25519PhSha512],
        }
    }

    /// The encryption algorithm of an ENCRYPT_DECRYPT key of this spec; `None` for the
    /// specs that only sign (the EC curves and Ed25519, KMS.1114).
    #[must_use]
    pub fn encryption_algorithm(self) -> Option<AsymmetricEncryption> {
        match self {
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => {
                Some(AsymmetricEncryption::RsaesOaepSha256)
            }
            Self::Sm2 => Some(AsymmetricEncryption::Sm2Encrypt),
            Self::EcP256 | Self::EcP384 | Self::Secp256k1 | Self::Ed25519 => None,
        }
    }

    /// The longest plaintext encrypt-data takes under a key of this spec: what OAEP with
    /// SHA-256 fits in the modulus (k - 2·32 - 2 bytes), or encrypt-data's own limit.
    #[must_use]
    pub fn max_plaintext_len(self) -> usize {
        self.rsa_modulus_len()
            .map_or(crate::models::MAX_DATA_LEN, |k| k - 2 * 32 - 2)
    }
}

wire_enum! {
    /// The spec of an HMAC CMK.
    MacSpec {
        /// HMAC with SHA-256, a 256-bit key.
        Hmac256 = "HMAC_256",
        /// HMAC with SHA-384, a 384-bit key.
        Hmac384 = "HMAC_384",
        /// HMAC with SHA-512, a 512-bit key.
        Hmac512 = "HMAC_512",
        /// HMAC with SM3, a 256-bit key.
        HmacSm3 = "HMAC_SM3",
    }
}

impl MacSpec {
    /// Length of the key material in bytes: as long as the MAC (RFC 2104's recommendation).
    #[must_use]
    pub fn material_len(self) -> usize {
        self.mac_len()
    }

    /// Length of the MAC in bytes: the output of the spec's hash.
    #[must_use]
    pub fn mac_len(self) -> usize {
        match self {
            Self::Hmac256 | Self::HmacSm3 => 32,
            Self::Hmac384 => 48,
            Self::Hmac512 => 64,
        }
    }

    /// The one MAC algorithm a key of this spec computes.
    #[must_use]
    pub fn algorithm(self) -> MacAlgorithm {
        match self {
            Self::Hmac256 => MacAlgorithm::HmacSha256,
            Self::Hmac384 => MacAlgorithm::HmacSha384,
            Self::Hmac512 => MacAlgorithm::HmacSha512,
            Self::HmacSm3 => MacAlgorithm::HmacSm3,
        }
    }
}

/// The spec of any CMK: the `key_spec` of create-key, describe-key and list-keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySpec {
    /// A symmetric key that seals data keys and data.
    Symmetric(CmkSpec),
    /// A key pair whose private half stays in the backend.
    Asymmetric(AsymmetricSpec),
    /// An HMAC key.
    Mac(MacSpec),
}

impl KeySpec {
    /// The wire spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Symmetric(spec) => spec.as_str(),
            Self::Asymmetric(spec) => spec.as_str(),
            Self::Mac(spec) => spec.as_str(),
        }
    }

    /// The spec with this exact wire spelling, if any.
    #[must_use]
    pub fn from_wire(text: &str) -> Option<Self> {
        CmkSpec::from_wire(text)
            .map(Self::Symmetric)
            .or_else(|| AsymmetricSpec::from_wire(text).map(Self::Asymmetric))
            .or_else(|| MacSpec::from_wire(text).map(Self::Mac))
    }

    /// Every spec, symmetric first.
    pub fn all() -> impl Iterator<Item = Self> {
        let symmetric = CmkSpec::ALL.iter().copied().map(Self::Symmetric);
        let asymmetric = AsymmetricSpec::ALL.iter().copied().map(Self::Asymmetric);
        symmetric
            .chain(asymmetric)
            .chain(MacSpec::ALL.iter().copied().map(Self::Mac))
    }

    /// The symmetric spec, for a key that seals blobs.
    #[must_use]
    pub fn symmetric(self) -> Option<CmkSpec> {
        match self {
            Self::Symmetric(spec) => Some(spec),
            Self::Asymmetric(_) | Self::Mac(_) => None,
        }
    }

    /// The usage create-key gives a key of this spec when the request names none.
    #[must_use]
    pub fn default_usage(self) -> KeyUsage {
        match self {
            Self::Symmetric(_) => KeyUsage::EncryptDecrypt,
            Self::Asymmetric(_) => KeyUsage::SignVerify,
            Self::Mac(_) => KeyUsage::GenerateVerifyMac,
        }
    }

    /// Whether a key of this spec may have `usage`.
    #[must_use]
    pub fn allows_usage(self, usage: KeyUsage) -> bool {
        match (self, usage) {
            (Self::Symmetric(_), KeyUsage::EncryptDecrypt)
            | (Self::Asymmetric(_), KeyUsage::SignVerify)
            | (Self::Mac(_), KeyUsage::GenerateVerifyMac) => true,
            (Self::Asymmetric(spec), KeyUsage::EncryptDecrypt) => {
                spec.encryption_algorithm().is_some()
            }
            _ => false,
        }
    }
}

impl KeySpec {
    /// The symmetric spec of a key that seals blobs (data keys, encrypt-data, import).
    ///
    /// # Errors
    /// KMS.0325 for an asymmetric key, KMS.0341 for an HMAC key.
    pub fn require_symmetric(self) -> Result<CmkSpec> {
        match self {
            Self::Symmetric(spec) => Ok(spec),
            Self::Asymmetric(_) => Err(KmsError::AsymmetricKeyUnsupported),
            Self::Mac(_) => Err(KmsError::MacKeyUnsupported),
        }
    }

    /// The symmetric spec of a key that may rotate: only symmetric keys do.
    ///
    /// # Errors
    /// KMS.0324 for an RSA key, KMS.0325 for another asymmetric key, KMS.0341 for an HMAC
    /// key.
    pub fn require_rotatable(self) -> Result<CmkSpec> {
        match self {
            Self::Asymmetric(spec) if spec.is_rsa() => Err(KmsError::RsaKeyRotation),
            _ => self.require_symmetric(),
        }
    }
}

impl From<CmkSpec> for KeySpec {
    fn from(spec: CmkSpec) -> Self {
        Self::Symmetric(spec)
    }
}

wire_enum! {
    /// The `signing_algorithm` of sign and verify.
    SigningAlgorithm {
        /// RSASSA-PSS, SHA-256, MGF1-SHA-256, a salt of 32 bytes.
        RsassaPssSha256 = "RSASSA_PSS_SHA_256",
        /// RSASSA-PSS, SHA-384, MGF1-SHA-384, a salt of 48 bytes.
        RsassaPssSha384 = "RSASSA_PSS_SHA_384",
        /// RSASSA-PSS, SHA-512, MGF1-SHA-512, a salt of 64 bytes.
        RsassaPssSha512 = "RSASSA_PSS_SHA_512",
        /// RSASSA-PKCS1-v1_5 with SHA-256.
        RsassaPkcs1V15Sha256 = "RSASSA_PKCS1_V1_5_SHA_256",
        /// RSASSA-PKCS1-v1_5 with SHA-384.
        RsassaPkcs1V15Sha384 = "RSASSA_PKCS1_V1_5_SHA_384",
        /// RSASSA-PKCS1-v1_5 with SHA-512.
        RsassaPkcs1V15Sha512 = "RSASSA_PKCS1_V1_5_SHA_512",
        /// ECDSA with SHA-256, DER-encoded.
        EcdsaSha256 = "ECDSA_SHA_256",
        /// ECDSA with SHA-384, DER-encoded.
        EcdsaSha384 = "ECDSA_SHA_384",
        /// ECDSA with SHA-512, DER-encoded.
        EcdsaSha512 = "ECDSA_SHA_512",
        /// SM2 signature (GB/T 32918.2) over SM3, the default user ID, DER-encoded.
        Sm2dsaSm3 = "SM2DSA_SM3",
        /// Ed25519.
        Ed25519Sha512 = "ED25519_SHA_512",
        /// Ed25519ph.
        Ed25519PhSha512 = "ED25519_PH_SHA_512",
    }
}

/// The hash a signing or MAC algorithm uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// SM3.
    Sm3,
}

impl HashAlgorithm {
    /// The length of its digest in bytes.
    #[must_use]
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha256 | Self::Sm3 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The digest of `message`.
    #[must_use]
    pub fn digest(self, message: &[u8]) -> Vec<u8> {
        use sha2::Digest as _;
        match self {
            Self::Sha256 => sha2::Sha256::digest(message).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(message).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(message).to_vec(),
            Self::Sm3 => sm3::Sm3::digest(message).to_vec(),
        }
    }
}

/// How a signing algorithm pads or encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureScheme {
    /// RSASSA-PSS with a salt as long as the digest.
    RsaPss,
    /// RSASSA-PKCS1-v1_5.
    RsaPkcs1V15,
    /// ECDSA, DER `SEQUENCE { r, s }`.
    Ecdsa,
    /// SM2, DER `SEQUENCE { r, s }`.
    Sm2,
    /// EdDSA.
    Ed25519,
}

impl SigningAlgorithm {
    /// The hash the algorithm signs.
    #[must_use]
    pub fn hash(self) -> HashAlgorithm {
        match self {
            Self::RsassaPssSha256 | Self::RsassaPkcs1V15Sha256 | Self::EcdsaSha256 => {
                HashAlgorithm::Sha256
            }
            Self::RsassaPssSha384 | Self::RsassaPkcs1V15Sha384 | Self::EcdsaSha384 => {
                HashAlgorithm::Sha384
            }
            Self::RsassaPssSha512
            | Self::RsassaPkcs1V15Sha512
            | Self::EcdsaSha512
            | Self::Ed25519Sha512
            | Self::Ed25519PhSha512 => HashAlgorithm::Sha512,
            Self::Sm2dsaSm3 => HashAlgorithm::Sm3,
        }
    }

    /// How the algorithm pads or encodes.
    #[must_use]
    pub fn scheme(self) -> SignatureScheme {
        match self {
            Self::RsassaPssSha256 | Self::RsassaPssSha384 | Self::RsassaPssSha512 => {
                SignatureScheme::RsaPss
            }
            Self::RsassaPkcs1V15Sha256
            | Self::RsassaPkcs1V15Sha384
            | Self::RsassaPkcs1V15Sha512 => SignatureScheme::RsaPkcs1V15,
            Self::EcdsaSha256 | Self::EcdsaSha384 | Self::EcdsaSha512 => SignatureScheme::Ecdsa,
            Self::Sm2dsaSm3 => SignatureScheme::Sm2,
            Self::Ed25519Sha512 | Self::Ed25519PhSha512 => SignatureScheme::Ed25519,
        }
    }
}

wire_enum! {
    /// The `message_type` of sign and verify.
    MessageType {
        /// `message` is the digest the algorithm names (its length is checked, KMS.0329).
        Digest = "DIGEST",
        /// `message` is the message itself; the engine hashes it.
        Raw = "RAW",
    }
}

/// What a backend signs or verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedData<'a> {
    /// The digest of the message, of the length the algorithm's hash gives; for SM2DSA_SM3
    /// the digest e = SM3(Z_A ‖ M) of GB/T 32918.2.
    Digest(&'a [u8]),
    /// The message itself, for SM2DSA_SM3 only: the backend computes Z_A with the default
    /// user ID `1234567812345678` and the key's public point.
    Sm2Message(&'a [u8]),
}

impl<'a> SignedData<'a> {
    /// What the backend is given for `message` of `message_type` under `algorithm`: a RAW
    /// message hashed here, except for SM2 (whose digest binds the public key).
    ///
    /// # Errors
    /// KMS.0329 for a DIGEST whose length is not the algorithm's.
    pub fn prepare(
        algorithm: SigningAlgorithm,
        message_type: MessageType,
        message: &'a [u8],
        digest_buffer: &'a mut Vec<u8>,
    ) -> Result<Self> {
        let hash = algorithm.hash();
        match message_type {
            MessageType::Digest if message.len() == hash.digest_len() => Ok(Self::Digest(message)),
            MessageType::Digest => Err(KmsError::DigestLengthMismatch),
            MessageType::Raw if algorithm == SigningAlgorithm::Sm2dsaSm3 => {
                Ok(Self::Sm2Message(message))
            }
            MessageType::Raw => {
                *digest_buffer = hash.digest(message);
                Ok(Self::Digest(digest_buffer))
            }
        }
    }
}

wire_enum! {
    /// The `encryption_algorithm` of encrypt-data and decrypt-data under an asymmetric key.
    AsymmetricEncryption {
        /// RSAES-OAEP, SHA-256 and MGF1-SHA-256, empty label.
        RsaesOaepSha256 = "RSAES_OAEP_SHA_256",
        /// SM2 public-key encryption (GB/T 32918.4), C1C3C2 in the DER of GM/T 0009.
        Sm2Encrypt = "SM2_ENCRYPT",
    }
}

wire_enum! {
    /// The `mac_algorithm` of generate-mac and verify-mac.
    MacAlgorithm {
        /// HMAC-SHA-256 (RFC 2104, FIPS 180-4).
        HmacSha256 = "HMAC_SHA_256",
        /// HMAC-SHA-384.
        HmacSha384 = "HMAC_SHA_384",
        /// HMAC-SHA-512.
        HmacSha512 = "HMAC_SHA_512",
        /// HMAC-SM3 (GB/T 32905).
        HmacSm3 = "HMAC_SM3",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_has_one_wire_name_and_a_default_usage_it_allows() {
        let all: Vec<_> = KeySpec::all().collect();
        assert_eq!(all.len(), 14);
        for spec in all {
            assert_eq!(KeySpec::from_wire(spec.as_str()), Some(spec));
            assert!(spec.allows_usage(spec.default_usage()), "{spec:?}");
        }
        assert_eq!(KeySpec::from_wire("ec_p256"), None);
    }

    #[test]
    fn only_rsa_and_sm2_keys_may_encrypt() {
        let encrypting: Vec<_> = AsymmetricSpec::ALL
            .iter()
            .filter(|spec| KeySpec::Asymmetric(**spec).allows_usage(KeyUsage::EncryptDecrypt))
            .map(|spec| spec.as_str())
            .collect();
        assert_eq!(encrypting, ["RSA_2048", "RSA_3072", "RSA_4096", "SM2"]);
        assert!(!KeySpec::Mac(MacSpec::Hmac256).allows_usage(KeyUsage::SignVerify));
        assert!(!KeySpec::Symmetric(CmkSpec::Sm4).allows_usage(KeyUsage::SignVerify));
    }

    #[test]
    fn oaep_limits_follow_the_modulus() {
        assert_eq!(AsymmetricSpec::Rsa2048.max_plaintext_len(), 190);
        assert_eq!(AsymmetricSpec::Rsa3072.max_plaintext_len(), 318);
        assert_eq!(AsymmetricSpec::Rsa4096.max_plaintext_len(), 446);
        assert_eq!(AsymmetricSpec::Sm2.max_plaintext_len(), 4096);
    }

    #[test]
    fn a_digest_of_the_wrong_length_is_refused_and_raw_is_hashed_except_for_sm2() {
        let mut buffer = Vec::new();
        let error = SignedData::prepare(
            SigningAlgorithm::EcdsaSha384,
            MessageType::Digest,
            &[0; 32],
            &mut buffer,
        );
        assert_eq!(error.map_err(|e| e.code()), Err("KMS.0329"));
        let raw = SignedData::prepare(
            SigningAlgorithm::EcdsaSha256,
            MessageType::Raw,
            b"abc",
            &mut buffer,
        )
        .unwrap();
        let expected = HashAlgorithm::Sha256.digest(b"abc");
        assert_eq!(raw, SignedData::Digest(&expected));
        let mut buffer = Vec::new();
        let sm2 = SignedData::prepare(
            SigningAlgorithm::Sm2dsaSm3,
            MessageType::Raw,
            b"abc",
            &mut buffer,
        );
        assert_eq!(sm2.ok(), Some(SignedData::Sm2Message(b"abc")));
    }
}
