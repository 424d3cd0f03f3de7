//! Who a request comes from (DESIGN 10), decided before its body reaches the engine: an
//! SDK signature or an `X-Auth-Token`, then the path's project checked against the
//! credential's grant and the `X-Project-Id` header. Every refusal is the same 401 for the
//! client; the reason is kept for the access log.

use hyper::HeaderMap;
use kms_core::{ProjectId, Tenant};

use crate::credentials::{Credentials, Grant};
use crate::signing::{RawRequest, verify};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The project and domain it calls as.
    pub(crate) tenant: Tenant,
    /// Its access key, or `token` for an X-Auth-Token caller (for the access log).
    pub(crate) access_key: String,
}

/// Why a request was refused: for the access log only.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub(crate) reason: &'static str,
    pub(crate) access_key: Option<String>,
}

impl Refusal {
    fn new(reason: &'static str, access_key: Option<&str>) -> Self {
        Self {
            reason,
            access_key: access_key.map(str::to_owned),
        }
    }
}

/// What the request looks like to the authenticator: as received.
pub(crate) struct Received<'a> {
    pub(crate) method: &'a str,
    pub(crate) raw_path: &'a str,
    pub(crate) raw_query: Option<&'a str>,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
}

/// Authenticates `request` for the path's `project`, at `now_unix_seconds`. A credential
/// that names no region gets `default_region`.
pub(crate) fn authenticate(
    credentials: &Credentials,
    default_region: &str,
    request: &Received<'_>,
    project: &ProjectId,
    now_unix_seconds: i64,
) -> Result<Caller, Refusal> {
    let (grant, access_key) = if request.headers.contains_key(hyper::header::AUTHORIZATION) {
        let mut raw = RawRequest::new(
            request.method,
            request.raw_path,
            request.raw_query,
            request.body,
        );
        for (name, value) in request.headers {
            raw.push_header(name.as_str(), value.as_bytes());
        }
        let lookup = |ak: &str| credentials.access_key(ak);
        let verified = verify(&raw, &lookup, now_unix_seconds)
            .map_err(|failure| Refusal::new(failure.reason().as_str(), failure.access_key()))?;
        (
            verified.attached().clone(),
            verified.access_key().to_owned(),
        )
    } else if let Some(token) = request.headers.get("x-auth-token") {
        let grant = credentials
            .token(token.as_bytes())
            .ok_or_else(|| Refusal::new("unknown_token", None))?;
        (grant.clone(), "token".to_owned())
    } else {
        return Err(Refusal::new("missing_authorization", None));
    };
    admit(&grant, &access_key, request.headers, project)?;
    Ok(Caller {
        tenant: Tenant {
            project_id: project.clone(),
            domain_id: grant.domain_id,
            region_id: grant.region_id.unwrap_or_else(|| default_region.to_owned()),
        },
        access_key,
    })
}

/// Whether [`authenticate`] checks this request in microseconds, with no public-key
/// verification: an HMAC signature (`SDK-HMAC-SHA256`, `SDK-HMAC-SM3`) or an
/// `X-Auth-Token`. An ECDSA or SM2 signature (with its key derived from the secret key)
/// is not quick. Only where the check runs depends on this; what it decides does not.
pub(crate) fn verifies_quickly(headers: &HeaderMap) -> bool {
    match headers.get(hyper::header::AUTHORIZATION) {
        Some(value) => value.as_bytes().starts_with(b"SDK-HMAC-"),
        None => true,
    }
}

/// The path's project must be one the credential may use, and equal `X-Project-Id` when
/// the client sent one.
fn admit(
    grant: &Grant,
    access_key: &str,
    headers: &HeaderMap,
    project: &ProjectId,
) -> Result<(), Refusal> {
    if let Some(header) = headers.get("x-project-id")
        && header.as_bytes() != project.as_str().as_bytes()
    {
        return Err(Refusal::new("project_header_mismatch", Some(access_key)));
    }
    if !grant.allows(project) {
        return Err(Refusal::new("project_not_allowed", Some(access_key)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use hyper::header::{AUTHORIZATION, HeaderValue};

    use super::*;

    #[test]
    fn hmac_signatures_and_tokens_verify_quickly_public_key_signatures_do_not() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
            verifies_quickly(&headers)
        };
        assert!(with(
            "SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=00"
        ));
        assert!(with(
            "SDK-HMAC-SM3 Access=AK, SignedHeaders=x-sdk-date, Signature=00"
        ));
        assert!(!with(
            "SDK-ECDSA-P256-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=00"
        ));
        assert!(!with(
            "SDK-SM2-SM3 Access=AK, SignedHeaders=x-sdk-date, Signature=00"
        ));
        let mut token = HeaderMap::new();
        token.insert("x-auth-token", HeaderValue::from_static("t"));
        assert!(verifies_quickly(&token));
        assert!(verifies_quickly(&HeaderMap::new()));
    }
}
