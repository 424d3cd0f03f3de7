//! Token-neutral (every test token): tearing a throwaway engine down leaves nothing of it
//! in the token. (The only test of this binary on each token, so the token's object count
//! is not changed by another test meanwhile.)
#![allow(clippy::unwrap_used, reason = "tests report failure by panicking")]

use kms_core::Operation;
use serde_json::json;
use softhsm_tests::{Token, call, create_key, external_key, import_parameters, on_each_token};

on_each_token!(destroy_all_keys_leaves_nothing_of_the_engine_in_the_token);

fn destroy_all_keys_leaves_nothing_of_the_engine_in_the_token(token: Token) {
    let before = token.objects();
    let kms = token.engine();
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
    assert_eq!(token.objects(), before + 4);
    kms.destroy_all_keys().unwrap();
    assert_eq!(token.objects(), before);
}
