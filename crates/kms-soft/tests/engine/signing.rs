//! Asymmetric and HMAC CMKs on the soft backend, against the OpenSSL 3.0 CLI:
//!
//! - every asymmetric spec x signing algorithm x message type: the engine's signatures
//!   verify with OpenSSL against get-publickey's key (SM2 with `-digest sm3` and the
//!   standard default user ID, named: OpenSSL 3.0's own default is empty), OpenSSL's signatures verify through the engine's verify path, and a
//!   flipped bit gives `"false"`;
//! - RSAES_OAEP_SHA_256 and SM2_ENCRYPT encrypt-data round trips, and OpenSSL's
//!   ciphertexts under get-publickey's key decrypt in the engine;
//! - HMAC-SM3 against `openssl mac` on random keys and messages, and generate-mac /
//!   verify-mac on every HMAC spec;
//! - each refusal with its code, before the backend is asked, and nothing changed.

use kms_core::{
    AsymmetricSpec, Kms, MessageType, Operation, SignedData, SigningAlgorithm, decode_base64,
    encode_base64,
};
use kms_soft::{SoftMacKey, SoftPublicKey};
use serde_json::{Value, json};

use crate::common::{TempDir, call, create_key_of, engine, error_code, openssl, random_bytes};

fn public_key(kms: &Kms, key_id: &str) -> Vec<u8> {
    let answer = call(kms, Operation::GetPublicKey, &json!({"key_id": key_id})).unwrap();
    decode_base64(answer["public_key"].as_str().unwrap()).unwrap()
}

fn sign(
    kms: &Kms,
    key_id: &str,
    algorithm: SigningAlgorithm,
    kind: MessageType,
    message: &[u8],
) -> Vec<u8> {
    let body = json!({"key_id": key_id, "message": encode_base64(message),
        "signing_algorithm": algorithm.as_str(), "message_type": kind.as_str()});
    let answer = call(kms, Operation::Sign, &body).unwrap();
    decode_base64(answer["signature"].as_str().unwrap()).unwrap()
}

fn verify(
    kms: &Kms,
    key_id: &str,
    algorithm: SigningAlgorithm,
    kind: MessageType,
    message: &[u8],
    signature: &[u8],
) -> Value {
    let body = json!({"key_id": key_id, "message": encode_base64(message),
        "signature": encode_base64(signature), "signing_algorithm": algorithm.as_str(),
        "message_type": kind.as_str()});
    call(kms, Operation::Verify, &body).unwrap()["signature_valid"].clone()
}

/// OpenSSL 3.0's SM2 default user ID is empty: the standard default (GB/T 35276, what
/// the engine and the SDKs use) is named explicitly.
const DISTID: &str = "distid:1234567812345678";

/// The `openssl dgst` name of an algorithm's hash.
fn dgst(algorithm: SigningAlgorithm) -> &'static str {
    match algorithm.hash() {
        kms_core::HashAlgorithm::Sha256 => "-sha256",
        kms_core::HashAlgorithm::Sha384 => "-sha384",
        kms_core::HashAlgorithm::Sha512 => "-sha512",
        kms_core::HashAlgorithm::Sm3 => "-sm3",
    }
}

/// OpenSSL's options for an algorithm's padding, for `-sigopt` or `-pkeyopt`.
fn padding(algorithm: SigningAlgorithm) -> Vec<&'static str> {
    match algorithm.scheme() {
        kms_core::SignatureScheme::RsaPss => vec!["rsa_padding_mode:pss", "rsa_pss_saltlen:digest"],
        _ => Vec::new(),
    }
}

/// OpenSSL checks `signature` over `message` with the public key in `pem`; panics if not.
fn openssl_verifies(
    dir: &TempDir,
    pem: &str,
    algorithm: SigningAlgorithm,
    message: &[u8],
    signature: &[u8],
) {
    let message_file = dir.write("message.bin", message);
    let signature_file = dir.write("signature.bin", signature);
    let mut args: Vec<&str> = if algorithm == SigningAlgorithm::Sm2dsaSm3 {
        vec![
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            pem,
            "-rawin",
            "-digest",
            "sm3",
            "-pkeyopt",
            DISTID,
            "-in",
            &message_file,
            "-sigfile",
            &signature_file,
        ]
    } else {
        vec![
            "dgst",
            dgst(algorithm),
            "-verify",
            pem,
            "-signature",
            &signature_file,
        ]
    };
    if algorithm != SigningAlgorithm::Sm2dsaSm3 {
        for option in padding(algorithm) {
            args.extend(["-sigopt", option]);
        }
        args.push(&message_file);
    }
    let output = openssl(&args, b"");
    assert!(
        String::from_utf8_lossy(&output).contains("Verified"),
        "{algorithm:?}"
    );
}

/// OpenSSL signs `message` with the private key in `key_file`.
fn openssl_signs(
    dir: &TempDir,
    key_file: &str,
    algorithm: SigningAlgorithm,
    message: &[u8],
) -> Vec<u8> {
    let message_file = dir.write("message.bin", message);
    if algorithm == SigningAlgorithm::Sm2dsaSm3 {
        return openssl(
            &[
                "pkeyutl",
                "-sign",
                "-inkey",
                key_file,
                "-rawin",
                "-digest",
                "sm3",
                "-pkeyopt",
                DISTID,
                "-in",
                &message_file,
            ],
            b"",
        );
    }
    let mut args = vec!["dgst", dgst(algorithm), "-sign", key_file];
    for option in padding(algorithm) {
        args.extend(["-sigopt", option]);
    }
    args.push(&message_file);
    openssl(&args, b"")
}

/// The `openssl genpkey` arguments of a spec's key.
fn genpkey(spec: AsymmetricSpec) -> Vec<&'static str> {
    match spec {
        AsymmetricSpec::Rsa2048 => vec!["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        AsymmetricSpec::Rsa3072 => vec!["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
        AsymmetricSpec::Rsa4096 => vec!["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"],
        AsymmetricSpec::EcP256 => vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        AsymmetricSpec::EcP384 => vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        AsymmetricSpec::Secp256k1 => vec![
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:secp256k1",
        ],
        AsymmetricSpec::Sm2 => vec!["-algorithm", "SM2"],
        AsymmetricSpec::Ed25519 => vec!["-algorithm", "ED25519"],
    }
}

/// The engine's verify path for a key it does not hold: the message prepared as the
/// engine prepares it, then the soft backend's verification.
fn engine_path_verifies(
    spki: &[u8],
    algorithm: SigningAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let mut digest = Vec::new();
    let data = SignedData::prepare(algorithm, MessageType::Raw, message, &mut digest).unwrap();
    SoftPublicKey::from_spki(spki)
        .unwrap()
        .verify(algorithm, data, signature)
        .unwrap()
}

fn flipped(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    let at = bit % (bytes.len() * 8);
    bytes[at / 8] ^= 1 << (at % 8);
    bytes
}

#[test]
fn every_spec_algorithm_and_message_type_cross_verifies_with_openssl() {
    let kms = engine();
    let dir = TempDir::new();
    let mut checked = 0;
    for spec in AsymmetricSpec::ALL
        .iter()
        .copied()
        .filter(|spec| spec.key_pair_spec().is_some())
    {
        let key_id = create_key_of(&kms, spec.as_str(), "SIGN_VERIFY");
        let spki = public_key(&kms, &key_id);
        let pem_file = dir.write("public.der", &spki);
        let pem = String::from_utf8(openssl(
            &["pkey", "-pubin", "-inform", "DER", "-in", &pem_file],
            b"",
        ))
        .unwrap();
        let pem_file = dir.write("public.pem", pem.as_bytes());
        let openssl_key = openssl(&[&["genpkey"], genpkey(spec).as_slice()].concat(), b"");
        let openssl_key_file = dir.write("openssl.pem", &openssl_key);
        let openssl_spki = openssl(
            &[
                "pkey",
                "-in",
                &openssl_key_file,
                "-pubout",
                "-outform",
                "DER",
            ],
            b"",
        );
        for &algorithm in spec.signing_algorithms() {
            let message = random_bytes(1 + random_bytes(1)[0] as usize * 8);
            // RAW: the engine hashes; DIGEST: the caller does (for SM2 the digest binds
            // Z_A, which OpenSSL computes itself, so only RAW goes to OpenSSL).
            let raw = sign(&kms, &key_id, algorithm, MessageType::Raw, &message);
            openssl_verifies(&dir, &pem_file, algorithm, &message, &raw);
            assert_eq!(
                verify(&kms, &key_id, algorithm, MessageType::Raw, &message, &raw),
                "true"
            );
            let digest = algorithm.hash().digest(&message);
            let signed_digest = sign(&kms, &key_id, algorithm, MessageType::Digest, &digest);
            if algorithm != SigningAlgorithm::Sm2dsaSm3 {
                openssl_verifies(&dir, &pem_file, algorithm, &message, &signed_digest);
                assert_eq!(
                    verify(
                        &kms,
                        &key_id,
                        algorithm,
                        MessageType::Raw,
                        &message,
                        &signed_digest
                    ),
                    "true"
                );
            }
            assert_eq!(
                verify(
                    &kms,
                    &key_id,
                    algorithm,
                    MessageType::Digest,
                    &digest,
                    &signed_digest
                ),
                "true"
            );
            for bit in [0, 13, raw.len() * 8 - 1] {
                let wrong = flipped(&raw, bit);
                assert_eq!(
                    verify(&kms, &key_id, algorithm, MessageType::Raw, &message, &wrong),
                    "false"
                );
            }
            let other_message = flipped(&message, 5);
            assert_eq!(
                verify(
                    &kms,
                    &key_id,
                    algorithm,
                    MessageType::Raw,
                    &other_message,
                    &raw
                ),
                "false"
            );
            // OpenSSL signs with a key of its own; the engine's verify path checks it.
            let by_openssl = openssl_signs(&dir, &openssl_key_file, algorithm, &message);
            assert!(
                engine_path_verifies(&openssl_spki, algorithm, &message, &by_openssl),
                "{algorithm:?}"
            );
            assert!(!engine_path_verifies(
                &openssl_spki,
                algorithm,
                &message,
                &flipped(&by_openssl, 9)
            ));
            checked += 1;
        }
    }
    println!("{checked} spec x algorithm pairs, each RAW and DIGEST, cross-checked with OpenSSL");
    assert_eq!(checked, 3 * 6 + 4);
}

#[test]
fn asymmetric_encrypt_data_round_trips_and_opens_what_openssl_encrypts() {
    let kms = engine();
    let dir = TempDir::new();
    for (spec, algorithm, most) in [
        ("RSA_2048", "RSAES_OAEP_SHA_256", 190),
        ("RSA_3072", "RSAES_OAEP_SHA_256", 318),
        ("SM2", "SM2_ENCRYPT", 4096),
    ] {
        let key_id = create_key_of(&kms, spec, "ENCRYPT_DECRYPT");
        let text = "k".repeat(most);
        let encrypted = call(
            &kms,
            Operation::EncryptData,
            &json!({"key_id": key_id, "plain_text": text, "encryption_algorithm": algorithm}),
        )
        .unwrap();
        let cipher_text = encrypted["cipher_text"].as_str().unwrap();
        let decrypted = call(&kms, Operation::DecryptData,
            &json!({"key_id": key_id, "cipher_text": cipher_text, "encryption_algorithm": algorithm})).unwrap();
        assert_eq!(decrypted["plain_text"], text.as_str());
        assert_eq!(
            decrypted["plain_text_base64"],
            encode_base64(text.as_bytes())
        );
        let too_long = "k".repeat(most + 1);
        assert_eq!(
            error_code(
                &kms,
                Operation::EncryptData,
                &json!({"key_id": key_id, "plain_text": too_long, "encryption_algorithm": algorithm})
            ),
            if most < 4096 { "KMS.2108" } else { "KMS.2101" }
        );
        // OpenSSL encrypts binary bytes to get-publickey's key; the engine decrypts them.
        let public_file = dir.write("public.der", &public_key(&kms, &key_id));
        let secret = random_bytes(100);
        let mut args = vec![
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-keyform",
            "DER",
            "-inkey",
            &public_file,
        ];
        if spec.starts_with("RSA") {
            args.extend([
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                "rsa_oaep_md:sha256",
                "-pkeyopt",
                "rsa_mgf1_md:sha256",
            ]);
        }
        let by_openssl = openssl(&args, &secret);
        let decrypted = call(
            &kms,
            Operation::DecryptData,
            &json!({"key_id": key_id,
            "cipher_text": encode_base64(&by_openssl), "encryption_algorithm": algorithm}),
        )
        .unwrap();
        assert_eq!(decrypted["plain_text_base64"], encode_base64(&secret));
        // A changed ciphertext is the one opaque KMS.2201.
        assert_eq!(
            error_code(
                &kms,
                Operation::DecryptData,
                &json!({"key_id": key_id,
            "cipher_text": encode_base64(&flipped(&by_openssl, 100)), "encryption_algorithm": algorithm})
            ),
            "KMS.2201"
        );
    }
}

#[test]
fn hmac_sm3_matches_openssl_on_random_keys_and_messages() {
    for case in 0..40 {
        let key = random_bytes(1 + case * 3);
        let message = random_bytes(1 + random_bytes(2)[0] as usize * 16);
        let expected = openssl(
            &[
                "mac",
                "-digest",
                "SM3",
                "-macopt",
                &format!("hexkey:{}", kms_core::encode_hex(&key)),
                "HMAC",
            ],
            &message,
        );
        let ours = kms_core::MacKeyHandle::mac(
            &SoftMacKey::new(kms_core::MacSpec::HmacSm3, kms_core::SecretBytes::new(key)),
            &message,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(expected).unwrap().trim(),
            kms_core::encode_hex(&ours)
        );
    }
}

#[test]
fn every_hmac_spec_generates_and_verifies_macs() {
    let kms = engine();
    for (spec, algorithm, len) in [
        ("HMAC_256", "HMAC_SHA_256", 32),
        ("HMAC_384", "HMAC_SHA_384", 48),
        ("HMAC_512", "HMAC_SHA_512", 64),
        ("HMAC_SM3", "HMAC_SM3", 32),
    ] {
        let key_id = create_key_of(&kms, spec, "GENERATE_VERIFY_MAC");
        let message = encode_base64(b"the message");
        let body = json!({"key_id": key_id, "mac_algorithm": algorithm, "message": message});
        let generated = call(&kms, Operation::GenerateMac, &body).unwrap();
        assert_eq!(generated["mac_algorithm"], algorithm);
        let mac = decode_base64(generated["mac"].as_str().unwrap()).unwrap();
        assert_eq!(mac.len(), len);
        let again = call(&kms, Operation::GenerateMac, &body).unwrap();
        assert_eq!(again["mac"], generated["mac"], "HMAC is deterministic");
        let check = |mac: &[u8], message: &str| {
            call(
                &kms,
                Operation::VerifyMac,
                &json!({"key_id": key_id, "mac_algorithm": algorithm,
                "message": message, "mac": encode_base64(mac)}),
            )
            .unwrap()["mac_valid"]
                .clone()
        };
        assert_eq!(check(&mac, &message), true);
        assert_eq!(check(&flipped(&mac, 3), &message), false);
        assert_eq!(check(&mac[..len - 1], &message), false);
        assert_eq!(check(&mac, &encode_base64(b"the messagE")), false);
        let other = if algorithm == "HMAC_SM3" {
            "HMAC_SHA_256"
        } else {
            "HMAC_SM3"
        };
        assert_eq!(
            error_code(
                &kms,
                Operation::GenerateMac,
                &json!({"key_id": key_id, "mac_algorithm": other, "message": message})
            ),
            "KMS.0308"
        );
    }
}

#[test]
fn each_key_kind_refuses_the_others_operations_with_the_apis_codes() {
    let kms = engine();
    let aes = create_key_of(&kms, "AES_256", "ENCRYPT_DECRYPT");
    let signer = create_key_of(&kms, "EC_P256", "SIGN_VERIFY");
    let rsa_signer = create_key_of(&kms, "RSA_2048", "SIGN_VERIFY");
    let decrypter = create_key_of(&kms, "RSA_2048", "ENCRYPT_DECRYPT");
    let sm2_decrypter = create_key_of(&kms, "SM2", "ENCRYPT_DECRYPT");
    let mac = create_key_of(&kms, "HMAC_256", "GENERATE_VERIFY_MAC");
    let digest = encode_base64(&[7; 32]);
    let sign_body = |key: &str, algorithm: &str| json!({"key_id": key, "message": digest, "signing_algorithm": algorithm});
    let mac_body =
        |key: &str| json!({"key_id": key, "mac_algorithm": "HMAC_SHA_256", "message": "aGk="});
    let encrypt = |key: &str, algorithm: &str| json!({"key_id": key, "plain_text": "hi", "encryption_algorithm": algorithm});
    for (operation, body, code) in [
        (
            Operation::Sign,
            sign_body(&aes, "ECDSA_SHA_256"),
            "KMS.1115",
        ),
        (
            Operation::Sign,
            sign_body(&mac, "ECDSA_SHA_256"),
            "KMS.0341",
        ),
        (
            Operation::Sign,
            sign_body(&decrypter, "RSASSA_PSS_SHA_256"),
            "KMS.0334",
        ),
        (
            Operation::Sign,
            sign_body(&signer, "ECDSA_SHA_384"),
            "KMS.0332",
        ),
        (
            Operation::Sign,
            sign_body(&signer, "SM2DSA_SM3"),
            "KMS.0332",
        ),
        (
            Operation::Sign,
            sign_body(&rsa_signer, "RSASSA_PSS_SHA_512"),
            "KMS.0329",
        ),
        (
            Operation::Verify,
            json!({"key_id": signer, "message": digest, "signature": "AAAA",
            "signing_algorithm": "ECDSA_SHA_256", "message_type": "RAW2"}),
            "KMS.0308",
        ),
        (Operation::GetPublicKey, json!({"key_id": aes}), "KMS.0331"),
        (Operation::GetPublicKey, json!({"key_id": mac}), "KMS.0341"),
        (Operation::GenerateMac, mac_body(&aes), "KMS.0331"),
        (Operation::GenerateMac, mac_body(&signer), "KMS.0325"),
        (
            Operation::EncryptData,
            encrypt(&signer, "RSAES_OAEP_SHA_256"),
            "KMS.0335",
        ),
        (
            Operation::EncryptData,
            encrypt(&rsa_signer, "RSAES_OAEP_SHA_256"),
            "KMS.0335",
        ),
        (
            Operation::EncryptData,
            encrypt(&decrypter, "SM2_ENCRYPT"),
            "KMS.2106",
        ),
        (
            Operation::EncryptData,
            encrypt(&sm2_decrypter, "RSAES_OAEP_SHA_256"),
            "KMS.2106",
        ),
        (
            Operation::EncryptData,
            encrypt(&aes, "SM2_ENCRYPT"),
            "KMS.2105",
        ),
        (
            Operation::EncryptData,
            json!({"key_id": decrypter, "plain_text": "hi"}),
            "KMS.0325",
        ),
        (
            Operation::EncryptData,
            json!({"key_id": mac, "plain_text": "hi"}),
            "KMS.0341",
        ),
        (
            Operation::DecryptData,
            json!({"cipher_text": "A".repeat(344),
            "encryption_algorithm": "RSAES_OAEP_SHA_256"}),
            "KMS.0204",
        ),
        (
            Operation::CreateDatakey,
            json!({"key_id": signer}),
            "KMS.0325",
        ),
        (Operation::CreateDatakey, json!({"key_id": mac}), "KMS.0341"),
        (
            Operation::RotateOnDemand,
            json!({"key_id": rsa_signer}),
            "KMS.0324",
        ),
        (
            Operation::EnableKeyRotation,
            json!({"key_id": signer}),
            "KMS.0325",
        ),
        (
            Operation::EnableKeyRotation,
            json!({"key_id": mac}),
            "KMS.0341",
        ),
        (
            Operation::ReEncrypt,
            json!({"destination_key_id": signer, "cipher_text": "A".repeat(128)}),
            "KMS.2201",
        ),
    ] {
        assert_eq!(
            error_code(&kms, operation, &body),
            code,
            "{operation:?} {body}"
        );
    }
    // A refused rotation changed nothing.
    let status = call(
        &kms,
        Operation::GetKeyRotationStatus,
        &json!({"key_id": signer}),
    )
    .unwrap();
    assert_eq!(
        (
            status["key_rotation_enabled"].clone(),
            status["number_of_rotations"].clone()
        ),
        (json!(false), json!(0))
    );
    // Disabled, an asymmetric key refuses everything with KMS.0209, and works again after.
    call(&kms, Operation::DisableKey, &json!({"key_id": signer})).unwrap();
    assert_eq!(
        error_code(&kms, Operation::Sign, &sign_body(&signer, "ECDSA_SHA_256")),
        "KMS.0209"
    );
    assert_eq!(
        error_code(&kms, Operation::GetPublicKey, &json!({"key_id": signer})),
        "KMS.0209"
    );
    call(&kms, Operation::EnableKey, &json!({"key_id": signer})).unwrap();
    assert!(call(&kms, Operation::Sign, &sign_body(&signer, "ECDSA_SHA_256")).is_ok());
    call(
        &kms,
        Operation::ScheduleKeyDeletion,
        &json!({"key_id": mac, "pending_days": "7"}),
    )
    .unwrap();
    assert_eq!(
        error_code(&kms, Operation::GenerateMac, &mac_body(&mac)),
        "KMS.0210"
    );
    // describe-key and list-keys report the spec and usage.
    let described = call(&kms, Operation::DescribeKey, &json!({"key_id": decrypter})).unwrap();
    assert_eq!(
        (
            described["key_info"]["key_spec"].clone(),
            described["key_info"]["key_usage"].clone()
        ),
        (json!("RSA_2048"), json!("ENCRYPT_DECRYPT"))
    );
    let listed = call(&kms, Operation::ListKeys, &json!({"key_spec": "HMAC_256"})).unwrap();
    assert_eq!(listed["keys"], json!([mac]));
}

#[test]
fn ed25519_is_refused_naming_what_the_backend_lacks() {
    let kms = engine();
    let err = call(
        &kms,
        Operation::CreateKey,
        &json!({"key_alias": "ed", "key_spec": "ED25519"}),
    )
    .unwrap_err();
    assert_eq!(err.code(), "KMS.9002");
    assert!(err.to_string().contains("ED25519"), "{err}");
    let listed = call(&kms, Operation::ListKeys, &json!({})).unwrap();
    assert_eq!(listed["keys"], json!([]), "nothing was created");
}

#[test]
fn loaded_asymmetric_and_hmac_keys_show_no_material_in_debug() {
    use kms_core::{Backend, KeyId, KeyUsage, MacSpec};
    let backend = kms_soft::SoftBackend::new(kms_soft::RootKey::generate().unwrap());
    let id = KeyId::from_random([3; 16]);
    let blob = backend
        .generate_private_key(&id, AsymmetricSpec::EcP256, KeyUsage::SignVerify)
        .unwrap();
    let handle = backend
        .load_private_key(&id, AsymmetricSpec::EcP256, KeyUsage::SignVerify, &blob)
        .unwrap();
    assert_eq!(
        format!("{handle:?}"),
        "SoftPrivateKey(EC_P256, private half hidden)"
    );
    // The sealed blob opens only as the key, spec and usage it was made for.
    for (other_id, usage) in [
        (KeyId::from_random([4; 16]), KeyUsage::SignVerify),
        (id, KeyUsage::EncryptDecrypt),
    ] {
        let err = backend
            .load_private_key(&other_id, AsymmetricSpec::EcP256, usage, &blob)
            .unwrap_err();
        assert_eq!(err.code(), "KMS.0103");
    }
    let mac = SoftMacKey::new(MacSpec::Hmac512, kms_core::SecretBytes::new(vec![0xAB; 64]));
    assert_eq!(format!("{mac:?}"), "SoftMacKey(HMAC_512, key hidden)");
}
