//! The client side of the HMAC schemes: signing a request as the SDKs do, for tools that
//! call a KMS endpoint (tests, load generators). The asymmetric schemes are verified by
//! the server but not signed here.

use kms_core::SecretString;

use super::algorithm::Algorithm;
use super::canonical::{canonical_request, string_to_sign};
use super::failure::{AuthFailure, FailureReason};
use super::mac::{MacHash, tag};
use super::request::RawRequest;
use super::verify::SDK_DATE_HEADER;

/// The `Authorization` header value that signs `request` with `algorithm` (an HMAC one),
/// over `signed_headers` (lower case, `;`-separated, sorted, `x-sdk-date` among them and
/// every one present in `request`).
///
/// # Errors
/// The canonical request's errors; [`FailureReason::UnsupportedAlgorithm`] for an
/// asymmetric algorithm; [`FailureReason::DateNotSigned`] when `x-sdk-date` is not signed.
pub fn sign(
    request: &RawRequest<'_>,
    algorithm: Algorithm,
    signed_headers: &str,
    access_key: &str,
    secret_key: &SecretString,
) -> Result<String, AuthFailure> {
    let hash = match algorithm {
        Algorithm::HmacSha256 => MacHash::Sha256,
        Algorithm::HmacSm3 => MacHash::Sm3,
        Algorithm::EcdsaP256Sha256 | Algorithm::Sm2Sm3 => {
            return Err(FailureReason::UnsupportedAlgorithm.into());
        }
    };
    if !signed_headers
        .split(';')
        .any(|name| name == SDK_DATE_HEADER)
    {
        return Err(FailureReason::DateNotSigned.into());
    }
    let canonical = canonical_request(request, algorithm, signed_headers)?;
    let date = request.signed_header_value(SDK_DATE_HEADER)?;
    let to_sign = string_to_sign(algorithm, date, &canonical);
    let signature = tag(
        hash,
        secret_key.expose_secret().as_bytes(),
        &[to_sign.as_bytes()],
    )
    .ok_or(AuthFailure::new(FailureReason::KeyDerivation))?;
    Ok(format!(
        "{} Access={access_key}, SignedHeaders={signed_headers}, Signature={}",
        algorithm.name(),
        base16ct::lower::encode_string(signature.as_slice())
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::signing::{Credential, parse_sdk_date, verify};

    #[test]
    fn a_signed_request_verifies_under_both_hmac_algorithms_and_nothing_else_signs() {
        let secret = SecretString::from("a-secret-key");
        let credential = Arc::new(Credential::new(
            "AK1",
            SecretString::from("a-secret-key"),
            (),
        ));
        let lookup = |ak: &str| (ak == "AK1").then(|| Arc::clone(&credential));
        let date = "20261201T090000Z";
        let body = br#"{"key_id": "k"}"#;
        let request = RawRequest::from_target("POST", "/v1.0/p/kms/describe-key", body)
            .with_header("Host", b"127.0.0.1:8080")
            .with_header("X-Sdk-Date", date.as_bytes());
        for algorithm in [Algorithm::HmacSha256, Algorithm::HmacSm3] {
            let authorization =
                sign(&request, algorithm, "host;x-sdk-date", "AK1", &secret).unwrap();
            let signed = request
                .clone()
                .with_header("Authorization", authorization.as_bytes());
            let verified = verify(&signed, &lookup, parse_sdk_date(date).unwrap()).unwrap();
            assert_eq!(verified.access_key(), "AK1");
        }
        for algorithm in [Algorithm::EcdsaP256Sha256, Algorithm::Sm2Sm3] {
            let refused = sign(&request, algorithm, "host;x-sdk-date", "AK1", &secret).unwrap_err();
            assert_eq!(refused.reason(), FailureReason::UnsupportedAlgorithm);
        }
        let undated = sign(&request, Algorithm::HmacSha256, "host", "AK1", &secret).unwrap_err();
        assert_eq!(undated.reason(), FailureReason::DateNotSigned);
    }
}
