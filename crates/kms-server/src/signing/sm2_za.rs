//! SM2's Z_A (GB/T 32918.2 section 5.5), in the standard form and in the Python SDK's form.
//!
//! Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A), every field element 32 bytes.
//! The Python SDK (`huaweicloudsdkcore`) encodes x_A and y_A as minimal-length big-endian
//! integers instead, so for a public key with a coordinate below 2^248 (a leading zero
//! byte: about one key in 128) its Z_A, and so every signature it makes with that key,
//! differs from standard SM2. The curve constants all have a non-zero first byte, so only
//! the public coordinates can differ.

use sm2::elliptic_curve::sec1::{Coordinates, ToSec1Point};
use sm3::{Digest, Sm3};

/// The user ID every SDK signs with.
pub(crate) const SM2_USER_ID: &str = "1234567812345678";

/// a ‖ b ‖ x_G ‖ y_G of the SM2 curve (GB/T 32918.5), 32 bytes each.
#[rustfmt::skip]
const CURVE_PARAMS: [u8; 128] = [
    // a
    0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfc,
    // b
    0x28, 0xe9, 0xfa, 0x9e, 0x9d, 0x9f, 0x5e, 0x34, 0x4d, 0x5a, 0x9e, 0x4b, 0xcf, 0x65, 0x09, 0xa7,
    0xf3, 0x97, 0x89, 0xf5, 0x15, 0xab, 0x8f, 0x92, 0xdd, 0xbc, 0xbd, 0x41, 0x4d, 0x94, 0x0e, 0x93,
    // x_G
    0x32, 0xc4, 0xae, 0x2c, 0x1f, 0x19, 0x81, 0x19, 0x5f, 0x99, 0x04, 0x46, 0x6a, 0x39, 0xc9, 0x94,
    0x8f, 0xe3, 0x0b, 0xbf, 0xf2, 0x66, 0x0b, 0xe1, 0x71, 0x5a, 0x45, 0x89, 0x33, 0x4c, 0x74, 0xc7,
    // y_G
    0xbc, 0x37, 0x36, 0xa2, 0xf4, 0xf6, 0x77, 0x9c, 0x59, 0xbd, 0xce, 0xe3, 0x6b, 0x69, 0x21, 0x53,
    0xd0, 0xa9, 0x87, 0x7c, 0xc6, 0x2a, 0x47, 0x40, 0x02, 0xdf, 0x32, 0xe5, 0x21, 0x39, 0xf0, 0xa0,
];

/// The Python SDK's Z_A of `public_key`, when it differs from the standard one (a public
/// coordinate with a leading zero byte); `None` when the two agree.
pub(crate) fn sdk_za(public_key: &sm2::PublicKey) -> Option<[u8; 32]> {
    let point = public_key.to_sec1_point(false);
    let Coordinates::Uncompressed { x, y } = point.coordinates() else {
        return None;
    };
    let (x, y) = (minimal(x), minimal(y));
    if x.len() == 32 && y.len() == 32 {
        return None;
    }
    Some(za(x, y))
}

/// SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x ‖ y) with the coordinates' bytes as given.
pub(crate) fn za(x: &[u8], y: &[u8]) -> [u8; 32] {
    let mut sm3 = Sm3::new();
    // ENTL_A: the ID's length in bits, big-endian u16 (16 bytes: 128 bits).
    sm3.update([0x00, 0x80]);
    sm3.update(SM2_USER_ID.as_bytes());
    sm3.update(CURVE_PARAMS);
    sm3.update(x);
    sm3.update(y);
    sm3.finalize().into()
}

/// `bytes` without its leading zero bytes (the minimal big-endian form of the integer).
fn minimal(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    bytes.get(zeros..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sm2::dsa::signature::Signer;
    use sm2::dsa::{Signature, SigningKey};
    use sm2::elliptic_curve::sec1::ToSec1Point;

    /// The full-length form of [`za`] is the crate's own standard Z_A: a signature the sm2
    /// crate makes verifies as SM3(Z_A ‖ M) under it.
    #[test]
    fn full_length_za_is_the_standard_one() {
        use sm2::dsa::signature::hazmat::PrehashVerifier;
        let key = SigningKey::from_slice(SM2_USER_ID, &[0x11; 32]).unwrap();
        let message = b"message";
        let signature: Signature = key.sign(message);
        let point = key.verifying_key().to_sec1_point(false);
        let Coordinates::Uncompressed { x, y } = point.coordinates() else {
            panic!("uncompressed");
        };
        let mut e = Sm3::new();
        e.update(za(x, y));
        e.update(message);
        let e: [u8; 32] = e.finalize().into();
        assert!(key.verifying_key().verify_prehash(&e, &signature).is_ok());
    }

    #[test]
    fn minimal_strips_leading_zeros_only() {
        assert_eq!(minimal(&[0, 0, 1, 0]), &[1, 0]);
        assert_eq!(minimal(&[1, 0]), &[1, 0]);
        assert_eq!(minimal(&[0, 0]), &[] as &[u8]);
    }
}
