//! About SoftHSM2 only (its OAEP is SHA-1 only).
//!
//! The host_assisted_unwrap policy on SoftHSM2: off, OAEP-SHA-256 import is refused; on,
//! it works, and the CMK it makes has the policy of every CMK.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests report failure by panicking"
)]

use aes_kw::{KeyInit, KwpAes256};
use getrandom::SysRng;
use kms_core::Operation;
use rsa::Oaep;
use serde_json::json;
use softhsm_tests::{
    assert_cmk_policy, assisted_engine, call, create_key, engine, external_key, import,
    import_parameters, round_trip,
};

#[test]
fn without_the_policy_oaep_sha256_import_is_refused() {
    let kms = engine();
    let key_id = external_key(&kms);
    let err = import_parameters(&kms, &key_id, "RSAES_OAEP_SHA_256")
        .err()
        .unwrap();
    assert_eq!(err.code(), "KMS.9002");
    assert!(
        err.to_string().contains("host_assisted_unwrap is off"),
        "{err}"
    );
}

#[test]
fn with_the_policy_oaep_sha256_imports_into_a_cmk_with_the_usual_policy() {
    let (kms, backend) = assisted_engine();
    let key_id = external_key(&kms);
    let (token, public) = import_parameters(&kms, &key_id, "RSAES_OAEP_SHA_256").unwrap();
    let wrapped = public
        .encrypt(&mut SysRng, Oaep::<sha2::Sha256>::new(), &[0x9A; 32])
        .unwrap();
    import(&kms, &key_id, &token, &wrapped).unwrap();
    round_trip(&kms, &key_id);
    assert_cmk_policy(&backend, &key_id);
}

#[test]
fn with_the_policy_rsa_aes_key_wrap_sha256_and_oaep_sha1_both_import() {
    let (kms, _backend) = assisted_engine();
    let key_id = external_key(&kms);
    let (token, public) = import_parameters(&kms, &key_id, "RSA_AES_KEY_WRAP_SHA_256").unwrap();
    let temporary_key = [0x44u8; 32];
    let mut buffer = [0u8; 40];
    let kwp_part = KwpAes256::new_from_slice(&temporary_key)
        .unwrap()
        .wrap_key(&[0x9B; 32], &mut buffer)
        .unwrap()
        .to_vec();
    let oaep_part = public
        .encrypt(&mut SysRng, Oaep::<sha2::Sha256>::new(), &temporary_key)
        .unwrap();
    import(&kms, &key_id, &token, &[oaep_part, kwp_part].concat()).unwrap();
    round_trip(&kms, &key_id);

    // RSAES_OAEP_SHA_1 still unwraps in the token, with the same kind of wrapping key.
    let key_id = external_key(&kms);
    let (token, public) = import_parameters(&kms, &key_id, "RSAES_OAEP_SHA_1").unwrap();
    let wrapped = public
        .encrypt(&mut SysRng, Oaep::<sha1::Sha1>::new(), &[0x9C; 32])
        .unwrap();
    import(&kms, &key_id, &token, &wrapped).unwrap();
    round_trip(&kms, &key_id);
}

#[test]
fn with_the_policy_bad_material_is_still_the_one_opaque_error() {
    let (kms, _backend) = assisted_engine();
    let key_id = external_key(&kms);
    for material in [vec![1u8; 31], vec![1u8; 16], vec![1u8; 33]] {
        let (token, public) = import_parameters(&kms, &key_id, "RSAES_OAEP_SHA_256").unwrap();
        let wrapped = public
            .encrypt(&mut SysRng, Oaep::<sha2::Sha256>::new(), &material)
            .unwrap();
        let err = import(&kms, &key_id, &token, &wrapped).unwrap_err();
        assert_eq!(err.code(), "KMS.0311", "{} bytes", material.len());
    }
    let (token, _) = import_parameters(&kms, &key_id, "RSAES_OAEP_SHA_256").unwrap();
    assert_eq!(
        import(&kms, &key_id, &token, &[0x42; 256])
            .unwrap_err()
            .code(),
        "KMS.0311"
    );
    let described = call(&kms, Operation::DescribeKey, &json!({"key_id": key_id})).unwrap();
    assert_eq!(described["key_info"]["key_state"], "5");
    // A key of the default engine over the same token is unaffected.
    create_key(&engine(), "AES_256");
}
