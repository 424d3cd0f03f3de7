//! SDK request signing against the official SDKs' own output: the 12 fixed-date vectors,
//! the 24 requests the real Python client sent, the keys the test AK/SK derive, and two
//! requests the Python SDK signed with SM2 keys whose Z_A it computes non-standardly
//! (`tests/data/`, see `sm2-quirk.py` there); then every kind of tampering refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests report failure by panicking"
)]

use std::sync::Arc;

use base64ct::{Base64, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use kms_core::SecretString;
use kms_server::signing::{
    Algorithm, AuthFailure, Credential, FailureReason, RawRequest, canonical_request,
    derive_private_key, derive_public_key, parse_sdk_date, string_to_sign, verify,
};
use proptest::prelude::*;
use serde_json::Value;
use sm2::dsa::signature::hazmat::PrehashSigner;
use sm2::dsa::signature::{Signer, Verifier};
use sm2::elliptic_curve::sec1::ToSec1Point;
use sm3::{Digest, Sm3};

const TEST_AK: &str = "TESTAK0123456789ABCD";
const TEST_SK: &str = "testSecretKey0123456789abcdefghijklmnopqr";
/// The fixed vectors' date, 2024-01-01T00:00:00Z.
const VECTORS_NOW: i64 = 1_704_067_200;
/// An instant amid the live captures (2026-12-01T07:05:00Z; they are dated 07:02:38 to
/// 07:06:28).
const CAPTURES_NOW: i64 = 1_796_108_700;

const VECTORS: &str = include_str!("data/vectors.json");
const CAPTURES: &str = include_str!("data/live-captures.json");
const DERIVED_KEYS: &str = include_str!("data/derived-keys.json");
const SM2_QUIRK: &str = include_str!("data/sm2-quirk.json");

/// What each test credential carries for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tenant {
    domain: &'static str,
}

fn credential(ak: &str, sk: &str) -> Arc<Credential<Tenant>> {
    Arc::new(Credential::new(
        ak,
        SecretString::from(sk),
        Tenant { domain: "domain-1" },
    ))
}

/// A lookup that knows exactly one access key.
fn only(cred: Arc<Credential<Tenant>>) -> impl Fn(&str) -> Option<Arc<Credential<Tenant>>> {
    move |ak: &str| (ak == cred.access_key()).then(|| Arc::clone(&cred))
}

fn test_lookup() -> impl Fn(&str) -> Option<Arc<Credential<Tenant>>> {
    only(credential(TEST_AK, TEST_SK))
}

/// An owned request the tests can tamper with, lent to the verifier as a [`RawRequest`].
#[derive(Clone, Debug)]
struct Req {
    method: String,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Req {
    fn raw(&self) -> RawRequest<'_> {
        let mut raw = RawRequest::from_target(&self.method, &self.target, &self.body);
        for (name, value) in &self.headers {
            raw.push_header(name, value);
        }
        raw
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(have, _)| have.eq_ignore_ascii_case(name))
            .map(|(_, value)| String::from_utf8(value.clone()).unwrap())
    }

    fn set_header(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        let value = value.into();
        match self
            .headers
            .iter_mut()
            .find(|(have, _)| have.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => self.headers.push((name.to_owned(), value)),
        }
    }

    fn remove_header(&mut self, name: &str) {
        self.headers
            .retain(|(have, _)| !have.eq_ignore_ascii_case(name));
    }

    fn authorization(&self) -> String {
        self.header("authorization").unwrap()
    }

    fn verify_at(&self, now: i64) -> Result<kms_server::signing::Verified<Tenant>, AuthFailure> {
        verify(&self.raw(), &test_lookup(), now)
    }
}

fn vectors() -> Vec<(String, Req)> {
    let all: Vec<Value> = serde_json::from_str(VECTORS).unwrap();
    all.iter()
        .map(|v| {
            let headers = v["headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().as_bytes().to_vec()))
                .collect();
            let req = Req {
                method: v["method"].as_str().unwrap().to_owned(),
                target: v["uri"].as_str().unwrap().to_owned(),
                headers,
                body: v["body"].as_str().unwrap().as_bytes().to_vec(),
            };
            (v["alg"].as_str().unwrap().to_owned(), req)
        })
        .collect()
}

fn captures() -> Vec<Req> {
    let all: Vec<Value> = serde_json::from_str(CAPTURES).unwrap();
    all.iter()
        .map(|c| Req {
            method: c["method"].as_str().unwrap().to_owned(),
            target: c["raw_path"].as_str().unwrap().to_owned(),
            headers: c["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|pair| {
                    (
                        pair[0].as_str().unwrap().to_owned(),
                        pair[1].as_str().unwrap().as_bytes().to_vec(),
                    )
                })
                .collect(),
            body: Base64::decode_vec(c["body_b64"].as_str().unwrap()).unwrap(),
        })
        .collect()
}

fn quirk_cases() -> Vec<Value> {
    serde_json::from_str(SM2_QUIRK).unwrap()
}

fn quirk_request(case: &Value) -> Req {
    Req {
        method: case["method"].as_str().unwrap().to_owned(),
        target: case["uri"].as_str().unwrap().to_owned(),
        headers: case["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().as_bytes().to_vec()))
            .collect(),
        body: case["body"].as_str().unwrap().as_bytes().to_vec(),
    }
}

/// The POST vector of each algorithm.
fn post_vector(alg: Algorithm) -> Req {
    vectors()
        .into_iter()
        .find(|(name, req)| name == alg.name() && req.method == "POST")
        .unwrap()
        .1
}

fn reason(result: Result<kms_server::signing::Verified<Tenant>, AuthFailure>) -> FailureReason {
    result.expect_err("must be refused").reason()
}

fn hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(bytes)
}

/// Replaces the `Signature=` of an `Authorization` value.
fn with_signature(authorization: &str, signature_hex: &str) -> String {
    let (head, _) = authorization.split_once("Signature=").unwrap();
    format!("{head}Signature={signature_hex}")
}

/// Signs `req` the way the SDKs do, over the given SignedHeaders (HMAC algorithms), using
/// the crate's canonical builder (checked against the SDK vectors above).
fn sign_hmac(req: &mut Req, alg: Algorithm, ak: &str, sk: &str, signed_headers: &str) {
    req.remove_header("authorization");
    let canonical = canonical_request(&req.raw(), alg, signed_headers).unwrap();
    let date = req.header("x-sdk-date").unwrap_or_default();
    let sts = string_to_sign(alg, &date, &canonical);
    let tag = match alg {
        Algorithm::HmacSha256 => {
            let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(sk.as_bytes()).unwrap();
            mac.update(sts.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Algorithm::HmacSm3 => {
            let mut mac = <Hmac<Sm3> as KeyInit>::new_from_slice(sk.as_bytes()).unwrap();
            mac.update(sts.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        _ => panic!("not an HMAC algorithm"),
    };
    req.set_header(
        "Authorization",
        format!(
            "{} Access={ak}, SignedHeaders={signed_headers}, Signature={}",
            alg.name(),
            hex(&tag)
        ),
    );
}

// ---------------------------------------------------------------------------------------
// The SDK's own output verifies.

#[test]
fn all_twelve_fixed_vectors_verify() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 12);
    for (alg, req) in &vectors {
        let verified = req
            .verify_at(VECTORS_NOW)
            .unwrap_or_else(|f| panic!("{alg} {} {}: {f:?}", req.method, req.target));
        assert_eq!(verified.algorithm().name(), alg);
        assert_eq!(verified.access_key(), TEST_AK);
        assert_eq!(verified.attached(), &Tenant { domain: "domain-1" });
        assert_eq!(verified.signed_at(), VECTORS_NOW);
        assert!(verified.is_signed("X-Project-Id"));
        assert!(verified.is_signed("host"));
        assert!(!verified.is_signed("accept"));
    }
    for alg in Algorithm::ALL {
        assert_eq!(
            vectors.iter().filter(|(a, _)| a == alg.name()).count(),
            3,
            "{alg}"
        );
    }
}

#[test]
fn first_vector_canonical_request_and_string_to_sign_are_the_documented_ones() {
    let (alg, req) = &vectors()[0];
    assert_eq!(alg, "SDK-HMAC-SHA256");
    let canonical = canonical_request(
        &req.raw(),
        Algorithm::HmacSha256,
        "content-type;host;user-agent;x-project-id;x-sdk-date",
    )
    .unwrap();
    assert_eq!(
        canonical,
        "POST\n\
         /v1.0/0123456789abcdef0123456789abcdef/kms/create-ec-datakey-pair/\n\
         \n\
         content-type:application/json;charset=utf-8\n\
         host:127.0.0.1:8443\n\
         user-agent:huaweicloud-usdk-python/3.0; test\n\
         x-project-id:0123456789abcdef0123456789abcdef\n\
         x-sdk-date:20240101T000000Z\n\
         \n\
         content-type;host;user-agent;x-project-id;x-sdk-date\n\
         4218df0400836eaaeb3d78e2a51ce718a019b423320e0fb7bcfe19423b39d2f4"
    );
    assert_eq!(
        canonical.lines().last(),
        Some("4218df0400836eaaeb3d78e2a51ce718a019b423320e0fb7bcfe19423b39d2f4")
    );
    let sts = string_to_sign(Algorithm::HmacSha256, "20240101T000000Z", &canonical);
    assert_eq!(
        sts,
        "SDK-HMAC-SHA256\n20240101T000000Z\n\
         6d1f000240e2433286083c7bd9bf8242a757131489b606573ebe6f4cdd5030a6"
    );
    assert!(
        req.authorization().ends_with(
            "Signature=511a2fd4dcb46000ca705989582711da1e57502ca178b3bc26eb3df0a7b21d18"
        )
    );
}

#[test]
fn get_and_delete_vectors_canonicalise_query_and_non_ascii_path() {
    let all = vectors();
    let get = &all[1].1;
    let canonical = canonical_request(&get.raw(), Algorithm::HmacSha256, "x-sdk-date").unwrap();
    let lines: Vec<&str> = canonical.lines().collect();
    assert_eq!(lines[0], "GET");
    assert_eq!(
        lines[1],
        "/v1.0/0123456789abcdef0123456789abcdef/kms/aliases/"
    );
    assert_eq!(lines[2], "key_id=k1&limit=10&marker=a%20b%2Fc");
    // An empty body hashes as H("").
    assert_eq!(
        lines.last().copied(),
        Some(Algorithm::HmacSha256.hash_hex(b"").as_str())
    );
    let delete = &all[2].1;
    let canonical = canonical_request(&delete.raw(), Algorithm::HmacSm3, "x-sdk-date").unwrap();
    let lines: Vec<&str> = canonical.lines().collect();
    assert_eq!(lines[0], "DELETE");
    assert_eq!(
        lines[1],
        "/v1.0/0123456789abcdef0123456789abcdef/kms/k1/tags/tag%20key%3A%C3%BC/"
    );
    assert_eq!(
        lines.last().copied(),
        Some(Algorithm::HmacSm3.hash_hex(b"").as_str())
    );
}

#[test]
fn all_live_captures_verify_with_an_injected_clock() {
    let captures = captures();
    assert_eq!(captures.len(), 24);
    let mut seen = Vec::new();
    for req in &captures {
        let verified = req
            .verify_at(CAPTURES_NOW)
            .unwrap_or_else(|f| panic!("{} {}: {f:?}", req.method, req.target));
        assert_eq!(verified.access_key(), TEST_AK);
        seen.push(verified.algorithm());
    }
    for alg in Algorithm::ALL {
        assert!(seen.contains(&alg), "no capture signed with {alg}");
    }
    // The IAM project lookup, `GET /` and the literal `{project_id}` are signed too: they
    // verify here, and the router decides what to answer.
    for target in [
        "/v3/projects?name=local-1",
        "/",
        "/v1.0/%7Bproject_id%7D/kms/encrypt-datakey",
    ] {
        let req = captures.iter().find(|r| r.target == target).unwrap();
        assert!(req.verify_at(CAPTURES_NOW).is_ok(), "{target}");
    }
}

#[test]
fn derived_keys_are_the_documented_ones() {
    let keys: Value = serde_json::from_str(DERIVED_KEYS).unwrap();
    let ak = keys["ak"].as_str().unwrap();
    let sk = SecretString::from(keys["sk"].as_str().unwrap());
    assert_eq!((ak, sk.expose_secret()), (TEST_AK, TEST_SK));
    for alg in [Algorithm::EcdsaP256Sha256, Algorithm::Sm2Sm3] {
        let expected = &keys[alg.name()];
        let public = derive_public_key(alg, ak, &sk).unwrap();
        assert_eq!(
            hex(&public),
            expected["public_uncompressed_hex"].as_str().unwrap(),
            "{alg}"
        );
        let private = derive_private_key(alg, ak, &sk).unwrap();
        assert_eq!(
            hex(private.expose_secret()),
            expected["d_hex"].as_str().unwrap(),
            "{alg}"
        );
    }
    for alg in [Algorithm::HmacSha256, Algorithm::HmacSm3] {
        assert!(derive_public_key(alg, ak, &sk).is_err());
        assert!(derive_private_key(alg, ak, &sk).is_err());
    }
}

// ---------------------------------------------------------------------------------------
// Tampering: each refused.

/// Flips the low bit of one byte of `text` at `index`, keeping it printable ASCII.
fn flip(text: &str, index: usize) -> String {
    let mut bytes = text.as_bytes().to_vec();
    bytes[index] ^= 0x01;
    String::from_utf8(bytes).unwrap()
}

#[test]
fn a_body_changed_by_one_byte_is_refused() {
    for alg in Algorithm::ALL {
        let mut req = post_vector(alg);
        req.body[10] ^= 0x01;
        assert_eq!(
            reason(req.verify_at(VECTORS_NOW)),
            FailureReason::SignatureMismatch,
            "{alg}"
        );
        let mut req = post_vector(alg);
        req.body.push(b' ');
        assert_eq!(
            reason(req.verify_at(VECTORS_NOW)),
            FailureReason::SignatureMismatch,
            "{alg}"
        );
    }
}

#[test]
fn a_path_changed_by_one_byte_is_refused() {
    for alg in Algorithm::ALL {
        let mut req = post_vector(alg);
        let at = req.target.len() - 3;
        req.target = flip(&req.target, at);
        assert_eq!(
            reason(req.verify_at(VECTORS_NOW)),
            FailureReason::SignatureMismatch,
            "{alg}"
        );
        // A trailing slash is what the canonical form adds: the same canonical request.
        let mut req = post_vector(alg);
        req.target.push('/');
        assert!(req.verify_at(VECTORS_NOW).is_ok(), "{alg}");
    }
}

#[test]
fn a_query_changed_by_one_byte_is_refused() {
    for (alg, get) in vectors().into_iter().filter(|(_, r)| r.method == "GET") {
        assert!(get.verify_at(VECTORS_NOW).is_ok());
        let (path, query) = get.target.split_once('?').unwrap();
        for at in [0, query.find("limit=10").unwrap() + 6, query.len() - 1] {
            let mut req = get.clone();
            req.target = format!("{path}?{}", flip(query, at));
            assert_eq!(
                reason(req.verify_at(VECTORS_NOW)),
                FailureReason::SignatureMismatch,
                "{alg} {}",
                req.target
            );
        }
        // Dropping the query, or adding a parameter, is refused too.
        let mut req = get.clone();
        req.target = get.target.split_once('?').unwrap().0.to_owned();
        assert_eq!(
            reason(req.verify_at(VECTORS_NOW)),
            FailureReason::SignatureMismatch
        );
        let mut req = get.clone();
        req.target.push_str("&x=1");
        assert_eq!(
            reason(req.verify_at(VECTORS_NOW)),
            FailureReason::SignatureMismatch
        );
        // Reordering the parameters is the same canonical query.
        let mut req = get.clone();
        let path = get.target.split_once('?').unwrap().0;
        req.target = format!("{path}?marker=a%20b%2Fc&limit=10&key_id=k1");
        assert!(req.verify_at(VECTORS_NOW).is_ok(), "{alg}");
    }
}

#[test]
fn a_signed_header_changed_by_one_byte_is_refused() {
    for alg in Algorithm::ALL {
        for name in ["Content-Type", "User-Agent", "X-Project-Id", "Host"] {
            let mut req = post_vector(alg);
            let value = req.header(name).unwrap();
            req.set_header(name, flip(&value, value.len() - 1));
            assert_eq!(
                reason(req.verify_at(VECTORS_NOW)),
                FailureReason::SignatureMismatch,
                "{alg} {name}"
            );
        }
        // An unsigned header may change freely.
        let mut req = post_vector(alg);
        req.set_header("Accept", "*/*");
        assert!(req.verify_at(VECTORS_NOW).is_ok());
    }
}

#[test]
fn a_date_changed_by_one_byte_is_refused() {
    for alg in Algorithm::ALL {
        let mut req = post_vector(alg);
        // 20240101T000000Z -> 20240101T000001Z: still inside the window, so it is the
        // signature that refuses it.
        req.set_header("X-Sdk-Date", "20240101T000001Z");
        assert_eq!(
            reason(req.verify_at(VECTORS_NOW)),
            FailureReason::SignatureMismatch,
            "{alg}"
        );
        let mut req = post_vector(alg);
        req.set_header("X-Sdk-Date", "20240101T000000z");
        assert_eq!(
            reason(req.verify_at(VECTORS_NOW)),
            FailureReason::MalformedDate,
            "{alg}"
        );
    }
}

#[test]
fn the_date_window_is_fifteen_minutes_each_way() {
    for alg in Algorithm::ALL {
        let req = post_vector(alg);
        for minutes in [-14, -1, 0, 1, 14, 15, -15] {
            assert!(
                req.verify_at(VECTORS_NOW + minutes * 60).is_ok(),
                "{alg} {minutes}"
            );
        }
        for minutes in [16, -16] {
            assert_eq!(
                reason(req.verify_at(VECTORS_NOW + minutes * 60)),
                FailureReason::DateOutOfWindow,
                "{alg} {minutes}"
            );
        }
        assert_eq!(
            reason(req.verify_at(VECTORS_NOW + 15 * 60 + 1)),
            FailureReason::DateOutOfWindow
        );
        assert_eq!(
            reason(req.verify_at(i64::MIN)),
            FailureReason::DateOutOfWindow
        );
        assert_eq!(
            reason(req.verify_at(i64::MAX)),
            FailureReason::DateOutOfWindow
        );
    }
}

#[test]
fn an_unknown_access_key_is_refused() {
    for alg in Algorithm::ALL {
        let req = post_vector(alg);
        let nobody = |_: &str| -> Option<Arc<Credential<Tenant>>> { None };
        let failure = verify(&req.raw(), &nobody, VECTORS_NOW).unwrap_err();
        assert_eq!(failure.reason(), FailureReason::UnknownAccessKey);
        assert_eq!(failure.access_key(), Some(TEST_AK));
        // Another AK in the header, same signature.
        let mut req = post_vector(alg);
        let auth = req.authorization().replace(TEST_AK, "TESTAK0123456789ABCE");
        req.set_header("Authorization", auth);
        assert_eq!(
            reason(req.verify_at(VECTORS_NOW)),
            FailureReason::UnknownAccessKey
        );
        // A lookup that answers with some other AK's credential is not trusted.
        let wrong = credential("SOMEONE-ELSE", TEST_SK);
        let confused = move |_: &str| Some(Arc::clone(&wrong));
        let failure = verify(&post_vector(alg).raw(), &confused, VECTORS_NOW).unwrap_err();
        assert_eq!(failure.reason(), FailureReason::UnknownAccessKey);
    }
}

#[test]
fn a_wrong_secret_key_is_refused() {
    for alg in Algorithm::ALL {
        let req = post_vector(alg);
        for sk in [
            "testSecretKey0123456789abcdefghijklmnopqR",
            "testSecretKey0123456789abcdefghijklmnopq",
            "",
        ] {
            let lookup = only(credential(TEST_AK, sk));
            let failure = verify(&req.raw(), &lookup, VECTORS_NOW).unwrap_err();
            assert_eq!(
                failure.reason(),
                FailureReason::SignatureMismatch,
                "{alg} {sk:?}"
            );
        }
    }
}

#[test]
fn a_signed_header_missing_from_the_request_is_refused() {
    for alg in Algorithm::ALL {
        for name in [
            "content-type",
            "host",
            "user-agent",
            "x-project-id",
            "x-sdk-date",
        ] {
            let mut req = post_vector(alg);
            req.remove_header(name);
            assert_eq!(
                reason(req.verify_at(VECTORS_NOW)),
                FailureReason::MissingSignedHeader,
                "{alg} {name}"
            );
        }
    }
}

#[test]
fn a_signed_header_given_twice_is_refused() {
    let mut req = post_vector(Algorithm::HmacSha256);
    req.headers.push((
        "x-project-id".to_owned(),
        b"0123456789abcdef0123456789abcdef".to_vec(),
    ));
    assert_eq!(
        reason(req.verify_at(VECTORS_NOW)),
        FailureReason::DuplicateSignedHeader
    );
    let mut req = post_vector(Algorithm::HmacSha256);
    let auth = req.authorization();
    req.headers
        .push(("authorization".to_owned(), auth.into_bytes()));
    assert_eq!(
        reason(req.verify_at(VECTORS_NOW)),
        FailureReason::MalformedAuthorization
    );
}

#[test]
fn an_unsupported_algorithm_is_refused() {
    let req = post_vector(Algorithm::HmacSha256);
    for other in [
        "SDK-HMAC-SHA512",
        "sdk-hmac-sha256",
        "V11-HMAC-SHA256",
        "SDK-HMAC-SHA256X",
        "AWS4-HMAC-SHA256",
    ] {
        let mut req = req.clone();
        let auth = req.authorization().replacen("SDK-HMAC-SHA256", other, 1);
        req.set_header("Authorization", auth);
        assert_eq!(
            reason(req.verify_at(VECTORS_NOW)),
            FailureReason::UnsupportedAlgorithm,
            "{other}"
        );
    }
    // The right algorithm name on another algorithm's signature does not verify either.
    let mut sm3 = post_vector(Algorithm::HmacSm3);
    let auth = sm3
        .authorization()
        .replacen("SDK-HMAC-SM3", "SDK-HMAC-SHA256", 1);
    sm3.set_header("Authorization", auth);
    assert_eq!(
        reason(sm3.verify_at(VECTORS_NOW)),
        FailureReason::SignatureMismatch
    );
}

#[test]
fn x_sdk_date_must_be_signed() {
    // The vector with x-sdk-date struck from its list.
    let mut req = post_vector(Algorithm::HmacSha256);
    let auth = req.authorization().replace(";x-sdk-date", "");
    req.set_header("Authorization", auth);
    assert_eq!(
        reason(req.verify_at(VECTORS_NOW)),
        FailureReason::DateNotSigned
    );
    // A request properly signed over a list without it is refused all the same.
    for alg in [Algorithm::HmacSha256, Algorithm::HmacSm3] {
        let mut req = post_vector(alg);
        sign_hmac(
            &mut req,
            alg,
            TEST_AK,
            TEST_SK,
            "content-type;host;user-agent;x-project-id",
        );
        assert_eq!(
            reason(req.verify_at(VECTORS_NOW)),
            FailureReason::DateNotSigned
        );
        // ... and with no X-Sdk-Date at all.
        req.remove_header("x-sdk-date");
        assert_eq!(
            reason(req.verify_at(VECTORS_NOW)),
            FailureReason::DateNotSigned
        );
    }
    // Signed but absent.
    let mut req = post_vector(Algorithm::HmacSha256);
    req.remove_header("X-Sdk-Date");
    assert_eq!(
        reason(req.verify_at(VECTORS_NOW)),
        FailureReason::MissingSignedHeader
    );
}

#[test]
fn every_failure_tells_the_client_the_same_thing_and_logs_no_secret() {
    let req = post_vector(Algorithm::HmacSha256);
    let signature = req
        .authorization()
        .split_once("Signature=")
        .unwrap()
        .1
        .to_owned();
    let mut failures = vec![
        reason_of(&req, VECTORS_NOW + 3600),
        verify(
            &req.raw(),
            &only(credential(TEST_AK, "wrong-secret")),
            VECTORS_NOW,
        )
        .unwrap_err(),
    ];
    let mut no_auth = req.clone();
    no_auth.remove_header("authorization");
    failures.push(reason_of(&no_auth, VECTORS_NOW));
    let reasons: Vec<FailureReason> = failures.iter().map(AuthFailure::reason).collect();
    assert_eq!(
        reasons,
        [
            FailureReason::DateOutOfWindow,
            FailureReason::SignatureMismatch,
            FailureReason::MissingAuthorization
        ]
    );
    for failure in &failures {
        assert_eq!(failure.to_string(), AuthFailure::CLIENT_MESSAGE);
        let logged = format!("{failure:?} {}", failure.reason());
        assert!(
            !logged.contains(TEST_SK) && !logged.contains("wrong-secret"),
            "{logged}"
        );
        assert!(!logged.contains(&signature), "{logged}");
    }
    assert_eq!(AuthFailure::ERROR_CODE, "APIGW.0301");
    // The SK never shows in a credential's Debug either.
    let shown = format!("{:?}", credential(TEST_AK, TEST_SK));
    assert!(!shown.contains(TEST_SK), "{shown}");
}

fn reason_of(req: &Req, now: i64) -> AuthFailure {
    req.verify_at(now).unwrap_err()
}

#[test]
fn malformed_inputs_are_refused_with_a_reason() {
    let base = post_vector(Algorithm::HmacSha256);
    let auth = base.authorization();
    let cases: Vec<(&str, Vec<u8>, FailureReason)> = vec![
        ("empty", Vec::new(), FailureReason::MalformedAuthorization),
        (
            "no fields",
            b"SDK-HMAC-SHA256".to_vec(),
            FailureReason::MalformedAuthorization,
        ),
        (
            "non-UTF-8",
            [auth.as_bytes(), b"\xff"].concat(),
            FailureReason::MalformedAuthorization,
        ),
        (
            "huge",
            format!("{auth}{}", "0".repeat(10_000)).into_bytes(),
            FailureReason::MalformedAuthorization,
        ),
        (
            "odd hex",
            with_signature(&auth, "abc").into_bytes(),
            FailureReason::MalformedSignature,
        ),
        (
            "not hex",
            with_signature(&auth, &"zz".repeat(32)).into_bytes(),
            FailureReason::MalformedAuthorization,
        ),
        (
            "short HMAC",
            with_signature(&auth, "00").into_bytes(),
            FailureReason::MalformedSignature,
        ),
        (
            "field twice",
            format!("{auth}, Access=X").into_bytes(),
            FailureReason::MalformedAuthorization,
        ),
        (
            "unknown field",
            format!("{auth}, Credential=X").into_bytes(),
            FailureReason::MalformedAuthorization,
        ),
        (
            "empty signed header",
            auth.replace("host;", ";").into_bytes(),
            FailureReason::MalformedAuthorization,
        ),
        (
            "newline",
            auth.replace("host;", "ho\nst;").into_bytes(),
            FailureReason::MalformedAuthorization,
        ),
    ];
    for (what, value, expected) in cases {
        let mut req = base.clone();
        req.set_header("Authorization", value);
        assert_eq!(reason(req.verify_at(VECTORS_NOW)), expected, "{what}");
    }
    // Fields may come in any order and with extra spaces.
    let mut req = base.clone();
    let parsed = kms_server::signing::Authorization::parse(&auth).unwrap();
    req.set_header(
        "Authorization",
        format!(
            "SDK-HMAC-SHA256 Signature={} ,SignedHeaders={},  Access={}",
            parsed.signature_hex().to_ascii_uppercase(),
            parsed.signed_headers(),
            parsed.access_key()
        ),
    );
    assert!(req.verify_at(VECTORS_NOW).is_ok());

    // A bad DER signature on the asymmetric algorithms.
    for alg in [Algorithm::EcdsaP256Sha256, Algorithm::Sm2Sm3] {
        let mut req = post_vector(alg);
        let auth = req.authorization();
        let der = auth.split_once("Signature=").unwrap().1.to_owned();
        for bad in [&der[..der.len() - 2], "3000", "00", &format!("{der}00")] {
            req.set_header("Authorization", with_signature(&auth, bad));
            assert_eq!(
                reason(req.verify_at(VECTORS_NOW)),
                FailureReason::MalformedSignature,
                "{alg} {bad}"
            );
        }
    }

    // A non-UTF-8 or control-character signed header value.
    for value in [&b"huaweicloud-usdk\xff"[..], b"a\nb", b"a\0b"] {
        let mut req = base.clone();
        req.set_header("User-Agent", value.to_vec());
        assert_eq!(
            reason(req.verify_at(VECTORS_NOW)),
            FailureReason::InvalidHeaderValue
        );
    }
    // Bad percent-encoding in the path or the query.
    for target in ["/v1.0/%zz/kms", "/v1.0/p/kms/x%", "/v1.0/p/kms?a=%4"] {
        let mut req = base.clone();
        req.target = target.to_owned();
        assert_eq!(
            reason(req.verify_at(VECTORS_NOW)),
            FailureReason::MalformedTarget,
            "{target}"
        );
    }
    // A method that is no token.
    let mut req = base.clone();
    req.method = "PO ST".to_owned();
    assert_eq!(
        reason(req.verify_at(VECTORS_NOW)),
        FailureReason::MalformedMethod
    );
}

// ---------------------------------------------------------------------------------------
// What the server accepts where the SDKs differ.

#[test]
fn the_clients_own_signed_headers_list_is_used() {
    // Go signs user-agent;x-project-id;x-sdk-date, Java host;user-agent;x-project-id;x-sdk-date.
    for alg in [Algorithm::HmacSha256, Algorithm::HmacSm3] {
        for list in [
            "user-agent;x-project-id;x-sdk-date",
            "host;user-agent;x-project-id;x-sdk-date",
            "x-sdk-date",
            "X-Sdk-Date;Host",
        ] {
            let mut req = post_vector(alg);
            sign_hmac(&mut req, alg, TEST_AK, TEST_SK, list);
            let verified = req
                .verify_at(VECTORS_NOW)
                .unwrap_or_else(|f| panic!("{list}: {f:?}"));
            assert_eq!(
                verified.is_signed("content-type"),
                list.contains("content-type")
            );
            // Unsigned headers may change; signed ones may not.
            let mut changed = req.clone();
            changed.set_header("Content-Type", "text/plain");
            assert_eq!(
                changed.verify_at(VECTORS_NOW).is_ok(),
                !list.contains("content-type")
            );
            let mut changed = req.clone();
            changed.set_header("X-Sdk-Date", "20240101T000001Z");
            assert!(changed.verify_at(VECTORS_NOW).is_err());
        }
    }
}

#[test]
fn signed_header_values_are_trimmed_as_the_sdks_sign_them() {
    let mut req = post_vector(Algorithm::HmacSha256);
    req.set_header("User-Agent", " \thuaweicloud-usdk-python/3.0; test \t");
    assert!(req.verify_at(VECTORS_NOW).is_ok());
    // Inner white space is kept.
    req.set_header("User-Agent", "huaweicloud-usdk-python/3.0;  test");
    assert_eq!(
        reason(req.verify_at(VECTORS_NOW)),
        FailureReason::SignatureMismatch
    );
}

#[test]
fn a_signed_body_digest_header_must_be_the_bodys_digest() {
    for alg in [Algorithm::HmacSha256, Algorithm::HmacSm3] {
        let header = if alg == Algorithm::HmacSm3 {
            "X-Sdk-Content-Sm3"
        } else {
            "X-Sdk-Content-Sha256"
        };
        let list = format!("{};host;x-sdk-date", header.to_ascii_lowercase());
        let base = post_vector(alg);

        let mut req = base.clone();
        req.set_header(header, alg.hash_hex(&base.body).to_ascii_uppercase());
        sign_hmac(&mut req, alg, TEST_AK, TEST_SK, &list);
        assert!(req.verify_at(VECTORS_NOW).is_ok(), "{alg}");
        let mut tampered = req.clone();
        tampered.body[3] ^= 1;
        assert_eq!(
            reason(tampered.verify_at(VECTORS_NOW)),
            FailureReason::ContentDigestMismatch,
            "{alg}"
        );

        // The server refuses before it checks the signature: any will do.
        let mut req = base.clone();
        req.set_header(header, "UNSIGNED-PAYLOAD");
        req.set_header(
            "Authorization",
            format!(
                "{alg} Access={TEST_AK}, SignedHeaders={list}, Signature={}",
                "0".repeat(64)
            ),
        );
        assert_eq!(
            reason(req.verify_at(VECTORS_NOW)),
            FailureReason::UnsignedPayload,
            "{alg}"
        );

        // Unsigned, the header is ignored and the body is hashed.
        let mut req = base.clone();
        req.set_header(header, "UNSIGNED-PAYLOAD");
        assert!(req.verify_at(VECTORS_NOW).is_ok(), "{alg}");
    }
}

// ---------------------------------------------------------------------------------------
// SDK-SM2-SM3 and the Python SDK's minimal-length Z_A.

/// a ‖ b ‖ x_G ‖ y_G of the SM2 curve (GB/T 32918.5), written out independently of the
/// crate's own table.
const SM2_CURVE_HEX: &str = concat!(
    "fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc",
    "28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93",
    "32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7",
    "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0",
);

/// Z_A as the Python SDK computes it: every field as a minimal-length big-endian integer.
fn python_sdk_za(public_uncompressed: &[u8]) -> [u8; 32] {
    fn minimal(bytes: &[u8]) -> &[u8] {
        let zeros = bytes.iter().take_while(|&&b| b == 0).count();
        &bytes[zeros..]
    }
    let curve = base16ct::lower::decode_vec(SM2_CURVE_HEX).unwrap();
    let mut sm3 = Sm3::new();
    sm3.update([0x00, 0x80]);
    sm3.update(b"1234567812345678");
    for field in curve.chunks(32) {
        sm3.update(minimal(field));
    }
    sm3.update(minimal(&public_uncompressed[1..33]));
    sm3.update(minimal(&public_uncompressed[33..65]));
    sm3.finalize().into()
}

fn has_leading_zero_coordinate(public_uncompressed: &[u8]) -> bool {
    public_uncompressed[1] == 0 || public_uncompressed[33] == 0
}

/// The StringToSign of a request as signed: rebuilt from its own Authorization header.
fn string_to_sign_of(req: &Req, alg: Algorithm) -> String {
    let auth = req.authorization();
    let parsed = kms_server::signing::Authorization::parse(&auth).unwrap();
    let canonical = canonical_request(&req.raw(), alg, parsed.signed_headers()).unwrap();
    string_to_sign(alg, &req.header("x-sdk-date").unwrap(), &canonical)
}

fn standard_sm2_verifies(public_uncompressed: &[u8], message: &[u8], der_hex: &str) -> bool {
    let key =
        sm2::dsa::VerifyingKey::from_sec1_bytes("1234567812345678", public_uncompressed).unwrap();
    let der = base16ct::mixed::decode_vec(der_hex).unwrap();
    let signature = sm2::dsa::Signature::from_der(&der).unwrap();
    key.verify(message, &signature).is_ok()
}

#[test]
fn python_sdk_sm2_signatures_verify_for_keys_with_a_leading_zero_coordinate() {
    let cases = quirk_cases();
    assert_eq!(cases.len(), 2);
    let mut which = Vec::new();
    for case in &cases {
        let ak = case["ak"].as_str().unwrap();
        let sk = SecretString::from(case["sk"].as_str().unwrap());
        let expected_public = case["public_uncompressed_hex"].as_str().unwrap();
        // Our derivation agrees with the SDK's.
        let public = derive_public_key(Algorithm::Sm2Sm3, ak, &sk).unwrap();
        assert_eq!(hex(&public), expected_public, "{ak}");
        let private = derive_private_key(Algorithm::Sm2Sm3, ak, &sk).unwrap();
        assert_eq!(
            hex(private.expose_secret()),
            case["d_hex"].as_str().unwrap(),
            "{ak}"
        );
        assert!(has_leading_zero_coordinate(&public), "{ak}");
        which.push(case["leading_zero_in"].as_str().unwrap().to_owned());

        let req = quirk_request(case);
        let lookup = only(credential(ak, sk.expose_secret()));
        let verified =
            verify(&req.raw(), &lookup, CAPTURES_NOW).unwrap_or_else(|f| panic!("{ak}: {f:?}"));
        assert_eq!(verified.algorithm(), Algorithm::Sm2Sm3);

        // The quirk is real: standard SM2 refuses what the SDK signed.
        let sts = string_to_sign_of(&req, Algorithm::Sm2Sm3);
        let auth = req.authorization();
        let der_hex = auth.split_once("Signature=").unwrap().1;
        assert!(
            !standard_sm2_verifies(&public, sts.as_bytes(), der_hex),
            "{ak}"
        );

        // Tampering is still refused on this path.
        let mut tampered = req.clone();
        tampered.body[5] ^= 1;
        assert_eq!(
            reason(verify(&tampered.raw(), &lookup, CAPTURES_NOW)),
            FailureReason::SignatureMismatch
        );
    }
    which.sort();
    assert_eq!(which, ["x", "y"]);
}

#[test]
fn sm2_signatures_under_our_own_sdk_style_za_verify_and_standard_ones_too() {
    let sk = SecretString::from(TEST_SK);
    // Search access keys until one derives a public key with a leading zero coordinate
    // (about one in 128).
    let (ak, public) = (0..5000)
        .map(|i| format!("SEARCHAK{i:012}"))
        .find_map(|ak| {
            let public = derive_public_key(Algorithm::Sm2Sm3, &ak, &sk).unwrap();
            has_leading_zero_coordinate(&public).then_some((ak, public))
        })
        .expect("one key in 128 has a leading zero coordinate");
    let d = derive_private_key(Algorithm::Sm2Sm3, &ak, &sk).unwrap();
    let signing_key =
        sm2::dsa::SigningKey::from_slice("1234567812345678", d.expose_secret()).unwrap();
    assert_eq!(
        signing_key.verifying_key().to_sec1_point(false).as_bytes(),
        public.as_slice()
    );
    let lookup = only(credential(&ak, TEST_SK));

    let mut req = post_vector(Algorithm::Sm2Sm3);
    let list = "content-type;host;user-agent;x-project-id;x-sdk-date";
    req.remove_header("authorization");
    let canonical = canonical_request(&req.raw(), Algorithm::Sm2Sm3, list).unwrap();
    let sts = string_to_sign(Algorithm::Sm2Sm3, "20240101T000000Z", &canonical);
    let sign_with = |req: &mut Req, der: &[u8]| {
        req.set_header(
            "Authorization",
            format!(
                "SDK-SM2-SM3 Access={ak}, SignedHeaders={list}, Signature={}",
                hex(der)
            ),
        );
    };

    // Signed as the Python SDK signs: e = SM3(Z_A' ‖ M) with the minimal-length Z_A'.
    let mut e = Sm3::new();
    e.update(python_sdk_za(&public));
    e.update(sts.as_bytes());
    let e: [u8; 32] = e.finalize().into();
    let quirky: sm2::dsa::Signature = signing_key.sign_prehash(&e).unwrap();
    assert!(!standard_sm2_verifies(
        &public,
        sts.as_bytes(),
        &hex(&quirky.to_der().to_bytes())
    ));
    sign_with(&mut req, &quirky.to_der().to_bytes());
    assert!(
        verify(&req.raw(), &lookup, VECTORS_NOW).is_ok(),
        "SDK Z_A, {ak}"
    );

    // Signed as standard SM2 (Go, Java, OpenSSL): verifies too.
    let standard: sm2::dsa::Signature = signing_key.sign(sts.as_bytes());
    sign_with(&mut req, &standard.to_der().to_bytes());
    assert!(
        verify(&req.raw(), &lookup, VECTORS_NOW).is_ok(),
        "standard Z_A, {ak}"
    );

    // Any other Z_A does not.
    let mut e = Sm3::new();
    e.update([0x5a; 32]);
    e.update(sts.as_bytes());
    let e: [u8; 32] = e.finalize().into();
    let other: sm2::dsa::Signature = signing_key.sign_prehash(&e).unwrap();
    sign_with(&mut req, &other.to_der().to_bytes());
    assert_eq!(
        reason(verify(&req.raw(), &lookup, VECTORS_NOW)),
        FailureReason::SignatureMismatch
    );
}

#[test]
fn for_a_key_without_leading_zeros_both_za_forms_agree() {
    // The test AK's SM2 key (derived-keys.json) has full-length coordinates, so its live
    // capture and fixed vectors verify as standard SM2.
    let sk = SecretString::from(TEST_SK);
    let public = derive_public_key(Algorithm::Sm2Sm3, TEST_AK, &sk).unwrap();
    assert!(!has_leading_zero_coordinate(&public));
    let sm2_vectors: Vec<Req> = vectors()
        .into_iter()
        .filter(|(alg, _)| alg == "SDK-SM2-SM3")
        .map(|(_, req)| req)
        .collect();
    for req in &sm2_vectors {
        let sts = string_to_sign_of(req, Algorithm::Sm2Sm3);
        let auth = req.authorization();
        let der_hex = auth.split_once("Signature=").unwrap().1;
        assert!(standard_sm2_verifies(&public, sts.as_bytes(), der_hex));
    }
    let capture = captures()
        .into_iter()
        .find(|r| r.authorization().starts_with("SDK-SM2-SM3 "))
        .unwrap();
    let sts = string_to_sign_of(&capture, Algorithm::Sm2Sm3);
    let auth = capture.authorization();
    assert!(standard_sm2_verifies(
        &public,
        sts.as_bytes(),
        auth.split_once("Signature=").unwrap().1
    ));
}

#[test]
fn a_credential_serves_many_requests_and_algorithms() {
    // One Credential, derived keys cached inside it, used for every algorithm in turn.
    let cred = credential(TEST_AK, TEST_SK);
    let lookup = only(Arc::clone(&cred));
    for _ in 0..3 {
        for (_, req) in vectors() {
            assert!(verify(&req.raw(), &lookup, VECTORS_NOW).is_ok());
        }
    }
    let verified = verify(&post_vector(Algorithm::Sm2Sm3).raw(), &lookup, VECTORS_NOW).unwrap();
    assert!(Arc::ptr_eq(verified.credential(), &cred));
}

#[test]
fn sdk_dates_parse_as_utc() {
    assert_eq!(parse_sdk_date("20240101T000000Z").unwrap(), VECTORS_NOW);
    assert_eq!(parse_sdk_date("20261201T070500Z").unwrap(), CAPTURES_NOW);
}

// ---------------------------------------------------------------------------------------
// Arbitrary input never panics and never verifies.

fn near_authorization() -> impl Strategy<Value = String> {
    let alg = prop_oneof![
        Just("SDK-HMAC-SHA256".to_owned()),
        Just("SDK-HMAC-SM3".to_owned()),
        Just("SDK-ECDSA-P256-SHA256".to_owned()),
        Just("SDK-SM2-SM3".to_owned()),
        "[ -~]{0,24}",
    ];
    let access = prop_oneof![Just(TEST_AK.to_owned()), "[ -~]{0,40}"];
    let headers = prop_oneof![
        Just("content-type;host;user-agent;x-project-id;x-sdk-date".to_owned()),
        Just("x-sdk-date".to_owned()),
        "[a-z;\\-]{0,60}",
        "[ -~]{0,60}",
    ];
    let signature = prop_oneof![
        "[0-9a-f]{0,160}",
        "[0-9a-fA-F]{64}",
        "30[0-9a-f]{0,150}",
        "[ -~]{0,40}"
    ];
    (alg, access, headers, signature, "[ ,]{0,3}").prop_map(|(alg, access, headers, sig, sep)| {
        format!("{alg} Access={access},{sep}SignedHeaders={headers},{sep}Signature={sig}")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_authorization_strings_never_verify(value in any::<String>()) {
        let mut req = post_vector(Algorithm::HmacSha256);
        req.set_header("Authorization", value.into_bytes());
        prop_assert!(req.verify_at(VECTORS_NOW).is_err());
    }

    #[test]
    fn arbitrary_authorization_bytes_never_verify(value in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut req = post_vector(Algorithm::EcdsaP256Sha256);
        req.set_header("Authorization", value);
        prop_assert!(req.verify_at(VECTORS_NOW).is_err());
    }

    #[test]
    fn near_miss_authorization_headers_never_verify(value in near_authorization()) {
        for alg in Algorithm::ALL {
            let mut req = post_vector(alg);
            req.set_header("Authorization", value.clone().into_bytes());
            prop_assert!(req.verify_at(VECTORS_NOW).is_err(), "{}", value);
        }
    }

    #[test]
    fn arbitrary_targets_headers_and_bodies_never_panic(
        target in "[ -~]{0,80}",
        method in "[ -~]{0,8}",
        value in proptest::collection::vec(any::<u8>(), 0..80),
        body in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let mut req = post_vector(Algorithm::Sm2Sm3);
        req.target = target;
        req.method = method;
        req.set_header("User-Agent", value);
        req.body = body;
        // Anything but the signed request itself is refused.
        prop_assert!(req.verify_at(VECTORS_NOW).is_err());
    }
}
