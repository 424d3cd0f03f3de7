//! Hex and base64 of the wire format (DESIGN 4), through constant-time codecs.
//!
//! Input hex is accepted in either case; output hex is upper case like the seeds' examples.
//! Hex is decoded by [`crate::hex`] and encoded by `base16ct`; base64 goes through `base64ct`.
//! Secrets are decoded straight into [`SecretBytes`] and encoded straight into
//! [`SecretString`], so no unwiped copy is left behind.

use base64ct::{Base64, Encoding};

use crate::hex;
use crate::secret::{SecretBytes, SecretString};

/// Why text was not valid hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HexError {
    /// An odd number of characters.
    OddLength,
    /// A character outside `[0-9a-fA-F]`.
    NotHex,
}

/// Decodes hex (either case) into secret bytes.
///
/// # Errors
/// [`HexError`] when `text` has an odd length or a non-hex character.
pub fn decode_hex_secret(text: &str) -> Result<SecretBytes, HexError> {
    if !text.len().is_multiple_of(2) {
        return Err(HexError::OddLength);
    }
    let mut out = SecretBytes::zeroed(text.len() / 2);
    hex::decode_mixed(text.as_bytes(), out.expose_secret_mut())?;
    Ok(out)
}

/// Decodes hex (either case) of public data such as a ciphertext blob.
///
/// # Errors
/// [`HexError`] when `text` has an odd length or a non-hex character.
pub fn decode_hex(text: &str) -> Result<Vec<u8>, HexError> {
    if !text.len().is_multiple_of(2) {
        return Err(HexError::OddLength);
    }
    let mut out = vec![0; text.len() / 2];
    hex::decode_mixed(text.as_bytes(), &mut out)?;
    Ok(out)
}

/// Upper-case hex of public data.
#[must_use]
pub fn encode_hex(bytes: &[u8]) -> String {
    // base16ct, not `hex::encode_upper`: without unsafe code, a String from our buffer costs
    // a UTF-8 check that makes it slower for the engine's sizes (benches/benches/hex.rs).
    base16ct::upper::encode_string(bytes)
}

/// Upper-case hex of a secret.
#[must_use]
pub fn encode_hex_secret(secret: &SecretBytes) -> SecretString {
    // base16ct, for the reason given in `encode_hex`.
    SecretString::new(base16ct::upper::encode_string(secret.expose_secret()))
}

/// Standard base64 (with padding) of public data such as a DER public key.
#[must_use]
pub fn encode_base64(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

/// Decodes standard base64 (with padding) of public data such as a DER public key.
///
/// # Errors
/// [`base64ct::Error`] when `text` is not canonical standard base64.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, base64ct::Error> {
    Base64::decode_vec(text)
}

/// Standard base64 (with padding) of a secret such as a PKCS#8 private key.
#[must_use]
pub fn encode_base64_secret(secret: &SecretBytes) -> SecretString {
    SecretString::new(Base64::encode_string(secret.expose_secret()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_input_accepts_either_case_and_output_is_upper_case() {
        let bytes = decode_hex_secret("00aBfF").unwrap();
        assert_eq!(bytes.expose_secret(), &[0x00, 0xAB, 0xFF]);
        assert_eq!(encode_hex_secret(&bytes).expose_secret(), "00ABFF");
        assert_eq!(encode_hex(&[0xAB]), "AB");
    }

    #[test]
    fn hex_rejects_odd_length_and_non_hex() {
        assert_eq!(decode_hex_secret("abc").unwrap_err(), HexError::OddLength);
        assert_eq!(decode_hex_secret("zz").unwrap_err(), HexError::NotHex);
        assert_eq!(decode_hex("0g").unwrap_err(), HexError::NotHex);
        assert_eq!(decode_hex("é").unwrap_err(), HexError::NotHex);
    }

    #[test]
    fn base64_is_standard_with_padding() {
        assert_eq!(encode_base64(b"ab"), "YWI=");
        assert_eq!(decode_base64("YWI=").unwrap(), b"ab");
        assert!(decode_base64("YWI").is_err());
    }
}
