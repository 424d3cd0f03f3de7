//! Outside test material run through the soft backend's own code paths, including the
//! crate-private import unwrap: Wycheproof (AEAD, RSA-OAEP, AES-KWP) and NIST CAVP AES-KWP.
//! Each file prints what it covered (`cargo test -- --nocapture` shows it).

mod cavp_kwp;
mod rfc4231;
mod sm2_signature;
mod tally;
mod wycheproof_gcm;
mod wycheproof_kwp;
mod wycheproof_rsa_oaep;
mod wycheproof_signatures;

/// The shortest AES-KWP plaintext the engine unwraps (aes-kw itself unwraps shorter ones).
const MIN_KWP_PLAINTEXT: usize = 16;
