//! `kms bench --endpoint`: the same workloads as signed HTTP requests to `kms serve` or any
//! endpoint that speaks this API. Each thread has one keep-alive HTTP/1.1 connection (TLS
//! for an `https://` URL) and signs every request as the SDKs do: SDK-HMAC-SHA256 over
//! `content-type;host;x-project-id;x-sdk-date`, with `X-Sdk-Date` read from the clock.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use kms_core::{KmsError, Result, SecretString};
use kms_server::signing::{Algorithm, RawRequest, format_sdk_date, sign};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio_rustls::TlsConnector;

use super::runner::{CallError, Caller};

/// The environment variable that may hold the secret key instead of `--sk-file`.
pub(crate) const SECRET_KEY_ENV: &str = "KMS_BENCH_SK";

/// How long one request may take before it is counted as a `timeout`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The Content-Type of every request, as the Python SDK sends it.
const CONTENT_TYPE: &str = "application/json;charset=utf-8";

/// The headers every request signs (lower case, sorted).
const SIGNED_HEADERS: &str = "content-type;host;x-project-id;x-sdk-date";

/// Error codes that stand for a failure with no API error code.
const CONNECTION_FAILED: &str = "connection";
const TIMED_OUT: &str = "timeout";
const ANSWER_TOO_LARGE: &str = "answer-too-large";

/// The largest answer body read (this API's largest answers, an RSA-4096 data key pair
/// with its private key in the clear and sealed, are about 10 KiB): an endpoint that sends
/// more is counted under [`ANSWER_TOO_LARGE`] and its connection dropped, rather than read
/// into memory without end.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Where the secret key is read from: never the command line, where others could see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretKeySource {
    /// A file holding the secret key (a trailing newline is dropped).
    File(PathBuf),
    /// The [`SECRET_KEY_ENV`] environment variable.
    Environment,
}

/// Which endpoint to send to, as whom, and with which CMK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EndpointOptions {
    pub url: String,
    pub access_key: String,
    pub secret_key: SecretKeySource,
    /// Extra trusted CA certificates (PEM), for a self-signed `kms serve`.
    pub ca_file: Option<PathBuf>,
    /// An existing CMK every thread uses; without it each run makes its CMKs and schedules
    /// their deletion after it.
    pub key_id: Option<String>,
}

/// An endpoint to send signed requests to.
pub(crate) struct Endpoint {
    /// `host:port` to connect to.
    address: String,
    /// The `Host` header: the URL's authority as given.
    authority: String,
    /// The TLS connector and the name the certificate must have, for `https://`.
    tls: Option<(TlsConnector, ServerName<'static>)>,
    access_key: String,
    secret_key: SecretString,
    project: String,
}

fn invalid(message: String) -> KmsError {
    KmsError::InvalidParameter(message)
}

impl Endpoint {
    /// The endpoint of `options`, calling in `project`.
    ///
    /// # Errors
    /// [`KmsError::InvalidParameter`] for a URL that is not `http(s)://host[:port]`, a
    /// missing or empty secret key, or an unreadable CA file.
    pub(crate) fn open(options: &EndpointOptions, project: &str) -> Result<Self> {
        let url = &options.url;
        // Checked first, so that no message below repeats a password given in the URL.
        if url.contains('@') {
            return Err(invalid(
                "--endpoint: a URL with credentials (user@ or user:password@) is refused; \
                 give the access key with --ak and the secret key with --sk-file or \
                 KMS_BENCH_SK"
                    .into(),
            ));
        }
        let uri: Uri = url
            .parse()
            .map_err(|_| invalid(format!("--endpoint {url}: not a URL")))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => {
                return Err(invalid(format!(
                    "--endpoint {url}: give http://host[:port] or https://host[:port]"
                )));
            }
        };
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(invalid(format!(
                "--endpoint {url}: the API is served from /, give the URL without a path"
            )));
        }
        let (Some(host), Some(authority)) = (uri.host(), uri.authority()) else {
            return Err(invalid(format!("--endpoint {url}: no host")));
        };
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let tls = if tls {
            let name = ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
                .map_err(|_| invalid(format!("--endpoint {url}: not a TLS server name")))?;
            Some((connector(options.ca_file.as_deref())?, name))
        } else {
            None
        };
        Ok(Self {
            address: format!("{host}:{port}"),
            authority: authority.as_str().to_owned(),
            tls,
            access_key: options.access_key.clone(),
            secret_key: read_secret_key(&options.secret_key)?,
            project: project.to_owned(),
        })
    }

    /// A new keep-alive connection.
    async fn connect(&self) -> std::result::Result<SendRequest<Full<Bytes>>, CallError> {
        let tcp = TcpStream::connect(&self.address)
            .await
            .map_err(connection_failed)?;
        // Requests are small and answered one at a time: send each at once.
        tcp.set_nodelay(true).map_err(connection_failed)?;
        match &self.tls {
            None => handshake(tcp).await,
            Some((connector, name)) => {
                let stream = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(connection_failed)?;
                handshake(stream).await
            }
        }
    }

    /// The headers of a POST of `body` to `path`, signed now (Authorization last).
    fn signed_headers(
        &self,
        path: &str,
        body: &[u8],
    ) -> std::result::Result<[(&'static str, String); 5], CallError> {
        let date = format_sdk_date(SystemTime::now());
        let raw = RawRequest::new("POST", path, None, body)
            .with_header("Content-Type", CONTENT_TYPE.as_bytes())
            .with_header("Host", self.authority.as_bytes())
            .with_header("X-Project-Id", self.project.as_bytes())
            .with_header("X-Sdk-Date", date.as_bytes());
        let authorization = sign(
            &raw,
            Algorithm::HmacSha256,
            SIGNED_HEADERS,
            &self.access_key,
            &self.secret_key,
        )
        .map_err(|error| CallError {
            code: "signing".into(),
            message: error.to_string(),
        })?;
        Ok([
            ("Content-Type", CONTENT_TYPE.to_owned()),
            ("Host", self.authority.clone()),
            ("X-Project-Id", self.project.clone()),
            ("X-Sdk-Date", date),
            ("Authorization", authorization),
        ])
    }

    /// A POST of `body` to `path`, signed now.
    fn signed_request(
        &self,
        path: &str,
        body: &Bytes,
    ) -> std::result::Result<Request<Full<Bytes>>, CallError> {
        let mut request = Request::post(path);
        for (name, value) in self.signed_headers(path, body)? {
            request = request.header(name, value);
        }
        request
            .body(Full::new(body.clone()))
            .map_err(|error| CallError {
                code: "request".into(),
                message: error.to_string(),
            })
    }

    /// The path of `operation` in this endpoint's project.
    fn path(&self, operation: &str) -> String {
        format!("/v1.0/{}/kms/{operation}", self.project)
    }
}

/// A TLS connector trusting the Mozilla roots and the certificates in `ca_file`.
fn connector(ca_file: Option<&Path>) -> Result<TlsConnector> {
    let mut roots =
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let unreadable = || {
            invalid(format!(
                "--ca-file {}: not a PEM certificate file",
                path.display()
            ))
        };
        let certificates = CertificateDer::pem_file_iter(path)
            .map_err(|_| unreadable())?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| unreadable())?;
        if certificates.is_empty() {
            return Err(unreadable());
        }
        for certificate in certificates {
            roots.add(certificate).map_err(|_| unreadable())?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| invalid(format!("TLS: {error}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The secret key from its source, without a trailing newline.
fn read_secret_key(source: &SecretKeySource) -> Result<SecretString> {
    let (mut text, origin) = match source {
        SecretKeySource::File(path) => (
            std::fs::read_to_string(path)
                .map_err(|error| invalid(format!("--sk-file {}: {error}", path.display())))?,
            format!("--sk-file {}", path.display()),
        ),
        SecretKeySource::Environment => (
            std::env::var(SECRET_KEY_ENV).map_err(|_| {
                invalid(format!(
                    "--endpoint needs the secret key: give --sk-file or set {SECRET_KEY_ENV}"
                ))
            })?,
            SECRET_KEY_ENV.to_owned(),
        ),
    };
    let kept = text.trim_end().len();
    text.truncate(kept);
    let secret = SecretString::new(text);
    if secret.expose_secret().is_empty() {
        return Err(invalid(format!("{origin}: the secret key is empty")));
    }
    Ok(secret)
}

/// An HTTP/1.1 client connection over `io`, driven by a task of the current runtime.
async fn handshake<T>(io: T) -> std::result::Result<SendRequest<Full<Bytes>>, CallError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(connection_failed)?;
    tokio::spawn(async move {
        // The connection ends when the server closes it or the sender is dropped; the next
        // request then finds it closed and connects again.
        let _ = connection.await;
    });
    Ok(sender)
}

fn connection_failed(error: impl std::fmt::Display) -> CallError {
    CallError {
        code: CONNECTION_FAILED.into(),
        message: error.to_string(),
    }
}

/// An answer's whole body, if it is at most [`MAX_ANSWER_BYTES`].
async fn read_answer<B>(body: B) -> std::result::Result<Bytes, CallError>
where
    B: hyper::body::Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let collected = Limited::new(body, MAX_ANSWER_BYTES).collect().await;
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(CallError {
            code: ANSWER_TOO_LARGE.into(),
            message: format!("the answer is longer than {MAX_ANSWER_BYTES} bytes"),
        }),
        Err(error) => Err(connection_failed(error)),
    }
}

/// The failure an answer other than 2xx stands for: the API's error code from the body
/// (`{"error":{"error_code":..}}` of KMS, or the gateway's flat `{"error_code":..}`), else
/// `HTTP <status>`.
fn api_error(status: StatusCode, body: &[u8]) -> CallError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed
        .as_ref()
        .map(|body| body.get("error").unwrap_or(body));
    let field = |name: &str| {
        error
            .and_then(|error| error.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    CallError {
        code: field("error_code").unwrap_or_else(|| format!("HTTP {}", status.as_u16())),
        message: format!(
            "HTTP {}: {}",
            status.as_u16(),
            field("error_msg").unwrap_or_default()
        ),
    }
}

/// One thread's connection to the endpoint: made on the first request, and again after
/// one failed or timed out.
struct Connection {
    endpoint: Arc<Endpoint>,
    /// A single-threaded runtime of the thread's own, so threads share nothing.
    runtime: Runtime,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    /// Sends `body` to `path`, answered with the response body of a 2xx answer.
    fn post(&mut self, path: &str, body: &Bytes) -> std::result::Result<Bytes, CallError> {
        let (endpoint, sender) = (&self.endpoint, &mut self.sender);
        let outcome = self.runtime.block_on(async {
            let exchange = async {
                if sender.as_ref().is_none_or(SendRequest::is_closed) {
                    *sender = Some(endpoint.connect().await?);
                }
                let request = endpoint.signed_request(path, body)?;
                let Some(connection) = sender.as_mut() else {
                    return Err(connection_failed("no connection"));
                };
                connection.ready().await.map_err(connection_failed)?;
                let response = connection
                    .send_request(request)
                    .await
                    .map_err(connection_failed)?;
                let status = response.status();
                let answer = read_answer(response.into_body()).await?;
                if status.is_success() {
                    Ok(answer)
                } else {
                    Err(api_error(status, &answer))
                }
            };
            tokio::time::timeout(REQUEST_TIMEOUT, exchange)
                .await
                .unwrap_or_else(|_| {
                    Err(CallError {
                        code: TIMED_OUT.into(),
                        message: format!("no answer in {} s", REQUEST_TIMEOUT.as_secs()),
                    })
                })
        });
        if let Err(error) = &outcome
            && [CONNECTION_FAILED, TIMED_OUT, ANSWER_TOO_LARGE].contains(&error.code.as_str())
        {
            self.sender = None;
        }
        outcome
    }
}

/// One thread's connection and the request it sends again and again.
pub(crate) struct HttpCaller {
    connection: Connection,
    path: String,
    body: Bytes,
}

impl HttpCaller {
    /// A caller with no connection yet (the first request makes it).
    ///
    /// # Errors
    /// [`KmsError::Backend`] when the runtime cannot be built.
    pub(crate) fn new(endpoint: Arc<Endpoint>) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| KmsError::Backend(format!("starting the bench runtime: {error}")))?;
        Ok(Self {
            connection: Connection {
                endpoint,
                runtime,
                sender: None,
            },
            path: String::new(),
            body: Bytes::new(),
        })
    }

    /// Sets the request [`Caller::call`] sends: `body` to `operation`.
    pub(crate) fn set_request(&mut self, operation: &str, body: &Value) {
        self.path = self.connection.endpoint.path(operation);
        self.body = Bytes::from(body.to_string());
    }

    /// A `wrk` Lua script that sends this caller's request, signed now: for comparing
    /// `kms bench --endpoint` with `wrk` on the same requests (valid while `X-Sdk-Date` is,
    /// 15 minutes).
    ///
    /// # Errors
    /// Signing's failure.
    pub(crate) fn wrk_script(&self) -> std::result::Result<String, CallError> {
        let headers = self
            .connection
            .endpoint
            .signed_headers(&self.path, &self.body)?;
        let mut script = format!(
            "-- kms bench: one pre-signed request, valid for 15 minutes from its X-Sdk-Date.\n\
             wrk.method = \"POST\"\nwrk.path = \"{}\"\n",
            self.path
        );
        for (name, value) in headers {
            script.push_str(&format!("wrk.headers[\"{name}\"] = \"{value}\"\n"));
        }
        // A long bracket: the JSON body is taken as it is, quotes and all.
        script.push_str(&format!(
            "wrk.body = [==[{}]==]\n",
            String::from_utf8_lossy(&self.body)
        ));
        Ok(script)
    }

    /// One signed request of `body` to `operation`, answered with the string at `field`
    /// (a JSON pointer) of its JSON body.
    ///
    /// # Errors
    /// The request's failure, its message naming the operation; code `answer` for an
    /// answer without the field.
    fn post_for(
        &mut self,
        operation: &str,
        body: &Value,
        field: &str,
    ) -> std::result::Result<String, CallError> {
        let path = self.connection.endpoint.path(operation);
        let answer = self
            .connection
            .post(&path, &Bytes::from(body.to_string()))
            .map_err(|error| CallError {
                message: format!("{operation}: {}", error.message),
                ..error
            })?;
        serde_json::from_slice::<Value>(&answer)
            .ok()
            .and_then(|answer| answer.pointer(field)?.as_str().map(str::to_owned))
            .ok_or_else(|| CallError {
                code: "answer".into(),
                message: format!("{operation}: no {field} in the answer"),
            })
    }
}

impl Caller for HttpCaller {
    fn call(&mut self) -> std::result::Result<(), CallError> {
        self.connection.post(&self.path, &self.body).map(drop)
    }
}

/// Makes a CMK with `body` (a create-key body) and returns its ID.
///
/// # Errors
/// The request's failure, or an answer without `key_info.key_id`.
pub(crate) fn create_key(
    caller: &mut HttpCaller,
    body: &Value,
) -> std::result::Result<String, CallError> {
    caller.post_for("create-key", body, "/key_info/key_id")
}

/// The `cipher_text` of encrypt-datakey of `body`.
///
/// # Errors
/// The request's failure, or an answer without `cipher_text`.
pub(crate) fn seal(
    caller: &mut HttpCaller,
    body: &Value,
) -> std::result::Result<String, CallError> {
    caller.post_for("encrypt-datakey", body, "/cipher_text")
}

/// Schedules the deletion of `key_id` after the API's shortest wait (7 days).
///
/// # Errors
/// The request's failure.
pub(crate) fn schedule_deletion(
    caller: &mut HttpCaller,
    key_id: &str,
) -> std::result::Result<(), CallError> {
    caller
        .post_for(
            "schedule-key-deletion",
            &json!({"key_id": key_id, "pending_days": "7"}),
            "/key_state",
        )
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_come_from_either_body_shape_or_the_status() {
        let kms = api_error(
            StatusCode::NOT_FOUND,
            br#"{"error":{"error_code":"KMS.0207","error_msg":"no such key"}}"#,
        );
        assert_eq!(kms.code, "KMS.0207");
        assert_eq!(kms.message, "HTTP 404: no such key");
        let gateway = api_error(
            StatusCode::UNAUTHORIZED,
            br#"{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information"}"#,
        );
        assert_eq!(gateway.code, "APIGW.0301");
        assert_eq!(
            api_error(StatusCode::BAD_GATEWAY, b"<html>").code,
            "HTTP 502"
        );
    }

    #[test]
    fn an_answer_beyond_the_limit_is_refused_and_one_at_it_is_read() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let read =
            |len: usize| runtime.block_on(read_answer(Full::new(Bytes::from(vec![b'a'; len]))));
        assert_eq!(read(MAX_ANSWER_BYTES).unwrap().len(), MAX_ANSWER_BYTES);
        let refused = read(MAX_ANSWER_BYTES + 1).unwrap_err();
        assert_eq!(refused.code, ANSWER_TOO_LARGE);
        assert_eq!(
            refused.message,
            format!("the answer is longer than {MAX_ANSWER_BYTES} bytes")
        );
    }

    #[test]
    fn endpoint_urls_are_checked_before_anything_is_sent() {
        let options = |url: &str| EndpointOptions {
            url: url.into(),
            access_key: "AK".into(),
            secret_key: SecretKeySource::File("/nonexistent".into()),
            ca_file: None,
            key_id: None,
        };
        for url in [
            "ftp://host",
            "host:80",
            "http://h/v1.0",
            "http://h/?a=b",
            "http://",
        ] {
            let error = Endpoint::open(&options(url), "p").err().unwrap();
            assert_eq!(error.code(), "KMS.0308", "{url}");
            assert!(error.to_string().contains(url), "{url}: {error}");
        }
        let missing_sk = Endpoint::open(&options("http://127.0.0.1:1"), "p")
            .err()
            .unwrap();
        assert!(
            missing_sk.to_string().contains("--sk-file /nonexistent"),
            "{missing_sk}"
        );
    }
}
