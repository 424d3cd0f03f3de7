//! Parsing the `Authorization` header:
//! `ALG Access=AK, SignedHeaders=a;b;c, Signature=hex`.
//!
//! The three fields may come in any order, each exactly once, separated by commas with
//! optional spaces. Everything is bounded before anything is allocated or looked up.

use super::failure::{AuthFailure, FailureReason};

/// Longest `Authorization` value accepted, in bytes.
pub const MAX_AUTHORIZATION_LEN: usize = 4096;
/// Longest access key accepted, in bytes.
pub const MAX_ACCESS_KEY_LEN: usize = 128;
/// Most headers a request may sign.
pub const MAX_SIGNED_HEADERS: usize = 64;
/// Longest signature accepted, in hex digits (a DER P-256/SM2 signature is at most 72
/// bytes, an HMAC 32).
pub const MAX_SIGNATURE_HEX_LEN: usize = 160;

/// A parsed `Authorization` header, borrowing from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Authorization<'a> {
    algorithm: &'a str,
    access_key: &'a str,
    signed_headers: &'a str,
    signature_hex: &'a str,
}

impl<'a> Authorization<'a> {
    /// Parses an `Authorization` value.
    ///
    /// # Errors
    /// [`FailureReason::MalformedAuthorization`] if the value is longer than
    /// [`MAX_AUTHORIZATION_LEN`], not printable ASCII, or not the form above: a field
    /// missing, repeated, unknown or empty, an access key longer than
    /// [`MAX_ACCESS_KEY_LEN`], a SignedHeaders entry that is not an HTTP token or more than
    /// [`MAX_SIGNED_HEADERS`] of them, or a signature longer than
    /// [`MAX_SIGNATURE_HEX_LEN`] or not hex.
    pub fn parse(value: &'a str) -> Result<Self, AuthFailure> {
        let malformed = || AuthFailure::new(FailureReason::MalformedAuthorization);
        if value.len() > MAX_AUTHORIZATION_LEN || !value.bytes().all(|b| (0x20..0x7f).contains(&b))
        {
            return Err(malformed());
        }
        let (algorithm, fields) = value.split_once(' ').ok_or_else(malformed)?;
        if algorithm.is_empty() || !algorithm.bytes().all(is_tchar) {
            return Err(malformed());
        }
        let (mut access_key, mut signed_headers, mut signature_hex) = (None, None, None);
        for field in fields.split(',') {
            let (key, field_value) = field
                .trim_matches(' ')
                .split_once('=')
                .ok_or_else(malformed)?;
            let slot = match key {
                "Access" => &mut access_key,
                "SignedHeaders" => &mut signed_headers,
                "Signature" => &mut signature_hex,
                _ => return Err(malformed()),
            };
            if slot.is_some() || field_value.is_empty() || field_value.contains(' ') {
                return Err(malformed());
            }
            *slot = Some(field_value);
        }
        let (Some(access_key), Some(signed_headers), Some(signature_hex)) =
            (access_key, signed_headers, signature_hex)
        else {
            return Err(malformed());
        };
        if access_key.len() > MAX_ACCESS_KEY_LEN
            || access_key.contains(['=', ';'])
            || signature_hex.len() > MAX_SIGNATURE_HEX_LEN
            || !signature_hex.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(malformed());
        }
        let auth = Self {
            algorithm,
            access_key,
            signed_headers,
            signature_hex,
        };
        let mut count = 0_usize;
        for name in auth.signed_header_names() {
            count += 1;
            if name.is_empty() || !name.bytes().all(is_tchar) || count > MAX_SIGNED_HEADERS {
                return Err(malformed());
            }
        }
        Ok(auth)
    }

    /// The algorithm name as given (not yet checked against the four supported ones).
    #[must_use]
    pub fn algorithm(&self) -> &'a str {
        self.algorithm
    }

    /// The access key (AK).
    #[must_use]
    pub fn access_key(&self) -> &'a str {
        self.access_key
    }

    /// The SignedHeaders list as given (`a;b;c`).
    #[must_use]
    pub fn signed_headers(&self) -> &'a str {
        self.signed_headers
    }

    /// The SignedHeaders entries, in the client's order.
    pub fn signed_header_names(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.signed_headers.split(';')
    }

    /// The signature's hex digits.
    #[must_use]
    pub fn signature_hex(&self) -> &'a str {
        self.signature_hex
    }
}

/// An RFC 9110 `tchar`: the bytes a header name or method may hold.
pub(crate) const fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}
