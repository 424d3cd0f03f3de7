//! About SoftHSM2 only (the shim forwards to SoftHSM2).
//!
//! The vendor mechanism map, end to end, on a test token with vendor-defined SM4 and SM2
//! mechanisms: `vendor-shim/vendor_shim.c`, a module that forwards to SoftHSM2 and carries
//! out its vendor numbers with SoftHSM2's AES and EC mechanisms (built here with the C
//! compiler). What this proves is the path: the map, the capability probe, vendor
//! mechanism and key type numbers in every call, CK_GCM_PARAMS under a vendor mechanism.
//! The cipher under "SM4" is AES-128 on this token; a real SM4 token brings real SM4.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests report failure by panicking"
)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use kms_core::{CmkSpec, Kms, Operation, dek_digest, encode_hex};
use kms_pkcs11::{Pkcs11Backend, Pkcs11Config, Sm2Mechanisms, Sm4Mechanisms, VendorMechanisms};
use p256::elliptic_curve::sec1::ToSec1Point;
use pkcs8::{DecodePrivateKey, DecodePublicKey};
use serde_json::json;
use softhsm_tests::{
    assert_cmk_policy, assert_sm4_and_sm2_refused, build_c, call, config, create_key, engine_on,
    import, import_parameters, module,
};

/// The shim's numbers (see `vendor_shim.c`).
const SHIM_MAP: VendorMechanisms = VendorMechanisms {
    sm4: Some(Sm4Mechanisms {
        key_type: 0x8000_0100,
        key_gen: 0x8000_0101,
        gcm: 0x8000_0102,
    }),
    sm2: Some(Sm2Mechanisms {
        key_type: 0x8000_0200,
        key_pair_gen: 0x8000_0201,
    }),
};

/// The shim module, compiled once per run with the test module as its target.
fn shim_module() -> PathBuf {
    static SHIM: OnceLock<PathBuf> = OnceLock::new();
    SHIM.get_or_init(|| {
        build_c(
            "vendor-shim/vendor_shim.c",
            "vendor-shim.so",
            &[
                "-shared".into(),
                "-fPIC".into(),
                format!("-DSHIM_TARGET=\"{}\"", module()),
            ],
        )
    })
    .clone()
}

fn shim_backend(map: VendorMechanisms) -> Arc<Pkcs11Backend> {
    let mut config: Pkcs11Config = config();
    config.module = shim_module();
    config.vendor_mechanisms = map;
    Arc::new(Pkcs11Backend::open(config).unwrap_or_else(|error| panic!("{error}")))
}

/// An engine on `backend`.
fn engine(backend: &Arc<Pkcs11Backend>) -> Kms {
    engine_on(Arc::clone(backend))
}

#[test]
fn sm4_cmks_go_through_the_vendor_mechanisms_the_map_names() {
    let backend = shim_backend(SHIM_MAP);
    let kms = engine(&backend);
    let key_id = create_key(&kms, "SM4");
    assert_cmk_policy(&backend, &key_id);
    let dek = [0x6Bu8; 32];
    let plain_text = encode_hex(&[&dek[..], &dek_digest(CmkSpec::Sm4, &dek)].concat());
    let sealed = call(
        &kms,
        Operation::EncryptDatakey,
        &json!({"key_id": key_id, "plain_text": plain_text, "datakey_plain_length": "32",
                "additional_authenticated_data": "vendor"}),
    )
    .unwrap();
    let cipher_text = sealed["cipher_text"].as_str().unwrap();
    // Blob v1: version 01, algorithm 02 (SM4-GCM).
    assert_eq!(&cipher_text[..4], "0102");
    let opened = call(
        &kms,
        Operation::DecryptDatakey,
        &json!({"key_id": key_id, "cipher_text": cipher_text, "datakey_cipher_length": "32",
                "additional_authenticated_data": "vendor"}),
    )
    .unwrap();
    assert_eq!(opened["data_key"], encode_hex(&dek));
    assert_eq!(
        opened["datakey_dgst"],
        encode_hex(&dek_digest(CmkSpec::Sm4, &dek))
    );
    let err = call(
        &kms,
        Operation::DecryptDatakey,
        &json!({"key_id": key_id, "cipher_text": cipher_text, "datakey_cipher_length": "32",
                "additional_authenticated_data": "other"}),
    )
    .unwrap_err();
    assert_eq!(err.code(), "KMS.2201");
    kms.destroy_all_keys().unwrap();
}

#[test]
fn sm2_pairs_go_through_the_vendor_key_pair_generation() {
    let backend = shim_backend(SHIM_MAP);
    let kms = engine(&backend);
    let key_id = create_key(&kms, "AES_256");
    let pair = call(
        &kms,
        Operation::CreateEcDatakeyPair,
        &json!({"key_id": key_id, "key_spec": "SM2", "with_plain_text": true}),
    )
    .unwrap();
    assert_eq!(pair["key_spec"], "SM2");
    let public = kms_core::decode_base64(pair["public_key"].as_str().unwrap()).unwrap();
    let private =
        kms_core::decode_base64(pair["private_key_plain_text"].as_str().unwrap()).unwrap();
    let public = sm2::PublicKey::from_public_key_der(&public).unwrap();
    let private = sm2::SecretKey::from_pkcs8_der(&private).unwrap();
    // The private scalar the token made is the public point's on the SM2 curve: d·G = Q.
    assert_eq!(
        private.public_key().to_sec1_point(false),
        public.to_sec1_point(false)
    );
    kms.destroy_all_keys().unwrap();
}

#[test]
fn without_the_map_the_same_token_refuses_sm4_and_sm2_naming_the_mechanism() {
    let backend = shim_backend(VendorMechanisms::default());
    let kms = engine(&backend);
    assert_sm4_and_sm2_refused(&kms);
    kms.destroy_all_keys().unwrap();
}

#[test]
fn a_map_naming_mechanisms_the_token_does_not_list_is_refused_naming_them() {
    let map = VendorMechanisms {
        sm4: Some(Sm4Mechanisms {
            key_type: 0x8000_0100,
            key_gen: 0x8000_0999,
            gcm: 0x8000_0102,
        }),
        sm2: None,
    };
    let backend = shim_backend(map);
    let kms = engine(&backend);
    let err = call(
        &kms,
        Operation::CreateKey,
        &json!({"key_alias": "vendor-unlisted", "key_spec": "SM4"}),
    )
    .unwrap_err();
    assert_eq!(err.code(), "KMS.9002");
    assert!(err.to_string().contains("0x80000999"), "{err}");
}

#[test]
fn a_map_with_a_number_outside_the_vendor_range_is_refused_at_open() {
    let mut config = config();
    config.module = shim_module();
    config.vendor_mechanisms = VendorMechanisms {
        sm4: Some(Sm4Mechanisms {
            key_type: 0x8000_0100,
            key_gen: 0x8000_0101,
            gcm: 0x1087,
        }),
        sm2: None,
    };
    let err = Pkcs11Backend::open(config).unwrap_err();
    assert_eq!(err.code(), "KMS.0308");
    assert!(err.to_string().contains("sm4.gcm = 0x1087"), "{err}");
}

#[test]
fn import_into_an_sm4_cmk_is_refused_not_made_an_aes_key() {
    let backend = shim_backend(SHIM_MAP);
    let kms = engine(&backend);
    let created = call(
        &kms,
        Operation::CreateKey,
        &json!({"key_alias": "vendor-byok", "key_spec": "SM4", "origin": "external"}),
    )
    .unwrap();
    let key_id = created["key_info"]["key_id"].as_str().unwrap();
    let (token, public) = import_parameters(&kms, key_id, "RSAES_OAEP_SHA_1").unwrap();
    let wrapped = public
        .encrypt(
            &mut getrandom::SysRng,
            rsa::Oaep::<sha1::Sha1>::new(),
            &[0x24; 16],
        )
        .unwrap();
    let err = import(&kms, key_id, &token, &wrapped).unwrap_err();
    assert_eq!(err.code(), "KMS.9002");
    assert!(err.to_string().contains("import into SM4 CMKs"), "{err}");
    kms.destroy_all_keys().unwrap();
}
