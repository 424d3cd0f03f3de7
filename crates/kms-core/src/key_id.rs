//! Key IDs: 36 ASCII bytes matching `^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$`.

use core::fmt;

use crate::error::{KmsError, Result};

/// Length of a key ID in bytes.
pub const KEY_ID_LEN: usize = 36;

/// Where a key ID has its four hyphens (offsets 8, 13, 18 and 23).
const IS_HYPHEN: [bool; KEY_ID_LEN] = {
    let mut is_hyphen = [false; KEY_ID_LEN];
    is_hyphen[8] = true;
    is_hyphen[13] = true;
    is_hyphen[18] = true;
    is_hyphen[23] = true;
    is_hyphen
};

/// A validated key ID. `Copy` and hashable, so the hot path can key its cache on it without
/// allocating.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    /// Parses and validates a key ID.
    ///
    /// # Errors
    /// [`KmsError::InvalidKeyId`] (KMS.0205) unless `text` matches the key ID pattern.
    pub fn parse(text: &str) -> Result<Self> {
        let bytes: [u8; KEY_ID_LEN] = text
            .as_bytes()
            .try_into()
            .map_err(|_| KmsError::InvalidKeyId)?;
        Self::from_bytes(bytes)
    }

    /// Validates the 36 bytes of a key ID (as stored in a ciphertext header).
    ///
    /// # Errors
    /// [`KmsError::InvalidKeyId`] (KMS.0205) unless the bytes match the key ID pattern.
    pub fn from_bytes(bytes: [u8; KEY_ID_LEN]) -> Result<Self> {
        // Every byte is judged and the verdicts folded with no early exit, so the loop is
        // one LLVM vectorises: this runs on every request that names a key.
        let malformed = bytes
            .iter()
            .zip(IS_HYPHEN)
            .fold(false, |malformed, (&byte, is_hyphen)| {
                let alphanumeric = byte.is_ascii_digit() | byte.is_ascii_lowercase();
                let expected = (is_hyphen & (byte == b'-')) | (!is_hyphen & alphanumeric);
                malformed | !expected
            });
        if !malformed {
            Ok(Self(bytes))
        } else {
            Err(KmsError::InvalidKeyId)
        }
    }

    /// A fresh key ID from 16 random bytes (a version-4 UUID in lower-case hex).
    #[must_use]
    pub fn from_random(random: [u8; 16]) -> Self {
        let mut bytes = [0u8; KEY_ID_LEN];
        uuid::Builder::from_random_bytes(random)
            .into_uuid()
            .hyphenated()
            .encode_lower(&mut bytes);
        Self(bytes)
    }

    /// The ID as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever admitted, so this never takes the fallback.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The ID's 36 ASCII bytes, as written into ciphertext headers.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; KEY_ID_LEN] {
        &self.0
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.as_str())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_accepts_the_seed_example() {
        let id = KeyId::parse("0d0466b0-e727-4d9c-b35d-f84bb474a37f").unwrap();
        assert_eq!(id.as_str(), "0d0466b0-e727-4d9c-b35d-f84bb474a37f");
    }

    #[test]
    fn key_id_rejects_upper_case_wrong_length_and_misplaced_hyphens() {
        for bad in [
            "0D0466B0-E727-4D9C-B35D-F84BB474A37F",
            "0d0466b0-e727-4d9c-b35d-f84bb474a37",
            "0d0466b0-e727-4d9c-b35d-f84bb474a37ff",
            "0d0466b0e-727-4d9c-b35d-f84bb474a37f",
            "0d0466b0-e727-4d9c-b35d_f84bb474a37f",
            "",
            "0d0466b0-e727-4d9c-b35d-f84bb474a3\u{e9}",
        ] {
            assert_eq!(KeyId::parse(bad).unwrap_err().code(), "KMS.0205", "{bad}");
        }
    }

    #[test]
    fn every_byte_at_every_position_is_judged_by_the_pattern() {
        let good = *b"0d0466b0-e727-4d9c-b35d-f84bb474a37f";
        for position in 0..KEY_ID_LEN {
            for byte in 0..=255u8 {
                let mut id = good;
                id[position] = byte;
                let allowed = if [8, 13, 18, 23].contains(&position) {
                    byte == b'-'
                } else {
                    matches!(byte, b'0'..=b'9' | b'a'..=b'z')
                };
                let outcome = KeyId::from_bytes(id);
                assert_eq!(outcome.is_ok(), allowed, "{position} {byte:#04x}");
                if let Err(error) = outcome {
                    assert_eq!(error.code(), "KMS.0205");
                }
            }
        }
    }

    #[test]
    fn key_id_pattern_allows_any_lower_case_letter() {
        assert!(KeyId::parse("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz").is_ok());
    }

    #[test]
    fn random_key_ids_match_the_pattern() {
        let id = KeyId::from_random([0xA5; 16]);
        assert_eq!(KeyId::parse(id.as_str()).unwrap(), id);
    }
}
