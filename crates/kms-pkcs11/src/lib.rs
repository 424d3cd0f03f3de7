//! kms-pkcs11: the PKCS#11 backend of kms-engine, on `cryptoki`: CMKs are AES-256 token
//! objects in SoftHSM2 or an HSM, sensitive and never extractable, used with CKM_AES_GCM.
//!
//! What this backend offers comes from the token's mechanism list (see [`Capabilities`]);
//! the engine refuses anything else with an error naming the mechanism and the token.
//! Today it offers AES_256 CMKs, EC data key pairs (P-256, P-384, P-521, secp256k1), RSA
//! data key pairs (RSA_2048, RSA_3072, RSA_4096, with CKM_RSA_PKCS_KEY_PAIR_GEN), and
//! import with C_UnwrapKey under RSA wrapping keys (RSAES_OAEP_SHA_1, RSA_AES_KEY_WRAP_SHA_1,
//! and the SHA-256 variants on tokens that do OAEP with SHA-256); SM4 CMKs and SM2 data key
//! pairs on tokens whose vendor-defined mechanisms the [`VendorMechanisms`] map names.
//! Asymmetric CMKs (RSA_2048/3072/4096, EC_P256, EC_P384, SECP256K1 on the curves the token
//! generates on) are key pairs in the token whose private half signs or decrypts and never
//! leaves it (`private_key`); HMAC CMKs (HMAC_256/384/512) are generic secrets that only sign
//! and verify (`mac_key`). What is not offered is refused (KMS.9002), never done on the
//! host instead.
//!
//! ```no_run
//! use std::sync::Arc;
//! use kms_core::{Kms, MemoryStore};
//! use kms_pkcs11::{Pkcs11Backend, Pkcs11Config, TokenSelector};
//!
//! # fn main() -> Result<(), kms_core::KmsError> {
//! let config = Pkcs11Config::new(
//!     "/usr/lib/softhsm/libsofthsm2.so",
//!     TokenSelector::Label("kms".into()),
//!     Pkcs11Config::pin_from_env("KMS_PKCS11_PIN")?,
//! );
//! let kms = Kms::new(Arc::new(Pkcs11Backend::open(config)?), Arc::new(MemoryStore::new()));
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod capabilities;
mod cmk;
mod config;
mod context;
mod errors;
mod host_assisted;
mod import;
mod key_pair;
mod mac_key;
mod measure;
mod private_key;
mod session_pool;
mod settings;
mod template;
mod token_object;
mod vendor;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};

use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, ObjectClass, ObjectHandle};
use kms_core::{
    AsymmetricSpec, Backend, Capabilities, CmkHandle, CmkSpec, KeyBlob, KeyId, KeyPair,
    KeyPairSpec, KeySpec, KeyUsage, KmsError, MacKeyHandle, MacSpec, PrivateKeyHandle, Result,
    WrappedMaterial, WrappingAlgorithm, WrappingKey, WrappingKeySpec, encode_hex,
};

pub use cmk::cmk_template;
use cmk::{Pkcs11Cmk, SM4_LEN, find_key, secret_key_template};
pub use config::{Pkcs11Config, TokenSelector};
pub use session_pool::{PooledSession, SessionPool};
pub use settings::{DEFAULT_PIN_VARIABLE, Pkcs11Settings};
pub use template::unwrapped_key_policy;
use vendor::{Gcm, Vendor};
pub use vendor::{Sm2Mechanisms, Sm4Mechanisms, VendorMechanisms};

/// The PKCS#11 backend: one token, a pool of logged-in sessions, a cache of key handles.
#[derive(Debug)]
pub struct Pkcs11Backend {
    pool: Arc<SessionPool>,
    capabilities: Capabilities,
    quirks: capabilities::Quirks,
    /// Whether the token does CKM_RSA_PKCS_OAEP with SHA-256 (RSA encryption CMKs).
    oaep_sha256: bool,
    vendor: Vendor,
    handles: RwLock<HashMap<Vec<u8>, ObjectHandle>>,
    /// The module's object-change lock (see `context::Module`).
    object_changes: Arc<Mutex<()>>,
    /// Whether the token enforces the HMAC minimum key sizes that measure imported keys,
    /// probed on the first import that needs them (`measure`).
    hmac_floors: OnceLock<measure::HmacFloors>,
}

impl Pkcs11Backend {
    /// Loads the module (once per process), finds the token, logs in and reads what the
    /// token can do.
    ///
    /// # Errors
    /// [`KmsError::Backend`] naming the problem: a missing module file, no token with the
    /// label or slot, a wrong PIN, or any other PKCS#11 failure with its C_ function.
    pub fn open(config: Pkcs11Config) -> Result<Self> {
        let vendor = config.vendor_mechanisms.check()?;
        let module = context::module(&config.module)?;
        let context = module.context;
        let slots = context
            .get_slots_with_token()
            .map_err(|error| errors::pkcs11_error(&config.token.to_string(), &error))?;
        let mut labels = Vec::new();
        let mut chosen = None;
        for slot in slots {
            let label = context
                .get_token_info(slot)
                .map(|info| info.label().trim_end().to_owned())
                .map_err(|error| errors::pkcs11_error(&config.token.to_string(), &error))?;
            let matches = match &config.token {
                TokenSelector::Label(wanted) => *wanted == label,
                TokenSelector::Slot(id) => *id == slot.id(),
            };
            if matches && chosen.is_none() {
                chosen = Some((slot, label.clone()));
            }
            labels.push(label);
        }
        let (slot, label) = chosen.ok_or_else(|| {
            KmsError::Backend(format!(
                "no {} in {} (tokens there: {})",
                config.token,
                config.module.display(),
                if labels.is_empty() {
                    "none".to_owned()
                } else {
                    labels.join(", ")
                }
            ))
        })?;
        let token = format!("token '{label}'");
        let mut mechanisms = context
            .get_mechanism_list(slot)
            .map_err(|error| errors::pkcs11_error(&token, &error))?;
        // cryptoki's mechanism list leaves out every vendor-defined number, so the map's
        // mechanisms are asked for one by one.
        mechanisms.extend(
            vendor
                .mechanisms()
                .filter(|mechanism| context.get_mechanism_info(slot, *mechanism).is_ok()),
        );
        let pool = SessionPool::open(
            context,
            slot,
            config.pin,
            token.clone(),
            config.session_pool_size,
        )?;
        let lists_oaep = mechanisms.contains(&MechanismType::RSA_PKCS_OAEP);
        let oaep_sha256 = lists_oaep && pool.with_session(import::oaep_sha256_offered)?;
        let quirks =
            capabilities::Quirks::new(lists_oaep, oaep_sha256, config.host_assisted_unwrap);
        let curves = if mechanisms.contains(&MechanismType::ECC_KEY_PAIR_GEN) {
            let _changing = module
                .object_changes
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut curves = Vec::new();
            for spec in key_pair::EC_CURVES {
                if pool.with_session(|session| key_pair::curve_offered(session, spec))? {
                    curves.push(spec);
                }
            }
            curves
        } else {
            Vec::new()
        };
        let capabilities = capabilities::probe(&token, &mechanisms, &curves, quirks, &vendor);
        Ok(Self {
            pool: Arc::new(pool),
            capabilities,
            quirks,
            oaep_sha256,
            vendor,
            handles: RwLock::default(),
            object_changes: module.object_changes,
            hmac_floors: OnceLock::new(),
        })
    }

    /// The session pool, for diagnostics and tests (reading key attributes, counting
    /// sessions).
    #[must_use]
    pub fn session_pool(&self) -> &SessionPool {
        &self.pool
    }

    fn changing_objects(&self) -> MutexGuard<'_, ()> {
        self.object_changes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The CKA_ID of generation `generation` of CMK `id`: the key ID for generation 0, and
    /// for later ones `<key ID>.<generation>.<16 random hex digits>`, so that two engines
    /// rotating one key at once make two objects, and the one the store does not keep can
    /// be destroyed alone.
    fn material_object_id(&self, id: &KeyId, generation: u32) -> Result<Vec<u8>> {
        if generation == 0 {
            return Ok(id.as_bytes().to_vec());
        }
        let mut random = [0u8; 8];
        self.random(&mut random)?;
        Ok(format!("{id}.{generation}.{}", kms_core::encode_hex(&random)).into_bytes())
    }

    /// A fresh object ID for a CMK of key `id` that is not rotated: `<key ID>.<16 random
    /// hex digits>` (CKA_LABEL is the key ID).
    fn fresh_object_id(&self, id: &KeyId) -> Result<Vec<u8>> {
        let mut suffix = [0u8; 8];
        self.random(&mut suffix)?;
        Ok(format!("{id}.{}", encode_hex(&suffix)).into_bytes())
    }

    /// The object of `class` with CKA_ID `id`, looked up in the token.
    fn find_object(&self, class: ObjectClass, id: &[u8]) -> Result<ObjectHandle> {
        let _changing = self.changing_objects();
        self.pool
            .with_session(|session| find_key(session, class, id))?
            .ok_or_else(|| {
                KmsError::Backend(format!(
                    "no {class} with CKA_ID {} on {}",
                    String::from_utf8_lossy(id),
                    self.pool.token()
                ))
            })
    }

    /// The handle of the secret key with CKA_ID `id`, from the cache or found in the token.
    fn handle(&self, id: &[u8]) -> Result<ObjectHandle> {
        let cached = self
            .handles
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(id)
            .copied();
        if let Some(handle) = cached {
            return Ok(handle);
        }
        let _changing = self.changing_objects();
        let found = self
            .pool
            .with_session(|session| find_key(session, ObjectClass::SECRET_KEY, id))?
            .ok_or_else(|| {
                KmsError::Backend(format!(
                    "no key with CKA_ID {} on {}",
                    String::from_utf8_lossy(id),
                    self.pool.token()
                ))
            })?;
        self.handles
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(id.to_vec(), found);
        Ok(found)
    }
}

impl Backend for Pkcs11Backend {
    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn generate_cmk(&self, id: &KeyId, spec: CmkSpec, generation: u32) -> Result<KeyBlob> {
        self.capabilities.require_cmk(spec)?;
        let object_id = self.material_object_id(id, generation)?;
        let (mechanism, template) = match (spec, self.vendor.sm4) {
            (CmkSpec::Sm4, Some(sm4)) => (
                Mechanism::VendorDefined(VendorDefinedMechanism::new::<()>(sm4.key_gen, None)),
                secret_key_template(sm4.key_type, SM4_LEN, &object_id, id.as_bytes()),
            ),
            (CmkSpec::Sm4, None) => return Err(self.unsupported("CMK spec SM4")),
            (CmkSpec::Aes256, _) => (
                Mechanism::AesKeyGen,
                cmk_template(&object_id, id.as_bytes()),
            ),
        };
        let _changing = self.changing_objects();
        self.pool
            .with_session(|session| session.generate_key(&mechanism, &template))?;
        Ok(KeyBlob::new(object_id))
    }

    fn load_cmk(&self, _id: &KeyId, spec: CmkSpec, blob: &KeyBlob) -> Result<Box<dyn CmkHandle>> {
        self.capabilities.require_cmk(spec)?;
        let gcm = match (spec, self.vendor.sm4) {
            (CmkSpec::Sm4, Some(sm4)) => Gcm::Vendor(sm4.gcm),
            (CmkSpec::Sm4, None) => return Err(self.unsupported("CMK spec SM4")),
            (CmkSpec::Aes256, _) => Gcm::Aes,
        };
        Ok(Box::new(Pkcs11Cmk::new(
            Arc::clone(&self.pool),
            blob.as_bytes().to_vec(),
            self.handle(blob.as_bytes())?,
            gcm,
        )))
    }

    fn generate_key_pair(&self, spec: KeyPairSpec) -> Result<KeyPair> {
        self.capabilities.require_key_pair(spec)?;
        let _changing = self.changing_objects();
        self.pool
            .with_session(|session| key_pair::generate(session, spec, self.vendor.sm2))?
    }

    fn random(&self, out: &mut [u8]) -> Result<()> {
        self.pool
            .with_session(|session| session.generate_random_slice(out))
    }

    fn create_wrapping_key(&self, spec: WrappingKeySpec, object_id: &[u8]) -> Result<WrappingKey> {
        let _changing = self.changing_objects();
        let host_generated = self.quirks.host_oaep_sha256();
        let public_key_spki = self.pool.with_session(|session| match spec.rsa_bits() {
            Some(bits) if host_generated => {
                host_assisted::create_wrapping_key(session, bits, object_id)
            }
            _ => import::create_wrapping_key(session, spec, object_id),
        })??;
        Ok(WrappingKey {
            private_key: KeyBlob::new(object_id.to_vec()),
            public_key_spki,
        })
    }

    fn wrapping_keys(&self, prefix: &[u8]) -> Result<Vec<KeyBlob>> {
        self.pool
            .with_session(|session| import::wrapping_keys(session, prefix))
            .map(|ids| ids.into_iter().map(KeyBlob::new).collect())
    }

    fn unwrap_cmk(
        &self,
        wrapping_key: &KeyBlob,
        _wrapping_key_spec: WrappingKeySpec,
        algorithm: WrappingAlgorithm,
        wrapped: &WrappedMaterial<'_>,
        id: &KeyId,
        cmk_spec: CmkSpec,
    ) -> Result<KeyBlob> {
        self.capabilities.require_cmk(cmk_spec)?;
        if cmk_spec != CmkSpec::Aes256 {
            // Unwrapping makes an AES key object; an SM4 one would need the vendor's key
            // type in C_UnwrapKey, which is not built.
            return Err(self.unsupported("import into SM4 CMKs"));
        }
        let token = self.pool.token();
        let _changing = self.changing_objects();
        let wrapping = self
            .pool
            .with_session(|session| {
                find_key(session, ObjectClass::PRIVATE_KEY, wrapping_key.as_bytes())
            })?
            .ok_or_else(|| KmsError::Backend(format!("the wrapping key is gone from {token}")))?;
        let material_len = cmk_spec.material_len();
        // Each import gets an object ID of its own (CKA_LABEL is the key ID), so a refused
        // or racing import never touches another import's CMK object.
        let mut suffix = [0u8; 8];
        self.random(&mut suffix)?;
        let object_id = format!("{id}.{}", encode_hex(&suffix)).into_bytes();
        let target = import::ImportedCmk {
            id: &object_id,
            key_id: id.as_bytes(),
            material_len,
        };
        let on_host = self.quirks.host_oaep_sha256()
            && matches!(
                algorithm,
                WrappingAlgorithm::RsaesOaepSha256 | WrappingAlgorithm::RsaAesKeyWrapSha256
            );
        if on_host {
            let material = self.pool.with_session(|session| {
                host_assisted::unwrap_material(
                    session,
                    wrapping_key.as_bytes(),
                    algorithm,
                    wrapped,
                    material_len,
                )
            })??;
            self.pool
                .with_session(|session| host_assisted::create_cmk(session, &target, &material))?;
        } else {
            self.pool.with_session(|session| {
                let meter = measure::Meter {
                    session,
                    token,
                    floors: &self.hmac_floors,
                };
                import::unwrap_cmk(&meter, wrapping, algorithm, wrapped, &target)
            })??;
        }
        Ok(KeyBlob::new(object_id))
    }

    fn generate_private_key(
        &self,
        id: &KeyId,
        spec: AsymmetricSpec,
        usage: KeyUsage,
    ) -> Result<KeyBlob> {
        self.capabilities
            .require_key_spec(KeySpec::Asymmetric(spec))?;
        if spec.is_rsa() && usage == KeyUsage::EncryptDecrypt && !self.oaep_sha256 {
            return Err(KmsError::BackendUnsupported(format!(
                "CMK spec {} with key usage {} on backend {} (needs {})",
                spec.as_str(),
                usage.as_str(),
                self.capabilities.name,
                private_key::OAEP_SHA256_MISSING
            )));
        }
        let object_id = self.fresh_object_id(id)?;
        let (mechanism, public, private) =
            private_key::generation(spec, usage, &object_id, id.as_bytes()).ok_or_else(|| {
                self.unsupported(&format!(
                    "CMK spec {} with key usage {}",
                    spec.as_str(),
                    usage.as_str()
                ))
            })?;
        let _changing = self.changing_objects();
        self.pool
            .with_session(|session| session.generate_key_pair(&mechanism, &public, &private))?;
        Ok(KeyBlob::new(object_id))
    }

    fn load_private_key(
        &self,
        _id: &KeyId,
        spec: AsymmetricSpec,
        _usage: KeyUsage,
        blob: &KeyBlob,
    ) -> Result<Box<dyn PrivateKeyHandle>> {
        self.capabilities
            .require_key_spec(KeySpec::Asymmetric(spec))?;
        let object_id = blob.as_bytes();
        let private = self.find_object(ObjectClass::PRIVATE_KEY, object_id)?;
        let public = self.find_object(ObjectClass::PUBLIC_KEY, object_id)?;
        let spki = self
            .pool
            .with_session(|session| private_key::public_key_spki(session, spec, public))??;
        Ok(Box::new(private_key::Pkcs11PrivateKey::new(
            Arc::clone(&self.pool),
            private_key::Parts {
                spec,
                private: token_object::TokenObject::new(
                    ObjectClass::PRIVATE_KEY,
                    object_id,
                    private,
                ),
                public: token_object::TokenObject::new(ObjectClass::PUBLIC_KEY, object_id, public),
                spki,
                oaep_sha256: self.oaep_sha256,
            },
        )))
    }

    fn generate_mac_key(&self, id: &KeyId, spec: MacSpec) -> Result<KeyBlob> {
        self.capabilities.require_key_spec(KeySpec::Mac(spec))?;
        if mac_key::mechanism(spec).is_none() {
            return Err(self.unsupported(&format!("CMK spec {}", spec.as_str())));
        }
        let object_id = self.fresh_object_id(id)?;
        let template = mac_key::template(spec, &object_id, id.as_bytes());
        let _changing = self.changing_objects();
        self.pool.with_session(|session| {
            session.generate_key(&Mechanism::GenericSecretKeyGen, &template)
        })?;
        Ok(KeyBlob::new(object_id))
    }

    fn load_mac_key(
        &self,
        _id: &KeyId,
        spec: MacSpec,
        blob: &KeyBlob,
    ) -> Result<Box<dyn MacKeyHandle>> {
        self.capabilities.require_key_spec(KeySpec::Mac(spec))?;
        let object_id = blob.as_bytes();
        let key = self.find_object(ObjectClass::SECRET_KEY, object_id)?;
        Ok(Box::new(mac_key::Pkcs11MacKey::new(
            Arc::clone(&self.pool),
            spec,
            token_object::TokenObject::new(ObjectClass::SECRET_KEY, object_id, key),
        )))
    }

    fn destroy_key(&self, key: &KeyBlob) -> Result<()> {
        let _changing = self.changing_objects();
        // Keys carry the reference as CKA_ID; a host-assisted wrapping key's sealed copy,
        // a data object, as CKA_LABEL.
        let id = Attribute::Id(key.as_bytes().to_vec());
        let label = Attribute::Label(key.as_bytes().to_vec());
        self.pool.with_session(|session| {
            for template in [&id, &label] {
                for object in session.find_objects(std::slice::from_ref(template))? {
                    session.destroy_object(object)?;
                }
            }
            Ok(())
        })?;
        self.handles
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(key.as_bytes());
        Ok(())
    }
}
