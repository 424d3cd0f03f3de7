//! About both tokens at once: the same material imported into a SoftHSM2 CMK (with
//! RSAES_OAEP_SHA_1, what SoftHSM2 2.6.1 unwraps), a Kryoptic CMK (with RSAES_OAEP_SHA_256,
//! wrapped by the OpenSSL CLI) and a soft CMK: blobs made by any one open on the other two.
#![allow(clippy::unwrap_used, reason = "tests report failure by panicking")]

use std::sync::Arc;

use getrandom::SysRng;
use kms_core::{Kms, KmsConfig, MemoryStore, Operation, encode_hex};
use kms_soft::{RootKey, SoftBackend};
use rsa::Oaep;
use serde_json::json;
use sha1::Sha1;
use softhsm_tests::{
    ROUND_TRIP_DEK, Token, call, engine_awaiting, external_key, import, import_parameters,
    openssl_oaep_sha256, round_trip,
};

#[test]
fn the_same_material_in_softhsm2_kryoptic_and_soft_cmks_opens_each_others_blobs() {
    let soft = Kms::with_config(
        Arc::new(SoftBackend::new(RootKey::generate().unwrap())),
        Arc::new(MemoryStore::new()),
        KmsConfig {
            wrapping_key_pool_size: 0,
            ..KmsConfig::default()
        },
    );
    // The key ID comes from the soft engine; the two token engines hold the same key.
    let key_id = external_key(&soft);
    let softhsm2 = engine_awaiting(Token::SoftHsm2.backend(), &key_id);
    let kryoptic = engine_awaiting(Token::Kryoptic.backend(), &key_id);
    let material = [0xA7u8; 32];

    let (token, public) = import_parameters(&softhsm2, &key_id, "RSAES_OAEP_SHA_1").unwrap();
    let wrapped = public
        .encrypt(&mut SysRng, Oaep::<Sha1>::new(), &material)
        .unwrap();
    import(&softhsm2, &key_id, &token, &wrapped).unwrap();
    for kms in [&kryoptic, &soft] {
        let (token, public) = import_parameters(kms, &key_id, "RSAES_OAEP_SHA_256").unwrap();
        import(
            kms,
            &key_id,
            &token,
            &openssl_oaep_sha256(&public, &material),
        )
        .unwrap();
    }

    let engines = [
        ("softhsm2", &softhsm2),
        ("kryoptic", &kryoptic),
        ("soft", &soft),
    ];
    for (sealer_name, sealer) in engines {
        let cipher_text = round_trip(sealer, &key_id);
        for (opener_name, opener) in engines {
            let opened = call(
                opener,
                Operation::DecryptDatakey,
                &json!({"key_id": key_id, "cipher_text": cipher_text, "datakey_cipher_length": "32"}),
            )
            .unwrap();
            assert_eq!(
                opened["data_key"],
                encode_hex(&ROUND_TRIP_DEK),
                "sealed by {sealer_name}, opened by {opener_name}"
            );
        }
    }
    for kms in [softhsm2, kryoptic] {
        kms.destroy_all_keys().unwrap();
    }
}
