//! A server on a loopback port of its own, in a thread of its own, and a small HTTP/1.1
//! client over raw sockets that signs requests as the SDKs do (SDK-HMAC-SHA256) or sends
//! whatever bytes a hostile client would.
#![allow(dead_code, reason = "each test binary uses part of the fixture")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use kms_core::{Kms, KmsConfig, MemoryStore, SecretString};
use kms_server::signing::{Algorithm, RawRequest, sign};
use kms_server::{Credentials, Limits, Server, ServerConfig};
use kms_soft::{RootKey, SoftBackend};
use serde_json::Value;

pub const AK: &str = "TESTAK0123456789ABCD";
pub const SK: &str = "testSecretKey0123456789abcdefghijklmnopqr";
pub const PROJECT_A: &str = "0123456789abcdef0123456789abcdef";
pub const PROJECT_B: &str = "fedcba9876543210fedcba9876543210";
/// A second access key, allowed in project B only.
pub const AK_B: &str = "OTHERAK0123456789ABC";
pub const SK_B: &str = "otherSecretKey0123456789abcdefghijklmnop";
pub const TOKEN: &str = "test-auth-token-0123456789";

/// Everything the server wrote to its access log.
#[derive(Clone, Default)]
pub struct SharedLog(Arc<Mutex<Vec<u8>>>);

impl Write for SharedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedLog {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// The access log's lines, parsed.
    pub fn records(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

/// A running server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub log: SharedLog,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    dir: PathBuf,
}

fn credentials_toml() -> String {
    let digest = kms_core::encode_hex(&<sha2::Sha256 as sha2::Digest>::digest(TOKEN.as_bytes()));
    format!(
        "[[access_keys]]\nak = \"{AK}\"\nsk = \"{SK}\"\ndomain_id = \"domain-a\"\n\
         projects = [\"{PROJECT_A}\"]\n\n\
         [[access_keys]]\nak = \"{AK_B}\"\nsk = \"{SK_B}\"\ndomain_id = \"domain-b\"\n\
         region_id = \"region-b\"\nprojects = [\"{PROJECT_B}\"]\n\n\
         [[tokens]]\nsha256 = \"{digest}\"\ndomain_id = \"domain-a\"\nprojects = [\"{PROJECT_A}\"]\n"
    )
}

/// How a test server is set up.
pub struct Setup {
    pub limits: Limits,
    pub engine: KmsConfig,
    pub maintenance_every: Option<Duration>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            engine: KmsConfig {
                wrapping_key_pool_size: 0,
                ..KmsConfig::default()
            },
            maintenance_every: None,
        }
    }
}

impl TestServer {
    pub fn start() -> Self {
        Self::start_set_up(Setup::default())
    }

    pub fn start_with(limits: Limits) -> Self {
        Self::start_set_up(Setup {
            limits,
            ..Setup::default()
        })
    }

    pub fn start_set_up(setup: Setup) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "kms-server-test-{}-{}",
            std::process::id(),
            kms_core::encode_hex(&rand_bytes())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("credentials.toml");
        std::fs::write(&path, credentials_toml()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let credentials = Credentials::load(&path).unwrap();
        let kms = Arc::new(Kms::with_config(
            Arc::new(SoftBackend::new(RootKey::generate().unwrap())),
            Arc::new(MemoryStore::new()),
            setup.engine,
        ));
        let log = SharedLog::default();
        let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), credentials);
        config.limits = setup.limits;
        config.access_log = Box::new(log.clone());
        config.maintenance_every = setup.maintenance_every;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound, addr) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let server = Server::bind(kms, config).await.unwrap();
                bound.send(server.local_addr().unwrap()).unwrap();
                server
                    .serve(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = addr.recv_timeout(Duration::from_secs(10)).unwrap();
        Self {
            addr,
            log,
            stop: Some(stop),
            thread: Some(thread),
            dir,
        }
    }

    /// Stops the server and waits for it to finish.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }

    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// A request signed with `ak`/`sk` (SDK-HMAC-SHA256) the way the Python SDK signs it.
    pub fn signed(&self, method: &str, target: &str, body: &str, ak: &str, sk: &str) -> Reply {
        let request = SignedRequest::new(self, method, target, body, ak, sk);
        self.send(&request.to_bytes())
    }

    /// `operation` in `project`, signed with the first access key.
    pub fn call(&self, project: &str, operation: &str, body: &Value) -> Reply {
        self.signed(
            "POST",
            &format!("/v1.0/{project}/kms/{operation}"),
            &body.to_string(),
            AK,
            SK,
        )
    }

    /// Sends raw bytes on a new connection and reads the response.
    pub fn send(&self, bytes: &[u8]) -> Reply {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(bytes).unwrap();
        read_reply(&mut stream)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rand_bytes() -> [u8; 8] {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    bytes
}

/// The UTC time as X-Sdk-Date.
pub fn sdk_date_now() -> String {
    kms_server::signing::format_sdk_date(std::time::SystemTime::now())
}

/// A request as the Python SDK builds it, signed.
pub struct SignedRequest {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SignedRequest {
    pub fn new(
        server: &TestServer,
        method: &str,
        target: &str,
        body: &str,
        ak: &str,
        sk: &str,
    ) -> Self {
        Self::signed_at(server, method, target, body, ak, sk, &sdk_date_now())
    }

    pub fn signed_at(
        server: &TestServer,
        method: &str,
        target: &str,
        body: &str,
        ak: &str,
        sk: &str,
        date: &str,
    ) -> Self {
        let project = target.split('/').nth(2).unwrap_or_default().to_owned();
        let headers = vec![
            (
                "Content-Type".to_owned(),
                "application/json;charset=utf-8".to_owned(),
            ),
            ("Host".to_owned(), server.host()),
            ("User-Agent".to_owned(), "kms-server-test".to_owned()),
            ("X-Project-Id".to_owned(), project),
            ("X-Sdk-Date".to_owned(), date.to_owned()),
        ];
        let mut request = Self {
            method: method.to_owned(),
            target: target.to_owned(),
            headers,
            body: body.as_bytes().to_vec(),
        };
        request.sign(ak, sk);
        request
    }

    /// (Re)computes the Authorization header over the request as it stands.
    pub fn sign(&mut self, ak: &str, sk: &str) {
        self.headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
        let signed_headers = "content-type;host;user-agent;x-project-id;x-sdk-date";
        let mut raw = RawRequest::from_target(&self.method, &self.target, &self.body);
        for (name, value) in &self.headers {
            raw.push_header(name, value.as_bytes());
        }
        let authorization = sign(
            &raw,
            Algorithm::HmacSha256,
            signed_headers,
            ak,
            &SecretString::from(sk),
        )
        .unwrap();
        self.headers
            .push(("Authorization".to_owned(), authorization));
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(have, _)| have.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone())
    }

    pub fn set_header(&mut self, name: &str, value: &str) {
        for (have, old) in &mut self.headers {
            if have.eq_ignore_ascii_case(name) {
                *old = value.to_owned();
            }
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.1\r\n", self.method, self.target).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                self.body.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&self.body);
        out
    }
}

/// A response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(have, _)| have.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The KMS error code of an engine error body.
    pub fn kms_code(&self) -> String {
        self.json()["error"]["error_code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// Reads one response (the server closes after it: requests say `Connection: close`).
pub fn read_reply(stream: &mut TcpStream) -> Reply {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response: {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}
