//! The one failure type of request authentication.
//!
//! Every failed check gives an [`AuthFailure`]: the client is told the same thing whatever
//! failed (the server answers 401 `APIGW.0301` with [`AuthFailure::CLIENT_MESSAGE`]), while
//! [`AuthFailure::reason`] names the check for the server's own access log. A reason never
//! carries the secret key, the signature or any header value; the access key is kept only
//! when it is well formed (it is not secret: the access log names it on success too).

use core::fmt;

/// Which check refused a request: for the server's access log, never for the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureReason {
    /// No `Authorization` header.
    MissingAuthorization,
    /// `Authorization` is not of the form `ALG Access=AK, SignedHeaders=a;b, Signature=hex`
    /// (or is not ASCII, too long, or given more than once).
    MalformedAuthorization,
    /// The algorithm is none of the four SDK signing algorithms.
    UnsupportedAlgorithm,
    /// `x-sdk-date` is not among the SignedHeaders.
    DateNotSigned,
    /// `X-Sdk-Date` is not `%Y%m%dT%H%M%SZ`.
    MalformedDate,
    /// `X-Sdk-Date` is more than 15 minutes from the server's clock.
    DateOutOfWindow,
    /// A header named in SignedHeaders is not in the request.
    MissingSignedHeader,
    /// A header named in SignedHeaders is in the request more than once.
    DuplicateSignedHeader,
    /// A signed header's value is not UTF-8 or holds a control character.
    InvalidHeaderValue,
    /// The path or the query has a malformed percent escape.
    MalformedTarget,
    /// The method is not an HTTP token.
    MalformedMethod,
    /// A signed `X-Sdk-Content-Sha256` / `X-Sdk-Content-Sm3` says `UNSIGNED-PAYLOAD`.
    UnsignedPayload,
    /// A signed `X-Sdk-Content-Sha256` / `X-Sdk-Content-Sm3` is not the body's digest.
    ContentDigestMismatch,
    /// The signature is not hex, or not the length or DER form its algorithm needs.
    MalformedSignature,
    /// The access key is not known to the credential lookup.
    UnknownAccessKey,
    /// The asymmetric key could not be derived from the access key and secret key.
    KeyDerivation,
    /// The signature does not verify.
    SignatureMismatch,
}

impl FailureReason {
    /// A stable snake_case name for logs and metrics.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MissingAuthorization => "missing_authorization",
            Self::MalformedAuthorization => "malformed_authorization",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::DateNotSigned => "date_not_signed",
            Self::MalformedDate => "malformed_date",
            Self::DateOutOfWindow => "date_out_of_window",
            Self::MissingSignedHeader => "missing_signed_header",
            Self::DuplicateSignedHeader => "duplicate_signed_header",
            Self::InvalidHeaderValue => "invalid_header_value",
            Self::MalformedTarget => "malformed_target",
            Self::MalformedMethod => "malformed_method",
            Self::UnsignedPayload => "unsigned_payload",
            Self::ContentDigestMismatch => "content_digest_mismatch",
            Self::MalformedSignature => "malformed_signature",
            Self::UnknownAccessKey => "unknown_access_key",
            Self::KeyDerivation => "key_derivation",
            Self::SignatureMismatch => "signature_mismatch",
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused request. Its [`Display`](fmt::Display) is the one message every client gets;
/// [`reason`](Self::reason) is for the server's log only.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthFailure {
    reason: FailureReason,
    access_key: Option<String>,
}

impl AuthFailure {
    /// The gateway's error code for every authentication failure.
    pub const ERROR_CODE: &'static str = "APIGW.0301";

    /// The gateway's message for every authentication failure, whatever the cause.
    pub const CLIENT_MESSAGE: &'static str = "Incorrect IAM authentication information: \
        verify aksk signature fail";

    pub(crate) const fn new(reason: FailureReason) -> Self {
        Self {
            reason,
            access_key: None,
        }
    }

    pub(crate) fn with_access_key(mut self, access_key: &str) -> Self {
        self.access_key = Some(access_key.to_owned());
        self
    }

    /// Which check failed (for the server's access log, never for the client).
    #[must_use]
    pub const fn reason(&self) -> FailureReason {
        self.reason
    }

    /// The access key the request claimed, once the `Authorization` header parsed (for the
    /// access log; it is not a secret).
    #[must_use]
    pub fn access_key(&self) -> Option<&str> {
        self.access_key.as_deref()
    }
}

impl From<FailureReason> for AuthFailure {
    fn from(reason: FailureReason) -> Self {
        Self::new(reason)
    }
}

impl fmt::Debug for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthFailure")
            .field("reason", &self.reason)
            .field("access_key", &self.access_key)
            .finish()
    }
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::CLIENT_MESSAGE)
    }
}

impl std::error::Error for AuthFailure {}
