//! `kms serve` as a process: first-run credentials, a refused credentials file, and
//! SIGTERM while requests stream in (every answered request done, exit 0, and on PKCS#11 no
//! pooled wrapping key left in the token).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, ChildStdout, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Home, kms};
use crate::pkcs11::{backend_args, exclusive_token};

pub(crate) const PROJECT: &str = "0123456789abcdef0123456789abcdef";
const TOKEN: &str = "serve-test-token-0123456789";

/// A credentials file with one X-Auth-Token caller in `PROJECT`.
pub(crate) fn write_token_credentials(home: &Home, mode: u32) -> std::path::PathBuf {
    std::fs::create_dir_all(home.path()).unwrap();
    let digest = sha256_hex(TOKEN.as_bytes());
    let path = home.path().join("credentials.toml");
    std::fs::write(
        &path,
        format!(
            "[[tokens]]\nsha256 = \"{digest}\"\ndomain_id = \"d\"\nprojects = [\"{PROJECT}\"]\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn sha256_hex(bytes: &[u8]) -> String {
    let output = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-r"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(bytes)?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(output.stdout).unwrap()[..64].to_owned()
}

/// A running `kms serve`.
pub(crate) struct Served {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    stdout: BufReader<ChildStdout>,
}

impl Served {
    fn start(home: &Home, backend: &[String]) -> Self {
        Self::start_with(home, backend, &[])
    }

    /// `kms --home <home> <global...> serve --listen 127.0.0.1:0 <serve...>`.
    pub(crate) fn start_with(home: &Home, global: &[String], serve: &[&str]) -> Self {
        let mut child = kms()
            .arg("--home")
            .arg(home.path())
            .args(global)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(serve)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let listening: Value = serde_json::from_str(&first)
            .unwrap_or_else(|e| panic!("first line {first:?} is not JSON: {e}"));
        let url = listening["listening"].as_str().unwrap();
        let addr = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .unwrap()
            .parse()
            .unwrap();
        Self {
            child,
            addr,
            stdout,
        }
    }

    /// Sends SIGTERM and returns the exit code, standard error and the access log.
    fn terminate(mut self) -> (Option<i32>, String, String) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let mut log = String::new();
        self.stdout.read_to_string(&mut log).unwrap();
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let code = self.child.wait().unwrap().code();
        (code, stderr, log)
    }
}

impl Drop for Served {
    /// A test that fails midway leaves no server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request with the test token; `None` when the server was gone before it answered.
pub(crate) fn post(addr: SocketAddr, path: &str, body: &Value) -> Option<(u16, Value)> {
    let body = body.to_string();
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-Auth-Token: {TOKEN}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, serde_json::from_str(body).ok()?))
}

/// Waits until `/readyz` answers 200: the wrapping-key pool has made its first key (in the
/// token, on PKCS#11), so shutdown has pooled keys to destroy.
pub(crate) fn wait_until_ready(addr: SocketAddr) {
    for _ in 0..300 {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        if reply.starts_with("HTTP/1.1 200") {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("kms serve never became ready");
}

pub(crate) fn api(operation: &str) -> String {
    format!("/v1.0/{PROJECT}/kms/{operation}")
}

#[test]
fn a_first_serve_creates_its_credentials_and_never_prints_the_secret_key() {
    let home = Home::new();
    let served = Served::start(&home, &[]);
    let path = home.path().join("credentials.toml");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let file = std::fs::read_to_string(&path).unwrap();
    let field = |name: &str| {
        file.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} = \"")))
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap()
            .to_owned()
    };
    let (code, stderr, log) = served.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains(&field("ak")), "{stderr}");
    assert!(stderr.contains(path.to_str().unwrap()), "{stderr}");
    assert!(!stderr.contains(&field("sk")) && !log.contains(&field("sk")));
    // A second start keeps the file as it is.
    let again = Served::start(&home, &[]);
    let (code, stderr, _) = again.terminate();
    assert_eq!(code, Some(0));
    assert!(!stderr.contains("created"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), file);
}

#[test]
fn a_credentials_file_others_can_read_is_refused() {
    let home = Home::new();
    write_token_credentials(&home, 0o644);
    let output = home.run(&["serve", "--listen", "127.0.0.1:0"], None);
    assert_eq!(output.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&output.stderr).unwrap();
    assert_eq!(error["error"]["error_code"], "KMS.0308");
    assert!(output.stdout.is_empty());
}

/// Streams create-key requests on three threads, sends SIGTERM midway, and checks that
/// the server exits 0 and that every key whose creation was answered 200 exists.
fn sigterm_mid_stream(home: &Home, backend: &[String]) -> Vec<String> {
    write_token_credentials(home, 0o600);
    let served = Served::start(home, backend);
    let addr = served.addr;
    wait_until_ready(addr);
    let clients: Vec<_> = (0..3)
        .map(|thread| {
            std::thread::spawn(move || {
                let mut created = Vec::new();
                for n in 0..400 {
                    let alias = json!({"key_alias": format!("stream-{thread}-{n}")});
                    match post(addr, &api("create-key"), &alias) {
                        Some((200, body)) => {
                            created.push(body["key_info"]["key_id"].as_str().unwrap().to_owned());
                        }
                        Some((status, body)) => panic!("{status}: {body}"),
                        None => break,
                    }
                }
                created
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    let (code, stderr, log) = served.terminate();
    let created: Vec<String> = clients
        .into_iter()
        .flat_map(|client| client.join().unwrap())
        .collect();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!created.is_empty());
    // Every acknowledged key is in the store, and logged.
    let mut args: Vec<&str> = backend.iter().map(String::as_str).collect();
    args.extend(["--project", PROJECT, "list-keys"]);
    let listed = home.run(&args, Some(r#"{"limit":"1000"}"#));
    assert_eq!(
        listed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let keys: Vec<&str> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for key_id in &created {
        assert!(
            keys.contains(&key_id.as_str()),
            "acknowledged key {key_id} is missing"
        );
        assert!(
            log.contains(key_id.as_str()),
            "key {key_id} is not in the access log"
        );
    }
    created
}

#[test]
fn sigterm_while_requests_stream_in_finishes_every_answered_one_and_exits_0() {
    sigterm_mid_stream(&Home::new(), &[]);
}

#[test]
fn on_pkcs11_serve_leaves_no_pooled_wrapping_key_in_the_token() {
    let _token = exclusive_token();
    let home = Home::new();
    let before = softhsm_tests::token_objects();
    let created = sigterm_mid_stream(&home, &backend_args());
    // What is left is the created keys' CMK objects: the pool's wrapping keys are gone.
    assert_eq!(softhsm_tests::token_objects(), before + created.len());
}
