//! Secret newtypes (DESIGN 8): wiped on drop, not `Clone`, a `Debug` that prints no bytes,
//! and bytes reachable only through accessors named `expose_secret*`.

use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

/// Secret bytes: a DEK, a PKCS#8 private key, CMK material.
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Takes ownership of `bytes`; they are wiped when the value drops.
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// `len` zero bytes, to be filled in place (for example by a decryption).
    #[must_use]
    pub fn zeroed(len: usize) -> Self {
        Self::new(vec![0; len])
    }

    /// The secret bytes.
    #[must_use]
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// The secret bytes, writable in place.
    pub fn expose_secret_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// Number of bytes (not secret: ciphertext lengths reveal it anyway).
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([REDACTED; {} bytes])", self.0.len())
    }
}

/// A secret in text form: hex of a DEK, base64 of a private key, a PIN.
///
/// Deserializes from and serializes to a plain JSON string, so request and response models
/// carry secrets without ever printing them.
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Takes ownership of `text`; it is wiped when the value drops.
    #[must_use]
    pub fn new(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    /// The secret text.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SecretString {
    fn from(text: &str) -> Self {
        Self::new(text.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([REDACTED])")
    }
}

impl Serialize for SecretString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_secret_bytes_shows_no_bytes() {
        let secret = SecretBytes::new(vec![0xAB; 4]);
        let shown = format!("{secret:?}");
        assert_eq!(shown, "SecretBytes([REDACTED; 4 bytes])");
    }

    #[test]
    fn debug_of_secret_string_shows_no_text() {
        let secret = SecretString::from("DEADBEEF");
        assert_eq!(format!("{secret:?}"), "SecretString([REDACTED])");
        assert_eq!(format!("{secret:#?}"), "SecretString([REDACTED])");
    }

    #[test]
    fn secret_string_round_trips_through_json_as_a_plain_string() {
        let secret: SecretString = serde_json::from_str("\"00FF\"").unwrap();
        assert_eq!(secret.expose_secret(), "00FF");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"00FF\"");
    }
}
