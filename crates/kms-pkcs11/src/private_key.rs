//! Asymmetric CMKs in the token (DESIGN 12): key pairs generated as token objects whose
//! private half is sensitive, never extractable, and can do what the key's usage allows
//! and nothing else (sign, or decrypt); signatures, verification, encryption and
//! decryption all happen in the token. The public half is read out once, on load, into its
//! SubjectPublicKeyInfo DER.
//!
//! ECDSA signs the digest with CKM_ECDSA (the token returns r‖s, turned into DER here);
//! RSASSA-PKCS1-v1_5 signs DigestInfo ‖ digest with CKM_RSA_PKCS; RSASSA-PSS uses
//! CKM_RSA_PKCS_PSS with MGF1 of the same hash and a salt as long as the digest;
//! RSAES_OAEP_SHA_256 uses CKM_RSA_PKCS_OAEP with SHA-256, MGF1-SHA-256 and no label.
//! SM2 and Ed25519 are not offered by this backend.

use std::sync::Arc;

use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::Session;
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use kms_core::{
    AsymmetricEncryption, AsymmetricSpec, HashAlgorithm, KeyUsage, KmsError, PrivateKeyHandle,
    Result, SecretBytes, SignatureScheme, SignedData, SigningAlgorithm, WrappingAlgorithm,
};
use pkcs8::EncodePublicKey;

use crate::key_pair::RSA_PUBLIC_EXPONENT;
use crate::session_pool::SessionPool;
use crate::token_object::TokenObject;

/// What a token lacks for Ed25519 CMKs, for the capabilities' `missing`.
pub(crate) const ED25519_MISSING: &str = "CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA";

/// What a token lacks for RSA encryption CMKs when it does OAEP with SHA-1 only.
pub(crate) const OAEP_SHA256_MISSING: &str =
    "CKM_RSA_PKCS_OAEP with SHA-256 and MGF1-SHA-256, which this token refuses";

/// The curve OID and field length in bytes of an EC spec.
pub(crate) fn curve(spec: AsymmetricSpec) -> Option<(ObjectIdentifier, usize)> {
    let (oid, len) = match spec {
        AsymmetricSpec::EcP256 => ("1.2.840.10045.3.1.7", 32),
        AsymmetricSpec::EcP384 => ("1.3.132.0.34", 48),
        AsymmetricSpec::Secp256k1 => ("1.3.132.0.10", 32),
        _ => return None,
    };
    ObjectIdentifier::new(oid).ok().map(|oid| (oid, len))
}

/// The modulus length in bits of an RSA spec.
fn rsa_bits(spec: AsymmetricSpec) -> Option<u64> {
    spec.rsa_modulus_len()
        .and_then(|len| u64::try_from(len).ok())
        .map(|len| len * 8)
}

/// The mechanism and the public and private templates of CMK key pair of `spec` whose
/// private half may do what `usage` allows, with CKA_ID `id` and CKA_LABEL `key_id`; `None`
/// for a spec this backend does not generate.
pub(crate) fn generation(
    spec: AsymmetricSpec,
    usage: KeyUsage,
    id: &[u8],
    key_id: &[u8],
) -> Option<(Mechanism<'static>, Vec<Attribute>, Vec<Attribute>)> {
    let signs = match usage {
        KeyUsage::SignVerify => true,
        KeyUsage::EncryptDecrypt => false,
        _ => return None,
    };
    let (mechanism, mut public) = if let Some(bits) = rsa_bits(spec) {
        (
            Mechanism::RsaPkcsKeyPairGen,
            vec![
                Attribute::ModulusBits(bits.into()),
                Attribute::PublicExponent(RSA_PUBLIC_EXPONENT.to_vec()),
            ],
        )
    } else {
        let (oid, _) = curve(spec)?;
        if !signs {
            return None;
        }
        (
            Mechanism::EccKeyPairGen,
            vec![Attribute::EcParams(oid.to_der().ok()?)],
        )
    };
    public.extend([
        Attribute::Token(true),
        Attribute::Verify(signs),
        Attribute::Encrypt(!signs),
        Attribute::Wrap(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(key_id.to_vec()),
    ]);
    let private = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(signs),
        Attribute::Decrypt(!signs),
        Attribute::SignRecover(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(key_id.to_vec()),
    ];
    Some((mechanism, public, private))
}

/// The SubjectPublicKeyInfo DER of the public key object `public` of `spec`.
pub(crate) fn public_key_spki(
    session: &Session,
    spec: AsymmetricSpec,
    public: ObjectHandle,
) -> core::result::Result<Result<Vec<u8>>, Error> {
    let invalid = || {
        KmsError::Backend(format!(
            "the token's {} public key does not encode",
            spec.as_str()
        ))
    };
    if spec.is_rsa() {
        let spki = crate::key_pair::rsa_public_key_spki(session, public)?;
        return Ok(spki.ok_or_else(invalid));
    }
    let Some((_, field_len)) = curve(spec) else {
        return Ok(Err(invalid()));
    };
    let point = session
        .get_attributes(public, &[AttributeType::EcPoint])?
        .into_iter()
        .find_map(|attribute| match attribute {
            Attribute::EcPoint(point) => Some(point),
            _ => None,
        });
    let Some(point) = point else {
        return Ok(Err(invalid()));
    };
    // PKCS#11 has CKA_EC_POINT as the DER OCTET STRING of the SEC1 point; some tokens give
    // the bare point.
    let sec1 = if point.len() == 1 + 2 * field_len && point.first() == Some(&0x04) {
        point
    } else {
        match OctetString::from_der(&point) {
            Ok(octets) => octets.as_bytes().to_vec(),
            Err(_) => return Ok(Err(invalid())),
        }
    };
    let spki = match spec {
        AsymmetricSpec::EcP256 => p256::PublicKey::from_sec1_bytes(&sec1)
            .ok()
            .and_then(|key| key.to_public_key_der().ok()),
        AsymmetricSpec::EcP384 => p384::PublicKey::from_sec1_bytes(&sec1)
            .ok()
            .and_then(|key| key.to_public_key_der().ok()),
        AsymmetricSpec::Secp256k1 => k256::PublicKey::from_sec1_bytes(&sec1)
            .ok()
            .and_then(|key| key.to_public_key_der().ok()),
        _ => None,
    };
    Ok(spki.map(der::Document::into_vec).ok_or_else(invalid))
}

/// The DER DigestInfo prefix of RSASSA-PKCS1-v1_5 for `hash` (RFC 8017 9.2 note 1).
fn digest_info_prefix(hash: HashAlgorithm) -> Option<&'static [u8]> {
    const SHA256: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    const SHA384: [u8; 19] = [
        0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
        0x05, 0x00, 0x04, 0x30,
    ];
    const SHA512: [u8; 19] = [
        0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03,
        0x05, 0x00, 0x04, 0x40,
    ];
    match hash {
        HashAlgorithm::Sha256 => Some(&SHA256),
        HashAlgorithm::Sha384 => Some(&SHA384),
        HashAlgorithm::Sha512 => Some(&SHA512),
        HashAlgorithm::Sm3 => None,
    }
}

/// The hash and MGF1 of PSS with `hash`.
fn pss_params(hash: HashAlgorithm) -> Option<PkcsPssParams> {
    let (hash_alg, mgf) = match hash {
        HashAlgorithm::Sha256 => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
        HashAlgorithm::Sha384 => (MechanismType::SHA384, PkcsMgfType::MGF1_SHA384),
        HashAlgorithm::Sha512 => (MechanismType::SHA512, PkcsMgfType::MGF1_SHA512),
        HashAlgorithm::Sm3 => return None,
    };
    Some(PkcsPssParams {
        hash_alg,
        mgf,
        s_len: (hash.digest_len() as u64).into(),
    })
}

/// An ECDSA signature as the token takes it (r‖s) from its DER, or `None` if it is not a
/// DER signature on the curve of `spec`.
fn ecdsa_raw(spec: AsymmetricSpec, der: &[u8]) -> Option<Vec<u8>> {
    match spec {
        AsymmetricSpec::EcP256 => p256::ecdsa::Signature::from_der(der)
            .ok()
            .map(|s| s.to_vec()),
        AsymmetricSpec::EcP384 => p384::ecdsa::Signature::from_der(der)
            .ok()
            .map(|s| s.to_vec()),
        AsymmetricSpec::Secp256k1 => k256::ecdsa::Signature::from_der(der)
            .ok()
            .map(|s| s.to_vec()),
        _ => None,
    }
}

/// The DER of the ECDSA signature r‖s the token returned, on the curve of `spec`.
fn ecdsa_der(spec: AsymmetricSpec, raw: &[u8]) -> Option<Vec<u8>> {
    match spec {
        AsymmetricSpec::EcP256 => p256::ecdsa::Signature::from_slice(raw)
            .ok()
            .map(|s| s.to_der().as_bytes().to_vec()),
        AsymmetricSpec::EcP384 => p384::ecdsa::Signature::from_slice(raw)
            .ok()
            .map(|s| s.to_der().as_bytes().to_vec()),
        AsymmetricSpec::Secp256k1 => k256::ecdsa::Signature::from_slice(raw)
            .ok()
            .map(|s| s.to_der().as_bytes().to_vec()),
        _ => None,
    }
}

/// An asymmetric CMK in the token, ready for use.
pub(crate) struct Pkcs11PrivateKey {
    pool: Arc<SessionPool>,
    spec: AsymmetricSpec,
    private: TokenObject,
    public: TokenObject,
    spki: Vec<u8>,
    /// Whether the token does CKM_RSA_PKCS_OAEP with SHA-256.
    oaep_sha256: bool,
}

impl core::fmt::Debug for Pkcs11PrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pkcs11PrivateKey")
            .field("spec", &self.spec.as_str())
            .field("private", &self.private.handle())
            .field("public", &self.public.handle())
            .finish_non_exhaustive()
    }
}

/// The parts of a loaded asymmetric CMK.
pub(crate) struct Parts {
    pub(crate) spec: AsymmetricSpec,
    pub(crate) private: TokenObject,
    pub(crate) public: TokenObject,
    pub(crate) spki: Vec<u8>,
    pub(crate) oaep_sha256: bool,
}

/// A sign or verify mechanism and the data it takes.
struct Signing {
    mechanism: Mechanism<'static>,
    data: Vec<u8>,
    name: &'static str,
}

impl Pkcs11PrivateKey {
    pub(crate) fn new(pool: Arc<SessionPool>, parts: Parts) -> Self {
        Self {
            pool,
            spec: parts.spec,
            private: parts.private,
            public: parts.public,
            spki: parts.spki,
            oaep_sha256: parts.oaep_sha256,
        }
    }

    fn unsupported(&self, what: &str) -> KmsError {
        KmsError::BackendUnsupported(format!(
            "{what} with a {} key on backend {}",
            self.spec.as_str(),
            self.pool.token()
        ))
    }

    /// The mechanism of `algorithm` and what it signs for `data`.
    fn signing(&self, algorithm: SigningAlgorithm, data: SignedData<'_>) -> Result<Signing> {
        let refused = || self.unsupported(&format!("signing algorithm {}", algorithm.as_str()));
        let SignedData::Digest(digest) = data else {
            return Err(refused());
        };
        let hash = algorithm.hash();
        match algorithm.scheme() {
            SignatureScheme::Ecdsa if curve(self.spec).is_some() => Ok(Signing {
                mechanism: Mechanism::Ecdsa,
                data: digest.to_vec(),
                name: "CKM_ECDSA",
            }),
            SignatureScheme::RsaPkcs1V15 if self.spec.is_rsa() => {
                let prefix = digest_info_prefix(hash).ok_or_else(refused)?;
                Ok(Signing {
                    mechanism: Mechanism::RsaPkcs,
                    data: [prefix, digest].concat(),
                    name: "CKM_RSA_PKCS",
                })
            }
            SignatureScheme::RsaPss if self.spec.is_rsa() => Ok(Signing {
                mechanism: Mechanism::RsaPkcsPss(pss_params(hash).ok_or_else(refused)?),
                data: digest.to_vec(),
                name: "CKM_RSA_PKCS_PSS",
            }),
            _ => Err(refused()),
        }
    }

    /// The error for a mechanism the token refused (`name`, in `function`).
    fn mechanism_refused(&self, name: &str, error: &Error) -> KmsError {
        let function = match error {
            Error::Pkcs11(_, function) => format!(" (C_{function:?})"),
            _ => String::new(),
        };
        KmsError::BackendUnsupported(format!(
            "{name}{function} with a {} key, refused by {}",
            self.spec.as_str(),
            self.pool.token()
        ))
    }

    fn require_oaep(&self, algorithm: AsymmetricEncryption) -> Result<Mechanism<'static>> {
        if algorithm != AsymmetricEncryption::RsaesOaepSha256 || !self.spec.is_rsa() {
            return Err(self.unsupported(&format!("encryption algorithm {}", algorithm.as_str())));
        }
        if !self.oaep_sha256 {
            return Err(self.unsupported(&format!(
                "encryption algorithm {} (needs {OAEP_SHA256_MISSING})",
                algorithm.as_str()
            )));
        }
        crate::import::oaep_params(WrappingAlgorithm::RsaesOaepSha256)
            .map(Mechanism::RsaPkcsOaep)
            .ok_or_else(|| self.unsupported("CKM_RSA_PKCS_OAEP"))
    }
}

/// Whether `error` says the token cannot do the mechanism or its parameters.
fn refuses_mechanism(error: &Error) -> bool {
    matches!(
        error,
        Error::Pkcs11(
            RvError::MechanismInvalid | RvError::MechanismParamInvalid | RvError::ArgumentsBad,
            _
        )
    )
}

impl PrivateKeyHandle for Pkcs11PrivateKey {
    fn public_key_spki(&self) -> &[u8] {
        &self.spki
    }

    fn sign(&self, algorithm: SigningAlgorithm, data: SignedData<'_>) -> Result<Vec<u8>> {
        let signing = self.signing(algorithm, data)?;
        let signature = self.pool.with_session(|session| {
            match self.private.with(session, |key| {
                session.sign(&signing.mechanism, key, &signing.data)
            }) {
                Ok(signature) => Ok(Ok(signature)),
                Err(error) if refuses_mechanism(&error) => {
                    Ok(Err(self.mechanism_refused(signing.name, &error)))
                }
                Err(error) => Err(error),
            }
        })??;
        if curve(self.spec).is_none() {
            return Ok(signature);
        }
        ecdsa_der(self.spec, &signature).ok_or_else(|| {
            KmsError::Backend(format!(
                "C_Sign on {} returned an ECDSA signature of {} bytes",
                self.pool.token(),
                signature.len()
            ))
        })
    }

    fn verify(
        &self,
        algorithm: SigningAlgorithm,
        data: SignedData<'_>,
        signature: &[u8],
    ) -> Result<bool> {
        let signing = self.signing(algorithm, data)?;
        let signature = if curve(self.spec).is_some() {
            // ECDSA semantics: both s and n - s verify (the token checks the equation,
            // which holds for either).
            match ecdsa_raw(self.spec, signature) {
                Some(raw) => raw,
                None => return Ok(false),
            }
        } else {
            signature.to_vec()
        };
        self.pool.with_session(|session| {
            match self.public.with(session, |key| {
                session.verify(&signing.mechanism, key, &signing.data, &signature)
            }) {
                Ok(()) => Ok(Ok(true)),
                Err(Error::Pkcs11(RvError::SignatureInvalid | RvError::SignatureLenRange, _)) => {
                    Ok(Ok(false))
                }
                Err(error) if refuses_mechanism(&error) => {
                    Ok(Err(self.mechanism_refused(signing.name, &error)))
                }
                Err(error) => Err(error),
            }
        })?
    }

    fn encrypt(&self, algorithm: AsymmetricEncryption, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mechanism = self.require_oaep(algorithm)?;
        self.pool.with_session(|session| {
            match self
                .public
                .with(session, |key| session.encrypt(&mechanism, key, plaintext))
            {
                Ok(ciphertext) => Ok(Ok(ciphertext)),
                Err(error) if refuses_mechanism(&error) => Ok(Err(
                    self.mechanism_refused("CKM_RSA_PKCS_OAEP with SHA-256", &error)
                )),
                Err(error) => Err(error),
            }
        })?
    }

    fn decrypt(&self, algorithm: AsymmetricEncryption, ciphertext: &[u8]) -> Result<SecretBytes> {
        let mechanism = self.require_oaep(algorithm)?;
        self.pool.with_session(|session| {
            match self
                .private
                .with(session, |key| session.decrypt(&mechanism, key, ciphertext))
            {
                Ok(plaintext) => Ok(Ok(SecretBytes::new(plaintext))),
                Err(error) if refuses_mechanism(&error) => Ok(Err(
                    self.mechanism_refused("CKM_RSA_PKCS_OAEP with SHA-256", &error)
                )),
                // Every way the ciphertext can be wrong, one opaque error. SoftHSM2 2.6.1
                // answers a bad padding with CKR_GENERAL_ERROR, Kryoptic 1.5.4 with
                // CKR_DEVICE_ERROR (its OpenSSL decryption failed).
                Err(Error::Pkcs11(
                    RvError::EncryptedDataInvalid
                    | RvError::DeviceError
                    | RvError::EncryptedDataLenRange
                    | RvError::DataInvalid
                    | RvError::DataLenRange
                    | RvError::GeneralError
                    | RvError::FunctionFailed,
                    _,
                )) => Ok(Err(KmsError::InvalidCipherText)),
                Err(error) => Err(error),
            }
        })?
    }
}
