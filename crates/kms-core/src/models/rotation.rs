//! The bodies of the key rotation operations.

use serde::{Deserialize, Serialize};

use super::fields::{decimal, key_id, number_or_string, required, sequence};
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::store::ROTATION_INTERVAL_DAYS;

/// Body of `update-key-rotation-interval`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateKeyRotationIntervalRequest {
    /// The key.
    pub key_id: Option<String>,
    /// Days between rotations, 30..=365 (a JSON integer or a string).
    #[serde(default, deserialize_with = "number_or_string")]
    pub rotation_interval: Option<String>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
}

impl UpdateKeyRotationIntervalRequest {
    /// Validates the key ID, the interval and the sequence.
    ///
    /// # Errors
    /// KMS.0204, KMS.0205, KMS.0206; KMS.3001 for an interval that is not a whole number of
    /// days in 30..=365.
    pub fn validate(&self) -> Result<(KeyId, u32)> {
        sequence(self.sequence.as_deref())?;
        let id = key_id(self.key_id.as_deref())?;
        let days = decimal(required(
            self.rotation_interval.as_deref(),
            "rotation_interval",
        )?)
        .filter(|days| ROTATION_INTERVAL_DAYS.contains(days))
        .ok_or(KmsError::InvalidRotationInterval)?;
        Ok((id, days))
    }
}

/// One material generation of a key, as get-key-rotation-status lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyMaterial {
    /// The material's generation, as the header of every blob it seals names it.
    pub material_id: String,
    /// Always empty: this engine bills nothing.
    pub charge_id: String,
    /// When the material was made, epoch seconds.
    pub create_time: String,
    /// When imported material expires, epoch seconds; empty when it does not.
    pub expiration_time: String,
    /// [`MATERIAL_CURRENT`] for the material that seals, [`MATERIAL_RETIRED`] for those that
    /// only open the blobs they sealed.
    pub state: u8,
}

/// [`KeyMaterial::state`] of the material new blobs are sealed under.
pub const MATERIAL_CURRENT: u8 = 1;
/// [`KeyMaterial::state`] of a material a rotation retired.
pub const MATERIAL_RETIRED: u8 = 2;

/// Response of `get-key-rotation-status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRotationStatusResponse {
    /// Whether scheduled rotation is on.
    pub key_rotation_enabled: bool,
    /// Days between scheduled rotations.
    pub rotation_interval: u32,
    /// When the key last rotated, epoch seconds; empty if it never has.
    pub last_rotation_time: String,
    /// How many times the key has rotated, on demand or on schedule.
    pub number_of_rotations: u32,
    /// Every material the key holds, oldest first.
    pub key_materials: Vec<KeyMaterial>,
}

/// Response of `rotate-on-demand`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotateOnDemandResponse {
    /// The key rotated.
    pub key_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(json: &str) -> Result<(KeyId, u32)> {
        serde_json::from_str::<UpdateKeyRotationIntervalRequest>(json)
            .unwrap()
            .validate()
    }

    #[test]
    fn the_interval_is_30_to_365_days_as_a_number_or_a_string() {
        const KEY: &str = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
        for days in ["30", "365", "\"90\""] {
            let json = format!(r#"{{"key_id":"{KEY}","rotation_interval":{days}}}"#);
            assert!(interval(&json).is_ok(), "{days}");
        }
        for days in ["29", "366", "0", "-30", "30.5", "\"x\"", "\"\""] {
            let json = format!(r#"{{"key_id":"{KEY}","rotation_interval":{days}}}"#);
            assert_eq!(interval(&json).unwrap_err().code(), "KMS.3001", "{days}");
        }
        let missing = format!(r#"{{"key_id":"{KEY}"}}"#);
        assert_eq!(interval(&missing).unwrap_err().code(), "KMS.0204");
    }
}
