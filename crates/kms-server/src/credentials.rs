//! The credentials file (DESIGN 10): who may call the server, in which projects, for which
//! domain. TOML, readable by its owner alone:
//!
//! ```toml
//! [[access_keys]]
//! ak = "TESTAK0123456789ABCD"
//! sk = "testSecretKey0123456789abcdefghijklmnopqr"
//! domain_id = "0123456789abcdef0123456789abcdef"
//! projects = ["0123456789abcdef0123456789abcdef"]
//!
//! [[tokens]]                      # X-Auth-Token callers, by the token's SHA-256
//! sha256 = "<64 hex digits>"
//! domain_id = "0123456789abcdef0123456789abcdef"
//! projects = ["0123456789abcdef0123456789abcdef"]
//! ```
//!
//! A server started on a home without one creates one with a random access key and
//! project, so a first run needs no setup.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kms_core::{KmsError, ProjectId, Result, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::signing::Credential;

/// What a credential may do: the projects it may call in, and the domain and region its
/// responses report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The caller's domain (account) ID.
    pub domain_id: String,
    /// The caller's region (`region_id` and `realm` of its keys); the engine's own when
    /// `None`.
    pub region_id: Option<String>,
    /// The projects it may use.
    pub projects: Vec<ProjectId>,
}

impl Grant {
    /// Whether the grant covers `project`.
    #[must_use]
    pub fn allows(&self, project: &ProjectId) -> bool {
        self.projects.contains(project)
    }
}

/// The loaded credentials: access keys by AK, and token digests.
#[derive(Debug, Default)]
pub struct Credentials {
    access_keys: HashMap<String, Arc<Credential<Grant>>>,
    tokens: Vec<([u8; 32], Grant)>,
}

/// A new credentials file's one access key, to tell its owner once.
#[derive(Debug)]
pub struct CreatedCredentials {
    /// The access key.
    pub access_key: String,
    /// Its secret key.
    pub secret_key: SecretString,
    /// The project it may use.
    pub project_id: ProjectId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    access_keys: Vec<AccessKeyEntry>,
    #[serde(default)]
    tokens: Vec<TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessKeyEntry {
    ak: String,
    sk: SecretString,
    domain_id: String,
    #[serde(default)]
    region_id: Option<String>,
    projects: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    sha256: String,
    domain_id: String,
    #[serde(default)]
    region_id: Option<String>,
    projects: Vec<String>,
}

fn invalid(path: &Path, what: &str) -> KmsError {
    KmsError::InvalidParameter(format!("credentials file {}: {what}", path.display()))
}

impl Credentials {
    /// Reads the credentials file at `path`.
    ///
    /// # Errors
    /// KMS.0308 when the file can be read by its group or others (it must be mode 0600 or
    /// stricter), is not TOML of the documented form, repeats an access key, has an empty
    /// secret key, a project ID that is not one, or a token digest that is not 64 hex
    /// digits; KMS.0102 when it cannot be read.
    pub fn load(path: &Path) -> Result<Self> {
        let metadata = fs::metadata(path)
            .map_err(|error| KmsError::Store(format!("reading {}: {error}", path.display())))?;
        if metadata.permissions().mode() & 0o077 != 0 {
            return Err(invalid(
                path,
                "its group or others can read it; make it readable by its owner alone (chmod 600)",
            ));
        }
        let text =
            Zeroizing::new(fs::read_to_string(path).map_err(|error| {
                KmsError::Store(format!("reading {}: {error}", path.display()))
            })?);
        // The parser's message may quote the file, secret keys included: say where only.
        let file: File = toml::from_str(&text).map_err(|error| {
            let at = error
                .span()
                .map(|span| {
                    let line = text
                        .get(..span.start)
                        .map_or(0, |before| before.lines().count());
                    format!(" (near line {line})")
                })
                .unwrap_or_default();
            invalid(path, &format!("not a credentials file{at}"))
        })?;
        let projects = |projects: Vec<String>| -> Result<Vec<ProjectId>> {
            projects
                .iter()
                .map(|project| ProjectId::parse(project))
                .collect()
        };
        let mut credentials = Self::default();
        for entry in file.access_keys {
            if entry.sk.expose_secret().is_empty() {
                return Err(invalid(
                    path,
                    &format!("access key {} has an empty sk", entry.ak),
                ));
            }
            let grant = Grant {
                domain_id: entry.domain_id,
                region_id: entry.region_id,
                projects: projects(entry.projects)?,
            };
            let credential = Arc::new(Credential::new(entry.ak.clone(), entry.sk, grant));
            if credentials
                .access_keys
                .insert(entry.ak.clone(), credential)
                .is_some()
            {
                return Err(invalid(
                    path,
                    &format!("access key {} appears twice", entry.ak),
                ));
            }
        }
        for entry in file.tokens {
            let digest = kms_core::decode_hex(&entry.sha256)
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or_else(|| invalid(path, "a token's sha256 is not 64 hex digits"))?;
            let grant = Grant {
                domain_id: entry.domain_id,
                region_id: entry.region_id,
                projects: projects(entry.projects)?,
            };
            credentials.tokens.push((digest, grant));
        }
        Ok(credentials)
    }

    /// Creates a credentials file at `path` (mode 0600; never over an existing file) with
    /// one random access key, secret key, project and domain, and returns what the caller
    /// must tell its owner.
    ///
    /// # Errors
    /// KMS.0102 when the file exists or cannot be written; KMS.0103 when the system has no
    /// randomness.
    pub fn create(path: &Path) -> Result<CreatedCredentials> {
        let io = |error: std::io::Error| {
            KmsError::Store(format!("creating {}: {error}", path.display()))
        };
        let access_key = random_text(20, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")?;
        let secret_key = SecretString::new(random_text(
            40,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        )?);
        let project = random_text(32, b"0123456789abcdef")?;
        let domain = random_text(32, b"0123456789abcdef")?;
        let text = Zeroizing::new(format!(
            "# Credentials of kms serve: keep this file readable by its owner alone.\n\
             [[access_keys]]\nak = \"{access_key}\"\nsk = \"{}\"\ndomain_id = \"{domain}\"\n\
             projects = [\"{project}\"]\n",
            secret_key.expose_secret()
        ));
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(CreatedCredentials {
            access_key,
            secret_key,
            project_id: ProjectId::parse(&project)?,
        })
    }

    /// Loads the credentials file at `path`, creating it first when it does not exist;
    /// returns what was created, if anything, for its owner to be told once.
    ///
    /// # Errors
    /// As [`load`](Self::load) and [`create`](Self::create).
    pub fn load_or_create(path: &Path) -> Result<(Self, Option<CreatedCredentials>)> {
        let created = if path.exists() {
            None
        } else {
            Some(Self::create(path)?)
        };
        Ok((Self::load(path)?, created))
    }

    /// The credential of access key `ak`.
    #[must_use]
    pub fn access_key(&self, ak: &str) -> Option<Arc<Credential<Grant>>> {
        self.access_keys.get(ak).cloned()
    }

    /// The grant of the X-Auth-Token `token`, compared by its SHA-256 digest in constant
    /// time.
    #[must_use]
    pub fn token(&self, token: &[u8]) -> Option<&Grant> {
        let digest: [u8; 32] = Sha256::digest(token).into();
        let mut found = None;
        for (known, grant) in &self.tokens {
            if bool::from(known.ct_eq(&digest)) {
                found = Some(grant);
            }
        }
        found
    }
}

/// `len` characters drawn uniformly from `alphabet` (at most 256 symbols) with the OS's
/// randomness.
fn random_text(len: usize, alphabet: &[u8]) -> Result<String> {
    let symbols = alphabet.len();
    // Rejection sampling: bytes at or above the largest multiple of `symbols` are drawn
    // again, so every symbol is equally likely.
    let limit = 256 - 256 % symbols;
    let mut text = String::with_capacity(len);
    let mut bytes = Zeroizing::new([0u8; 64]);
    while text.len() < len {
        getrandom::fill(bytes.as_mut_slice())
            .map_err(|error| KmsError::Backend(format!("system randomness: {error}")))?;
        let symbols_drawn = bytes
            .iter()
            .map(|byte| usize::from(*byte))
            .filter(|byte| *byte < limit)
            .filter_map(|byte| alphabet.get(byte % symbols));
        for symbol in symbols_drawn.take(len - text.len()) {
            text.push(char::from(*symbol));
        }
    }
    Ok(text)
}

/// Where a home keeps its credentials file by default.
#[must_use]
pub fn default_path(home: &Path) -> PathBuf {
    home.join("credentials.toml")
}
