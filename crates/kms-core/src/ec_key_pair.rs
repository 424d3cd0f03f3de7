//! The DER of an EC data key pair: SubjectPublicKeyInfo (RFC 5480) and PKCS#8
//! `PrivateKeyInfo` holding an RFC 5915 `ECPrivateKey` with its public key, byte for byte as
//! the RustCrypto curve crates write them, with one scalar multiplication where their
//! encoders take two (each computes the public point again; that is most of a pair's cost).

use der::Encode;
use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier, OctetStringRef};
use der::oid::AssociatedOid;
use elliptic_curve::sec1::{FromSec1Point, ModulusSize, ToSec1Point};
use elliptic_curve::{AffinePoint, CurveArithmetic, FieldBytesSize, SecretKey};
use pkcs8::PrivateKeyInfoRef;
use sec1::EcPrivateKey;
use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};
use zeroize::Zeroizing;

use crate::backend::KeyPair;
use crate::error::{KmsError, Result};
use crate::secret::SecretBytes;

/// id-ecPublicKey (RFC 5480): the algorithm of every EC key, SM2 keys included; the curve
/// is its parameter.
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

impl KeyPair {
    /// The DER of the pair whose private key is `secret`, on its curve.
    ///
    /// # Errors
    /// [`KmsError::Backend`] if DER encoding fails (a length beyond DER's limits).
    pub fn from_ec_secret_key<C>(secret: &SecretKey<C>) -> Result<Self>
    where
        C: AssociatedOid + CurveArithmetic,
        AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
        FieldBytesSize<C>: ModulusSize,
    {
        let point = secret.public_key().to_sec1_point(false);
        let scalar = Zeroizing::new(secret.to_bytes());
        encode(&C::OID, &scalar, point.as_bytes())
    }
}

/// The pair on the named curve `curve` with the big-endian scalar `private_key` and the
/// uncompressed SEC 1 point `public_point`.
fn encode(curve: &ObjectIdentifier, private_key: &[u8], public_point: &[u8]) -> Result<KeyPair> {
    let failed = |what: &str| KmsError::Backend(format!("EC key pair {what} encoding"));
    let algorithm = AlgorithmIdentifierRef {
        oid: ID_EC_PUBLIC_KEY,
        parameters: Some(AnyRef::from(curve)),
    };
    let public_key_spki = SubjectPublicKeyInfoRef {
        algorithm,
        subject_public_key: BitStringRef::new(0, public_point).map_err(|_| failed("SPKI"))?,
    }
    .to_der()
    .map_err(|_| failed("SPKI"))?;
    let ec_private_key = Zeroizing::new(
        EcPrivateKey {
            private_key,
            parameters: None,
            public_key: Some(public_point),
        }
        .to_der()
        .map_err(|_| failed("ECPrivateKey"))?,
    );
    let private_key_info = PrivateKeyInfoRef::new(
        algorithm,
        OctetStringRef::new(&ec_private_key).map_err(|_| failed("PKCS#8"))?,
    );
    let private_key_pkcs8 = private_key_info.to_der().map_err(|_| failed("PKCS#8"))?;
    Ok(KeyPair {
        public_key_spki,
        private_key_pkcs8: SecretBytes::new(private_key_pkcs8),
    })
}
