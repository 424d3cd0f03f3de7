//! The raw request as the verifier sees it, free of any HTTP crate's types: the server
//! adapts its hyper/axum request into a [`RawRequest`] borrowing the method, the path and
//! query exactly as received (still percent-encoded), the headers and the body bytes.

use super::failure::{AuthFailure, FailureReason};

/// A request to authenticate, borrowed from whatever carried it.
///
/// Header names are matched ASCII-case-insensitively. Header values are bytes: the
/// verifier refuses a non-UTF-8 value only where it reads it (the `Authorization` header and
/// the signed headers).
#[derive(Clone, Debug)]
pub struct RawRequest<'a> {
    method: &'a str,
    raw_path: &'a str,
    raw_query: Option<&'a str>,
    headers: Vec<(&'a str, &'a [u8])>,
    body: &'a [u8],
}

/// What a lookup of one header found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeaderLookup<'a> {
    /// Not in the request.
    Absent,
    /// Exactly once, with this value.
    One(&'a [u8]),
    /// More than once.
    Repeated,
}

impl<'a> RawRequest<'a> {
    /// A request with no headers yet. `raw_path` is the path as received (percent-encoded,
    /// no scheme or authority); `raw_query` the part after `?`, if there was one.
    #[must_use]
    pub fn new(
        method: &'a str,
        raw_path: &'a str,
        raw_query: Option<&'a str>,
        body: &'a [u8],
    ) -> Self {
        Self {
            method,
            raw_path,
            raw_query,
            headers: Vec::new(),
            body,
        }
    }

    /// A request from its origin-form request target (`/path?query`), split at the first `?`.
    #[must_use]
    pub fn from_target(method: &'a str, target: &'a str, body: &'a [u8]) -> Self {
        match target.split_once('?') {
            Some((path, query)) => Self::new(method, path, Some(query), body),
            None => Self::new(method, target, None, body),
        }
    }

    /// Adds a header (builder form).
    #[must_use]
    pub fn with_header(mut self, name: &'a str, value: &'a [u8]) -> Self {
        self.push_header(name, value);
        self
    }

    /// Adds a header. A name given twice is kept twice (a signed header given twice is
    /// refused).
    pub fn push_header(&mut self, name: &'a str, value: &'a [u8]) {
        self.headers.push((name, value));
    }

    /// The method as received.
    #[must_use]
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The path as received.
    #[must_use]
    pub fn raw_path(&self) -> &'a str {
        self.raw_path
    }

    /// The query as received, without the `?`.
    #[must_use]
    pub fn raw_query(&self) -> Option<&'a str> {
        self.raw_query
    }

    /// The body bytes as received.
    #[must_use]
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The headers in the order they were added.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + '_ {
        self.headers.iter().copied()
    }

    /// The one value of header `name` (any case).
    pub(crate) fn lookup(&self, name: &str) -> HeaderLookup<'a> {
        let mut values = self
            .headers
            .iter()
            .filter(|(have, _)| have.eq_ignore_ascii_case(name))
            .map(|&(_, value)| value);
        match (values.next(), values.next()) {
            (None, _) => HeaderLookup::Absent,
            (Some(value), None) => HeaderLookup::One(value),
            (Some(_), Some(_)) => HeaderLookup::Repeated,
        }
    }

    /// The value of signed header `name`: present once, UTF-8, no control character but
    /// tab, and trimmed of spaces and tabs.
    pub(crate) fn signed_header_value(&self, name: &str) -> Result<&'a str, AuthFailure> {
        match self.lookup(name) {
            HeaderLookup::Absent => Err(FailureReason::MissingSignedHeader.into()),
            HeaderLookup::Repeated => Err(FailureReason::DuplicateSignedHeader.into()),
            HeaderLookup::One(value) => {
                let text = core::str::from_utf8(value)
                    .map_err(|_| AuthFailure::new(FailureReason::InvalidHeaderValue))?;
                if text.chars().any(|c| c != '\t' && c.is_control()) {
                    return Err(FailureReason::InvalidHeaderValue.into());
                }
                Ok(text.trim_matches([' ', '\t']))
            }
        }
    }
}
