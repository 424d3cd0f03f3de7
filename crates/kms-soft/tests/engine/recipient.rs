//! Data key pairs wrapped to a recipient's public key: the recipient, and only it, recovers
//! the private key (checked with the OpenSSL CLI as the recipient); bad recipient keys are
//! refused.

use base64ct::{Base64, Encoding};
use kms_core::{Kms, Operation};
use serde_json::{Value, json};

use crate::common::{
    InstrumentedBackend, TempDir, call, create_key, engine, error_code, openssl, recipient_key,
    rsa_key, sm2_key, unwrap_as_recipient,
};

fn pair_for(
    kms: &Kms,
    key_id: &str,
    spec: &str,
    recipient: &[u8],
    algorithm: &str,
) -> Result<Value, kms_core::KmsError> {
    let operation = if spec.starts_with("RSA") {
        Operation::CreateRsaDatakeyPair
    } else {
        Operation::CreateEcDatakeyPair
    };
    call(
        kms,
        operation,
        &json!({
            "key_id": key_id,
            "key_spec": spec,
            "recipient_public_key": Base64::encode_string(recipient),
            "recipient_algorithm": algorithm,
        }),
    )
}

#[test]
fn a_wrapped_private_key_unwraps_for_the_recipient_to_the_pair_of_public_key() {
    let kms = engine();
    let key_id = create_key(&kms, "SM4");
    let dir = TempDir::new();
    let rsa = rsa_key(&dir, 2048);
    let sm2 = sm2_key(&dir);
    for (spec, recipient, algorithm) in [
        ("ECC_NIST_P521", &rsa, "RSA_AES_KEY_WRAP_SHA_256"),
        ("RSA_2048", &rsa, "RSA_AES_KEY_WRAP_SHA_256"),
        ("ECC_NIST_P256", &rsa, "RSAES_OAEP_SHA_256"),
        ("SM2", &sm2, "SM2_ENCRYPT"),
        ("ECC_SECG_P256K1", &sm2, "SM2_ENCRYPT"),
    ] {
        let response = pair_for(&kms, &key_id, spec, &recipient.public_key, algorithm).unwrap();
        assert!(
            response.get("private_key_plain_text").is_none(),
            "{spec}: {response}"
        );
        let wrapped =
            Base64::decode_vec(response["wrapped_private_key"].as_str().unwrap()).unwrap();
        let pkcs8 = unwrap_as_recipient(recipient, algorithm, &wrapped);
        let public_of_unwrapped = openssl(
            &["pkey", "-inform", "DER", "-pubout", "-outform", "DER"],
            &pkcs8,
        );
        let public_key = Base64::decode_vec(response["public_key"].as_str().unwrap()).unwrap();
        assert_eq!(public_of_unwrapped, public_key, "{spec} via {algorithm}");
        // The sealed copy under the CMK is there as always.
        assert!(response["private_key_cipher_text"].as_str().unwrap().len() > 140);
    }
}

#[test]
fn a_p521_private_key_does_not_fit_rsaes_oaep_sha_256_under_rsa_2048() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let dir = TempDir::new();
    let rsa = rsa_key(&dir, 2048);
    let err = pair_for(
        &kms,
        &key_id,
        "ECC_NIST_P521",
        &rsa.public_key,
        "RSAES_OAEP_SHA_256",
    )
    .unwrap_err();
    assert_eq!(err.code(), "KMS.1904");
    assert!(err.to_string().contains("at most 190 bytes"), "{err}");
    assert!(
        err.to_string().contains("use RSA_AES_KEY_WRAP_SHA_256"),
        "{err}"
    );
}

#[test]
fn invalid_recipient_keys_are_refused() {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let dir = TempDir::new();
    let rsa_1024 = rsa_key(&dir, 1024);
    let p256 = recipient_key(
        &dir,
        "p256.pem",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let sm2 = sm2_key(&dir);
    let mut off_curve = sm2.public_key.clone();
    *off_curve.last_mut().unwrap() ^= 0x01;
    for (what, spki, algorithm) in [
        (
            "RSA under 2048 bits",
            rsa_1024.public_key.clone(),
            "RSA_AES_KEY_WRAP_SHA_256",
        ),
        (
            "a P-256 key for SM2",
            p256.public_key.clone(),
            "SM2_ENCRYPT",
        ),
        (
            "a P-256 key for RSA",
            p256.public_key.clone(),
            "RSA_AES_KEY_WRAP_SHA_256",
        ),
        (
            "an SM2 key for RSA",
            sm2.public_key.clone(),
            "RSAES_OAEP_SHA_256",
        ),
        ("an SM2 point off the curve", off_curve, "SM2_ENCRYPT"),
        ("garbage", vec![0x30, 0x03, 0x02, 0x01, 0x00], "SM2_ENCRYPT"),
    ] {
        let body = json!({
            "key_id": key_id,
            "key_spec": "ECC_NIST_P256",
            "recipient_public_key": Base64::encode_string(&spki),
            "recipient_algorithm": algorithm,
        });
        let err = call(&kms, Operation::CreateEcDatakeyPair, &body).unwrap_err();
        assert_eq!(err.code(), "KMS.0308", "{what}");
        assert!(
            err.to_string().contains("recipient_public_key"),
            "{what}: {err}"
        );
    }
    let body = json!({"key_id": key_id, "key_spec": "SM2", "recipient_algorithm": "SM2_ENCRYPT"});
    assert_eq!(
        error_code(&kms, Operation::CreateEcDatakeyPair, &body),
        "KMS.0204"
    );
}

#[test]
fn a_bad_recipient_key_is_refused_before_any_key_pair_is_generated() {
    let backend = InstrumentedBackend::new();
    let kms = Kms::new(
        backend.clone(),
        std::sync::Arc::new(kms_core::MemoryStore::new()),
    );
    let key_id = create_key(&kms, "AES_256");
    let generated = || backend.key_pairs_generated();
    let dir = TempDir::new();
    let sm2 = sm2_key(&dir);
    let garbage = [0x30, 0x03, 0x02, 0x01, 0x00];
    // An RSA_4096 pair takes about a second to generate: a bad recipient must cost nothing.
    let err = pair_for(&kms, &key_id, "RSA_4096", &garbage, "SM2_ENCRYPT").unwrap_err();
    assert_eq!(err.code(), "KMS.0308");
    let err = pair_for(
        &kms,
        &key_id,
        "RSA_4096",
        &sm2.public_key,
        "RSAES_OAEP_SHA_256",
    )
    .unwrap_err();
    assert_eq!(err.code(), "KMS.0308");
    assert_eq!(generated(), 0);
    pair_for(
        &kms,
        &key_id,
        "ECC_NIST_P256",
        &sm2.public_key,
        "SM2_ENCRYPT",
    )
    .unwrap();
    assert_eq!(generated(), 1);
}
