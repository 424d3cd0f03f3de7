//! Request signing (DESIGN 10): verifying the official SDKs' APIG "SDK" signatures.
//!
//! Transport-independent: the server adapts each HTTP request into a [`RawRequest`] (the
//! method, the path and query exactly as received, the headers and the raw body bytes),
//! and [`verify`] rebuilds the CanonicalRequest from them and the client's own
//! SignedHeaders, checks `X-Sdk-Date` against the injected clock, asks a
//! [`CredentialLookup`] for the access key's [`Credential`], and checks the signature under
//! `SDK-HMAC-SHA256`, `SDK-HMAC-SM3`, `SDK-ECDSA-P256-SHA256` or `SDK-SM2-SM3`. Every
//! failure is one [`AuthFailure`] whose message says nothing about the cause (the server
//! answers 401 `APIGW.0301`), with a [`FailureReason`] for the server's access log.
//!
//! Files, one concern each:
//! - `request`: the [`RawRequest`] input and its case-insensitive header lookup;
//! - `authorization`: parsing the `Authorization` header;
//! - `algorithm`: the four algorithms, their hashes and body-digest headers;
//! - `date`: `X-Sdk-Date` and the 15-minute window;
//! - `canonical`: CanonicalURI, CanonicalQuery, CanonicalRequest, StringToSign (and what
//!   the server accepts where the SDKs differ);
//! - `credential`: [`Credential`] (the SK, the caller's data, the derived-key cache) and
//!   [`CredentialLookup`];
//! - `mac`: HMAC-SHA256 and HMAC-SM3;
//! - `derived_key`: the AK/SK-derived P-256 and SM2 key pairs;
//! - `sm2_za`: SM2's Z_A, standard and as the Python SDK computes it;
//! - `signature`: checking a signature under each algorithm;
//! - `sign`: the client side of the HMAC schemes, [`sign`];
//! - `failure`: [`AuthFailure`] and [`FailureReason`];
//! - `verify`: [`verify`] and [`Verified`].

mod algorithm;
mod authorization;
mod canonical;
mod credential;
mod date;
mod derived_key;
mod failure;
mod mac;
mod request;
mod sign;
mod signature;
mod sm2_za;
mod verify;

pub use algorithm::Algorithm;
pub use authorization::{
    Authorization, MAX_ACCESS_KEY_LEN, MAX_AUTHORIZATION_LEN, MAX_SIGNATURE_HEX_LEN,
    MAX_SIGNED_HEADERS,
};
pub use canonical::{
    UNSIGNED_PAYLOAD, canonical_query, canonical_request, canonical_uri, percent_decode,
    string_to_sign,
};
pub use credential::{Credential, CredentialLookup};
pub use date::{MAX_CLOCK_SKEW_SECONDS, check_window, format_sdk_date, parse_sdk_date};
pub use derived_key::{derive_private_key, derive_public_key};
pub use failure::{AuthFailure, FailureReason};
pub use request::RawRequest;
pub use sign::sign;
pub use verify::{SDK_DATE_HEADER, Verified, verify};
