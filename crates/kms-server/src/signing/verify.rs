//! The verifier: from a [`RawRequest`] to the credential that signed it, or one
//! [`AuthFailure`].

use core::fmt;
use std::sync::Arc;

use super::algorithm::Algorithm;
use super::authorization::Authorization;
use super::canonical::{canonical_request, string_to_sign};
use super::credential::{Credential, CredentialLookup};
use super::date::{check_window, parse_sdk_date};
use super::failure::{AuthFailure, FailureReason};
use super::request::{HeaderLookup, RawRequest};
use super::signature;

/// The header that dates a signed request, lower case.
pub const SDK_DATE_HEADER: &str = "x-sdk-date";

/// A request whose signature verified.
pub struct Verified<T> {
    credential: Arc<Credential<T>>,
    algorithm: Algorithm,
    signed_headers: Vec<String>,
    signed_at: i64,
}

impl<T> Verified<T> {
    /// The access key that signed the request.
    #[must_use]
    pub fn access_key(&self) -> &str {
        self.credential.access_key()
    }

    /// What the caller attached to that access key's credential.
    #[must_use]
    pub fn attached(&self) -> &T {
        self.credential.attached()
    }

    /// The credential that signed the request.
    #[must_use]
    pub fn credential(&self) -> &Arc<Credential<T>> {
        &self.credential
    }

    /// The algorithm it was signed with.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Whether header `name` (any case) was among the SignedHeaders, i.e. its value is
    /// covered by the signature.
    #[must_use]
    pub fn is_signed(&self, name: &str) -> bool {
        self.signed_headers
            .iter()
            .any(|signed| signed.eq_ignore_ascii_case(name))
    }

    /// The SignedHeaders entries, lower case, in the client's order.
    #[must_use]
    pub fn signed_headers(&self) -> &[String] {
        &self.signed_headers
    }

    /// `X-Sdk-Date` as Unix seconds.
    #[must_use]
    pub fn signed_at(&self) -> i64 {
        self.signed_at
    }
}

impl<T: fmt::Debug> fmt::Debug for Verified<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("credential", &self.credential)
            .field("algorithm", &self.algorithm)
            .field("signed_headers", &self.signed_headers)
            .field("signed_at", &self.signed_at)
            .finish()
    }
}

/// Authenticates `request` by its SDK signature, at server time `now_unix_seconds`.
///
/// In order: the one `Authorization` header parses; its algorithm is one of the four;
/// `x-sdk-date` is signed and within 15 minutes of `now_unix_seconds` either way; the
/// signature is hex; every signed header is present once with a UTF-8 value; the
/// CanonicalRequest and StringToSign are rebuilt from the raw method, path, query, the
/// client's SignedHeaders and the raw body; `lookup` knows the access key; and the
/// signature verifies under the credential's secret key (HMAC, constant-time) or derived
/// public key (ECDSA P-256, SM2 under the standard or the Python SDK's Z_A).
///
/// # Errors
/// An [`AuthFailure`] for the first check that fails: the client gets the same answer
/// whatever it is, and [`AuthFailure::reason`] names it for the server's log.
pub fn verify<L>(
    request: &RawRequest<'_>,
    lookup: &L,
    now_unix_seconds: i64,
) -> Result<Verified<L::Attached>, AuthFailure>
where
    L: CredentialLookup + ?Sized,
{
    let value = match request.lookup("authorization") {
        HeaderLookup::Absent => return Err(FailureReason::MissingAuthorization.into()),
        HeaderLookup::Repeated => return Err(FailureReason::MalformedAuthorization.into()),
        HeaderLookup::One(value) => value,
    };
    let value = core::str::from_utf8(value)
        .map_err(|_| AuthFailure::new(FailureReason::MalformedAuthorization))?;
    let authorization = Authorization::parse(value.trim_matches([' ', '\t']))?;
    verify_parsed(request, &authorization, lookup, now_unix_seconds)
        .map_err(|failure| failure.with_access_key(authorization.access_key()))
}

fn verify_parsed<L>(
    request: &RawRequest<'_>,
    authorization: &Authorization<'_>,
    lookup: &L,
    now_unix_seconds: i64,
) -> Result<Verified<L::Attached>, AuthFailure>
where
    L: CredentialLookup + ?Sized,
{
    let algorithm = Algorithm::from_name(authorization.algorithm())
        .ok_or(AuthFailure::new(FailureReason::UnsupportedAlgorithm))?;
    if !authorization
        .signed_header_names()
        .any(|name| name.eq_ignore_ascii_case(SDK_DATE_HEADER))
    {
        return Err(FailureReason::DateNotSigned.into());
    }
    let sdk_date = request.signed_header_value(SDK_DATE_HEADER)?;
    let signed_at = parse_sdk_date(sdk_date)?;
    check_window(signed_at, now_unix_seconds)?;
    let signature = base16ct::mixed::decode_vec(authorization.signature_hex())
        .map_err(|_| AuthFailure::new(FailureReason::MalformedSignature))?;

    let canonical = canonical_request(request, algorithm, authorization.signed_headers())?;
    let string_to_sign = string_to_sign(algorithm, sdk_date, &canonical);

    let access_key = authorization.access_key();
    let credential = lookup
        .lookup(access_key)
        .filter(|credential| credential.access_key() == access_key)
        .ok_or(AuthFailure::new(FailureReason::UnknownAccessKey))?;
    signature::check(algorithm, &credential, &string_to_sign, &signature)?;

    Ok(Verified {
        credential,
        algorithm,
        signed_headers: authorization
            .signed_header_names()
            .map(str::to_ascii_lowercase)
            .collect(),
        signed_at,
    })
}
