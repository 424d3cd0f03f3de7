//! HMAC-SHA256 and HMAC-SM3: the two HMAC signing algorithms, and the PRF of the
//! asymmetric schemes' key derivation.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use sm3::Sm3;
use zeroize::Zeroizing;

/// Which hash the HMAC runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MacHash {
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SM3.
    Sm3,
}

/// HMAC-H(key, parts concatenated), in a buffer wiped on drop (the derivation's output is
/// a private scalar). `None` only if the MAC refused the key, which HMAC never does.
pub(crate) fn tag(hash: MacHash, key: &[u8], parts: &[&[u8]]) -> Option<Zeroizing<[u8; 32]>> {
    fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Option<Zeroizing<[u8; 32]>> {
        let mut mac = <M as KeyInit>::new_from_slice(key).ok()?;
        for part in parts {
            mac.update(part);
        }
        let mut out = Zeroizing::new([0_u8; 32]);
        let bytes = mac.finalize().into_bytes();
        if bytes.len() != out.len() {
            return None;
        }
        out.copy_from_slice(&bytes);
        Some(out)
    }
    match hash {
        MacHash::Sha256 => run::<Hmac<Sha256>>(key, parts),
        MacHash::Sm3 => run::<Hmac<Sm3>>(key, parts),
    }
}

/// Whether `tag` is HMAC-H(key, message), compared in constant time.
pub(crate) fn verify(hash: MacHash, key: &[u8], message: &[u8], tag: &[u8]) -> bool {
    fn run<M: Mac + KeyInit>(key: &[u8], message: &[u8], tag: &[u8]) -> bool {
        match <M as KeyInit>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(message);
                mac.verify_slice(tag).is_ok()
            }
            Err(_) => false,
        }
    }
    match hash {
        MacHash::Sha256 => run::<Hmac<Sha256>>(key, message, tag),
        MacHash::Sm3 => run::<Hmac<Sm3>>(key, message, tag),
    }
}
