//! The CanonicalRequest and StringToSign of the APIG "SDK" signing scheme, rebuilt from the
//! raw request and the client's own SignedHeaders list:
//!
//! ```text
//! CanonicalRequest = METHOD "\n" CanonicalURI "\n" CanonicalQuery "\n"
//!                    CanonicalHeaders "\n" SignedHeaders "\n" hex(H(body))
//! StringToSign     = ALG "\n" X-Sdk-Date "\n" hex(H(CanonicalRequest))
//! ```
//!
//! - CanonicalURI: the raw path percent-decoded, split on `/`, each segment percent-encoded
//!   leaving only `A-Z a-z 0-9 - _ . ~` (upper-case `%XX` of each byte), joined with `/`,
//!   with a `/` appended unless it ends with one. Decoding works on bytes: a decoded path
//!   that is not UTF-8 is re-encoded byte for byte (no SDK sends one).
//! - CanonicalQuery: split on `&` (empty pieces skipped) and the first `=` (a piece without
//!   one is a key with an empty value), each side percent-decoded (`+` stays a literal `+`:
//!   the SDKs send a space as `%20`), sorted by decoded key then decoded value, encoded as
//!   above and joined as `k=v` with `&`.
//! - CanonicalHeaders: `name:value\n` for each SignedHeaders entry, in the client's order,
//!   the name as the list gives it and the value trimmed of spaces and tabs (see below).
//! - Body hash: hex(H(raw body)), H("") for an empty body. A signed
//!   `X-Sdk-Content-Sha256` (SHA-256 algorithms) or `X-Sdk-Content-Sm3` (SM3 algorithms)
//!   stands for it, as the SDKs do, but only when it equals the body's digest (any hex case):
//!   the signature must bind the body the server acts on. `UNSIGNED-PAYLOAD` is refused.
//!
//! Header values are trimmed, as the Python and Go SDKs do. The Java SDK signs untrimmed
//! values, but the values the SDKs sign (host, content type, user agent, project ID, date)
//! never start or end with white space, and an HTTP/1.1 server strips that white space
//! before the application sees a field value anyway (RFC 9110 section 5.5), so the
//! untrimmed form cannot be rebuilt at the server: the trimmed form is the only one
//! accepted, which is what every SDK signs for those headers.

use super::algorithm::Algorithm;
use super::authorization::is_tchar;
use super::failure::{AuthFailure, FailureReason};
use super::request::RawRequest;

/// The body-digest value that marks an unsigned payload (refused).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// The CanonicalURI of a raw (percent-encoded) path.
///
/// # Errors
/// [`FailureReason::MalformedTarget`] if the path has a `%` not followed by two hex
/// digits.
pub fn canonical_uri(raw_path: &str) -> Result<String, AuthFailure> {
    let decoded = percent_decode(raw_path)?;
    let mut out = String::with_capacity(decoded.len() + 8);
    for (i, segment) in decoded.split(|&b| b == b'/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        percent_encode(segment, &mut out);
    }
    if !out.ends_with('/') {
        out.push('/');
    }
    Ok(out)
}

/// The CanonicalQuery of a raw query string (the part after `?`, if any).
///
/// # Errors
/// [`FailureReason::MalformedTarget`] if a key or value has a `%` not followed by two hex
/// digits.
pub fn canonical_query(raw_query: Option<&str>) -> Result<String, AuthFailure> {
    let Some(raw_query) = raw_query else {
        return Ok(String::new());
    };
    let mut pairs = raw_query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            Ok((percent_decode(key)?, percent_decode(value)?))
        })
        .collect::<Result<Vec<_>, AuthFailure>>()?;
    pairs.sort();
    let mut out = String::with_capacity(raw_query.len() + 8);
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode(key, &mut out);
        out.push('=');
        percent_encode(value, &mut out);
    }
    Ok(out)
}

/// The CanonicalRequest of `request` under `algorithm`, with `signed_headers` the client's
/// SignedHeaders list as it appears in `Authorization` (`a;b;c`).
///
/// # Errors
/// - [`FailureReason::MalformedMethod`] if the method is not an HTTP token;
/// - [`FailureReason::MalformedTarget`] for a malformed percent escape in path or query;
/// - [`FailureReason::MalformedAuthorization`] if a SignedHeaders entry is not a token;
/// - [`FailureReason::MissingSignedHeader`], [`FailureReason::DuplicateSignedHeader`],
///   [`FailureReason::InvalidHeaderValue`] if a signed header is absent, repeated, not
///   UTF-8 or holds a control character;
/// - [`FailureReason::UnsignedPayload`], [`FailureReason::ContentDigestMismatch`] if a
///   signed body-digest header says `UNSIGNED-PAYLOAD` or is not the body's digest.
pub fn canonical_request(
    request: &RawRequest<'_>,
    algorithm: Algorithm,
    signed_headers: &str,
) -> Result<String, AuthFailure> {
    let method = request.method();
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(FailureReason::MalformedMethod.into());
    }
    let uri = canonical_uri(request.raw_path())?;
    let query = canonical_query(request.raw_query())?;

    let mut out = String::with_capacity(
        method.len() + uri.len() + query.len() + 2 * signed_headers.len() + 256,
    );
    out.push_str(&method.to_ascii_uppercase());
    out.push('\n');
    out.push_str(&uri);
    out.push('\n');
    out.push_str(&query);
    out.push('\n');
    let mut content_digest = None;
    for name in signed_headers.split(';') {
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(FailureReason::MalformedAuthorization.into());
        }
        let value = request.signed_header_value(name)?;
        if name.eq_ignore_ascii_case(algorithm.content_digest_header()) {
            content_digest = Some(value);
        }
        out.push_str(name);
        out.push(':');
        out.push_str(value);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(signed_headers);
    out.push('\n');
    out.push_str(&body_digest(request.body(), algorithm, content_digest)?);
    Ok(out)
}

/// The StringToSign for a CanonicalRequest.
#[must_use]
pub fn string_to_sign(algorithm: Algorithm, sdk_date: &str, canonical_request: &str) -> String {
    format!(
        "{}\n{}\n{}",
        algorithm.name(),
        sdk_date,
        algorithm.hash_hex(canonical_request.as_bytes())
    )
}

/// The last line of the CanonicalRequest: hex(H(body)), or the signed digest header when it
/// equals it (an empty body is always H(""), as the SDKs sign it).
fn body_digest(
    body: &[u8],
    algorithm: Algorithm,
    signed_digest: Option<&str>,
) -> Result<String, AuthFailure> {
    let computed = algorithm.hash_hex(body);
    match signed_digest {
        Some(_) if body.is_empty() => Ok(computed),
        Some(UNSIGNED_PAYLOAD) => Err(FailureReason::UnsignedPayload.into()),
        Some(given) if given.eq_ignore_ascii_case(&computed) => Ok(given.to_owned()),
        Some(_) => Err(FailureReason::ContentDigestMismatch.into()),
        None => Ok(computed),
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes to bytes; `%` must start a two-hex-digit escape.
///
/// # Errors
/// [`FailureReason::MalformedTarget`] for a malformed escape.
pub fn percent_decode(text: &str) -> Result<Vec<u8>, AuthFailure> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = bytes.next().and_then(hex_value);
            let lo = bytes.next().and_then(hex_value);
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push((hi << 4) | lo),
                _ => return Err(FailureReason::MalformedTarget.into()),
            }
        } else {
            out.push(b);
        }
    }
    Ok(out)
}

/// Appends `bytes` percent-encoded: only `A-Z a-z 0-9 - _ . ~` stay as they are.
fn percent_encode(bytes: &[u8], out: &mut String) {
    const fn upper_hex(nibble: u8) -> char {
        (if nibble < 10 {
            b'0' + nibble
        } else {
            b'A' + nibble - 10
        }) as char
    }
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(upper_hex(b >> 4));
            out.push(upper_hex(b & 0x0f));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_gets_a_trailing_slash_and_reencoded_segments() {
        assert_eq!(
            canonical_uri("/v1.0/p/kms/encrypt-datakey").as_deref(),
            Ok("/v1.0/p/kms/encrypt-datakey/")
        );
        assert_eq!(canonical_uri("/").as_deref(), Ok("/"));
        assert_eq!(canonical_uri("").as_deref(), Ok("/"));
        assert_eq!(canonical_uri("/a/").as_deref(), Ok("/a/"));
        assert_eq!(
            canonical_uri("/k1/tags/tag%20key%3A%C3%BC").as_deref(),
            Ok("/k1/tags/tag%20key%3A%C3%BC/")
        );
        // Lower-case escapes come out upper-case; raw bytes that need escaping get escaped.
        assert_eq!(canonical_uri("/a%3ab/ü").as_deref(), Ok("/a%3Ab/%C3%BC/"));
        // %2F decodes to a separator before the split, as the SDKs do.
        assert_eq!(canonical_uri("/a%2Fb").as_deref(), Ok("/a/b/"));
        assert_eq!(
            canonical_uri("/%7Bproject_id%7D/kms").as_deref(),
            Ok("/%7Bproject_id%7D/kms/")
        );
        assert_eq!(canonical_uri("/%ff").as_deref(), Ok("/%FF/"));
    }

    #[test]
    fn malformed_escapes_are_refused() {
        for bad in ["/%", "/%4", "/%zz", "/a%g0", "/%%41"] {
            assert_eq!(
                canonical_uri(bad).map_err(|f| f.reason()),
                Err(FailureReason::MalformedTarget),
                "{bad}"
            );
            assert!(canonical_query(Some(&bad[1..])).is_err(), "{bad}");
        }
    }

    #[test]
    fn query_is_sorted_by_decoded_key_then_value() {
        assert_eq!(canonical_query(None).as_deref(), Ok(""));
        assert_eq!(canonical_query(Some("")).as_deref(), Ok(""));
        assert_eq!(
            canonical_query(Some("marker=a%20b%2Fc&limit=10&key_id=k1")).as_deref(),
            Ok("key_id=k1&limit=10&marker=a%20b%2Fc")
        );
        assert_eq!(
            canonical_query(Some("b=2&a=2&a=1")).as_deref(),
            Ok("a=1&a=2&b=2")
        );
        assert_eq!(canonical_query(Some("flag&&x=")).as_deref(), Ok("flag=&x="));
        assert_eq!(canonical_query(Some("q=a+b")).as_deref(), Ok("q=a%2Bb"));
        // Decoded order: 'z' (0x7a) sorts before '{' (0x7b) although "%7B" < "z".
        assert_eq!(
            canonical_query(Some("%7B=1&z=2")).as_deref(),
            Ok("z=2&%7B=1")
        );
        assert_eq!(canonical_query(Some("a=b=c")).as_deref(), Ok("a=b%3Dc"));
    }

    #[test]
    fn digest_header_stands_for_the_body_only_when_it_matches() {
        let alg = Algorithm::HmacSha256;
        let digest = alg.hash_hex(b"{}");
        assert_eq!(body_digest(b"{}", alg, None), Ok(digest.clone()));
        assert_eq!(body_digest(b"{}", alg, Some(&digest)), Ok(digest.clone()));
        let upper = digest.to_ascii_uppercase();
        assert_eq!(body_digest(b"{}", alg, Some(&upper)), Ok(upper));
        assert_eq!(
            body_digest(b"{}", alg, Some(UNSIGNED_PAYLOAD)).map_err(|f| f.reason()),
            Err(FailureReason::UnsignedPayload)
        );
        assert_eq!(
            body_digest(b"{ }", alg, Some(&digest)).map_err(|f| f.reason()),
            Err(FailureReason::ContentDigestMismatch)
        );
        assert_eq!(
            body_digest(b"", alg, Some(UNSIGNED_PAYLOAD)),
            Ok(alg.hash_hex(b""))
        );
    }
}
