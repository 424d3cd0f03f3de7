//! The CMK lifecycle: create-key, describe-key, list-keys, enable-key, disable-key,
//! schedule-key-deletion, cancel-key-deletion; and a key's metadata: update-key-alias,
//! update-key-description.

use serde::{Deserialize, Serialize};

use super::fields::{decimal, key_id, number_or_string, required, sequence};
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::key_spec::KeySpec;
use crate::spec::{CmkSpec, KeyOrigin, KeyState, KeyUsage};

/// Longest `key_alias`, in characters.
pub const MAX_ALIAS_LEN: usize = 255;
/// Longest `key_description`, in characters.
pub const MAX_DESCRIPTION_LEN: usize = 255;
/// Shortest and longest `pending_days` of schedule-key-deletion.
pub const PENDING_DAYS: core::ops::RangeInclusive<u32> = 7..=1096;
/// Largest `limit` of list-keys, and its default: the API pages' 2000.
pub const MAX_LIST_LIMIT: u32 = 2000;
/// Body of `create-key`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// Alias, `^[a-zA-Z0-9:/_-]{1,255}$`; unique.
    pub key_alias: Option<String>,
    /// `AES_256` (default), `SM4`, an asymmetric spec (`RSA_2048`, `EC_P256`, `SM2`, ...)
    /// or an HMAC spec (`HMAC_256`, ...).
    pub key_spec: Option<String>,
    /// `ENCRYPT_DECRYPT` (the default of symmetric keys), `SIGN_VERIFY` (the default of
    /// asymmetric keys) or `GENERATE_VERIFY_MAC` (HMAC keys).
    pub key_usage: Option<String>,
    /// Free text, at most 255 characters.
    pub key_description: Option<String>,
    /// `kms` (default) or `external` (the key then waits for imported material).
    pub origin: Option<String>,
    /// Only the default project `0` is supported.
    pub enterprise_project_id: Option<String>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
    /// Only the default key store `0` is supported.
    pub keystore_id: Option<String>,
    /// Not supported.
    pub vm_id: Option<String>,
    /// The region the key lives in (older API pages and SDKs send it): absent, or the
    /// engine's own realm (`KmsConfig::region_id`); any other is KMS.1102.
    pub realm: Option<String>,
}

/// A validated create-key request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// The alias.
    pub alias: String,
    /// The description (empty when absent).
    pub description: String,
    /// The key's spec.
    pub spec: KeySpec,
    /// The usage.
    pub usage: KeyUsage,
    /// The origin.
    pub origin: KeyOrigin,
    /// The realm the caller asked for, if any (the engine checks it against its own).
    pub realm: Option<String>,
}

/// `alias` if it is a valid key alias: 1 to 255 characters of `[a-zA-Z0-9:/_-]`, not
/// ending in `/default` (the cloud's default keys' aliases).
///
/// # Errors
/// KMS.1101 otherwise.
fn valid_alias(alias: &str) -> Result<&str> {
    let valid = !alias.is_empty()
        && alias.len() <= MAX_ALIAS_LEN
        && alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":/_-".contains(&b))
        && !alias.ends_with("/default");
    valid.then_some(alias).ok_or(KmsError::InvalidKeyAlias)
}

/// `description` if it is at most 255 characters.
///
/// # Errors
/// KMS.1103 otherwise.
fn valid_description(description: &str) -> Result<&str> {
    (description.chars().count() <= MAX_DESCRIPTION_LEN)
        .then_some(description)
        .ok_or(KmsError::InvalidKeyDescription)
}

/// Body of `update-key-alias`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateKeyAliasRequest {
    /// The key.
    pub key_id: Option<String>,
    /// The new alias: `[a-zA-Z0-9:/_-]{1,255}`, unique in the project.
    pub key_alias: Option<String>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
}

impl UpdateKeyAliasRequest {
    /// Validates every field.
    ///
    /// # Errors
    /// KMS.0204, KMS.0205, KMS.0206; KMS.1101 for a bad alias.
    pub fn validate(&self) -> Result<(KeyId, &str)> {
        sequence(self.sequence.as_deref())?;
        let key_id = key_id(self.key_id.as_deref())?;
        let alias = valid_alias(required(self.key_alias.as_deref(), "key_alias")?)?;
        Ok((key_id, alias))
    }
}

/// Body of `update-key-description`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateKeyDescriptionRequest {
    /// The key.
    pub key_id: Option<String>,
    /// The new description, at most 255 characters (empty clears it).
    pub key_description: Option<String>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
}

impl UpdateKeyDescriptionRequest {
    /// Validates every field.
    ///
    /// # Errors
    /// KMS.0204, KMS.0205, KMS.0206; KMS.1103 for a long description.
    pub fn validate(&self) -> Result<(KeyId, &str)> {
        sequence(self.sequence.as_deref())?;
        let key_id = key_id(self.key_id.as_deref())?;
        let description = valid_description(required(
            self.key_description.as_deref(),
            "key_description",
        )?)?;
        Ok((key_id, description))
    }
}

/// Response of `update-key-alias`.
#[derive(Debug, Serialize, Deserialize)]
pub struct UpdateKeyAliasResponse {
    /// The key and its new alias.
    pub key_info: KeyAliasInfo,
}

/// The `key_info` of update-key-alias.
#[derive(Debug, Serialize, Deserialize)]
pub struct KeyAliasInfo {
    /// The key.
    pub key_id: String,
    /// Its alias now.
    pub key_alias: String,
}

/// Response of `update-key-description`.
#[derive(Debug, Serialize, Deserialize)]
pub struct UpdateKeyDescriptionResponse {
    /// The key and its new description.
    pub key_info: KeyDescriptionInfo,
}

/// The `key_info` of update-key-description.
#[derive(Debug, Serialize, Deserialize)]
pub struct KeyDescriptionInfo {
    /// The key.
    pub key_id: String,
    /// Its description now.
    pub key_description: String,
}

impl CreateKeyRequest {
    /// Validates every field.
    ///
    /// # Errors
    /// KMS.0204 without `key_alias`; KMS.1101 for a bad alias; KMS.1103 for a long
    /// description; KMS.0308 for an unknown spec, usage or origin; KMS.0206 for a bad
    /// sequence; KMS.9001 for a project, key store or VM this engine does not have.
    pub fn validate(&self) -> Result<NewKey> {
        sequence(self.sequence.as_deref())?;
        let alias = valid_alias(required(self.key_alias.as_deref(), "key_alias")?)?;
        let description = valid_description(self.key_description.as_deref().unwrap_or_default())?;
        let spec = match self.key_spec.as_deref() {
            None => KeySpec::Symmetric(CmkSpec::Aes256),
            Some(text) => KeySpec::from_wire(text).ok_or_else(|| {
                KmsError::InvalidParameter("key_spec must be a key spec of the API".into())
            })?,
        };
        let usage = match self.key_usage.as_deref() {
            None => spec.default_usage(),
            Some(text) => KeyUsage::from_wire(text).ok_or_else(|| {
                KmsError::InvalidParameter(
                    "key_usage must be ENCRYPT_DECRYPT, SIGN_VERIFY or GENERATE_VERIFY_MAC".into(),
                )
            })?,
        };
        if !spec.allows_usage(usage) {
            return Err(match spec {
                KeySpec::Asymmetric(_) if usage == KeyUsage::EncryptDecrypt => {
                    KmsError::EcKeyEncryption
                }
                _ => KmsError::InvalidParameter(format!(
                    "key_usage {} is not one a {} key can have",
                    usage.as_str(),
                    spec.as_str()
                )),
            });
        }
        let origin = match self.origin.as_deref() {
            None => KeyOrigin::Kms,
            Some(text) => KeyOrigin::from_wire(text).ok_or_else(|| {
                KmsError::InvalidParameter("origin must be kms or external".into())
            })?,
        };
        if origin == KeyOrigin::External {
            // Only symmetric material can be imported here.
            spec.require_symmetric()?;
        }
        refuse_non_default(
            "enterprise_project_id",
            self.enterprise_project_id.as_deref(),
        )?;
        refuse_non_default("keystore_id", self.keystore_id.as_deref())?;
        if self.vm_id.is_some() {
            return Err(KmsError::Unsupported("vm_id".into()));
        }
        Ok(NewKey {
            alias: alias.to_owned(),
            description: description.to_owned(),
            spec,
            usage,
            origin,
            realm: self.realm.clone(),
        })
    }
}

/// Accepts an absent field or the default `"0"`; anything else is a feature this engine lacks.
fn refuse_non_default(field: &'static str, value: Option<&str>) -> Result<()> {
    match value {
        None | Some("0") => Ok(()),
        Some(_) => Err(KmsError::Unsupported(format!(
            "{field} other than the default \"0\""
        ))),
    }
}

/// `key_info` of the create-key response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// The new key's ID.
    pub key_id: String,
    /// The engine's domain ID.
    pub domain_id: String,
    /// The engine's region ID.
    pub region_id: String,
}

/// Response of `create-key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateKeyResponse {
    /// The new key.
    pub key_info: KeyInfo,
}

/// Body of `describe-key`, `enable-key`, `disable-key` and `cancel-key-deletion`: a key ID.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyIdRequest {
    /// The key.
    pub key_id: Option<String>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
}

impl KeyIdRequest {
    /// Validates the key ID and sequence.
    ///
    /// # Errors
    /// KMS.0204, KMS.0205, KMS.0206.
    pub fn validate(&self) -> Result<KeyId> {
        sequence(self.sequence.as_deref())?;
        key_id(self.key_id.as_deref())
    }
}

/// A key as describe-key and list-keys show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDetails {
    /// Key ID.
    pub key_id: String,
    /// Domain (account) ID.
    pub domain_id: String,
    /// Alias.
    pub key_alias: String,
    /// Region the key lives in.
    pub realm: String,
    /// `AES_256` or `SM4`.
    pub key_spec: String,
    /// `ENCRYPT_DECRYPT`.
    pub key_usage: String,
    /// Description.
    pub key_description: String,
    /// Creation time, epoch milliseconds.
    pub creation_date: String,
    /// When a key pending deletion is deleted, epoch milliseconds; `""` when unset, as the
    /// API pages' examples show it.
    #[serde(default)]
    pub scheduled_deletion_date: String,
    /// "2" enabled, "3" disabled, "4" pending deletion, "5" pending import.
    pub key_state: String,
    /// "0": not a default master key.
    pub default_key_flag: String,
    /// "1": a customer master key.
    pub key_type: String,
    /// When imported material expires, epoch milliseconds; `""` when unset.
    #[serde(default)]
    pub expiration_time: String,
    /// `kms` or `external`.
    pub origin: String,
    /// "false": rotation is not offered.
    pub key_rotation_enabled: String,
    /// "0": the default enterprise project.
    pub sys_enterprise_project_id: String,
    /// "0": the default key store.
    pub keystore_id: String,
}

/// Response of `describe-key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribeKeyResponse {
    /// The key.
    pub key_info: KeyDetails,
}

/// Body of `list-keys`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListKeysRequest {
    /// Page size, 1..=2000 (default 2000; a string or a JSON integer).
    #[serde(default, deserialize_with = "number_or_string")]
    pub limit: Option<String>,
    /// Position (0-based) of the first key to return, as returned in `next_marker`
    /// (default 0; a string or a JSON integer).
    #[serde(default, deserialize_with = "number_or_string")]
    pub marker: Option<String>,
    /// Only keys in this state, 1..=5 (a string or a JSON integer).
    #[serde(default, deserialize_with = "number_or_string")]
    pub key_state: Option<String>,
    /// Only keys of this spec (`ALL`: every spec).
    pub key_spec: Option<String>,
    /// `all`, `0` (the default project, which holds every key of this engine) or the UUID
    /// of another project (which holds none).
    pub enterprise_project_id: Option<String>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
}

/// A validated list-keys request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyListing {
    /// Page size.
    pub limit: u32,
    /// Offset of the first key.
    pub offset: u32,
    /// State filter.
    pub state: Option<KeyState>,
    /// Spec filter.
    pub spec: Option<KeySpec>,
    /// The filters name a state, spec or project that holds no key of this engine: the
    /// answer is an empty list.
    pub matches_none: bool,
}

impl ListKeysRequest {
    /// Validates every field.
    ///
    /// # Errors
    /// KMS.1601 bad limit, KMS.1602 bad marker, KMS.0308 unknown state, spec or project,
    /// KMS.0206.
    pub fn validate(&self) -> Result<KeyListing> {
        sequence(self.sequence.as_deref())?;
        let limit = match self.limit.as_deref() {
            None => MAX_LIST_LIMIT,
            Some(text) => decimal(text)
                .filter(|n| (1..=MAX_LIST_LIMIT).contains(n))
                .ok_or(KmsError::InvalidLimit)?,
        };
        let offset = match self.marker.as_deref() {
            None => 0,
            Some(text) => decimal(text).ok_or(KmsError::InvalidMarker)?,
        };
        let mut matches_none = false;
        let state = match self.key_state.as_deref() {
            None => None,
            // "1" (pending activation) is a state no key of this engine is ever in.
            Some("1") => {
                matches_none = true;
                None
            }
            Some(text) => Some(
                KeyState::from_wire(text)
                    .ok_or_else(|| KmsError::InvalidParameter("key_state must be 1 to 5".into()))?,
            ),
        };
        let spec = match self.key_spec.as_deref() {
            None | Some("ALL") => None,
            Some(text) => Some(KeySpec::from_wire(text).ok_or_else(|| {
                KmsError::InvalidParameter("key_spec must be ALL or a key spec of the API".into())
            })?),
        };
        match self.enterprise_project_id.as_deref() {
            None | Some("all" | "0") => {}
            Some(text) if is_uuid(text) => matches_none = true,
            Some(_) => {
                return Err(KmsError::InvalidParameter(
                    "enterprise_project_id must be all, 0 or a project UUID".into(),
                ));
            }
        }
        Ok(KeyListing {
            limit,
            offset,
            state,
            spec,
            matches_none,
        })
    }
}

/// A lower-case UUID, `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, the
/// form of an enterprise project ID.
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(group, len)| {
            group.len() == len
                && group
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// Response of `list-keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListKeysResponse {
    /// IDs of the keys on this page.
    pub keys: Vec<String>,
    /// Details of the keys on this page.
    pub key_details: Vec<KeyDetails>,
    /// Marker of the next page; empty on the last page.
    pub next_marker: String,
    /// "true" when more pages follow.
    pub truncated: String,
    /// Number of keys matching the filters.
    pub total: u64,
}

/// `key_info` of the enable-key and disable-key responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyStatusInfo {
    /// Key ID.
    pub key_id: String,
    /// The state after the call.
    pub key_state: String,
}

/// Response of `enable-key` and `disable-key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyStatusResponse {
    /// The key and its new state.
    pub key_info: KeyStatusInfo,
}

/// Body of `schedule-key-deletion`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleKeyDeletionRequest {
    /// The key.
    pub key_id: Option<String>,
    /// Days until deletion, 7..=1096 (a string or a JSON integer).
    #[serde(default, deserialize_with = "number_or_string")]
    pub pending_days: Option<String>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
}

impl ScheduleKeyDeletionRequest {
    /// Validates the key ID, the pending days and the sequence.
    ///
    /// # Errors
    /// KMS.0204, KMS.0205, KMS.0206, KMS.1401.
    pub fn validate(&self) -> Result<(KeyId, u32)> {
        sequence(self.sequence.as_deref())?;
        let id = key_id(self.key_id.as_deref())?;
        let days = decimal(required(self.pending_days.as_deref(), "pending_days")?)
            .filter(|days| PENDING_DAYS.contains(days))
            .ok_or(KmsError::InvalidPendingDays)?;
        Ok((id, days))
    }
}

/// Response of `schedule-key-deletion` and `cancel-key-deletion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyStateResponse {
    /// Key ID.
    pub key_id: String,
    /// The state after the call.
    pub key_state: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(json: &str) -> Result<NewKey> {
        serde_json::from_str::<CreateKeyRequest>(json)
            .unwrap()
            .validate()
    }

    #[test]
    fn create_key_defaults_to_aes_256_encrypt_decrypt_kms() {
        let key = create(r#"{"key_alias":"app/db-key"}"#).unwrap();
        assert_eq!(key.spec, KeySpec::Symmetric(CmkSpec::Aes256));
        assert_eq!(key.usage, KeyUsage::EncryptDecrypt);
        assert_eq!(key.origin, KeyOrigin::Kms);
    }

    #[test]
    fn create_key_checks_alias_characters_and_length() {
        for bad in ["", "has space", "semi;colon", "x/default"] {
            let json = serde_json::json!({ "key_alias": bad }).to_string();
            assert_eq!(create(&json).unwrap_err().code(), "KMS.1101", "{bad}");
        }
        let long = serde_json::json!({ "key_alias": "a".repeat(256) }).to_string();
        assert_eq!(create(&long).unwrap_err().code(), "KMS.1101");
        let max = serde_json::json!({ "key_alias": "a".repeat(255) }).to_string();
        assert!(create(&max).is_ok());
    }

    #[test]
    fn create_key_requires_an_alias() {
        assert_eq!(create("{}").unwrap_err().code(), "KMS.0204");
    }

    #[test]
    fn create_key_refuses_unknown_specs_and_foreign_key_stores() {
        let err = create(r#"{"key_alias":"a","key_spec":"RSA_1024"}"#).unwrap_err();
        assert_eq!(err.code(), "KMS.0308");
        let rsa = create(r#"{"key_alias":"a","key_spec":"RSA_2048"}"#).unwrap();
        assert_eq!(rsa.usage, KeyUsage::SignVerify);
        let hmac = create(r#"{"key_alias":"a","key_spec":"HMAC_SM3"}"#).unwrap();
        assert_eq!(hmac.usage, KeyUsage::GenerateVerifyMac);
        for (body, code) in [
            (
                r#"{"key_alias":"a","key_spec":"EC_P256","key_usage":"ENCRYPT_DECRYPT"}"#,
                "KMS.1114",
            ),
            (
                r#"{"key_alias":"a","key_spec":"AES_256","key_usage":"SIGN_VERIFY"}"#,
                "KMS.0308",
            ),
            (
                r#"{"key_alias":"a","key_spec":"HMAC_256","key_usage":"SIGN_VERIFY"}"#,
                "KMS.0308",
            ),
            (
                r#"{"key_alias":"a","key_spec":"SM2","key_usage":"GENERATE_VERIFY_MAC"}"#,
                "KMS.0308",
            ),
            (
                r#"{"key_alias":"a","key_spec":"SM2","origin":"external"}"#,
                "KMS.0325",
            ),
            (
                r#"{"key_alias":"a","key_spec":"HMAC_512","origin":"external"}"#,
                "KMS.0341",
            ),
        ] {
            assert_eq!(create(body).unwrap_err().code(), code, "{body}");
        }
        let err = create(r#"{"key_alias":"a","keystore_id":"ks-1"}"#).unwrap_err();
        assert_eq!(err.code(), "KMS.9001");
        assert!(create(r#"{"key_alias":"a","keystore_id":"0","origin":"external"}"#).is_ok());
    }

    #[test]
    fn schedule_key_deletion_takes_7_to_1096_days() {
        let validate = |days: &str| {
            ScheduleKeyDeletionRequest {
                key_id: Some("0d0466b0-e727-4d9c-b35d-f84bb474a37f".into()),
                pending_days: Some(days.into()),
                sequence: None,
            }
            .validate()
        };
        assert_eq!(validate("7").unwrap().1, 7);
        assert_eq!(validate("1096").unwrap().1, 1096);
        for bad in ["6", "1097", "", "seven", "-7"] {
            assert_eq!(validate(bad).unwrap_err().code(), "KMS.1401", "{bad}");
        }
    }

    fn listing(json: &str) -> Result<KeyListing> {
        serde_json::from_str::<ListKeysRequest>(json)
            .unwrap()
            .validate()
    }

    #[test]
    fn list_keys_filters_as_the_pages_define_them() {
        let all = listing(r#"{"key_spec":"ALL","enterprise_project_id":"all"}"#).unwrap();
        assert_eq!((all.spec, all.matches_none), (None, false));
        let sm4 = listing(r#"{"key_spec":"SM4","key_state":"2"}"#).unwrap();
        assert_eq!(sm4.spec, Some(KeySpec::Symmetric(CmkSpec::Sm4)));
        let rsa = listing(r#"{"key_spec":"RSA_2048"}"#).unwrap();
        assert_eq!(rsa.spec, KeySpec::from_wire("RSA_2048"));
        assert!(!rsa.matches_none);
        assert_eq!(sm4.state, Some(KeyState::Enabled));
        for none in [
            r#"{"key_state":"1"}"#,
            r#"{"enterprise_project_id":"0d0466b0-e727-4d9c-b35d-f84bb474a37f"}"#,
        ] {
            assert!(listing(none).unwrap().matches_none, "{none}");
        }
        assert!(
            !listing(r#"{"enterprise_project_id":"0"}"#)
                .unwrap()
                .matches_none
        );
        for bad in [
            r#"{"key_spec":"all"}"#,
            r#"{"key_spec":"AES_128"}"#,
            r#"{"key_state":"0"}"#,
            r#"{"key_state":"6"}"#,
            r#"{"enterprise_project_id":"ALL"}"#,
            r#"{"enterprise_project_id":"0D0466B0-E727-4D9C-B35D-F84BB474A37F"}"#,
            r#"{"enterprise_project_id":"ep-1"}"#,
        ] {
            assert_eq!(listing(bad).unwrap_err().code(), "KMS.0308", "{bad}");
        }
        assert_eq!(listing(r#"{"limit":2000}"#).unwrap().limit, 2000);
        assert_eq!(listing(r#"{"marker":3}"#).unwrap().offset, 3);
        for bad in ["1.5", "-1", "1e30"] {
            let body = format!(r#"{{"limit":{bad}}}"#);
            assert_eq!(listing(&body).unwrap_err().code(), "KMS.1601", "{bad}");
            let body = format!(r#"{{"marker":{bad}}}"#);
            assert_eq!(listing(&body).unwrap_err().code(), "KMS.1602", "{bad}");
        }
    }

    #[test]
    fn list_keys_checks_limit_and_marker() {
        let validate = |limit: Option<&str>, marker: Option<&str>| {
            ListKeysRequest {
                limit: limit.map(Into::into),
                marker: marker.map(Into::into),
                ..ListKeysRequest::default()
            }
            .validate()
        };
        assert_eq!(validate(None, None).unwrap().limit, 2000);
        assert_eq!(validate(Some("2000"), None).unwrap().limit, 2000);
        assert_eq!(validate(Some("0"), None).unwrap_err().code(), "KMS.1601");
        assert_eq!(validate(Some("2001"), None).unwrap_err().code(), "KMS.1601");
        assert_eq!(validate(None, Some("-1")).unwrap_err().code(), "KMS.1602");
        assert_eq!(validate(Some("2"), Some("4")).unwrap().offset, 4);
    }
}
