//! Credentials: what the verifier asks the caller for, given an access key.
//!
//! A [`Credential`] holds the secret key (a zeroizing [`SecretString`]), whatever the
//! caller attaches (its projects and domain, say), and the public keys derived from the
//! AK/SK pair for the two asymmetric algorithms, each derived once, on first use, and kept
//! for the credential's life. The caller keeps its credentials in [`Arc`]s (a table loaded
//! from the credentials file) and hands out clones, so derivation happens once per AK/SK,
//! not once per request; a reloaded table derives afresh, which is right when an SK changed.

use core::fmt;
use std::sync::{Arc, OnceLock};

use kms_core::SecretString;

use super::derived_key::{P256Key, Sm2Key};
use super::failure::{AuthFailure, FailureReason};

/// One access key's secret and the caller's data for it.
pub struct Credential<T> {
    access_key: String,
    secret_key: SecretString,
    attached: T,
    p256: OnceLock<Option<P256Key>>,
    sm2: OnceLock<Option<Sm2Key>>,
}

impl<T> Credential<T> {
    /// The credential of `access_key`, whose secret key is `secret_key`, carrying
    /// `attached` for the caller.
    #[must_use]
    pub fn new(access_key: impl Into<String>, secret_key: SecretString, attached: T) -> Self {
        Self {
            access_key: access_key.into(),
            secret_key,
            attached,
            p256: OnceLock::new(),
            sm2: OnceLock::new(),
        }
    }

    /// The access key (AK).
    #[must_use]
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// What the caller attached.
    #[must_use]
    pub fn attached(&self) -> &T {
        &self.attached
    }

    pub(crate) fn secret_key(&self) -> &SecretString {
        &self.secret_key
    }

    /// The derived P-256 public key, derived on first use.
    pub(crate) fn p256_key(&self) -> Result<&P256Key, AuthFailure> {
        self.p256
            .get_or_init(|| P256Key::derive(&self.access_key, &self.secret_key).ok())
            .as_ref()
            .ok_or(AuthFailure::new(FailureReason::KeyDerivation))
    }

    /// The derived SM2 public key, derived on first use.
    pub(crate) fn sm2_key(&self) -> Result<&Sm2Key, AuthFailure> {
        self.sm2
            .get_or_init(|| Sm2Key::derive(&self.access_key, &self.secret_key).ok())
            .as_ref()
            .ok_or(AuthFailure::new(FailureReason::KeyDerivation))
    }
}

impl<T: fmt::Debug> fmt::Debug for Credential<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("access_key", &self.access_key)
            .field("secret_key", &self.secret_key)
            .field("attached", &self.attached)
            .finish_non_exhaustive()
    }
}

/// Finds the credential of an access key. Implemented for every
/// `Fn(&str) -> Option<Arc<Credential<T>>>`, so a closure over the caller's table will do:
/// `|ak: &str| table.get(ak).cloned()`.
pub trait CredentialLookup {
    /// What the caller attaches to each credential.
    type Attached;

    /// The credential of `access_key`, if there is one. The verifier calls this once per
    /// request, after the cheap checks, with an access key of at most 128 printable ASCII
    /// bytes.
    fn lookup(&self, access_key: &str) -> Option<Arc<Credential<Self::Attached>>>;
}

impl<T, F> CredentialLookup for F
where
    F: Fn(&str) -> Option<Arc<Credential<T>>>,
{
    type Attached = T;

    fn lookup(&self, access_key: &str) -> Option<Arc<Credential<T>>> {
        self(access_key)
    }
}
