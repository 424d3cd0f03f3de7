//! One request, from arrival to response: route, bounded body, authentication, the engine
//! call (on the reactor when it cannot wait, else on a blocking thread), and the access log
//! line and metrics of its outcome.

use std::borrow::Cow;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Request, Response, StatusCode};
use kms_core::{Clock, KeyId, Kms, KmsError, Operation, ProjectId, SecretString};
use serde::Deserialize;
use serde::de::IgnoredAny;
use tokio::sync::Semaphore;

use crate::Limits;
use crate::access_log::{AccessLog, AccessRecord};
use crate::auth::{Caller, Received, Refusal, authenticate, verifies_quickly};
use crate::credentials::Credentials;
use crate::metrics::Metrics;
use crate::routes::{Route, route, with_path_fields};
use crate::signing::AuthFailure;

/// What every request shares.
pub(crate) struct State {
    pub(crate) kms: Arc<Kms>,
    pub(crate) credentials: Credentials,
    pub(crate) metrics: Metrics,
    pub(crate) access_log: AccessLog,
    pub(crate) limits: Limits,
    pub(crate) in_flight: Semaphore,
    pub(crate) clock: Arc<dyn Clock>,
}

/// A response on its way out, with what the log says of it.
struct Reply {
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
    error_code: Option<&'static str>,
}

const JSON: &str = "application/json;charset=utf-8";

impl Reply {
    fn json(body: impl Into<Bytes>) -> Self {
        Self {
            status: StatusCode::OK,
            content_type: JSON,
            body: body.into(),
            error_code: None,
        }
    }

    fn error(error: &KmsError) -> Self {
        Self {
            status: StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST),
            content_type: JSON,
            body: error.to_json().into(),
            error_code: Some(error.code()),
        }
    }

    /// The gateway's flat 401, the same for every cause.
    fn unauthorized(request_id: &str) -> Self {
        let body = serde_json::json!({
            "error_code": AuthFailure::ERROR_CODE,
            "error_msg": AuthFailure::CLIENT_MESSAGE,
            "request_id": request_id,
        });
        Self {
            status: StatusCode::UNAUTHORIZED,
            content_type: JSON,
            body: body.to_string().into(),
            error_code: Some(AuthFailure::ERROR_CODE),
        }
    }
}

/// What the access log says of an API request beyond its outcome.
#[derive(Default)]
struct Facts {
    project: Option<ProjectId>,
    operation: Option<Operation>,
    access_key: Option<String>,
    key_id: Option<String>,
    refusal: Option<&'static str>,
}

/// Answers `request`.
pub(crate) async fn handle(state: Arc<State>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let arrived_ms = state.clock.now_ms();
    let request_id = new_request_id();
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let mut facts = Facts::default();
    let reply = match route(&method, &path) {
        Err(error) => Reply::error(&error),
        Ok(Route::Versions) => Reply::json(VERSIONS),
        Ok(Route::Health) => Reply::json(r#"{"status":"ok"}"#),
        Ok(Route::Ready) => ready(&state).await,
        Ok(Route::Metrics) => Reply {
            status: StatusCode::OK,
            content_type: "text/plain; version=0.0.4",
            body: state.metrics.render().into(),
            error_code: None,
        },
        Ok(Route::Api {
            project_id,
            operation,
            path_fields,
            bodiless,
        }) => {
            facts.project = Some(project_id.clone());
            facts.operation = Some(operation);
            let call = ApiCall {
                parts,
                project_id,
                operation,
                path_fields,
                bodiless,
                request_id: &request_id,
            };
            call.run(&state, body, &mut facts).await
        }
    };
    let latency = started.elapsed();
    let operation_name = facts.operation.map_or("-", |operation| operation.as_str());
    state.metrics.record(
        operation_name,
        reply.status.as_u16(),
        reply.error_code,
        latency,
    );
    state.access_log.write(&AccessRecord {
        time: rfc3339_ms(arrived_ms),
        request_id: &request_id,
        method: &method,
        path: &path,
        project: facts.project.as_ref().map(ProjectId::as_str),
        access_key: facts.access_key.as_deref(),
        operation: facts.operation.map(|operation| operation.as_str()),
        key_id: facts.key_id.as_deref(),
        status: reply.status.as_u16(),
        error_code: reply.error_code,
        auth_failure: facts.refusal,
        latency_ms: latency.as_secs_f64() * 1000.0,
    });
    respond(reply, &request_id)
}

/// An API request once routed.
struct ApiCall<'a> {
    parts: Parts,
    project_id: ProjectId,
    operation: Operation,
    path_fields: Vec<(&'static str, String)>,
    bodiless: bool,
    request_id: &'a str,
}

impl ApiCall<'_> {
    async fn run(self, state: &Arc<State>, body: Incoming, facts: &mut Facts) -> Reply {
        if let Err(error) = check_content_type(&self.parts) {
            return Reply::error(&error);
        }
        let body = match read_body(&self.parts, body, &state.limits).await {
            Ok(body) => body,
            Err(error) => return Reply::error(&error),
        };
        facts.key_id = self
            .path_fields
            .iter()
            .find(|(name, _)| *name == "key_id")
            .and_then(|(_, value)| KeyId::parse(value).ok())
            .map(|id| id.to_string())
            .or_else(|| key_id_of(&body));
        let Ok(_permit) = state.in_flight.acquire().await else {
            return Reply::error(&KmsError::Backend("the server is shutting down".into()));
        };
        let request = OwnedRequest {
            parts: self.parts,
            body,
            project_id: self.project_id,
            path_fields: self.path_fields,
            bodiless: self.bodiless,
        };
        let operation = self.operation;
        // An HMAC signature check and a quick engine call (DESIGN 10) run here, on the
        // reactor. The rest (an ECDSA or SM2 verification, PKCS#11, RSA key generation,
        // store reads and writes) runs on a blocking thread, never on the reactor.
        let mut authenticated = None;
        if verifies_quickly(&request.parts.headers) {
            let caller = match request.authenticate(state) {
                Ok(caller) => caller,
                Err(refusal) => return refused(refusal, facts, self.request_id),
            };
            let done_now = match request.text() {
                Ok(text) => std::panic::catch_unwind(AssertUnwindSafe(|| {
                    state.kms.call_json_now(&caller.tenant, operation, &text)
                }))
                .unwrap_or_else(|_| Some(Err(failed_inside()))),
                Err(error) => Some(Err(error)),
            };
            if let Some(response) = done_now {
                return answered(caller, operation, response, facts);
            }
            authenticated = Some(caller);
        }
        let blocking_state = Arc::clone(state);
        let outcome = tokio::task::spawn_blocking(move || {
            let caller = match authenticated {
                Some(caller) => caller,
                None => request.authenticate(&blocking_state)?,
            };
            let response = request.text().and_then(|text| {
                blocking_state
                    .kms
                    .call_json_as(&caller.tenant, operation, &text)
            });
            Ok::<_, Refusal>((caller, response))
        })
        .await;
        match outcome {
            Ok(Ok((caller, response))) => answered(caller, operation, response, facts),
            Ok(Err(refusal)) => refused(refusal, facts, self.request_id),
            Err(_) => Reply::error(&failed_inside()),
        }
    }
}

/// A request whose engine call panicked. The engine never panics on input; if it ever
/// does, this request is a 500 and the server goes on.
fn failed_inside() -> KmsError {
    KmsError::Backend("the request failed inside the server".into())
}

/// A routed API request, owned, so that it can move to a blocking thread.
struct OwnedRequest {
    parts: Parts,
    body: Bytes,
    project_id: ProjectId,
    path_fields: Vec<(&'static str, String)>,
    bodiless: bool,
}

impl OwnedRequest {
    /// Who sent it, checked now against the server's credentials.
    fn authenticate(&self, state: &State) -> Result<Caller, Refusal> {
        let now_seconds = i64::try_from(state.clock.now_ms() / 1000).unwrap_or(i64::MAX);
        let received = Received {
            method: self.parts.method.as_str(),
            raw_path: self.parts.uri.path(),
            raw_query: self.parts.uri.query(),
            headers: &self.parts.headers,
            body: &self.body,
        };
        authenticate(
            &state.credentials,
            &state.kms.default_tenant().region_id,
            &received,
            &self.project_id,
            now_seconds,
        )
    }

    /// The engine's request: the body, with the fields the path carries.
    fn text(&self) -> Result<Cow<'_, str>, KmsError> {
        core::str::from_utf8(&self.body)
            .map_err(|_| KmsError::InvalidJson("the request body is not UTF-8".into()))
            .and_then(|text| with_path_fields(text, &self.path_fields, self.bodiless))
    }
}

/// The reply to an authenticated call.
fn answered(
    caller: Caller,
    operation: Operation,
    response: Result<SecretString, KmsError>,
    facts: &mut Facts,
) -> Reply {
    facts.access_key = Some(caller.access_key);
    match response {
        Ok(json) => {
            if operation == Operation::CreateKey {
                facts.key_id = created_key_id(json.expose_secret().as_bytes());
            }
            Reply::json(Bytes::copy_from_slice(json.expose_secret().as_bytes()))
        }
        Err(error) => Reply::error(&error),
    }
}

/// The reply to a request that failed authentication.
fn refused(refusal: Refusal, facts: &mut Facts, request_id: &str) -> Reply {
    facts.access_key = refusal.access_key;
    facts.refusal = Some(refusal.reason);
    Reply::unauthorized(request_id)
}

/// A body, when present, must be JSON (`application/json` with any parameters).
fn check_content_type(parts: &Parts) -> Result<(), KmsError> {
    match parts.headers.get(CONTENT_TYPE) {
        None => Ok(()),
        Some(value) => {
            let is_json = value
                .to_str()
                .ok()
                .and_then(|text| text.split(';').next())
                .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
            if is_json {
                Ok(())
            } else {
                Err(KmsError::InvalidJson(
                    "Content-Type must be application/json".into(),
                ))
            }
        }
    }
}

/// The whole body, at most `limits.max_body_bytes`, arriving within `limits.body_timeout`.
async fn read_body(parts: &Parts, body: Incoming, limits: &Limits) -> Result<Bytes, KmsError> {
    let too_long = KmsError::RequestTooLong(limits.max_body_bytes);
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limits.max_body_bytes as u64) {
        return Err(too_long);
    }
    let collected = tokio::time::timeout(
        limits.body_timeout,
        Limited::new(body, limits.max_body_bytes).collect(),
    )
    .await
    .map_err(|_| {
        KmsError::InvalidJson(format!(
            "the request body did not arrive within {} s",
            limits.body_timeout.as_secs()
        ))
    })?;
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(too_long),
        Err(_) => Err(KmsError::InvalidJson(
            "the request body could not be read".into(),
        )),
    }
}

/// The request's `key_id`, if it is a JSON object with a well-formed one: the one request
/// field the access log names. Other fields are skipped, never copied.
fn key_id_of(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct KeyIdField {
        key_id: Option<IgnoredOr<String>>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IgnoredOr<T> {
        Value(T),
        #[allow(dead_code, reason = "a key_id of another JSON type is skipped")]
        Other(IgnoredAny),
    }
    let field: KeyIdField = serde_json::from_slice(body).ok()?;
    match field.key_id? {
        IgnoredOr::Value(text) => KeyId::parse(&text).ok().map(|id| id.to_string()),
        IgnoredOr::Other(_) => None,
    }
}

/// The key ID a create-key response reports.
fn created_key_id(response: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Created {
        key_info: KeyInfo,
    }
    #[derive(Deserialize)]
    struct KeyInfo {
        key_id: String,
    }
    serde_json::from_slice::<Created>(response)
        .ok()
        .map(|created| created.key_info.key_id)
}

async fn ready(state: &Arc<State>) -> Reply {
    let kms = Arc::clone(&state.kms);
    match tokio::task::spawn_blocking(move || kms.check_ready()).await {
        Ok(Ok(())) => Reply::json(r#"{"status":"ready"}"#),
        Ok(Err(error)) => Reply {
            status: StatusCode::SERVICE_UNAVAILABLE,
            ..Reply::error(&error)
        },
        Err(_) => Reply {
            status: StatusCode::SERVICE_UNAVAILABLE,
            ..Reply::error(&KmsError::Backend("the readiness check failed".into()))
        },
    }
}

fn respond(reply: Reply, request_id: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(reply.body));
    *response.status_mut() = reply.status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", id);
    }
    response
}

/// The versions document of `GET /`.
const VERSIONS: &str = r#"{"versions":[{"id":"v1.0","links":[{"href":"/v1.0/","rel":"self"}],"version":"","status":"CURRENT","updated":"2026-12-01T00:00:00Z","min_version":""}]}"#;

/// 32 hex digits, unique to this request: 16 random to this process (drawn once), then 16
/// counting its requests. An ID names a request; nothing depends on its being unguessable,
/// so no request pays for a draw of system randomness.
fn new_request_id() -> String {
    static PROCESS: OnceLock<u64> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let process = *PROCESS.get_or_init(|| {
        let mut bytes = [0u8; 8];
        // Without system randomness the prefix is zero: IDs are still unique here.
        let _ = getrandom::fill(&mut bytes);
        u64::from_be_bytes(bytes)
    });
    let count = COUNT.fetch_add(1, Ordering::Relaxed);
    format!("{process:016x}{count:016x}")
}

/// `ms` since the epoch as RFC 3339 UTC with milliseconds.
pub(crate) fn rfc3339_ms(ms: u64) -> String {
    humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}
