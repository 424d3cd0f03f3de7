//! Data key pairs: the public key is d·G of the private key, both DER encodings carry the
//! right OIDs and parse in OpenSSL, and the sealed private key decrypts to the same bytes.

use crate::common::{call, create_key, decrypt, engine, error_code, hex, openssl};
use base64ct::{Base64, Encoding};
use kms_core::{Kms, Operation};
use pkcs8::der::asn1::ObjectIdentifier;
use pkcs8::{DecodePrivateKey, DecodePublicKey, PrivateKeyInfoRef};
use serde_json::{Value, json};
use spki::SubjectPublicKeyInfoRef;

const ID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// Each EC spec with its curve OID.
const EC_SPECS: [(&str, &str); 5] = [
    ("ECC_NIST_P256", "1.2.840.10045.3.1.7"),
    ("ECC_NIST_P384", "1.3.132.0.34"),
    ("ECC_NIST_P521", "1.3.132.0.35"),
    ("ECC_SECG_P256K1", "1.3.132.0.10"),
    ("SM2", "1.2.156.10197.1.301"),
];

/// A pair response with its two keys base64-decoded.
pub(crate) struct Pair {
    response: Value,
    spki: Vec<u8>,
    pkcs8: Vec<u8>,
}

impl Pair {
    /// Decodes `public_key` and `private_key_plain_text` of a pair response.
    pub(crate) fn from_response(response: Value) -> Self {
        let spki = Base64::decode_vec(response["public_key"].as_str().unwrap()).unwrap();
        let pkcs8 =
            Base64::decode_vec(response["private_key_plain_text"].as_str().unwrap()).unwrap();
        Self {
            response,
            spki,
            pkcs8,
        }
    }
}

fn create_pair(kms: &Kms, key_id: &str, operation: Operation, spec: &str, aad: &str) -> Pair {
    let response = call(
        kms,
        operation,
        &json!({"key_id": key_id, "key_spec": spec, "additional_authenticated_data": aad}),
    )
    .unwrap();
    assert_eq!(response["key_id"], key_id);
    assert_eq!(response["key_spec"], spec);
    Pair::from_response(response)
}

/// Runs `openssl pkey` with `args` on `der` and returns its DER output.
fn openssl_pkey(args: &[&str], der: &[u8]) -> Vec<u8> {
    openssl(&[&["pkey"], args].concat(), der)
}

/// OpenSSL parses both encodings, and derives from the private key exactly our public key.
fn assert_openssl_agrees(pair: &Pair) {
    let public_from_private = openssl_pkey(
        &["-inform", "DER", "-pubout", "-outform", "DER"],
        &pair.pkcs8,
    );
    assert_eq!(
        public_from_private, pair.spki,
        "OpenSSL's public key differs"
    );
    let public = openssl_pkey(&["-pubin", "-inform", "DER", "-outform", "DER"], &pair.spki);
    assert_eq!(public, pair.spki);
}

fn assert_oids(pair: &Pair, algorithm: &str, curve: Option<&str>) {
    let spki = SubjectPublicKeyInfoRef::try_from(pair.spki.as_slice()).unwrap();
    let pkcs8 = PrivateKeyInfoRef::try_from(pair.pkcs8.as_slice()).unwrap();
    let algorithm: ObjectIdentifier = algorithm.parse().unwrap();
    assert_eq!(spki.algorithm.oid, algorithm);
    assert_eq!(pkcs8.algorithm.oid, algorithm);
    if let Some(curve) = curve {
        let curve: ObjectIdentifier = curve.parse().unwrap();
        assert_eq!(spki.algorithm.parameters_oid().unwrap(), curve);
        assert_eq!(pkcs8.algorithm.parameters_oid().unwrap(), curve);
    }
}

/// The public key in the response is d·G for the private key d.
pub(crate) fn assert_public_is_d_times_g(spec: &str, pair: &Pair) {
    macro_rules! check {
        ($curve:ident) => {{
            let secret = $curve::SecretKey::from_pkcs8_der(&pair.pkcs8).unwrap();
            let public = $curve::PublicKey::from_public_key_der(&pair.spki).unwrap();
            assert_eq!(secret.public_key(), public, "{spec}");
        }};
    }
    match spec {
        "ECC_NIST_P256" => check!(p256),
        "ECC_NIST_P384" => check!(p384),
        "ECC_NIST_P521" => check!(p521),
        "ECC_SECG_P256K1" => check!(k256),
        "SM2" => check!(sm2),
        _ => unreachable!("{spec}"),
    }
}

/// decrypt-datakey of `private_key_cipher_text` with the same AAD gives the PKCS#8 bytes.
pub(crate) fn assert_sealed_private_key_decrypts(kms: &Kms, key_id: &str, pair: &Pair, aad: &str) {
    let cipher_text = pair.response["private_key_cipher_text"].as_str().unwrap();
    let opened = decrypt(kms, key_id, cipher_text, pair.pkcs8.len(), aad).unwrap();
    assert_eq!(opened["data_key"].as_str().unwrap(), hex(&pair.pkcs8));
}

#[test]
fn every_ec_spec_gives_a_pair_openssl_accepts_with_the_right_oids() {
    for cmk in ["AES_256", "SM4"] {
        let kms = engine();
        let key_id = create_key(&kms, cmk);
        for (spec, curve) in EC_SPECS {
            let pair = create_pair(
                &kms,
                &key_id,
                Operation::CreateEcDatakeyPair,
                spec,
                "pair-ctx",
            );
            assert_public_is_d_times_g(spec, &pair);
            assert_oids(&pair, ID_EC_PUBLIC_KEY, Some(curve));
            assert_openssl_agrees(&pair);
            assert_sealed_private_key_decrypts(&kms, &key_id, &pair, "pair-ctx");
        }
    }
}

#[test]
fn every_rsa_spec_gives_a_pair_openssl_accepts() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    for (spec, bits) in [("RSA_2048", 2048), ("RSA_3072", 3072), ("RSA_4096", 4096)] {
        let pair = create_pair(&kms, &key_id, Operation::CreateRsaDatakeyPair, spec, "");
        let secret = rsa::PrivateKey::from_pkcs8_der(&pair.pkcs8).unwrap();
        let public = rsa::PublicKey::from_public_key_der(&pair.spki).unwrap();
        assert_eq!(secret.to_public_key(), public);
        assert_eq!(rsa::traits::PublicKeyParts::size(&public) * 8, bits);
        assert_oids(&pair, RSA_ENCRYPTION, None);
        assert_openssl_agrees(&pair);
        assert_sealed_private_key_decrypts(&kms, &key_id, &pair, "");
    }
}

#[test]
fn with_plain_text_false_omits_the_plaintext_private_key() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let response = call(
        &kms,
        Operation::CreateEcDatakeyPair,
        &json!({"key_id": key_id, "key_spec": "ECC_NIST_P256", "with_plain_text": false}),
    )
    .unwrap();
    let fields: Vec<&str> = response
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "key_id",
            "key_spec",
            "private_key_cipher_text",
            "public_key"
        ],
        "{response}"
    );
    let cipher_text = response["private_key_cipher_text"].as_str().unwrap();
    let blob_len = kms_core::decode_hex(cipher_text).unwrap().len();
    let opened = decrypt(&kms, &key_id, cipher_text, blob_len - 70, "").unwrap();
    let pkcs8 = kms_core::decode_hex(opened["data_key"].as_str().unwrap()).unwrap();
    let secret = p256::SecretKey::from_pkcs8_der(&pkcs8).unwrap();
    let public = Base64::decode_vec(response["public_key"].as_str().unwrap()).unwrap();
    assert_eq!(
        secret.public_key(),
        p256::PublicKey::from_public_key_der(&public).unwrap()
    );
}

#[test]
fn a_sealed_private_key_needs_its_aad() {
    let kms = engine();
    let key_id = create_key(&kms, "SM4");
    let pair = create_pair(
        &kms,
        &key_id,
        Operation::CreateEcDatakeyPair,
        "SM2",
        "tenant-1",
    );
    let cipher_text = pair.response["private_key_cipher_text"].as_str().unwrap();
    let err = decrypt(&kms, &key_id, cipher_text, pair.pkcs8.len(), "tenant-2").unwrap_err();
    assert_eq!(err.code(), "KMS.2201");
}

#[test]
fn each_pair_operation_refuses_the_other_family_and_unusable_keys() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    assert_eq!(
        error_code(
            &kms,
            Operation::CreateEcDatakeyPair,
            &json!({"key_id": key_id, "key_spec": "RSA_2048"})
        ),
        "KMS.0308"
    );
    assert_eq!(
        error_code(
            &kms,
            Operation::CreateRsaDatakeyPair,
            &json!({"key_id": key_id, "key_spec": "SM2"})
        ),
        "KMS.0308"
    );
    call(&kms, Operation::DisableKey, &json!({"key_id": key_id})).unwrap();
    assert_eq!(
        error_code(
            &kms,
            Operation::CreateEcDatakeyPair,
            &json!({"key_id": key_id, "key_spec": "SM2"})
        ),
        "KMS.0209"
    );
}
