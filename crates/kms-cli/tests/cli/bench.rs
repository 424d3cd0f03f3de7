//! `kms bench`: the report's shape on both backends, and refused operations reported with
//! their error. Speed is never asserted here; it is measured by the benchmarks.

use std::process::Output;

use serde_json::Value;

use crate::common::{Home, kms};
use crate::pkcs11::{backend_args, exclusive_token};

/// Runs `kms bench <args>` and returns its JSON report; fails the test unless it exits 0
/// with nothing on standard error (no progress bar when piped).
fn bench(backend: &[String], args: &[&str]) -> Value {
    let home = Home::new();
    let output: Output = kms()
        .arg("--home")
        .arg(home.path())
        .args(backend)
        .arg("bench")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !home.path().join("keys.db").exists(),
        "bench must not touch the home's store"
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Asserts one result's fields: the operation, thread count, some calls, no errors, and
/// ordered latency figures.
pub(crate) fn assert_clean_result(result: &Value, op: &str, threads: u64) {
    assert_eq!(result["op"], op, "{result}");
    assert_eq!(result["threads"], threads, "{result}");
    assert_eq!(result["errors"], 0, "{result}");
    assert_eq!(result["errors_by_code"], serde_json::json!({}), "{result}");
    assert_eq!(result["first_error"], Value::Null, "{result}");
    assert!(result["operations"].as_u64().unwrap() > 0, "{result}");
    assert!(result["ops_per_sec"].as_f64().unwrap() > 0.0, "{result}");
    assert!(result["elapsed_secs"].as_f64().unwrap() > 0.0, "{result}");
    let latency = &result["latency_us"];
    let figure = |name: &str| latency[name].as_f64().unwrap();
    assert!(figure("mean") > 0.0, "{result}");
    assert!(figure("min") > 0.0, "{result}");
    for (lower, higher) in [
        ("min", "p50"),
        ("p50", "p95"),
        ("p95", "p99"),
        ("p99", "p99.9"),
        ("p99.9", "p99.99"),
        ("p99.99", "max"),
    ] {
        assert!(
            figure(lower) <= figure(higher),
            "{lower} > {higher}: {result}"
        );
    }
}

#[test]
fn soft_encrypt_datakey_for_a_duration_prints_one_json_report() {
    let report = bench(
        &[],
        &[
            "--op",
            "encrypt-datakey",
            "--threads",
            "1",
            "--duration",
            "1",
            "--json",
        ],
    );
    assert_eq!(report["backend"], "soft");
    assert_eq!(report["duration_secs"], 1.0);
    assert_eq!(report["iterations_per_thread"], Value::Null);
    assert_eq!(report["warmup_per_thread"], 100);
    assert_eq!(report["shared_key"], false);
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_clean_result(&results[0], "encrypt-datakey", 1);
    assert!(results[0]["elapsed_secs"].as_f64().unwrap() >= 1.0);
}

#[test]
fn soft_all_operations_on_one_and_two_threads_report_exact_call_counts() {
    let report = bench(
        &[],
        &[
            "--op",
            "all",
            "--threads",
            "1,2",
            "--iterations",
            "3",
            "--warmup",
            "1",
            "--json",
        ],
    );
    assert_eq!(report["iterations_per_thread"], 3);
    let results = report["results"].as_array().unwrap();
    let expected = [
        "create-datakey",
        "create-datakey-without-plaintext",
        "encrypt-datakey",
        "decrypt-datakey",
        "create-ec-datakey-pair",
        "create-rsa-datakey-pair",
        "get-parameters-for-import",
    ];
    assert_eq!(results.len(), expected.len() * 2);
    for (pair, op) in results.chunks(2).zip(expected) {
        assert_clean_result(&pair[0], op, 1);
        assert_clean_result(&pair[1], op, 2);
        assert_eq!(pair[0]["operations"], 3);
        assert_eq!(pair[1]["operations"], 6);
    }
}

#[test]
fn soft_threads_can_share_one_hot_key() {
    let report = bench(
        &[],
        &[
            "--op",
            "encrypt-datakey",
            "--op",
            "decrypt-datakey",
            "--threads",
            "2",
            "--iterations",
            "500",
            "--shared-key",
            "--json",
        ],
    );
    assert_eq!(report["shared_key"], true);
    let results = report["results"].as_array().unwrap();
    assert_clean_result(&results[0], "encrypt-datakey", 2);
    assert_clean_result(&results[1], "decrypt-datakey", 2);
    assert_eq!(results[0]["operations"], 1000);
    assert_eq!(results[1]["operations"], 1000);
}

#[test]
fn pkcs11_encrypt_datakey_for_a_duration_prints_one_json_report() {
    let _token = exclusive_token();
    let report = bench(
        &backend_args(),
        &[
            "--op",
            "encrypt-datakey",
            "--op",
            "create-ec-datakey-pair",
            "--threads",
            "1,2",
            "--duration",
            "1",
            "--warmup",
            "5",
            "--json",
        ],
    );
    let label = std::env::var("KMS_TEST_PKCS11_LABEL").unwrap_or_else(|_| "kms-test".into());
    assert_eq!(report["backend"], format!("token '{label}'"));
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_clean_result(&results[0], "encrypt-datakey", 1);
    assert_clean_result(&results[1], "encrypt-datakey", 2);
    assert_clean_result(&results[2], "create-ec-datakey-pair", 1);
    assert_clean_result(&results[3], "create-ec-datakey-pair", 2);
}

#[test]
fn an_operation_the_token_cannot_do_is_reported_with_its_error_and_no_timings() {
    let _token = exclusive_token();
    let report = bench(
        &backend_args(),
        &[
            "--op",
            "create-ec-datakey-pair",
            "--ec-spec",
            "SM2",
            "--iterations",
            "5",
            "--json",
        ],
    );
    let result = &report["results"][0];
    assert_eq!(result["op"], "create-ec-datakey-pair");
    assert_eq!(result["operations"], 0);
    assert_eq!(result["errors"], 1);
    assert_eq!(
        result["errors_by_code"],
        serde_json::json!({"KMS.9002": 1}),
        "{result}"
    );
    let error = result["first_error"].as_str().unwrap();
    assert!(error.contains("SM2"), "{error}");
    assert_eq!(result["ops_per_sec"], 0.0);
}

#[test]
fn the_table_names_every_column() {
    let home = Home::new();
    let output = kms()
        .arg("--home")
        .arg(home.path())
        .args(["bench", "--op", "create-datakey", "--iterations", "10"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let table = String::from_utf8(output.stdout).unwrap();
    let mut lines = table.lines();
    assert_eq!(lines.next(), Some("backend: soft"));
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "operation",
            "threads",
            "ops",
            "ops/s",
            "p50",
            "us",
            "p95",
            "us",
            "p99",
            "us",
            "max",
            "us",
            "errors"
        ]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(row[0], "create-datakey");
    assert_eq!(row[1], "1");
    assert_eq!(row[2], "10");
    assert_eq!(row[8], "0");
}
