//! The SM2 signature example of GB/T 32918.5-2017 Annex A (GM/T 0003.5-2012) on the
//! recommended curve, through the soft verify path: the message "message digest" under
//! the default user ID, as RAW (Z_A computed by the backend) and as DIGEST (e given).

use kms_core::{SignedData, SigningAlgorithm, decode_hex};
use pkcs8::EncodePublicKey;

use crate::SoftPublicKey;

const PRIVATE: &str = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
const PUBLIC: &str = "0409F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020\
                      CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";
/// e = SM3(Z_A ‖ M).
const DIGEST: &str = "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640";
const R: &str = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3";
const S: &str = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA";

#[test]
fn the_gbt_32918_signature_example_verifies_and_a_changed_one_does_not() {
    let secret = sm2::SecretKey::from_slice(&decode_hex(PRIVATE).unwrap()).unwrap();
    let public = sm2::PublicKey::from_sec1_bytes(&decode_hex(PUBLIC).unwrap()).unwrap();
    assert_eq!(secret.public_key(), public, "the example's key pair");
    let spki = public.to_public_key_der().unwrap();
    let key = SoftPublicKey::from_spki(spki.as_bytes()).unwrap();
    let signature = sm2::dsa::Signature::from_scalars(
        <[u8; 32]>::try_from(decode_hex(R).unwrap()).unwrap(),
        <[u8; 32]>::try_from(decode_hex(S).unwrap()).unwrap(),
    )
    .unwrap();
    let der = signature.to_der().as_bytes().to_vec();
    let digest = decode_hex(DIGEST).unwrap();
    let verify = |data, der: &[u8]| key.verify(SigningAlgorithm::Sm2dsaSm3, data, der).unwrap();
    assert!(verify(SignedData::Sm2Message(b"message digest"), &der));
    assert!(verify(SignedData::Digest(&digest), &der));
    assert!(!verify(SignedData::Sm2Message(b"message digesT"), &der));
    let mut flipped = der.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert!(!verify(SignedData::Sm2Message(b"message digest"), &flipped));
    let raw = [decode_hex(R).unwrap(), decode_hex(S).unwrap()].concat();
    assert!(
        !verify(SignedData::Digest(&digest), &raw),
        "only DER is a signature"
    );
}
