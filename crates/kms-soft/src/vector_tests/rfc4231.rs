//! RFC 4231 HMAC-SHA-256/384/512 test cases through [`SoftMacKey`], the handle
//! generate-mac and verify-mac use (cases 1, 2, 3 and 6; case 5 truncates, which the API
//! does not).

use kms_core::{MacKeyHandle, MacSpec, SecretBytes, decode_hex};

use crate::SoftMacKey;

fn mac(spec: MacSpec, key: &[u8], message: &[u8]) -> String {
    let key = SoftMacKey::new(spec, SecretBytes::new(key.to_vec()));
    let mac = key.mac(message).unwrap();
    assert!(key.verify(message, &mac).unwrap());
    let mut flipped = mac.clone();
    flipped[0] ^= 1;
    assert!(!key.verify(message, &flipped).unwrap());
    kms_core::encode_hex(&mac)
}

const CASE_6: &[u8] = b"Test Using Larger Than Block-Size Key - Hash Key First";

#[test]
fn hmac_sha_2_matches_rfc_4231() {
    let cases: [(MacSpec, &[u8], &[u8], &str); 8] = [
        (
            MacSpec::Hmac256,
            &[0x0b; 20],
            b"Hi There",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            MacSpec::Hmac256,
            b"Jefe",
            b"what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            MacSpec::Hmac256,
            &[0xaa; 20],
            &[0xdd; 50],
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        ),
        (
            MacSpec::Hmac256,
            &[0xaa; 131],
            CASE_6,
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
        (
            MacSpec::Hmac384,
            &[0x0b; 20],
            b"Hi There",
            "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
        ),
        (
            MacSpec::Hmac384,
            b"Jefe",
            b"what do ya want for nothing?",
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
        ),
        (
            MacSpec::Hmac512,
            &[0x0b; 20],
            b"Hi There",
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        ),
        (
            MacSpec::Hmac512,
            b"Jefe",
            b"what do ya want for nothing?",
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        ),
    ];
    for (spec, key, message, expected) in cases {
        assert_eq!(decode_hex(expected).unwrap().len(), spec.mac_len());
        assert_eq!(mac(spec, key, message), expected.to_uppercase(), "{spec:?}");
    }
}
