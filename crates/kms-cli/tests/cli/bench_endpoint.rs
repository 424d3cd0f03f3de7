//! `kms bench --endpoint` against a `kms serve` this test starts: the report's shape with no
//! errors, the bench's CMKs scheduled for deletion after it, a wrong secret key's 401s
//! counted by their code; and `--report`'s SVG and HTML with one series per run. Speed is
//! never asserted here.

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Home, kms};
use crate::serve::{PROJECT, Served, api, post, write_token_credentials};

/// The access key the served credentials file holds.
const AK: &str = "BENCHAK0123456789ABC";
const SK: &str = "bench-secret-key-0123456789";

/// A `kms serve` whose credentials file has the test token and the access key [`AK`], both
/// in [`PROJECT`].
fn serve(home: &Home) -> Served {
    serve_with(home, &[])
}

/// [`serve`] with `kms serve` options.
fn serve_with(home: &Home, options: &[&str]) -> Served {
    let path = write_token_credentials(home, 0o600);
    let mut file = std::fs::read_to_string(&path).unwrap();
    file.push_str(&format!(
        "[[access_keys]]\nak = \"{AK}\"\nsk = \"{SK}\"\ndomain_id = \"d\"\nprojects = [\"{PROJECT}\"]\n"
    ));
    std::fs::write(&path, file).unwrap();
    Served::start_with(home, &[], options)
}

/// `kms --project PROJECT bench --endpoint http://<served> --ak AK --sk-file <sk> <args>`,
/// which must exit 0 with nothing on standard error; its JSON report.
fn bench_endpoint(served: &Served, sk: &str, args: &[&str]) -> Value {
    bench_url(&format!("http://{}", served.addr), sk, args)
}

/// `kms --project PROJECT bench --endpoint url --ak AK --sk-file <sk> <args>`, and the
/// directory of the secret key file (which lives as long as it).
fn bench_command(url: &str, sk: &str, args: &[&str]) -> (Command, Home) {
    let dir = Home::new();
    std::fs::create_dir_all(dir.path()).unwrap();
    let sk_file = dir.path().join("sk");
    std::fs::write(&sk_file, format!("{sk}\n")).unwrap();
    let mut command = kms();
    command
        .args(["--project", PROJECT, "bench", "--endpoint", url])
        .args(["--ak", AK, "--sk-file"])
        .arg(&sk_file)
        .args(args);
    (command, dir)
}

/// [`bench_endpoint`] at `url`.
fn bench_url(url: &str, sk: &str, args: &[&str]) -> Value {
    let (mut command, _dir) = bench_command(url, sk, args);
    let output: Output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(output.stderr.is_empty(), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["backend"], format!("endpoint {url}"));
    report
}

/// A CMK made with the test token; its ID.
fn create_key(served: &Served, alias: &str) -> String {
    let (status, created) = post(
        served.addr,
        &api("create-key"),
        &json!({"key_alias": alias, "key_spec": "AES_256"}),
    )
    .unwrap();
    assert_eq!(status, 200, "{created}");
    created["key_info"]["key_id"].as_str().unwrap().to_owned()
}

/// `kms --project PROJECT bench --endpoint http://<served> --ak AK <args>` with the secret
/// key in `KMS_BENCH_SK`, which must exit 0; its standard output as JSON.
fn bench_with_sk_from_environment(served: &Served, args: &[&str]) -> Value {
    let output = kms()
        .args(["--project", PROJECT, "bench", "--endpoint"])
        .arg(format!("http://{}", served.addr))
        .args(["--ak", AK])
        .args(args)
        .env("KMS_BENCH_SK", SK)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Asserts that the report's one run was refused at its set-up with `code`; its message.
fn refused_with<'r>(report: &'r Value, code: &str) -> &'r str {
    let result = &report["results"][0];
    assert_eq!(result["errors_by_code"], json!({code: 1}), "{result}");
    assert_eq!(result["operations"], 0, "{result}");
    assert_eq!(result["ops_per_sec"], 0.0, "{result}");
    result["first_error"].as_str().unwrap()
}

/// Every key of the project, as list-keys' `key_details`.
fn key_details(served: &Served) -> Vec<Value> {
    let (status, listed) = post(served.addr, &api("list-keys"), &json!({"limit": "1000"})).unwrap();
    assert_eq!(status, 200, "{listed}");
    listed["key_details"].as_array().unwrap().clone()
}

#[test]
fn bench_against_kms_serve_reports_every_run_with_no_errors_and_schedules_its_keys_deletion() {
    let home = Home::new();
    let served = serve(&home);
    let report = bench_endpoint(
        &served,
        SK,
        &[
            "--op",
            "encrypt-datakey",
            "--op",
            "decrypt-datakey",
            "--op",
            "create-ec-datakey-pair",
            "--threads",
            "1,2",
            "--duration",
            "1",
            "--warmup",
            "3",
            "--json",
        ],
    );
    assert_eq!(report["duration_secs"], 1.0);
    let results = report["results"].as_array().unwrap();
    let runs: Vec<(String, u64)> = results
        .iter()
        .map(|result| {
            (
                result["op"].as_str().unwrap().to_owned(),
                result["threads"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, u64)> = [
        "encrypt-datakey",
        "decrypt-datakey",
        "create-ec-datakey-pair",
    ]
    .iter()
    .flat_map(|op| [(op.to_string(), 1), (op.to_string(), 2)])
    .collect();
    assert_eq!(runs, expected);
    for result in results {
        crate::bench::assert_clean_result(
            result,
            result["op"].as_str().unwrap(),
            result["threads"].as_u64().unwrap(),
        );
    }
    // One CMK per thread per run (1 + 2 for each of three operations), each with a
    // `kms-bench/` alias and now pending deletion; nothing else was made.
    let keys = key_details(&served);
    assert_eq!(keys.len(), 9, "{keys:?}");
    for key in &keys {
        assert_eq!(key["key_state"], "4", "{key}");
        assert!(
            key["key_alias"].as_str().unwrap().starts_with("kms-bench/"),
            "{key}"
        );
    }
    let aliases: BTreeSet<&str> = keys
        .iter()
        .map(|key| key["key_alias"].as_str().unwrap())
        .collect();
    assert_eq!(aliases.len(), 9);
}

#[test]
fn the_secret_key_may_come_from_the_environment_and_a_given_key_is_used_and_kept() {
    let home = Home::new();
    let served = serve(&home);
    let key_id = create_key(&served, "kept");
    let report = bench_with_sk_from_environment(
        &served,
        &[
            "--key-id",
            &key_id,
            "--op",
            "encrypt-datakey",
            "--threads",
            "2",
            "--iterations",
            "20",
            "--warmup",
            "0",
            "--json",
        ],
    );
    let result = &report["results"][0];
    crate::bench::assert_clean_result(result, "encrypt-datakey", 2);
    assert_eq!(result["operations"], 40);
    // The given key is the only key, and it stays enabled.
    let keys = key_details(&served);
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["key_id"], key_id);
    assert_eq!(keys[0]["key_state"], "2");
}

#[test]
fn a_wrong_secret_key_gets_401s_and_they_are_counted_by_code() {
    let home = Home::new();
    let served = serve(&home);
    // With a given key, every timed request is sent and answered 401 APIGW.0301.
    let report = bench_endpoint(
        &served,
        "not-the-secret-key",
        &[
            "--key-id",
            "0d0466b0-e727-4d9c-b35d-f84bb474a37f",
            "--op",
            "encrypt-datakey",
            "--threads",
            "2",
            "--iterations",
            "25",
            "--warmup",
            "0",
            "--json",
        ],
    );
    let result = &report["results"][0];
    assert_eq!(result["operations"], 0, "{result}");
    assert_eq!(result["errors"], 50, "{result}");
    assert_eq!(
        result["errors_by_code"],
        json!({"APIGW.0301": 50}),
        "{result}"
    );
    assert!(
        result["first_error"]
            .as_str()
            .unwrap()
            .starts_with("APIGW.0301: HTTP 401"),
        "{result}"
    );
    assert_eq!(result["ops_per_sec"], 0.0);
    // Without one, the run stops at its first create-key, with that 401.
    let report = bench_endpoint(
        &served,
        "not-the-secret-key",
        &["--op", "create-datakey", "--iterations", "5", "--json"],
    );
    let first = refused_with(&report, "APIGW.0301");
    assert!(first.contains("create-key"), "{first}");
    assert!(!first.contains("not-the-secret-key"), "{first}");
    assert!(key_details(&served).is_empty());
}

#[test]
fn bad_endpoint_options_are_refused_with_a_clear_error() {
    for (args, needle) in [
        (
            &["--endpoint", "ftp://127.0.0.1:1", "--ak", "A"][..],
            "give http://host[:port]",
        ),
        (
            &["--endpoint", "http://127.0.0.1:1/v1.0", "--ak", "A"],
            "without a path",
        ),
        (
            &[
                "--endpoint",
                "http://bench:hunter2@127.0.0.1:1",
                "--ak",
                "A",
            ],
            "with credentials",
        ),
        (
            &["--endpoint", "http://hunter2@[::1", "--ak", "A"],
            "with credentials",
        ),
        (
            &["--endpoint", "http://127.0.0.1:1", "--ak", "A"],
            "KMS_BENCH_SK",
        ),
        (&["--report", "plot.png"], ".svg or .html"),
        (
            &[
                "--backend",
                "pkcs11",
                "--pkcs11-module",
                "/none.so",
                "--pkcs11-token-label",
                "t",
                "--endpoint",
                "http://127.0.0.1:1",
                "--ak",
                "A",
            ],
            "drop --backend",
        ),
    ] {
        let output = kms()
            .arg("bench")
            .args(args)
            .env_remove("KMS_BENCH_SK")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let error: Value = serde_json::from_slice(&output.stderr).unwrap();
        assert_eq!(error["error"]["error_code"], "KMS.0308", "{args:?}");
        let message = error["error"]["error_msg"].as_str().unwrap();
        assert!(message.contains(needle), "{args:?}: {message}");
        // A password given in the URL is never repeated.
        assert!(!message.contains("hunter2"), "{args:?}: {message}");
        assert!(output.stdout.is_empty());
    }
}

/// The texts of an SVG's `<text>` elements, trimmed.
fn svg_texts(svg: &str) -> Vec<String> {
    let document = roxmltree::Document::parse(svg).unwrap();
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    root.descendants()
        .filter(|node| node.has_tag_name("text"))
        .filter_map(|node| node.text())
        .map(|text| text.trim().to_owned())
        .collect()
}

/// The polylines of an SVG with at least `points` points: the latency curves (81 points
/// from p0 to p99.99), not the legend's marks or the axes.
fn curves(svg: &str, points: usize) -> usize {
    let document = roxmltree::Document::parse(svg).unwrap();
    document
        .descendants()
        .filter(|node| node.has_tag_name("polyline"))
        .filter(|node| node.attribute("points").unwrap().split_whitespace().count() >= points)
        .count()
}

#[test]
fn report_draws_one_latency_curve_per_operation_and_thread_count_as_svg_or_html() {
    let home = Home::new();
    std::fs::create_dir_all(home.path()).unwrap();
    for name in ["plot.svg", "plot.html"] {
        let path = home.path().join(name);
        let output = kms()
            .arg("--home")
            .arg(home.path())
            .args([
                "bench",
                "--op",
                "encrypt-datakey",
                "--op",
                "decrypt-datakey",
            ])
            .args([
                "--threads",
                "1,2",
                "--iterations",
                "200",
                "--warmup",
                "1",
                "--report",
            ])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let svg = if name.ends_with(".html") {
            assert!(text.starts_with("<!DOCTYPE html>\n"), "{}", &text[..80]);
            assert!(text.trim_end().ends_with("</html>"));
            // The table printed to standard output is in the page too.
            let table = String::from_utf8(output.stdout).unwrap();
            assert!(text.contains(table.lines().nth(2).unwrap()), "{table}");
            let start = text.find("<svg").unwrap();
            let end = text.rfind("</svg>").unwrap() + "</svg>".len();
            text[start..end].to_owned()
        } else {
            text
        };
        let texts = svg_texts(&svg);
        for label in [
            "encrypt-datakey x1",
            "encrypt-datakey x2",
            "decrypt-datakey x1",
            "decrypt-datakey x2",
        ] {
            assert_eq!(
                texts.iter().filter(|text| *text == label).count(),
                1,
                "{label}: {texts:?}"
            );
        }
        // Throughput: one series per operation.
        for label in ["encrypt-datakey", "decrypt-datakey"] {
            assert_eq!(
                texts.iter().filter(|text| *text == label).count(),
                1,
                "{label}: {texts:?}"
            );
        }
        for tick in ["p0", "p90", "p99", "p99.9", "p99.99"] {
            assert!(texts.iter().any(|text| text == tick), "{tick}: {texts:?}");
        }
        assert_eq!(curves(&svg, 81), 4, "{name}");
    }
}

#[test]
fn a_wrk_script_holds_one_pre_signed_request_that_the_server_accepts() {
    let home = Home::new();
    let served = serve(&home);
    let key_id = create_key(&served, "wrk");
    let script_path = home.path().join("encrypt.lua");
    let script_arg = script_path.display().to_string();
    let said = bench_with_sk_from_environment(
        &served,
        &[
            "--key-id",
            &key_id,
            "--op",
            "encrypt-datakey",
            "--wrk-script",
            &script_arg,
        ],
    );
    assert_eq!(said["op"], "encrypt-datakey");
    let script = std::fs::read_to_string(&script_path).unwrap();
    assert!(!script.contains(SK));
    let line = |prefix: &str| {
        script
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("{prefix}: {script}"))
            .to_owned()
    };
    assert_eq!(line("wrk.method = "), "\"POST\"");
    assert_eq!(
        line("wrk.path = "),
        format!("\"{}\"", api("encrypt-datakey"))
    );
    let body = line("wrk.body = [==[")
        .strip_suffix("]==]")
        .unwrap()
        .to_owned();
    let body_json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body_json["key_id"], key_id);
    // The script's request, sent as wrk sends it, is answered 200 with a sealed DEK.
    let mut request = format!("POST {} HTTP/1.1\r\n", api("encrypt-datakey"));
    for header in script
        .lines()
        .filter_map(|line| line.strip_prefix("wrk.headers[\""))
    {
        let (name, value) = header.split_once("\"] = \"").unwrap();
        request.push_str(&format!("{name}: {}\r\n", value.strip_suffix('"').unwrap()));
    }
    request.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    let mut stream = std::net::TcpStream::connect(served.addr).unwrap();
    std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"cipher_text\""), "{answer}");
}

/// Runs `openssl` with `args` in `dir`.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let output = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn an_https_endpoint_is_benched_when_its_ca_is_given_and_refused_when_not() {
    let home = Home::new();
    std::fs::create_dir_all(home.path()).unwrap();
    let dir = home.path();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=bench test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "server.ext",
        ],
    );
    std::fs::set_permissions(
        dir.join("server.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let cert = dir.join("server.pem").display().to_string();
    let key = dir.join("server.key").display().to_string();
    let served = serve_with(&home, &["--tls-cert", &cert, "--tls-key", &key]);
    let url = format!("https://{}", served.addr);
    let ca = dir.join("ca.pem").display().to_string();
    let report = bench_url(
        &url,
        SK,
        &[
            "--ca-file",
            &ca,
            "--op",
            "encrypt-datakey",
            "--iterations",
            "20",
            "--warmup",
            "1",
            "--json",
        ],
    );
    crate::bench::assert_clean_result(&report["results"][0], "encrypt-datakey", 1);
    assert_eq!(report["results"][0]["operations"], 20);
    // Without the CA the certificate is unknown: the run's first request finds no
    // connection, and nothing is made.
    let report = bench_url(
        &url,
        SK,
        &["--op", "encrypt-datakey", "--iterations", "5", "--json"],
    );
    let first = refused_with(&report, "connection");
    assert!(first.contains("certificate"), "{first}");
}

#[test]
fn a_bench_stopped_by_sigint_schedules_its_keys_deletion_reports_its_run_and_exits_130() {
    let home = Home::new();
    let served = serve(&home);
    let url = format!("http://{}", served.addr);
    let (mut command, _dir) = bench_command(
        &url,
        SK,
        &[
            "--op",
            "encrypt-datakey",
            "--op",
            "decrypt-datakey",
            "--threads",
            "2",
            "--duration",
            "300",
            "--json",
        ],
    );
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first run has made its two keys: the timed calls are starting.
    let started = Instant::now();
    while key_details(&served).len() < 2 {
        assert!(started.elapsed() < Duration::from_secs(60), "no bench keys");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let signalled = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    let stopping = Instant::now();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stopping.elapsed() < Duration::from_secs(60), "{stderr}");
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: stopping and cleaning up"),
        "{stderr}"
    );
    // The run under way is reported (its calls until the signal); the next never started.
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{report}");
    crate::bench::assert_clean_result(&results[0], "encrypt-datakey", 2);
    assert!(
        results[0]["elapsed_secs"].as_f64().unwrap() < 60.0,
        "{report}"
    );
    // Its keys await deletion; nothing else was made.
    let keys = key_details(&served);
    assert_eq!(keys.len(), 2, "{keys:?}");
    for key in &keys {
        assert_eq!(key["key_state"], "4", "{key}");
    }
}
