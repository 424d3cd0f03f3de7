//! Token-neutral: RSA data key pairs (create-rsa-datakey-pair) generated in the token with
//! CKM_RSA_PKCS_KEY_PAIR_GEN as session objects, read out, encoded and destroyed.
//!
//! It counts the token's objects, so it is the only test of its binary on each token.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests report failure by panicking"
)]

use kms_core::{Operation, decode_base64, encode_hex};
use pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::json;
use softhsm_tests::{Token, call, create_key, decrypt, on_each_token, openssl_public_key};

/// For every RSA spec: the pair's halves match (OpenSSL derives the returned public key
/// from the returned private key), the key has the spec's size and exponent 65537, the
/// sealed private key decrypts to the plaintext one, and no object is left in the token.
fn rsa_pairs_come_from_the_token_match_and_leave_no_object(token: Token) {
    let kms = token.engine();
    let key_id = create_key(&kms, "AES_256");
    let before = token.objects();
    for (spec, bits) in [("RSA_2048", 2048), ("RSA_3072", 3072), ("RSA_4096", 4096)] {
        let pair = call(
            &kms,
            Operation::CreateRsaDatakeyPair,
            &json!({"key_id": key_id, "key_spec": spec, "additional_authenticated_data": spec}),
        )
        .unwrap();
        assert_eq!(pair["key_spec"], spec);
        let pkcs8 = decode_base64(pair["private_key_plain_text"].as_str().unwrap()).unwrap();
        let spki = decode_base64(pair["public_key"].as_str().unwrap()).unwrap();
        assert_eq!(openssl_public_key(&pkcs8), spki, "{spec}");
        let private = rsa::PrivateKey::from_pkcs8_der(&pkcs8).unwrap();
        assert_eq!(private.size() * 8, bits, "{spec}");
        assert_eq!(
            private
                .e()
                .to_be_bytes()
                .iter()
                .skip_while(|byte| **byte == 0)
                .copied()
                .collect::<Vec<u8>>(),
            [0x01, 0x00, 0x01],
            "{spec}"
        );
        let cipher_text = pair["private_key_cipher_text"].as_str().unwrap();
        let opened = decrypt(&kms, &key_id, cipher_text, pkcs8.len(), spec).unwrap();
        assert_eq!(opened["data_key"], encode_hex(&pkcs8), "{spec}");
        assert_eq!(token.objects(), before, "{spec}");
    }
}

on_each_token!(rsa_pairs_come_from_the_token_match_and_leave_no_object);
