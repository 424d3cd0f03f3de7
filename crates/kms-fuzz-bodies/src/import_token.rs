//! The import token target: token text parsed and verified under the fixture token key.
//!
//! Input: the token text (invalid UTF-8 becomes U+FFFD, which no token contains).
//!
//! Invariant: a token verifies only if it is, character for character, one the body
//! issued, and then to the claims issued in it; every other text is refused with KMS.2605
//! alone.

use std::sync::OnceLock;

use kms_core::{ImportClaims, WrappingAlgorithm, open_token, seal_token};
use kms_soft::SoftCmk;

use crate::{Outcome, fixture};

/// Expiry written into the issued tokens, epoch milliseconds.
const EXPIRES_MS: u64 = 1_800_000_000_000;

struct Issued {
    key: SoftCmk,
    /// Each issued token's text and claims.
    tokens: Vec<(String, ImportClaims)>,
}

/// One token per wrapping algorithm, issued once per process with fixed token IDs and
/// nonces, so they are the same tokens as the committed seeds.
fn issued() -> &'static Issued {
    static ISSUED: OnceLock<Issued> = OnceLock::new();
    ISSUED.get_or_init(|| {
        let key = fixture::token_key();
        let tokens = (0u8..)
            .zip(WrappingAlgorithm::ALL)
            .map(|(index, &algorithm)| {
                let claims = ImportClaims {
                    token_id: [index; 16],
                    key_id: fixture::key_id(),
                    algorithm,
                    wrapping_key_spec: algorithm.default_key_spec(),
                    expires_ms: EXPIRES_MS,
                    wrapping_key_digest: [0xA0 | index; 32],
                    public_key_digest: [0xB0 | index; 32],
                };
                let nonce = [0x20 | index; 12];
                let text = seal_token(&key, &nonce, &claims).expect("issuing a reference token");
                (text, claims)
            })
            .collect();
        Issued { key, tokens }
    })
}

/// Verifies `data` as token text and checks the outcome.
///
/// # Panics
/// When a token the body did not issue verifies, when it verifies to other claims, or when
/// a refusal is anything but KMS.2605.
pub fn import_token(data: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(data);
    let issued = issued();
    match open_token(&issued.key, &text) {
        Ok(claims) => {
            assert!(
                issued
                    .tokens
                    .iter()
                    .any(|(token, issued_claims)| *token == text && *issued_claims == claims),
                "a token the body never issued verified"
            );
            Outcome::Accepted
        }
        Err(error) => {
            assert_eq!(error.code(), "KMS.2605", "a token was refused with {error}");
            Outcome::Refused
        }
    }
}
