//! Key import: wrapping keys and tokens out, wrapped material in, unwrapped inside the
//! backend (DESIGN 4 "Import token" and DESIGN 5).

use subtle::ConstantTimeEq;

use super::lifecycle::STATE_CHANGE_ATTEMPTS;
use super::{Kms, concurrent_change};
use crate::backend::{CmkHandle, KeyBlob, NONCE_LEN, WrappedMaterial};
use crate::codec::encode_base64;
use crate::error::{KmsError, Result};
use crate::import_token::{ImportClaims, open_token, reference_digest, seal_token};
use crate::key_id::{KEY_ID_LEN, KeyId};
use crate::models::{
    EmptyResponse, GetParametersForImportRequest, GetParametersForImportResponse,
    ImportKeyMaterialRequest, KeyIdRequest,
};
use crate::spec::{CmkSpec, KeyOrigin, KeyState};
use crate::store::{ImportRecord, KeyRecord, NewMaterial};
use crate::tenant::Tenant;

/// Store name of the engine key that seals import tokens. Its record is the key's own key
/// ID (36 bytes) followed by the backend's blob.
pub(super) const TOKEN_KEY_NAME: &str = "import-token-key";
/// Associated data of the material fingerprint: a GMAC of nothing under the new CMK.
const FINGERPRINT_DOMAIN: &[u8] = b"kms-engine material fingerprint v1";

impl Kms {
    /// `get-parameters-for-import`: a wrapping public key and a single-use token for an
    /// external key waiting for material.
    ///
    /// # Errors
    /// The validation errors of [`GetParametersForImportRequest::validate`]; KMS.0207
    /// unknown key; KMS.0309 not an external key; KMS.0310 not pending import; KMS.9002 when
    /// the backend cannot import this way; backend and store failures.
    pub fn get_parameters_for_import(
        &self,
        tenant: &Tenant,
        request: &GetParametersForImportRequest,
    ) -> Result<GetParametersForImportResponse> {
        let valid = request.validate()?;
        let record = self.importable_key(tenant, &valid.key_id)?;
        self.backend
            .capabilities()
            .require_import(valid.algorithm, valid.wrapping_key_spec)?;
        self.backend
            .capabilities()
            .require_cmk(record.spec.require_symmetric()?)?;
        for (_, destroyed) in self.destroy_expired_wrapping_keys()? {
            destroyed?;
        }
        let token_key = self.token_key()?;
        let wrapping_key = self
            .wrapping_key_pool
            .take(&self.wrapping_key_maker, valid.wrapping_key_spec)?;
        let mut token_id = [0u8; 16];
        self.backend.random(&mut token_id)?;
        let expires_ms = self
            .now_ms()
            .saturating_add(self.config.import_token_validity_ms);
        let claims = ImportClaims {
            token_id,
            key_id: valid.key_id,
            algorithm: valid.algorithm,
            wrapping_key_spec: valid.wrapping_key_spec,
            expires_ms,
            wrapping_key_digest: reference_digest(wrapping_key.private_key.as_bytes()),
            public_key_digest: reference_digest(&wrapping_key.public_key_spki),
        };
        let mut nonce = [0u8; NONCE_LEN];
        self.backend.random(&mut nonce)?;
        let import_token = seal_token(token_key, &nonce, &claims)?;
        self.store.insert_import(&ImportRecord {
            token_id,
            key_id: valid.key_id,
            algorithm: valid.algorithm,
            wrapping_key_spec: valid.wrapping_key_spec,
            wrapping_key: wrapping_key.private_key,
            expires_ms,
        })?;
        Ok(GetParametersForImportResponse {
            key_id: valid.key_id.to_string(),
            import_token,
            expiration_time: expires_ms / 1000,
            public_key: encode_base64(&wrapping_key.public_key_spki),
        })
    }

    /// `import-key-material`: unwraps the material inside the backend and enables the key.
    ///
    /// After `sequence`, `key_id` and the token's presence, the token checks come first and
    /// change nothing: a forged token is KMS.2605 whatever the rest of the body holds. A
    /// token that passes them is used up by the attempt, whatever its outcome, so each
    /// token allows one unwrap attempt.
    ///
    /// # Errors
    /// In this order: KMS.0204 / KMS.0205 / KMS.0206 for the key ID and token fields;
    /// KMS.2605 for a malformed, forged, tampered or used token; KMS.2603 for a token of
    /// another key; KMS.2601 for an expired token; then KMS.0204 without
    /// `encrypted_key_material`, KMS.0308 for an `expiration_time` that is not a number,
    /// KMS.2602 for one not in the future; KMS.0207 / KMS.0309 / KMS.0310 for a key that
    /// cannot take material; KMS.0311, one opaque error, for material that is not base64 or
    /// does not unwrap to a key of the right length; KMS.2606 for material other than the
    /// one deleted; backend and store failures.
    pub fn import_key_material(
        &self,
        tenant: &Tenant,
        request: &ImportKeyMaterialRequest,
    ) -> Result<EmptyResponse> {
        let valid = request.validate()?;
        let now = self.now_ms();
        let claims = open_token(self.token_key()?, valid.import_token)?;
        if claims.key_id != valid.key_id {
            return Err(KmsError::ImportTokenKeyMismatch);
        }
        if claims.expires_ms <= now {
            return Err(KmsError::ImportTokenExpired);
        }
        // A used token is refused as such, before anything about the key is said.
        if self.store.get_import(&claims.token_id)?.is_none() {
            return Err(KmsError::ImportTokenInvalid);
        }
        let decoded = valid.decode()?;
        let expiry_ms = decoded
            .expiration_time
            .map(|seconds| seconds.saturating_mul(1000))
            .map(|expiry| {
                if expiry > now {
                    Ok(expiry)
                } else {
                    Err(KmsError::MaterialExpiryInPast)
                }
            })
            .transpose()?;
        let record = self.importable_key(tenant, &valid.key_id)?;
        let import = self
            .store
            .take_import(&claims.token_id)?
            .ok_or(KmsError::ImportTokenInvalid)?;
        let wrapped = WrappedMaterial {
            encrypted_key_material: &decoded.encrypted_key_material,
            encrypted_privatekey: decoded.encrypted_privatekey.as_deref(),
        };
        let unwrapped = if matches_claims(&import, &claims) {
            self.backend.unwrap_cmk(
                &import.wrapping_key,
                import.wrapping_key_spec,
                import.algorithm,
                &wrapped,
                &valid.key_id,
                record.spec.require_symmetric()?,
            )
        } else {
            Err(KmsError::ImportTokenInvalid)
        };
        // The wrapping key has done its one job, whatever the outcome.
        self.backend.destroy_key(&import.wrapping_key)?;
        let key_blob = unwrapped?;
        self.attach_material(tenant, &record, key_blob, expiry_ms)?;
        Ok(EmptyResponse {})
    }

    /// `delete-imported-key-material`: an enabled or disabled key with material goes back to
    /// pending import and its material is destroyed; only the same material can be imported
    /// again.
    ///
    /// # Errors
    /// KMS.0207 unknown key; KMS.0309 not an external key; KMS.2701 for a key that is not
    /// enabled or disabled, or holds no material (it never had any, it was deleted, or it
    /// expired); validation, backend and store failures.
    pub fn delete_imported_key_material(
        &self,
        tenant: &Tenant,
        request: &KeyIdRequest,
    ) -> Result<EmptyResponse> {
        let key_id = request.validate()?;
        // Another caller may change the key between the read and the swap: the rules are
        // then applied again to what it left.
        for _ in 0..STATE_CHANGE_ATTEMPTS {
            let record = self.current_key(tenant, &key_id)?;
            if record.origin != KeyOrigin::External {
                return Err(KmsError::NotExternalKey);
            }
            let Some(blob) = record
                .key_blob
                .as_ref()
                .filter(|_| matches!(record.state, KeyState::Enabled | KeyState::Disabled))
            else {
                return Err(KmsError::MaterialNotDeletable);
            };
            if self.store.delete_material(&key_id, record.state)? {
                self.cache.keys.remove(&key_id);
                self.backend.destroy_key(blob)?;
                return Ok(EmptyResponse {});
            }
        }
        Err(concurrent_change(&key_id))
    }

    /// The record of `key_id` if it is an external key waiting for material.
    fn importable_key(&self, tenant: &Tenant, key_id: &KeyId) -> Result<KeyRecord> {
        let record = self.current_key(tenant, key_id)?;
        if record.origin != KeyOrigin::External {
            return Err(KmsError::NotExternalKey);
        }
        if record.state != KeyState::PendingImport {
            return Err(KmsError::NotPendingImport);
        }
        Ok(record)
    }

    /// Checks a newly unwrapped CMK against the fingerprint of earlier material, then makes
    /// it the key's material; a refused CMK is destroyed.
    fn attach_material(
        &self,
        tenant: &Tenant,
        record: &KeyRecord,
        key_blob: KeyBlob,
        expiry_ms: Option<u64>,
    ) -> Result<()> {
        let attached = self.fingerprint(record, &key_blob).and_then(|fingerprint| {
            let same_as_before = record
                .material_fingerprint
                .as_ref()
                .is_none_or(|before| bool::from(before.as_slice().ct_eq(&fingerprint)));
            if !same_as_before {
                return Err(KmsError::MaterialMismatch);
            }
            let material = NewMaterial {
                key_blob: key_blob.clone(),
                fingerprint: fingerprint.to_vec(),
                expiry_ms,
            };
            if self.store.set_material(&record.key_id, &material)? {
                Ok(())
            } else {
                // Another caller changed the key since it was found waiting: refuse as
                // that change makes the rules refuse.
                Err(self
                    .importable_key(tenant, &record.key_id)
                    .err()
                    .unwrap_or_else(|| concurrent_change(&record.key_id)))
            }
        });
        match attached {
            Ok(()) => {
                self.cache.keys.remove(&record.key_id);
                Ok(())
            }
            Err(error) => {
                self.backend.destroy_key(&key_blob)?;
                Err(error)
            }
        }
    }

    /// A keyed fingerprint of CMK material: the GCM tag of an empty message under a fixed
    /// nonce. It identifies the material without revealing it, in either backend.
    fn fingerprint(&self, record: &KeyRecord, key_blob: &KeyBlob) -> Result<[u8; 16]> {
        let cmk =
            self.backend
                .load_cmk(&record.key_id, record.spec.require_symmetric()?, key_blob)?;
        cmk.seal_in_place(&[0; NONCE_LEN], FINGERPRINT_DOMAIN, &mut [])
    }

    /// Destroys the wrapping keys of tokens that expired unused; returns each token's key
    /// with the outcome of destroying its wrapping key.
    ///
    /// # Errors
    /// Store failures, before anything is destroyed.
    pub(super) fn destroy_expired_wrapping_keys(&self) -> Result<Vec<(KeyId, Result<()>)>> {
        Ok(self
            .store
            .take_expired_imports(self.now_ms())?
            .into_iter()
            .map(|expired| {
                let destroyed = self.backend.destroy_key(&expired.wrapping_key);
                (expired.key_id, destroyed)
            })
            .collect())
    }

    /// The engine's token key, created and stored on first use.
    fn token_key(&self) -> Result<&dyn CmkHandle> {
        if let Some(key) = self.token_key.get() {
            return Ok(key.as_ref());
        }
        let spec = *self
            .backend
            .capabilities()
            .cmk_specs
            .first()
            .ok_or_else(|| KmsError::BackendUnsupported("any CMK spec for import tokens".into()))?;
        let record = match self.store.engine_key(TOKEN_KEY_NAME)? {
            Some(record) => record,
            None => self.create_token_key(spec)?,
        };
        let (key_id, blob) = record
            .as_bytes()
            .split_first_chunk::<KEY_ID_LEN>()
            .ok_or_else(|| KmsError::Store("the import-token key record is damaged".into()))?;
        let key_id = KeyId::from_bytes(*key_id)?;
        let key = self
            .backend
            .load_cmk(&key_id, spec, &KeyBlob::new(blob.to_vec()))?;
        Ok(self.token_key.get_or_init(|| key).as_ref())
    }

    /// Creates a token key under a fresh key ID, so that engines with separate stores on
    /// one PKCS#11 token never share (or destroy) each other's, and stores it. When another
    /// engine on this store stored one first, destroys this one and returns that record.
    fn create_token_key(&self, spec: CmkSpec) -> Result<KeyBlob> {
        let mut random = [0u8; 16];
        self.backend.random(&mut random)?;
        let key_id = KeyId::from_random(random);
        let created = self.backend.generate_cmk(&key_id, spec, 0)?;
        let record = KeyBlob::new([key_id.as_bytes().as_slice(), created.as_bytes()].concat());
        let stored = self.store.insert_engine_key(TOKEN_KEY_NAME, &record)?;
        if stored != record {
            self.backend.destroy_key(&created)?;
        }
        Ok(stored)
    }
}

/// Whether the stored import record is the one the token describes.
fn matches_claims(import: &ImportRecord, claims: &ImportClaims) -> bool {
    import.key_id == claims.key_id
        && import.algorithm == claims.algorithm
        && import.wrapping_key_spec == claims.wrapping_key_spec
        && reference_digest(import.wrapping_key.as_bytes()) == claims.wrapping_key_digest
}
