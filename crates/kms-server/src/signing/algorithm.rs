//! The four SDK signing algorithms: their names on the wire, their hash `H`, and the
//! header that may carry the body's digest in place of hashing it.

use core::fmt;

use sha2::{Digest, Sha256};
use sm3::Sm3;

/// An SDK signing algorithm, as named first in the `Authorization` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `SDK-HMAC-SHA256`: HMAC-SHA256 keyed with the secret key's UTF-8 bytes (the default).
    HmacSha256,
    /// `SDK-HMAC-SM3`: HMAC-SM3 keyed with the secret key's UTF-8 bytes.
    HmacSm3,
    /// `SDK-ECDSA-P256-SHA256`: DER ECDSA P-256 over SHA-256, key derived from AK/SK.
    EcdsaP256Sha256,
    /// `SDK-SM2-SM3`: DER SM2 signature with user ID `1234567812345678`, key derived from
    /// AK/SK.
    Sm2Sm3,
}

impl Algorithm {
    /// All four, in the order the SDKs document them.
    pub const ALL: [Self; 4] = [
        Self::HmacSha256,
        Self::HmacSm3,
        Self::EcdsaP256Sha256,
        Self::Sm2Sm3,
    ];

    /// The name on the wire (`Authorization` and StringToSign).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::HmacSha256 => "SDK-HMAC-SHA256",
            Self::HmacSm3 => "SDK-HMAC-SM3",
            Self::EcdsaP256Sha256 => "SDK-ECDSA-P256-SHA256",
            Self::Sm2Sm3 => "SDK-SM2-SM3",
        }
    }

    /// The algorithm of a wire name (exact, case-sensitive match, as the gateway does).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.name() == name)
    }

    /// Whether `H` is SM3 (otherwise SHA-256).
    #[must_use]
    pub const fn uses_sm3(self) -> bool {
        matches!(self, Self::HmacSm3 | Self::Sm2Sm3)
    }

    /// The (lower-case) header that, when signed, carries hex(H(body)) in place of hashing
    /// the body: `x-sdk-content-sha256` or `x-sdk-content-sm3`.
    #[must_use]
    pub const fn content_digest_header(self) -> &'static str {
        if self.uses_sm3() {
            "x-sdk-content-sm3"
        } else {
            "x-sdk-content-sha256"
        }
    }

    /// H(data): SHA-256 or SM3.
    #[must_use]
    pub fn hash(self, data: &[u8]) -> [u8; 32] {
        if self.uses_sm3() {
            Sm3::digest(data).into()
        } else {
            Sha256::digest(data).into()
        }
    }

    /// Lower-case hex of H(data), as the canonical request and StringToSign carry it.
    #[must_use]
    pub fn hash_hex(self, data: &[u8]) -> String {
        base16ct::lower::encode_string(&self.hash(data))
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
