//! Token-neutral (every test token): asymmetric and HMAC CMKs live in the token. Each
//! offered asymmetric spec makes a key pair whose private half is sensitive, never
//! extractable and signs only (or decrypts only), signs and verifies in the token; RSA
//! encryption keys decrypt in the token where it does OAEP with SHA-256 and are refused
//! naming the mechanism where it does not; HMAC keys are generic secrets that sign and
//! verify only; the specs no token here has (SM2, Ed25519, HMAC_SM3) are refused with
//! KMS.9002 naming what is missing; purging a key destroys its objects.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::expect_used,
    reason = "tests report failure by panicking"
)]

use std::sync::Arc;

use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use kms_core::{
    AsymmetricSpec, Backend as _, KmsError, ManualClock, MessageType, Operation, decode_base64,
    encode_base64,
};
use serde_json::{Value, json};
use softhsm_tests::{Token, call, on_each_token};

on_each_token!(
    each_offered_asymmetric_spec_signs_and_verifies_in_the_token,
    rsa_encryption_keys_decrypt_in_the_token_or_are_refused_naming_oaep_sha256,
    hmac_keys_mac_and_verify_in_the_token,
    specs_no_token_here_has_are_refused_naming_the_mechanism,
    purge_destroys_the_objects_of_asymmetric_and_hmac_keys,
    handles_show_spec_and_object_handles_only_and_destroy_key_takes_both_halves,
);

/// Creates a CMK of `spec` with `usage`.
fn create(kms: &kms_core::Kms, spec: &str, usage: &str) -> Result<String, KmsError> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let alias = format!(
        "asym-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    call(
        kms,
        Operation::CreateKey,
        &json!({"key_alias": alias, "key_spec": spec, "key_usage": usage}),
    )
    .map(|created| created["key_info"]["key_id"].as_str().unwrap().to_owned())
}

/// The one object of `class` whose CKA_LABEL is `key_id`.
fn object_of(session: &Session, class: ObjectClass, key_id: &str) -> ObjectHandle {
    let found = session
        .find_objects(&[
            Attribute::Class(class),
            Attribute::Label(key_id.as_bytes().to_vec()),
        ])
        .unwrap();
    assert_eq!(found.len(), 1, "one {class} object for {key_id}");
    found[0]
}

/// Asserts that `attribute` of `object` cannot be read.
fn unreadable(session: &Session, object: ObjectHandle, attribute: AttributeType) {
    match session.get_attributes(object, &[attribute]) {
        Err(Error::Pkcs11(RvError::AttributeSensitive, _)) => {}
        Ok(values) => assert!(values.is_empty(), "{attribute} was readable"),
        Err(other) => panic!("reading {attribute}: {other}"),
    }
}

/// C_WrapKey of `key` under a session AES key that can wrap, with CKM_AES_KEY_WRAP_PAD or,
/// where the token cannot name that, CKM_AES_KEY_WRAP: the token's answer. The same
/// wrapping key and mechanism first wrap an extractable key, so a refusal is about `key`.
fn wrap_out(session: &Session, key: ObjectHandle) -> cryptoki::error::Result<Vec<u8>> {
    let aes = |wrap: bool| {
        session
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::ValueLen(32u64.into()),
                    Attribute::Token(false),
                    Attribute::Wrap(wrap),
                    Attribute::Extractable(true),
                    Attribute::Sensitive(false),
                ],
            )
            .unwrap()
    };
    let wrapping = aes(true);
    let extractable = aes(false);
    let mechanism = match session.wrap_key(&Mechanism::AesKeyWrapPad, wrapping, extractable) {
        Err(Error::Pkcs11(RvError::MechanismInvalid, _)) => Mechanism::AesKeyWrap,
        _ => Mechanism::AesKeyWrapPad,
    };
    session
        .wrap_key(&mechanism, wrapping, extractable)
        .expect("the wrapping key wraps an extractable key");
    let wrapped = session.wrap_key(&mechanism, wrapping, key);
    session.destroy_object(extractable).unwrap();
    session.destroy_object(wrapping).unwrap();
    wrapped
}

/// Asserts that the token refuses to wrap `key` out (SoftHSM2: CKR_KEY_UNEXTRACTABLE;
/// Kryoptic: CKR_KEY_FUNCTION_NOT_PERMITTED).
fn not_wrappable(session: &Session, key: ObjectHandle) {
    match wrap_out(session, key) {
        Err(Error::Pkcs11(
            RvError::KeyUnextractable | RvError::KeyNotWrappable | RvError::KeyFunctionNotPermitted,
            _,
        )) => {}
        other => panic!("C_WrapKey of a CMK answered {other:?}"),
    }
}

fn sign(kms: &kms_core::Kms, key_id: &str, algorithm: &str, kind: &str, message: &[u8]) -> String {
    let signed = call(
        kms,
        Operation::Sign,
        &json!({"key_id": key_id, "signing_algorithm": algorithm, "message_type": kind,
                "message": encode_base64(message)}),
    )
    .unwrap();
    signed["signature"].as_str().unwrap().to_owned()
}

fn verify(
    kms: &kms_core::Kms,
    key_id: &str,
    algorithm: &str,
    kind: &str,
    message: &[u8],
    signature: &[u8],
) -> String {
    let verified = call(
        kms,
        Operation::Verify,
        &json!({"key_id": key_id, "signing_algorithm": algorithm, "message_type": kind,
                "message": encode_base64(message), "signature": encode_base64(signature)}),
    )
    .unwrap();
    verified["signature_valid"].as_str().unwrap().to_owned()
}

/// The specs every test token offers, and secp256k1 where its EC key generation has it.
fn expected_specs(token: Token) -> Vec<AsymmetricSpec> {
    let mut specs = vec![
        AsymmetricSpec::Rsa2048,
        AsymmetricSpec::Rsa3072,
        AsymmetricSpec::Rsa4096,
        AsymmetricSpec::EcP256,
        AsymmetricSpec::EcP384,
    ];
    let backend = token.backend();
    if backend
        .capabilities()
        .asymmetric_specs
        .contains(&AsymmetricSpec::Secp256k1)
    {
        specs.push(AsymmetricSpec::Secp256k1);
    }
    specs
}

fn each_offered_asymmetric_spec_signs_and_verifies_in_the_token(token: Token) {
    let kms = token.engine();
    let backend = token.backend();
    let capabilities = backend.capabilities();
    let expected = expected_specs(token);
    assert_eq!(capabilities.asymmetric_specs.len(), expected.len());
    for spec in &expected {
        assert!(capabilities.asymmetric_specs.contains(spec), "{spec:?}");
    }
    if !expected.contains(&AsymmetricSpec::Secp256k1) {
        let err = create(&kms, "SECP256K1", "SIGN_VERIFY").unwrap_err();
        assert_eq!(err.code(), "KMS.9002");
        assert!(
            err.to_string().contains("secp256k1 (1.3.132.0.10)"),
            "{err}"
        );
    }
    let message = b"a message signed in the token";
    for spec in expected {
        let key_id = create(&kms, spec.as_str(), "SIGN_VERIFY").unwrap();
        for algorithm in spec.signing_algorithms() {
            let name = algorithm.as_str();
            let digest = algorithm.hash().digest(message);
            for (kind, data) in [
                (MessageType::Digest, digest.as_slice()),
                (MessageType::Raw, message.as_slice()),
            ] {
                let kind = kind.as_str();
                let signature = decode_base64(&sign(&kms, &key_id, name, kind, data)).unwrap();
                if spec.is_rsa() {
                    assert_eq!(Some(signature.len()), spec.rsa_modulus_len(), "{name}");
                } else {
                    assert_eq!(signature[0], 0x30, "{name}: a DER SEQUENCE");
                }
                assert_eq!(verify(&kms, &key_id, name, kind, data, &signature), "true");
                // A signature made over the digest verifies over the message too.
                assert_eq!(
                    verify(&kms, &key_id, name, "RAW", message, &signature),
                    "true",
                    "{name} {kind}"
                );
                let mut flipped = signature.clone();
                let last = flipped.len() - 1;
                flipped[last] ^= 0x01;
                assert_eq!(verify(&kms, &key_id, name, kind, data, &flipped), "false");
                assert_eq!(
                    verify(&kms, &key_id, name, "RAW", b"another message", &signature),
                    "false"
                );
                if let Some(order) = curve_order(spec) {
                    // ECDSA semantics: (r, n - s) is the same signature.
                    let negated = negate_s(&signature, &order);
                    assert_ne!(negated, signature);
                    assert_eq!(verify(&kms, &key_id, name, kind, data, &negated), "true");
                }
                // A malformed or truncated signature is not valid either, never an error.
                assert_eq!(
                    verify(&kms, &key_id, name, kind, data, &signature[..10]),
                    "false"
                );
            }
        }
        assert_sign_policy(token, &key_id);
        for (operation, body) in [
            (
                Operation::EncryptData,
                json!({"key_id": key_id, "plain_text": "secret",
                       "encryption_algorithm": "RSAES_OAEP_SHA_256"}),
            ),
            (
                Operation::DecryptData,
                json!({"key_id": key_id, "cipher_text": encode_base64(&[7; 256]),
                       "encryption_algorithm": "RSAES_OAEP_SHA_256"}),
            ),
        ] {
            let err = call(&kms, operation, &body).unwrap_err();
            assert_eq!(err.code(), "KMS.0335", "{spec:?} {err}");
        }
    }
    kms.destroy_all_keys().unwrap();
}

/// The group order n of an EC spec, big-endian.
fn curve_order(spec: AsymmetricSpec) -> Option<Vec<u8>> {
    let hex = match spec {
        AsymmetricSpec::EcP256 => {
            "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"
        }
        AsymmetricSpec::EcP384 => {
            "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973"
        }
        AsymmetricSpec::Secp256k1 => {
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
        }
        _ => return None,
    };
    Some(kms_core::decode_hex(hex).unwrap())
}

/// The DER INTEGER of the unsigned big-endian `value`.
fn der_integer(value: &[u8]) -> Vec<u8> {
    let start = value
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(value.len() - 1);
    let mut content = value[start..].to_vec();
    if content[0] & 0x80 != 0 {
        content.insert(0, 0);
    }
    [vec![0x02, u8::try_from(content.len()).unwrap()], content].concat()
}

/// The DER ECDSA signature (r, n - s) of the DER signature (r, s) (short-form lengths:
/// every curve here).
fn negate_s(signature: &[u8], order: &[u8]) -> Vec<u8> {
    assert_eq!(signature[0], 0x30);
    let body = &signature[2..];
    assert_eq!(body[0], 0x02);
    let r_len = usize::from(body[1]);
    let r = &body[2..2 + r_len];
    let rest = &body[2 + r_len..];
    assert_eq!(rest[0], 0x02);
    let s = &rest[2..2 + usize::from(rest[1])];
    let mut padded = vec![0u8; order.len()];
    let skip = s.len().saturating_sub(order.len());
    padded[order.len() - (s.len() - skip)..].copy_from_slice(&s[skip..]);
    let mut negated = vec![0u8; order.len()];
    let mut borrow = 0i16;
    for i in (0..order.len()).rev() {
        let mut digit = i16::from(order[i]) - i16::from(padded[i]) - borrow;
        borrow = i16::from(digit < 0);
        if digit < 0 {
            digit += 256;
        }
        negated[i] = u8::try_from(digit).unwrap();
    }
    let integers = [der_integer(r), der_integer(&negated)].concat();
    [vec![0x30, u8::try_from(integers.len()).unwrap()], integers].concat()
}

/// Asserts the policy of the private and public halves of SIGN_VERIFY key `key_id`.
fn assert_sign_policy(token: Token, key_id: &str) {
    let backend = token.backend();
    let session = backend.session_pool().get().unwrap();
    let private = object_of(&session, ObjectClass::PRIVATE_KEY, key_id);
    let attributes = session
        .get_attributes(
            private,
            &[
                AttributeType::Token,
                AttributeType::Private,
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::NeverExtractable,
                AttributeType::Sign,
                AttributeType::Decrypt,
                AttributeType::Unwrap,
                AttributeType::Derive,
            ],
        )
        .unwrap();
    assert_eq!(
        attributes,
        [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::NeverExtractable(true),
            Attribute::Sign(true),
            Attribute::Decrypt(false),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
        ],
        "{key_id}"
    );
    unreadable(&session, private, AttributeType::Value);
    unreadable(&session, private, AttributeType::PrivateExponent);
    not_wrappable(&session, private);
    let public = object_of(&session, ObjectClass::PUBLIC_KEY, key_id);
    let attributes = session
        .get_attributes(
            public,
            &[
                AttributeType::Token,
                AttributeType::Verify,
                AttributeType::Encrypt,
                AttributeType::Wrap,
            ],
        )
        .unwrap();
    assert_eq!(
        attributes,
        [
            Attribute::Token(true),
            Attribute::Verify(true),
            Attribute::Encrypt(false),
            Attribute::Wrap(false),
        ]
    );
}

/// Whether the token does CKM_RSA_PKCS_OAEP with SHA-256, found here as the backend does
/// not: one C_Encrypt to a session key pair the token generates.
fn token_does_oaep_sha256(session: &Session) -> bool {
    use cryptoki::mechanism::MechanismType;
    use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};

    let (public, private) = session
        .generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::Token(false),
                Attribute::ModulusBits(2048u64.into()),
                Attribute::PublicExponent(vec![1, 0, 1]),
                Attribute::Encrypt(true),
            ],
            &[Attribute::Token(false), Attribute::Decrypt(true)],
        )
        .unwrap();
    let params = PkcsOaepParams::new(
        MechanismType::SHA256,
        PkcsMgfType::MGF1_SHA256,
        PkcsOaepSource::empty(),
    );
    let outcome = session.encrypt(&Mechanism::RsaPkcsOaep(params), public, b"probe");
    session.destroy_object(public).unwrap();
    session.destroy_object(private).unwrap();
    match outcome {
        Ok(_) => true,
        Err(Error::Pkcs11(
            RvError::ArgumentsBad | RvError::MechanismParamInvalid | RvError::MechanismInvalid,
            _,
        )) => false,
        Err(other) => panic!("OAEP with SHA-256: {other}"),
    }
}

fn rsa_encryption_keys_decrypt_in_the_token_or_are_refused_naming_oaep_sha256(token: Token) {
    let kms = token.engine();
    let backend = token.backend();
    let oaep_sha256 = token_does_oaep_sha256(&backend.session_pool().get().unwrap());
    if !oaep_sha256 {
        let err = create(&kms, "RSA_2048", "ENCRYPT_DECRYPT").unwrap_err();
        assert_eq!(err.code(), "KMS.9002");
        assert_eq!(
            err.to_string(),
            format!(
                "Not supported by the backend: CMK spec RSA_2048 with key usage ENCRYPT_DECRYPT on backend {} (needs CKM_RSA_PKCS_OAEP with SHA-256 and MGF1-SHA-256, which this token refuses)",
                token.name()
            )
        );
        // Signing keys are still made there.
        create(&kms, "RSA_2048", "SIGN_VERIFY").unwrap();
        kms.destroy_all_keys().unwrap();
        return;
    }
    for spec in ["RSA_2048", "RSA_3072"] {
        let key_id = create(&kms, spec, "ENCRYPT_DECRYPT").unwrap();
        let encrypted = call(
            &kms,
            Operation::EncryptData,
            &json!({"key_id": key_id, "plain_text": "decrypted in the token",
                    "encryption_algorithm": "RSAES_OAEP_SHA_256"}),
        )
        .unwrap();
        let cipher_text = encrypted["cipher_text"].as_str().unwrap().to_owned();
        let decrypt = |cipher_text: &str| {
            call(
                &kms,
                Operation::DecryptData,
                &json!({"key_id": key_id, "cipher_text": cipher_text,
                        "encryption_algorithm": "RSAES_OAEP_SHA_256"}),
            )
        };
        assert_eq!(
            decrypt(&cipher_text).unwrap()["plain_text"],
            "decrypted in the token"
        );
        let mut damaged = decode_base64(&cipher_text).unwrap();
        damaged[5] ^= 0x10;
        let err = decrypt(&encode_base64(&damaged)).unwrap_err();
        assert!(matches!(err, KmsError::InvalidCipherText), "{err}");
        let err = decrypt(&encode_base64(&damaged[..100])).unwrap_err();
        assert!(matches!(err, KmsError::InvalidCipherText), "{err}");
        // An encryption key does not sign: refused by the engine, before the token.
        let err = call(
            &kms,
            Operation::Sign,
            &json!({"key_id": key_id, "signing_algorithm": "RSASSA_PSS_SHA_256",
                    "message_type": "RAW", "message": encode_base64(b"m")}),
        )
        .unwrap_err();
        assert_eq!(err.code(), "KMS.0334", "{err}");

        let session = backend.session_pool().get().unwrap();
        let private = object_of(&session, ObjectClass::PRIVATE_KEY, &key_id);
        let attributes = session
            .get_attributes(
                private,
                &[
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::NeverExtractable,
                    AttributeType::Sign,
                    AttributeType::Decrypt,
                    AttributeType::Unwrap,
                    AttributeType::Derive,
                ],
            )
            .unwrap();
        assert_eq!(
            attributes,
            [
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::NeverExtractable(true),
                Attribute::Sign(false),
                Attribute::Decrypt(true),
                Attribute::Unwrap(false),
                Attribute::Derive(false),
            ]
        );
        unreadable(&session, private, AttributeType::PrivateExponent);
        not_wrappable(&session, private);
        let public = object_of(&session, ObjectClass::PUBLIC_KEY, &key_id);
        let attributes = session
            .get_attributes(
                public,
                &[
                    AttributeType::Verify,
                    AttributeType::Encrypt,
                    AttributeType::Wrap,
                ],
            )
            .unwrap();
        assert_eq!(
            attributes,
            [
                Attribute::Verify(false),
                Attribute::Encrypt(true),
                Attribute::Wrap(false)
            ]
        );
    }
    kms.destroy_all_keys().unwrap();
}

fn mac(kms: &kms_core::Kms, key_id: &str, algorithm: &str, message: &[u8]) -> Vec<u8> {
    let response = call(
        kms,
        Operation::GenerateMac,
        &json!({"key_id": key_id, "mac_algorithm": algorithm,
                "message": encode_base64(message)}),
    )
    .unwrap();
    decode_base64(response["mac"].as_str().unwrap()).unwrap()
}

fn verify_mac(
    kms: &kms_core::Kms,
    key_id: &str,
    algorithm: &str,
    message: &[u8],
    mac: &[u8],
) -> Value {
    call(
        kms,
        Operation::VerifyMac,
        &json!({"key_id": key_id, "mac_algorithm": algorithm,
                "message": encode_base64(message), "mac": encode_base64(mac)}),
    )
    .unwrap()["mac_valid"]
        .clone()
}

fn hmac_keys_mac_and_verify_in_the_token(token: Token) {
    let kms = token.engine();
    let backend = token.backend();
    for (spec, algorithm, len) in [
        ("HMAC_256", "HMAC_SHA_256", 32),
        ("HMAC_384", "HMAC_SHA_384", 48),
        ("HMAC_512", "HMAC_SHA_512", 64),
    ] {
        let key_id = create(&kms, spec, "GENERATE_VERIFY_MAC").unwrap();
        let message = b"a message MACed in the token";
        let tag = mac(&kms, &key_id, algorithm, message);
        assert_eq!(tag.len(), len, "{spec}");
        assert_eq!(mac(&kms, &key_id, algorithm, message), tag, "deterministic");
        assert_ne!(mac(&kms, &key_id, algorithm, b"another"), tag);
        assert_eq!(verify_mac(&kms, &key_id, algorithm, message, &tag), true);
        let mut flipped = tag.clone();
        flipped[0] ^= 0x80;
        assert_eq!(
            verify_mac(&kms, &key_id, algorithm, message, &flipped),
            false
        );
        assert_eq!(
            verify_mac(&kms, &key_id, algorithm, message, &tag[..len - 1]),
            false
        );
        assert_eq!(
            verify_mac(&kms, &key_id, algorithm, b"another", &tag),
            false
        );
        // Another key of the spec gives another MAC.
        let other = create(&kms, spec, "GENERATE_VERIFY_MAC").unwrap();
        assert_eq!(verify_mac(&kms, &other, algorithm, message, &tag), false);

        let session = backend.session_pool().get().unwrap();
        let key = object_of(&session, ObjectClass::SECRET_KEY, &key_id);
        let attributes = session
            .get_attributes(
                key,
                &[
                    AttributeType::KeyType,
                    AttributeType::ValueLen,
                    AttributeType::Token,
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::NeverExtractable,
                    AttributeType::Sign,
                    AttributeType::Verify,
                    AttributeType::Encrypt,
                    AttributeType::Decrypt,
                    AttributeType::Wrap,
                    AttributeType::Unwrap,
                    AttributeType::Derive,
                ],
            )
            .unwrap();
        assert_eq!(
            attributes,
            [
                Attribute::KeyType(KeyType::GENERIC_SECRET),
                Attribute::ValueLen((len as u64).into()),
                Attribute::Token(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::NeverExtractable(true),
                Attribute::Sign(true),
                Attribute::Verify(true),
                Attribute::Encrypt(false),
                Attribute::Decrypt(false),
                Attribute::Wrap(false),
                Attribute::Unwrap(false),
                Attribute::Derive(false),
            ],
            "{spec}"
        );
        unreadable(&session, key, AttributeType::Value);
        not_wrappable(&session, key);
    }
    kms.destroy_all_keys().unwrap();
}

fn specs_no_token_here_has_are_refused_naming_the_mechanism(token: Token) {
    let kms = token.engine();
    for (spec, usage, needs) in [
        ("SM2", "SIGN_VERIFY", "CKM_SM2_KEY_PAIR_GEN"),
        (
            "ED25519",
            "SIGN_VERIFY",
            "CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA",
        ),
        ("HMAC_SM3", "GENERATE_VERIFY_MAC", "CKM_SM3_HMAC"),
    ] {
        let err = create(&kms, spec, usage).unwrap_err();
        assert_eq!(err.code(), "KMS.9002", "{spec}: {err}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "Not supported by the backend: CMK spec {spec} on backend {} (needs {needs}",
                token.name()
            )),
            "{text}"
        );
    }
}

fn purge_destroys_the_objects_of_asymmetric_and_hmac_keys(token: Token) {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let kms = token.engine_on_clock(&clock);
    let signing = create(&kms, "EC_P256", "SIGN_VERIFY").unwrap();
    let mac_key = create(&kms, "HMAC_256", "GENERATE_VERIFY_MAC").unwrap();
    let kept = create(&kms, "EC_P256", "SIGN_VERIFY").unwrap();
    assert_eq!(token.cmk_objects_of(&signing), 2, "both halves");
    assert_eq!(token.cmk_objects_of(&mac_key), 1);
    sign(&kms, &signing, "ECDSA_SHA_256", "RAW", b"m");
    mac(&kms, &mac_key, "HMAC_SHA_256", b"m");
    for key_id in [&signing, &mac_key] {
        call(
            &kms,
            Operation::ScheduleKeyDeletion,
            &json!({"key_id": key_id, "pending_days": "7"}),
        )
        .unwrap();
    }
    clock.advance_ms(7 * 86_400_000);
    let purge = kms.purge_due_deletions().unwrap();
    let mut purged: Vec<String> = purge.deleted.iter().map(ToString::to_string).collect();
    purged.sort();
    let mut due = vec![signing.clone(), mac_key.clone()];
    due.sort();
    assert_eq!(purged, due);
    assert!(purge.material_left.is_empty());
    assert_eq!(token.cmk_objects_of(&signing), 0);
    assert_eq!(token.cmk_objects_of(&mac_key), 0);
    assert_eq!(token.cmk_objects_of(&kept), 2);
    kms.destroy_all_keys().unwrap();
    assert_eq!(token.cmk_objects_of(&kept), 0);
}

fn handles_show_spec_and_object_handles_only_and_destroy_key_takes_both_halves(token: Token) {
    use kms_core::{KeyId, KeyUsage, MacSpec};

    let backend = token.backend();
    let mut random = [0u8; 16];
    backend.random(&mut random).unwrap();
    let id = KeyId::from_random(random);
    let blob = backend
        .generate_private_key(&id, AsymmetricSpec::EcP256, KeyUsage::SignVerify)
        .unwrap();
    assert!(blob.as_bytes().starts_with(id.as_str().as_bytes()));
    assert_eq!(token.cmk_objects_of(id.as_str()), 2);
    let handle = backend
        .load_private_key(&id, AsymmetricSpec::EcP256, KeyUsage::SignVerify, &blob)
        .unwrap();
    let shown = format!("{handle:?}");
    assert!(
        shown.starts_with("Pkcs11PrivateKey { spec: \"EC_P256\", private: "),
        "{shown}"
    );
    assert!(
        !shown.contains(&format!("{:?}", handle.public_key_spki())),
        "{shown}"
    );
    backend.destroy_key(&blob).unwrap();
    assert_eq!(token.cmk_objects_of(id.as_str()), 0);

    let mac_blob = backend.generate_mac_key(&id, MacSpec::Hmac256).unwrap();
    let mac_handle = backend
        .load_mac_key(&id, MacSpec::Hmac256, &mac_blob)
        .unwrap();
    let shown = format!("{mac_handle:?}");
    assert!(
        shown.starts_with("Pkcs11MacKey { spec: \"HMAC_256\", handle: "),
        "{shown}"
    );
    backend.destroy_key(&mac_blob).unwrap();
    assert_eq!(token.cmk_objects_of(id.as_str()), 0);
}
