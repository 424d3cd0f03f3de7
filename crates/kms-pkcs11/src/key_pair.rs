//! Data key pairs generated in the token as session objects, read out, DER-encoded on the
//! host and destroyed (DESIGN 6): EC pairs (SM2 through the vendor's mechanism) and RSA
//! pairs (CKM_RSA_PKCS_KEY_PAIR_GEN, public exponent 65537).
//!
//! Both halves are destroyed whatever the reading answers. The private components read out
//! are wiped: each in a `SecretBytes` as soon as cryptoki hands it over, the PKCS#8
//! document (`SecretDocument`) and the `rsa::PrivateKey` (zeroized on drop by the crate).
//! What is left in freed heap memory: cryptoki 0.12's own buffers of C_GetAttributeValue
//! (it copies the values out of them), and `rsa` 0.10's big-integer temporaries of key
//! validation, CRT precomputation and PKCS#8 encoding (see `host_assisted`). Only a
//! zero-on-free allocator in the binary wipes those.

use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::Session;
use der::Encode;
use der::asn1::ObjectIdentifier;
use kms_core::{KeyPair, KeyPairSpec, KmsError, Result, SecretBytes};
use pkcs8::EncodePublicKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use zeroize::Zeroizing;

use crate::host_assisted::be_bytes;
use crate::vendor::Sm2;

/// The public exponent of every RSA key the backend has the token generate: 65537 (F4),
/// big-endian.
pub(crate) const RSA_PUBLIC_EXPONENT: [u8; 3] = [0x01, 0x00, 0x01];

/// The RSA data key pair specs, all generated with CKM_RSA_PKCS_KEY_PAIR_GEN.
pub(crate) const RSA_SPECS: [KeyPairSpec; 3] = [
    KeyPairSpec::Rsa2048,
    KeyPairSpec::Rsa3072,
    KeyPairSpec::Rsa4096,
];

/// The modulus length in bits of an RSA spec.
fn rsa_bits(spec: KeyPairSpec) -> Option<usize> {
    match spec {
        KeyPairSpec::Rsa2048 => Some(2048),
        KeyPairSpec::Rsa3072 => Some(3072),
        KeyPairSpec::Rsa4096 => Some(4096),
        _ => None,
    }
}

/// The private key attributes read out of an RSA pair: every component of its PKCS#8
/// RSAPrivateKey.
const RSA_COMPONENTS: [AttributeType; 8] = [
    AttributeType::Modulus,
    AttributeType::PublicExponent,
    AttributeType::PrivateExponent,
    AttributeType::Prime1,
    AttributeType::Prime2,
    AttributeType::Exponent1,
    AttributeType::Exponent2,
    AttributeType::Coefficient,
];

/// The private key attributes read out of an EC pair: its scalar.
const EC_COMPONENTS: [AttributeType; 1] = [AttributeType::Value];

/// Byte-string attributes of a private key as the token gave them, each wiped on drop.
struct Components(Vec<(AttributeType, SecretBytes)>);

impl Components {
    /// Takes the byte-string values out of `attributes` (any other kind is dropped).
    fn take(attributes: Vec<Attribute>) -> Self {
        Self(
            attributes
                .into_iter()
                .filter_map(|attribute| {
                    let kind = attribute.attribute_type();
                    match attribute {
                        Attribute::Value(value)
                        | Attribute::Modulus(value)
                        | Attribute::PublicExponent(value)
                        | Attribute::PrivateExponent(value)
                        | Attribute::Prime1(value)
                        | Attribute::Prime2(value)
                        | Attribute::Exponent1(value)
                        | Attribute::Exponent2(value)
                        | Attribute::Coefficient(value) => Some((kind, SecretBytes::new(value))),
                        _ => None,
                    }
                })
                .collect(),
        )
    }

    /// The value of `kind`, or an error naming the attribute the token did not return.
    fn get(&self, kind: AttributeType) -> Result<&[u8]> {
        self.0
            .iter()
            .find(|(found, _)| *found == kind)
            .map(|(_, value)| value.expose_secret())
            .ok_or_else(|| KmsError::Backend(format!("the token returned no private key {kind}")))
    }
}

/// The curve OID and scalar length of an EC spec.
fn curve(spec: KeyPairSpec) -> Option<(ObjectIdentifier, usize)> {
    let (oid, len) = match spec {
        KeyPairSpec::EccNistP256 => ("1.2.840.10045.3.1.7", 32),
        KeyPairSpec::EccNistP384 => ("1.3.132.0.34", 48),
        KeyPairSpec::EccNistP521 => ("1.3.132.0.35", 66),
        KeyPairSpec::EccSecgP256k1 => ("1.3.132.0.10", 32),
        KeyPairSpec::Sm2 => ("1.2.156.10197.1.301", 32),
        _ => return None,
    };
    ObjectIdentifier::new(oid).ok().map(|oid| (oid, len))
}

/// The template of every data key pair's private half: a session object whose components
/// can be read (not sensitive; SoftHSM2 also wants it extractable to show them), destroyed
/// as soon as they are read.
fn private_template() -> Vec<Attribute> {
    vec![
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Sign(true),
    ]
}

/// The mechanism and the public and private templates of a session pair of `spec` (SM2
/// with the vendor mechanisms `sm2`), or `None` for a spec that cannot be generated here.
fn generation(
    spec: KeyPairSpec,
    sm2: Option<Sm2>,
) -> Option<(Mechanism<'static>, Vec<Attribute>, Vec<Attribute>)> {
    if let Some(bits) = rsa_bits(spec) {
        let public_template = vec![
            Attribute::Token(false),
            Attribute::ModulusBits(u64::try_from(bits).ok()?.into()),
            Attribute::PublicExponent(RSA_PUBLIC_EXPONENT.to_vec()),
            Attribute::Verify(true),
        ];
        return Some((
            Mechanism::RsaPkcsKeyPairGen,
            public_template,
            private_template(),
        ));
    }
    let (oid, _) = curve(spec)?;
    let params = oid.to_der().ok()?;
    let mut public_template = vec![
        Attribute::Token(false),
        Attribute::EcParams(params),
        Attribute::Verify(true),
    ];
    let mut private_template = private_template();
    let mechanism = match (spec, sm2) {
        (KeyPairSpec::Sm2, Some(sm2)) => {
            public_template.push(Attribute::KeyType(sm2.key_type));
            private_template.push(Attribute::KeyType(sm2.key_type));
            Mechanism::VendorDefined(VendorDefinedMechanism::new::<()>(sm2.key_pair_gen, None))
        }
        (KeyPairSpec::Sm2, None) => return None,
        _ => Mechanism::EccKeyPairGen,
    };
    Some((mechanism, public_template, private_template))
}

/// The NIST and SECG curves CKM_EC_KEY_PAIR_GEN may offer. A token that lists the
/// mechanism need not generate on every curve (Kryoptic 1.5.4 has no secp256k1), and its
/// mechanism info cannot say which it has, so each is tried once when the backend opens.
pub(crate) const EC_CURVES: [KeyPairSpec; 4] = [
    KeyPairSpec::EccNistP256,
    KeyPairSpec::EccNistP384,
    KeyPairSpec::EccNistP521,
    KeyPairSpec::EccSecgP256k1,
];

/// The name and OID of the curve of an EC spec, for messages.
pub(crate) fn curve_name(spec: KeyPairSpec) -> &'static str {
    match spec {
        KeyPairSpec::EccNistP256 => "P-256 (1.2.840.10045.3.1.7)",
        KeyPairSpec::EccNistP384 => "P-384 (1.3.132.0.34)",
        KeyPairSpec::EccNistP521 => "P-521 (1.3.132.0.35)",
        KeyPairSpec::EccSecgP256k1 => "secp256k1 (1.3.132.0.10)",
        KeyPairSpec::Sm2 => "SM2 (1.2.156.10197.1.301)",
        _ => "no curve",
    }
}

/// Whether the token generates a pair of the EC spec `spec`: one session pair, generated
/// and destroyed. A refusal of the curve is `Ok(false)` (tokens answer an unknown curve
/// variously: CKR_CURVE_NOT_SUPPORTED, CKR_DOMAIN_PARAMS_INVALID, CKR_ATTRIBUTE_VALUE_INVALID,
/// CKR_TEMPLATE_INCONSISTENT, or, Kryoptic 1.5.4 for secp256k1, CKR_GENERAL_ERROR); any
/// other failure is the token's and is returned.
pub(crate) fn curve_offered(
    session: &Session,
    spec: KeyPairSpec,
) -> core::result::Result<bool, cryptoki::error::Error> {
    use cryptoki::error::{Error, RvError};

    let Some((mechanism, public_template, private_template)) = generation(spec, None) else {
        return Ok(false);
    };
    match session.generate_key_pair(&mechanism, &public_template, &private_template) {
        Ok((public, private)) => {
            let destroyed = session.destroy_object(private);
            session.destroy_object(public)?;
            destroyed?;
            Ok(true)
        }
        Err(Error::Pkcs11(
            RvError::CurveNotSupported
            | RvError::DomainParamsInvalid
            | RvError::AttributeValueInvalid
            | RvError::TemplateInconsistent
            | RvError::MechanismParamInvalid
            | RvError::GeneralError,
            _,
        )) => Ok(false),
        Err(other) => Err(other),
    }
}

/// Generates a pair of `spec` in the token (SM2 with the vendor mechanisms `sm2`) as
/// session objects, reads its private components, destroys both halves (also when the
/// reading fails) and returns the pair DER-encoded.
pub(crate) fn generate(
    session: &Session,
    spec: KeyPairSpec,
    sm2: Option<Sm2>,
) -> core::result::Result<Result<KeyPair>, cryptoki::error::Error> {
    let Some((mechanism, public_template, private_template)) = generation(spec, sm2) else {
        return Ok(Err(KmsError::BackendUnsupported(format!(
            "key pair spec {}",
            spec.as_str()
        ))));
    };
    let read: &[AttributeType] = if spec.is_ec() {
        &EC_COMPONENTS
    } else {
        &RSA_COMPONENTS
    };
    let (public, private) =
        session.generate_key_pair(&mechanism, &public_template, &private_template)?;
    let read = session.get_attributes(private, read).map(Components::take);
    let destroyed = session
        .destroy_object(private)
        .and(session.destroy_object(public));
    let components = read?;
    destroyed?;
    Ok(match (curve(spec), rsa_bits(spec)) {
        (Some((_, scalar_len)), _) => components
            .get(AttributeType::Value)
            .and_then(|scalar| encode(spec, scalar, scalar_len)),
        (None, Some(bits)) => encode_rsa(spec, bits, &components),
        (None, None) => Err(KmsError::BackendUnsupported(format!(
            "key pair spec {}",
            spec.as_str()
        ))),
    })
}

/// SPKI and PKCS#8 DER of the RSA pair of `bits` whose private key has `components`
/// (big-endian, perhaps with leading zeros). The CRT values the token gave must be those of
/// its modulus, exponents and primes.
fn encode_rsa(spec: KeyPairSpec, bits: usize, components: &Components) -> Result<KeyPair> {
    let invalid = || {
        KmsError::Backend(format!(
            "the token's {} private key is not valid",
            spec.as_str()
        ))
    };
    let uint = |kind| {
        components
            .get(kind)
            .map(rsa::BoxedUint::from_be_slice_vartime)
    };
    let key = rsa::PrivateKey::from_components(
        uint(AttributeType::Modulus)?,
        uint(AttributeType::PublicExponent)?,
        uint(AttributeType::PrivateExponent)?,
        vec![uint(AttributeType::Prime1)?, uint(AttributeType::Prime2)?],
    )
    .map_err(|_| invalid())?;
    let qinv = Zeroizing::new(key.crt_coefficient());
    let same = |ours: Option<&rsa::BoxedUint>, kind| -> Result<bool> {
        let theirs = components.get(kind)?;
        let zeros = theirs.iter().take_while(|byte| **byte == 0).count();
        Ok(ours.is_some_and(|ours| {
            Zeroizing::new(be_bytes(ours)).as_slice() == theirs.get(zeros..).unwrap_or_default()
        }))
    };
    let consistent = key.size().saturating_mul(8) == bits
        && be_bytes(key.e()) == RSA_PUBLIC_EXPONENT
        && same(key.dp(), AttributeType::Exponent1)?
        && same(key.dq(), AttributeType::Exponent2)?
        && same(qinv.as_ref(), AttributeType::Coefficient)?;
    if !consistent {
        return Err(invalid());
    }
    KeyPair::from_encodable(spec, &key, &key.to_public_key())
}

/// SPKI and PKCS#8 DER of the pair whose private scalar is `scalar` (big-endian, perhaps
/// without leading zeros).
fn encode(spec: KeyPairSpec, scalar: &[u8], scalar_len: usize) -> Result<KeyPair> {
    let padded = Zeroizing::new(
        [
            vec![0u8; scalar_len.saturating_sub(scalar.len())],
            scalar.to_vec(),
        ]
        .concat(),
    );
    let invalid = || {
        KmsError::Backend(format!(
            "the token's {} private key is not valid",
            spec.as_str()
        ))
    };
    macro_rules! pair {
        ($curve:ident) => {{
            let secret = $curve::SecretKey::from_slice(&padded).map_err(|_| invalid())?;
            KeyPair::from_ec_secret_key(&secret)
        }};
    }
    match spec {
        KeyPairSpec::EccNistP256 => pair!(p256),
        KeyPairSpec::EccNistP384 => pair!(p384),
        KeyPairSpec::EccNistP521 => pair!(p521),
        KeyPairSpec::EccSecgP256k1 => pair!(k256),
        KeyPairSpec::Sm2 => pair!(sm2),
        _ => Err(KmsError::BackendUnsupported(format!(
            "key pair spec {}",
            spec.as_str()
        ))),
    }
}

/// The SubjectPublicKeyInfo DER of the RSA public key object `public`, from its
/// CKA_MODULUS and CKA_PUBLIC_EXPONENT; `None` when they do not make a key.
///
/// # Errors
/// The token's failure to read the attributes.
pub(crate) fn rsa_public_key_spki(
    session: &Session,
    public: ObjectHandle,
) -> core::result::Result<Option<Vec<u8>>, cryptoki::error::Error> {
    let attributes = session.get_attributes(
        public,
        &[AttributeType::Modulus, AttributeType::PublicExponent],
    )?;
    let (mut modulus, mut exponent) = (None, None);
    for attribute in attributes {
        match attribute {
            Attribute::Modulus(value) => modulus = Some(value),
            Attribute::PublicExponent(value) => exponent = Some(value),
            _ => {}
        }
    }
    Ok(modulus.zip(exponent).and_then(|(n, e)| {
        let n = rsa::BoxedUint::from_be_slice_vartime(&n);
        let e = rsa::BoxedUint::from_be_slice_vartime(&e);
        let spki = rsa::PublicKey::new(n, e).ok()?.to_public_key_der().ok()?;
        Some(spki.into_vec())
    }))
}
