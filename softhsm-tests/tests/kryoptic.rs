//! About one token, Kryoptic: what it does beyond SoftHSM2 2.6.1 (RSAES_OAEP_SHA_256
//! unwrapped inside the token, as the OpenSSL CLI wraps it, with no host-assisted policy)
//! and what it lacks, each refused with KMS.9002 naming the mechanism and the token.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests report failure by panicking"
)]

use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use kms_core::Operation;
use serde_json::json;
use softhsm_tests::{
    Token, assert_cmk_policy, assert_sm4_and_sm2_refused, call, create_key, external_key, import,
    import_parameters_for, openssl_oaep_sha256, round_trip, wrap_out, wrapping_private_key,
};

#[test]
fn oaep_sha256_material_from_the_openssl_cli_unwraps_inside_the_token_for_every_rsa_size() {
    let token = Token::Kryoptic;
    let backend = token.backend();
    assert!(!token.config().host_assisted_unwrap);
    let kms = token.engine();
    for (spec, material) in [
        ("RSA_2048", [0x21u8; 32]),
        ("RSA_3072", [0x32; 32]),
        ("RSA_4096", [0x43; 32]),
    ] {
        let key_id = external_key(&kms);
        let (import_token, public) =
            import_parameters_for(&kms, &key_id, "RSAES_OAEP_SHA_256", Some(spec)).unwrap();
        assert_eq!(
            rsa::traits::PublicKeyParts::n_bytes(&public).len() * 8,
            spec[4..].parse::<usize>().unwrap(),
            "{spec}"
        );
        {
            let session = backend.session_pool().get().unwrap();
            // The wrapping key pair was generated in the token (CKA_LOCAL), not on the host,
            // and no sealed host copy of it (a data object) exists.
            let wrapping = wrapping_private_key(&session, &public);
            assert_eq!(
                session
                    .get_attributes(
                        wrapping,
                        &[
                            AttributeType::Local,
                            AttributeType::Sensitive,
                            AttributeType::Extractable
                        ]
                    )
                    .unwrap(),
                vec![
                    Attribute::Local(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false)
                ],
                "{spec}"
            );
            assert!(
                session
                    .find_objects(&[Attribute::Class(ObjectClass::DATA)])
                    .unwrap()
                    .is_empty(),
                "{spec}"
            );
        }
        let wrapped = openssl_oaep_sha256(&public, &material);
        import(&kms, &key_id, &import_token, &wrapped).unwrap();
        assert_cmk_policy(&backend, &key_id);
        let session = backend.session_pool().get().unwrap();
        let cmks = session
            .find_objects(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::Label(key_id.as_bytes().to_vec()),
            ])
            .unwrap();
        assert_eq!(cmks.len(), 1, "{spec}");
        // The token answers CKR_ATTRIBUTE_SENSITIVE, which cryptoki reports as no value.
        assert_eq!(
            session
                .get_attributes(cmks[0], &[AttributeType::Value])
                .unwrap(),
            vec![],
            "CKA_VALUE of an imported CMK ({spec})"
        );
        assert!(
            wrap_out(&session, cmks[0]).is_err(),
            "C_WrapKey of a CMK ({spec})"
        );
        drop(session);
        round_trip(&kms, &key_id);
    }
}

#[test]
fn secp256k1_pairs_are_refused_naming_the_curve_and_the_token() {
    let token = Token::Kryoptic;
    let kms = token.engine();
    let key_id = create_key(&kms, "AES_256");
    let refused = call(
        &kms,
        Operation::CreateEcDatakeyPair,
        &json!({"key_id": key_id, "key_spec": "ECC_SECG_P256K1"}),
    )
    .unwrap_err();
    assert_eq!(refused.code(), "KMS.9002");
    assert_eq!(
        refused.to_string(),
        format!(
            "Not supported by the backend: key pair spec ECC_SECG_P256K1 on backend {} (needs CKM_EC_KEY_PAIR_GEN on the curve secp256k1 (1.3.132.0.10), which this token refuses)",
            token.name()
        )
    );
}

#[test]
fn rsa_aes_key_wrap_is_refused_naming_the_missing_mechanism_and_the_token() {
    let token = Token::Kryoptic;
    let kms = token.engine();
    let key_id = external_key(&kms);
    for algorithm in ["RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"] {
        let refused = import_parameters_for(&kms, &key_id, algorithm, None).unwrap_err();
        assert_eq!(refused.code(), "KMS.9002");
        assert_eq!(
            refused.to_string(),
            format!(
                "Not supported by the backend: wrapping algorithm {algorithm} on backend {} (needs CKM_RSA_AES_KEY_WRAP, or CKM_AES_KEY_WRAP_PAD (0x210A) to compose it, which this token does not list (CKM_AES_KEY_WRAP_KWP, 0x210B, cannot be named through cryptoki 0.12))",
                token.name()
            )
        );
    }
}

#[test]
fn sm4_cmks_and_sm2_pairs_are_refused_naming_the_mechanism_and_the_token() {
    let token = Token::Kryoptic;
    let (sm4, sm2) = assert_sm4_and_sm2_refused(&token.engine());
    assert!(sm4.contains(&token.name()), "{sm4}");
    assert!(sm2.contains(&token.name()), "{sm2}");
}
