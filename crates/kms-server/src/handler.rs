//! One request, from arrival to response: route, bounded body, authentication, the engine
//! call on a blocking thread, and the access log line and metrics of its outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use kms_core::{Clock, KeyId, Kms, KmsError, Operation, ProjectId};
use serde::Deserialize;
use serde::de::IgnoredAny;
use tokio::sync::Semaphore;

use crate::Limits;
use crate::access_log::{AccessLog, AccessRecord};
use crate::auth::{Received, Refusal, authenticate};
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
                parts: &parts,
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
    parts: &'a hyper::http::request::Parts,
    project_id: ProjectId,
    operation: Operation,
    path_fields: Vec<(&'static str, String)>,
    bodiless: bool,
    request_id: &'a str,
}

impl ApiCall<'_> {
    async fn run(self, state: &Arc<State>, body: Incoming, facts: &mut Facts) -> Reply {
        if let Err(error) = check_content_type(self.parts) {
            return Reply::error(&error);
        }
        let body = match read_body(self.parts, body, &state.limits).await {
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
        // Authentication (an ECDSA or SM2 verification) and the engine call (PKCS#11, RSA
        // key generation, store writes) run on a blocking thread, never on the reactor.
        let Ok(_permit) = state.in_flight.acquire().await else {
            return Reply::error(&KmsError::Backend("the server is shutting down".into()));
        };
        let state = Arc::clone(state);
        let headers = self.parts.headers.clone();
        let raw_path = self.parts.uri.path().to_owned();
        let raw_query = self.parts.uri.query().map(str::to_owned);
        let method = self.parts.method.as_str().to_owned();
        let (project_id, operation, path_fields, bodiless) = (
            self.project_id,
            self.operation,
            self.path_fields,
            self.bodiless,
        );
        let outcome = tokio::task::spawn_blocking(move || {
            let now_seconds = i64::try_from(state.clock.now_ms() / 1000).unwrap_or(i64::MAX);
            let received = Received {
                method: &method,
                raw_path: &raw_path,
                raw_query: raw_query.as_deref(),
                headers: &headers,
                body: &body,
            };
            let caller = authenticate(
                &state.credentials,
                &state.kms.default_tenant().region_id,
                &received,
                &project_id,
                now_seconds,
            )?;
            let response = core::str::from_utf8(&body)
                .map_err(|_| KmsError::InvalidJson("the request body is not UTF-8".into()))
                .and_then(|text| with_path_fields(text, &path_fields, bodiless))
                .and_then(|text| state.kms.call_json_as(&caller.tenant, operation, &text));
            Ok::<_, Refusal>((caller, response))
        })
        .await;
        match outcome {
            Ok(Ok((caller, response))) => {
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
            Ok(Err(refusal)) => {
                facts.access_key = refusal.access_key;
                facts.refusal = Some(refusal.reason);
                Reply::unauthorized(self.request_id)
            }
            // The engine never panics on input; if it ever does, this request is a 500
            // and the server goes on.
            Err(_) => Reply::error(&KmsError::Backend(
                "the request failed inside the server".into(),
            )),
        }
    }
}

/// A body, when present, must be JSON (`application/json` with any parameters).
fn check_content_type(parts: &hyper::http::request::Parts) -> Result<(), KmsError> {
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
async fn read_body(
    parts: &hyper::http::request::Parts,
    body: Incoming,
    limits: &Limits,
) -> Result<Bytes, KmsError> {
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

/// 32 random hex digits.
fn new_request_id() -> String {
    let mut bytes = [0u8; 16];
    // Without system randomness the ID is all zeros: it still answers, only less unique.
    let _ = getrandom::fill(&mut bytes);
    format!("{:032x}", u128::from_be_bytes(bytes))
}

/// `ms` since the epoch as RFC 3339 UTC with milliseconds.
pub(crate) fn rfc3339_ms(ms: u64) -> String {
    humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}
