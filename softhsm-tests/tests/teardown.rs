//! Tearing a throwaway engine down leaves nothing of it in the token. (The only test of
//! this binary, so the token's object count is not changed by another test meanwhile.)
#![allow(clippy::unwrap_used, reason = "tests report failure by panicking")]

use kms_core::Operation;
use serde_json::json;
use softhsm_tests::{call, create_key, engine, external_key, import_parameters, token_objects};

#[test]
fn destroy_all_keys_leaves_nothing_of_the_engine_in_the_token() {
    let before = token_objects();
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    call(
        &kms,
        Operation::CreateEcDatakeyPair,
        &json!({"key_id": key_id, "key_spec": "ECC_NIST_P256"}),
    )
    .unwrap();
    let external = external_key(&kms);
    import_parameters(&kms, &external, "RSAES_OAEP_SHA_1").unwrap();
    // The CMK, the import-token key, and the wrapping key pair of the outstanding token.
    assert_eq!(token_objects(), before + 4);
    kms.destroy_all_keys().unwrap();
    assert_eq!(token_objects(), before);
}
