//! HMAC CMKs of the soft backend: the key sealed under the root key, bound to the key ID
//! and spec, and opened for each use.

use hmac::{Hmac, KeyInit, Mac};
use kms_core::{KeyBlob, KeyId, KmsError, MacKeyHandle, MacSpec, Result, SecretBytes};

use crate::rng;
use crate::root_key::RootKey;

/// The label an HMAC key is sealed under: it opens only as the same key and spec.
fn label(id: &KeyId, spec: MacSpec) -> Vec<u8> {
    [
        b"kms-soft-mac-key-v1".as_slice(),
        id.as_bytes(),
        spec.as_str().as_bytes(),
    ]
    .concat()
}

/// Generates an HMAC key of `spec` and seals it.
pub(crate) fn generate(root_key: &RootKey, id: &KeyId, spec: MacSpec) -> Result<KeyBlob> {
    let mut material = SecretBytes::zeroed(spec.material_len());
    rng::fill(material.expose_secret_mut())?;
    root_key.seal(&label(id, spec), &material)
}

/// Opens the sealed HMAC key of CMK `id`.
pub(crate) fn load(
    root_key: &RootKey,
    id: &KeyId,
    spec: MacSpec,
    blob: &KeyBlob,
) -> Result<SoftMacKey> {
    let material = root_key.open(&label(id, spec), blob, &format!("CMK {id}"))?;
    if material.len() != spec.material_len() {
        return Err(KmsError::Backend(format!(
            "the HMAC key of CMK {id} has the wrong length"
        )));
    }
    Ok(SoftMacKey { spec, material })
}

/// A loaded soft HMAC key.
pub struct SoftMacKey {
    spec: MacSpec,
    material: SecretBytes,
}

impl SoftMacKey {
    /// A key of `spec` with `material`, for vectors.
    #[must_use]
    pub fn new(spec: MacSpec, material: SecretBytes) -> Self {
        Self { spec, material }
    }
}

impl core::fmt::Debug for SoftMacKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SoftMacKey({}, key hidden)", self.spec.as_str())
    }
}

/// The MAC `M` (an HMAC) of `message` under `key`.
fn run<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Result<M> {
    let mut mac =
        <M as KeyInit>::new_from_slice(key).map_err(|_| KmsError::Backend("HMAC key".into()))?;
    mac.update(message);
    Ok(mac)
}

impl SoftMacKey {
    /// Runs `finish` on the HMAC of `message` under this key, whatever its hash.
    fn with_mac<T>(&self, message: &[u8], finish: impl MacFinish<T>) -> Result<T> {
        let key = self.material.expose_secret();
        Ok(match self.spec {
            MacSpec::Hmac256 => finish.finish(run::<Hmac<sha2::Sha256>>(key, message)?),
            MacSpec::Hmac384 => finish.finish(run::<Hmac<sha2::Sha384>>(key, message)?),
            MacSpec::Hmac512 => finish.finish(run::<Hmac<sha2::Sha512>>(key, message)?),
            MacSpec::HmacSm3 => finish.finish(run::<Hmac<sm3::Sm3>>(key, message)?),
        })
    }
}

/// What to do with a computed MAC, for any MAC type.
trait MacFinish<T> {
    fn finish<M: Mac>(self, mac: M) -> T;
}

/// The MAC's bytes.
struct Bytes;

impl MacFinish<Vec<u8>> for Bytes {
    fn finish<M: Mac>(self, mac: M) -> Vec<u8> {
        mac.finalize().into_bytes().to_vec()
    }
}

/// Whether the MAC equals a given one, compared in constant time.
struct Equals<'a>(&'a [u8]);

impl MacFinish<bool> for Equals<'_> {
    fn finish<M: Mac>(self, mac: M) -> bool {
        mac.verify_slice(self.0).is_ok()
    }
}

impl MacKeyHandle for SoftMacKey {
    fn mac(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.with_mac(message, Bytes)
    }

    fn verify(&self, message: &[u8], mac: &[u8]) -> Result<bool> {
        self.with_mac(message, Equals(mac))
    }
}
