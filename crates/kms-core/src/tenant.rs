//! Tenancy (DESIGN 10): every key belongs to the project that created it, and a caller
//! sees the keys of its own project only. Another project's key is KMS.0207, never a hint
//! that it exists.

use core::fmt;

use crate::error::{KmsError, Result};

/// Longest project ID: the cloud's are 32 hex digits; other tools use longer names.
pub const MAX_PROJECT_ID_LEN: usize = 64;

/// A project ID: 1 to 64 characters of `[0-9A-Za-z_-]`, so it is one URI path segment
/// as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectId(String);

impl ProjectId {
    /// The project of callers that name none: the command line's and the library's
    /// [`Kms::call_json`](crate::Kms::call_json), and keys made before projects existed.
    pub const DEFAULT: &'static str = "default";

    /// Checks `text` and makes it a project ID.
    ///
    /// # Errors
    /// [`KmsError::InvalidParameter`] (KMS.0308) when `text` is empty, longer than 64
    /// characters or has a character outside `[0-9A-Za-z_-]`.
    pub fn parse(text: &str) -> Result<Self> {
        let valid = !text.is_empty()
            && text.len() <= MAX_PROJECT_ID_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(KmsError::InvalidParameter(
                "project_id must be 1 to 64 characters of [0-9A-Za-z_-]".into(),
            ))
        }
    }

    /// The default project, [`ProjectId::DEFAULT`].
    #[must_use]
    pub fn default_project() -> Self {
        Self(Self::DEFAULT.to_owned())
    }

    /// The ID as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who a call is made for: the project whose keys it may see, the domain (account)
/// reported as `domain_id` in its responses, and the region reported as `region_id` and
/// `realm` (the only realm create-key accepts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// The project.
    pub project_id: ProjectId,
    /// The account's domain ID.
    pub domain_id: String,
    /// The region the caller's keys live in.
    pub region_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_id_is_1_to_64_url_safe_characters() {
        assert_eq!(
            ProjectId::parse("0123456789abcdef0123456789abcdef")
                .unwrap()
                .as_str()
                .len(),
            32
        );
        assert!(ProjectId::parse("my_project-2").is_ok());
        assert!(ProjectId::parse(&"p".repeat(64)).is_ok());
        for bad in ["", "{project_id}", "a/b", "a b", "é", &"p".repeat(65)] {
            assert_eq!(
                ProjectId::parse(bad).unwrap_err().code(),
                "KMS.0308",
                "{bad}"
            );
        }
    }
}
