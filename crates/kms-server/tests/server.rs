//! `kms serve`'s HTTP front over a real socket: the engine's JSON behind signed requests,
//! one 401 for every authentication failure, tenancy, hostile clients, and the access log.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests report failure by panicking"
)]

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{AK, AK_B, PROJECT_A, PROJECT_B, SK, SK_B, Setup, SignedRequest, TOKEN, TestServer};
use kms_core::KmsConfig;
use kms_server::Limits;
use serde_json::{Value, json};

fn create_key(server: &TestServer, project: &str, ak: &str, sk: &str) -> String {
    let reply = server.signed(
        "POST",
        &format!("/v1.0/{project}/kms/create-key"),
        &json!({"key_alias": format!("k-{}", rand_hex())}).to_string(),
        ak,
        sk,
    );
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()["key_info"]["key_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn rand_hex() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).unwrap();
    kms_core::encode_hex(&bytes)
}

#[test]
fn signed_requests_get_the_engines_json_and_a_request_id() {
    let server = TestServer::start();
    let key_id = create_key(&server, PROJECT_A, AK, SK);
    let created = server.call(
        PROJECT_A,
        "create-datakey",
        &json!({"key_id": key_id, "datakey_length": "256"}),
    );
    assert_eq!(created.status, 200);
    assert_eq!(
        created.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    let request_id = created.header("x-request-id").unwrap().to_owned();
    assert_eq!(request_id.len(), 32);
    let body = created.json();
    let opened = server.call(
        PROJECT_A,
        "decrypt-datakey",
        &json!({"key_id": key_id, "cipher_text": body["cipher_text"], "datakey_cipher_length": "32"}),
    );
    assert_eq!(opened.json()["data_key"], body["plain_text"]);

    // An engine error keeps its code, status and the KMS shape.
    let wrong = server.call(
        PROJECT_A,
        "encrypt-datakey",
        &json!({"key_id": key_id, "plain_text": "00".repeat(64), "datakey_plain_length": "32"}),
    );
    assert_eq!((wrong.status, wrong.kms_code().as_str()), (400, "KMS.2103"));
    assert!(wrong.header("x-request-id").is_some());

    // The access log has a line per request, with the request ID the client saw.
    let mut server = server;
    server.stop();
    let records = server.log.records();
    let line = records
        .iter()
        .find(|record| record["request_id"] == request_id.as_str())
        .unwrap();
    assert_eq!(line["operation"], "create-datakey");
    assert_eq!(line["project"], PROJECT_A);
    assert_eq!(line["access_key"], AK);
    assert_eq!(line["key_id"], key_id.as_str());
    assert_eq!(line["status"], 200);
    let refused = records
        .iter()
        .find(|record| record["error_code"] == "KMS.2103")
        .unwrap();
    assert_eq!(refused["status"], 400);
}

#[test]
fn every_authentication_failure_is_the_same_401() {
    let server = TestServer::start();
    let body = json!({"key_alias": "never-created"}).to_string();
    let target = format!("/v1.0/{PROJECT_A}/kms/create-key");
    let genuine = SignedRequest::new(&server, "POST", &target, &body, AK, SK);
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut unsigned = SignedRequest::new(&server, "POST", &target, &body, AK, SK);
    unsigned.headers.retain(|(name, _)| name != "Authorization");
    cases.push(("no authorization", unsigned.to_bytes()));
    cases.push((
        "wrong secret key",
        SignedRequest::new(&server, "POST", &target, &body, AK, "wrong").to_bytes(),
    ));
    cases.push((
        "unknown access key",
        SignedRequest::new(&server, "POST", &target, &body, "UNKNOWNAK0123456789A", SK).to_bytes(),
    ));
    let mut changed_body = SignedRequest::new(&server, "POST", &target, &body, AK, SK);
    changed_body.body = json!({"key_alias": "never-createe"})
        .to_string()
        .into_bytes();
    cases.push(("body changed after signing", changed_body.to_bytes()));
    let mut stale =
        SignedRequest::signed_at(&server, "POST", &target, &body, AK, SK, "20240101T000000Z");
    stale.sign(AK, SK);
    cases.push(("date a long time ago", stale.to_bytes()));
    let mut other_project_header = SignedRequest::new(&server, "POST", &target, &body, AK, SK);
    other_project_header.set_header("X-Project-Id", PROJECT_B);
    other_project_header.sign(AK, SK);
    cases.push((
        "X-Project-Id of another project",
        other_project_header.to_bytes(),
    ));
    cases.push((
        "a project the key may not use",
        SignedRequest::new(
            &server,
            "POST",
            &format!("/v1.0/{PROJECT_B}/kms/create-key"),
            &body,
            AK,
            SK,
        )
        .to_bytes(),
    ));
    let mut bad_token = SignedRequest::new(&server, "POST", &target, &body, AK, SK);
    bad_token
        .headers
        .retain(|(name, _)| name != "Authorization");
    bad_token
        .headers
        .push(("X-Auth-Token".into(), "not-the-token".into()));
    cases.push(("unknown token", bad_token.to_bytes()));

    let mut messages = Vec::new();
    for (case, bytes) in &cases {
        let reply = server.send(bytes);
        assert_eq!(reply.status, 401, "{case}");
        let error = reply.json();
        assert_eq!(error["error_code"], "APIGW.0301", "{case}");
        assert_eq!(
            error["request_id"],
            reply.header("x-request-id").unwrap(),
            "{case}"
        );
        messages.push(error["error_msg"].as_str().unwrap().to_owned());
    }
    messages.dedup();
    assert_eq!(
        messages.len(),
        1,
        "one message for every cause: {messages:?}"
    );
    // Nothing was created by any of them; the genuine request works.
    assert_eq!(server.send(&genuine.to_bytes()).status, 200);
    let listed = server.call(PROJECT_A, "list-keys", &json!({}));
    assert_eq!(listed.json()["total"], 1);
}

#[test]
fn an_auth_token_caller_works_in_its_project() {
    let server = TestServer::start();
    let token_request = |project: &str| {
        let body = json!({"key_alias": format!("t-{}", rand_hex())}).to_string();
        format!(
            "POST /v1.0/{project}/kms/create-key HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             X-Auth-Token: {TOKEN}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            server.host(),
            body.len()
        )
    };
    let created = server.send(token_request(PROJECT_A).as_bytes());
    assert_eq!(created.status, 200);
    assert_eq!(created.json()["key_info"]["domain_id"], "domain-a");
    assert_eq!(server.send(token_request(PROJECT_B).as_bytes()).status, 401);
}

#[test]
fn another_projects_key_is_kms_0207_over_http_and_absent_from_its_list() {
    let server = TestServer::start();
    let key_id = create_key(&server, PROJECT_A, AK, SK);
    let in_b = |operation: &str, body: Value| {
        server.signed(
            "POST",
            &format!("/v1.0/{PROJECT_B}/kms/{operation}"),
            &body.to_string(),
            AK_B,
            SK_B,
        )
    };
    for (operation, body) in [
        ("describe-key", json!({"key_id": key_id})),
        ("disable-key", json!({"key_id": key_id})),
        (
            "create-datakey",
            json!({"key_id": key_id, "datakey_length": "256"}),
        ),
        (
            "create-ec-datakey-pair",
            json!({"key_id": key_id, "key_spec": "ECC_NIST_P256"}),
        ),
        (
            "schedule-key-deletion",
            json!({"key_id": key_id, "pending_days": "7"}),
        ),
    ] {
        let reply = in_b(operation, body);
        assert_eq!(
            (reply.status, reply.kms_code().as_str()),
            (404, "KMS.0207"),
            "{operation}"
        );
    }
    assert_eq!(in_b("list-keys", json!({})).json()["keys"], json!([]));
    let described = server.call(PROJECT_A, "describe-key", &json!({"key_id": key_id}));
    assert_eq!(described.json()["key_info"]["key_state"], "2");
    assert_eq!(described.json()["key_info"]["domain_id"], "domain-a");
}

#[test]
fn a_credential_names_the_region_its_keys_report_and_accept_as_realm() {
    let server = TestServer::start();
    let in_b = |operation: &str, body: Value| {
        server.signed(
            "POST",
            &format!("/v1.0/{PROJECT_B}/kms/{operation}"),
            &body.to_string(),
            AK_B,
            SK_B,
        )
    };
    let created = in_b(
        "create-key",
        json!({"key_alias": format!("r-{}", rand_hex()), "realm": "region-b"}),
    );
    assert_eq!(created.status, 200);
    assert_eq!(created.json()["key_info"]["region_id"], "region-b");
    let key_id = created.json()["key_info"]["key_id"].clone();
    let described = in_b("describe-key", json!({"key_id": key_id}));
    assert_eq!(described.json()["key_info"]["realm"], "region-b");
    assert_eq!(described.json()["key_info"]["domain_id"], "domain-b");
    let elsewhere = in_b(
        "create-key",
        json!({"key_alias": format!("r-{}", rand_hex()), "realm": "local"}),
    );
    assert_eq!(
        (elsewhere.status, elsewhere.kms_code().as_str()),
        (400, "KMS.1102")
    );
    // A credential that names no region gets the engine's.
    let key_a = create_key(&server, PROJECT_A, AK, SK);
    let described = server.call(PROJECT_A, "describe-key", &json!({"key_id": key_a}));
    assert_eq!(described.json()["key_info"]["realm"], "local");
}

#[test]
fn hostile_requests_get_kms_errors_and_change_nothing() {
    let server = TestServer::start_with(Limits {
        max_body_bytes: 4096,
        ..Limits::default()
    });
    let target = format!("/v1.0/{PROJECT_A}/kms/create-key");
    let code_of = |request: &SignedRequest| {
        let reply = server.send(&request.to_bytes());
        (reply.status, reply.kms_code())
    };
    let signed = |body: &[u8]| {
        let mut request = SignedRequest::new(&server, "POST", &target, "", AK, SK);
        request.body = body.to_vec();
        request.sign(AK, SK);
        request
    };
    let over = format!(r#"{{"key_alias":"{}"}}"#, "a".repeat(5000));
    assert_eq!(code_of(&signed(over.as_bytes())), (400, "KMS.0203".into()));
    assert_eq!(code_of(&signed(b"{not json")), (400, "KMS.0202".into()));
    assert_eq!(
        code_of(&signed(b"{\"key_alias\":\"\xff\xfe\"}")),
        (400, "KMS.0202".into())
    );
    assert_eq!(
        code_of(&signed(b"[\"positional\"]")),
        (400, "KMS.0202".into())
    );
    let mut xml = signed(br#"{"key_alias":"xml"}"#);
    xml.set_header("Content-Type", "application/xml");
    xml.sign(AK, SK);
    assert_eq!(code_of(&xml), (400, "KMS.0202".into()));
    for (method, path) in [
        ("GET", target.clone()),
        ("POST", format!("/v1.0/{PROJECT_A}/kms/no-such-operation")),
        ("POST", "/v1.0/%7Bproject_id%7D/kms/create-key".to_owned()),
        ("GET", "/nowhere".to_owned()),
    ] {
        let request = SignedRequest::new(&server, method, &path, "", AK, SK);
        assert_eq!(
            code_of(&request),
            (400, "KMS.0201".into()),
            "{method} {path}"
        );
    }
    // A Content-Length past the limit is refused without reading the body.
    let huge = format!(
        "POST {target} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{{",
        server.host()
    );
    let reply = server.send(huge.as_bytes());
    assert_eq!((reply.status, reply.kms_code().as_str()), (400, "KMS.0203"));
    let listed = server.call(PROJECT_A, "list-keys", &json!({}));
    assert_eq!(listed.json()["total"], 0);
    for (path, expected) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let reply = server.send(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(
            (reply.status, reply.json()["status"].clone()),
            (200, json!(expected))
        );
    }
    let versions = server.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(versions.json()["versions"][0]["id"], "v1.0");
    let metrics = server.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(
        text.contains("kms_errors_total{operation=\"create-key\",code=\"KMS.0203\"} 2"),
        "{text}"
    );
}

#[test]
fn idle_and_slow_connections_past_the_cap_do_not_keep_other_clients_out() {
    let server = TestServer::start_with(Limits {
        max_connections: 64,
        header_timeout: Duration::from_secs(5),
        body_timeout: Duration::from_secs(5),
        ..Limits::default()
    });
    // 2,000 connections that send nothing, and a few that drip a request a byte at a time.
    let idle: Vec<TcpStream> = (0..2000)
        .filter_map(|_| TcpStream::connect(server.addr).ok())
        .collect();
    assert!(
        idle.len() >= 1000,
        "only {} idle connections opened",
        idle.len()
    );
    let mut dripping: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    for stream in &mut dripping {
        let _ = stream.write_all(b"POST /v1.0/");
    }
    let started = Instant::now();
    let key_id = create_key(&server, PROJECT_A, AK, SK);
    let served_in = started.elapsed();
    assert!(
        served_in < Duration::from_secs(20),
        "served after {served_in:?}"
    );
    let described = server.call(PROJECT_A, "describe-key", &json!({"key_id": key_id}));
    assert_eq!(described.status, 200);
    drop(idle);
    drop(dripping);
}

#[test]
fn shutdown_finishes_the_requests_in_flight() {
    let mut server = TestServer::start();
    let key_id = create_key(&server, PROJECT_A, AK, SK);
    let addr = server.addr;
    // Requests keep coming on several threads while the server stops.
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let request = SignedRequest::new(
                &server,
                "POST",
                &format!("/v1.0/{PROJECT_A}/kms/create-datakey"),
                &json!({"key_id": key_id, "datakey_length": "256"}).to_string(),
                AK,
                SK,
            )
            .to_bytes();
            std::thread::spawn(move || {
                let mut answered = Vec::new();
                for _ in 0..200 {
                    let Ok(mut stream) = TcpStream::connect(addr) else {
                        break;
                    };
                    if stream.write_all(&request).is_err() {
                        break;
                    }
                    let mut raw = Vec::new();
                    let _ = std::io::Read::read_to_end(&mut stream, &mut raw);
                    if raw.is_empty() {
                        break;
                    }
                    answered.push(raw);
                }
                answered
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    server.stop();
    let answered: Vec<Vec<u8>> = clients
        .into_iter()
        .flat_map(|client| client.join().unwrap())
        .collect();
    assert!(!answered.is_empty());
    // Every request that got an answer got a whole one, and it was a 200.
    for raw in &answered {
        let text = String::from_utf8_lossy(raw);
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
        assert!(text.contains("cipher_text"), "{text}");
    }
    // The log has one line per answered request (and the create-key).
    let records = server.log.records();
    let logged = records
        .iter()
        .filter(|record| record["operation"] == "create-datakey")
        .count();
    assert!(
        logged >= answered.len(),
        "{logged} logged, {} answered",
        answered.len()
    );
}

#[test]
fn the_access_log_never_holds_a_secret() {
    let mut server = TestServer::start();
    let key_id = create_key(&server, PROJECT_A, AK, SK);
    let dek = [0xA5u8; 32];
    let digest = <sha2::Sha256 as sha2::Digest>::digest(dek);
    let plain_text = kms_core::encode_hex(&[dek.as_slice(), &digest].concat());
    let sealed = server.call(
        PROJECT_A,
        "encrypt-datakey",
        &json!({"key_id": key_id, "plain_text": plain_text, "datakey_plain_length": "32"}),
    );
    let opened = server.call(
        PROJECT_A,
        "decrypt-datakey",
        &json!({"key_id": key_id, "cipher_text": sealed.json()["cipher_text"], "datakey_cipher_length": "32"}),
    );
    assert_eq!(opened.json()["data_key"], kms_core::encode_hex(&dek));
    let pair = server.call(
        PROJECT_A,
        "create-ec-datakey-pair",
        &json!({"key_id": key_id, "key_spec": "ECC_NIST_P256"}),
    );
    let private_key = pair.json()["private_key_plain_text"]
        .as_str()
        .unwrap()
        .to_owned();
    let bad = server.call(
        PROJECT_A,
        "encrypt-datakey",
        &json!({"key_id": key_id, "plain_text": {"nested": plain_text}, "datakey_plain_length": "32"}),
    );
    assert_eq!(bad.kms_code(), "KMS.0202");
    server.stop();
    let log = server.log.text();
    assert!(log.lines().count() >= 5);
    for secret in [
        plain_text.clone(),
        plain_text.to_lowercase(),
        kms_core::encode_hex(&dek),
        private_key,
        SK.to_owned(),
        TOKEN.to_owned(),
    ] {
        assert!(!log.contains(&secret), "the access log holds a secret");
    }
}

#[test]
fn the_server_runs_the_periodic_maintenance_by_itself() {
    let mut server = TestServer::start_set_up(Setup {
        engine: KmsConfig {
            wrapping_key_pool_size: 0,
            import_token_validity_ms: 1,
            ..KmsConfig::default()
        },
        maintenance_every: Some(Duration::from_millis(100)),
        ..Setup::default()
    });
    let created = server.call(
        PROJECT_A,
        "create-key",
        &json!({"key_alias": "byok", "origin": "external"}),
    );
    let key_id = created.json()["key_info"]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let issued = server.call(
        PROJECT_A,
        "get-parameters-for-import",
        &json!({"key_id": key_id, "wrapping_algorithm": "SM2_ENCRYPT"}),
    );
    assert_eq!(issued.status, 200);
    // The token expired at once; no request comes, and its wrapping key is destroyed.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log.text().contains(r#""wrapping_keys_destroyed":1"#) {
        assert!(
            Instant::now() < deadline,
            "no maintenance run: {}",
            server.log.text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server.stop();
    let runs: Vec<Value> = server
        .log
        .records()
        .into_iter()
        .filter(|record| record.get("maintenance").is_some())
        .collect();
    assert_eq!(runs.len(), 1, "quiet runs are not logged: {runs:?}");
    assert_eq!(runs[0]["maintenance"]["expired_material"], 0);
}
