//! EC data key pairs (SM2 through the vendor's mechanism) generated in the token as session
//! objects, read out, DER-encoded on the host and destroyed (DESIGN 6).

use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
use cryptoki::object::{Attribute, AttributeType};
use cryptoki::session::Session;
use der::Encode;
use der::asn1::ObjectIdentifier;
use kms_core::{KeyPair, KeyPairSpec, KmsError, Result};
use zeroize::Zeroizing;

use crate::vendor::Sm2;

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

/// Generates an EC pair of `spec` in the token (SM2 with the vendor mechanisms `sm2`) and
/// returns it DER-encoded.
pub(crate) fn generate(
    session: &Session,
    spec: KeyPairSpec,
    sm2: Option<Sm2>,
) -> core::result::Result<Result<KeyPair>, cryptoki::error::Error> {
    let unsupported = || {
        Ok(Err(KmsError::BackendUnsupported(format!(
            "key pair spec {}",
            spec.as_str()
        ))))
    };
    let Some((oid, scalar_len)) = curve(spec) else {
        return unsupported();
    };
    let Ok(params) = oid.to_der() else {
        return Ok(Err(KmsError::Backend("encoding a curve OID".into())));
    };
    let mut public_template = vec![
        Attribute::Token(false),
        Attribute::EcParams(params),
        Attribute::Verify(true),
    ];
    let mut private_template = vec![
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Sign(true),
    ];
    let mechanism = match (spec, sm2) {
        (KeyPairSpec::Sm2, Some(sm2)) => {
            public_template.push(Attribute::KeyType(sm2.key_type));
            private_template.push(Attribute::KeyType(sm2.key_type));
            Mechanism::VendorDefined(VendorDefinedMechanism::new::<()>(sm2.key_pair_gen, None))
        }
        (KeyPairSpec::Sm2, None) => return unsupported(),
        _ => Mechanism::EccKeyPairGen,
    };
    let (public, private) =
        session.generate_key_pair(&mechanism, &public_template, &private_template)?;
    let read = session.get_attributes(private, &[AttributeType::Value]);
    let destroyed = session
        .destroy_object(private)
        .and(session.destroy_object(public));
    let attributes = read?;
    destroyed?;
    let scalar = attributes
        .into_iter()
        .find_map(|attribute| match attribute {
            Attribute::Value(value) => Some(Zeroizing::new(value)),
            _ => None,
        });
    Ok(scalar
        .ok_or_else(|| KmsError::Backend("the token returned no private key value".into()))
        .and_then(|scalar| encode(spec, &scalar, scalar_len)))
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
