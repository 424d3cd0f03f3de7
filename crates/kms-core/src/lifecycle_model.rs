//! A stateful property test of the key lifecycle (feature `conformance`): random sequences
//! of operations run against an engine and against a small reference model of the
//! documented state machine (DESIGN 5 and the README's lifecycle rules). After every step
//! the engine's answer (success, or the exact error code) and the stored record equal the
//! model's.
//!
//! Single features are tested elsewhere; this finds what lives where they meet (material
//! expiry and deletion, disable and first use). A step may run two operations at once on
//! two threads: the engine must then answer as one of the two serial orders would.
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a property check reports failure by panicking, like a test"
)]

use std::sync::Arc;

use base64ct::{Base64, Encoding};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

use crate::clock::ManualClock;
use crate::dek_digest::dek_digest;
use crate::engine::Kms;
use crate::key_id::KeyId;
use crate::operation::Operation;
use crate::spec::{CmkSpec, KeyState};
use crate::store::KeyStore;

/// Where the clock of every sequence starts: a whole second, so expiry times in seconds
/// fall exactly on it.
const START_MS: u64 = 1_900_000_000_000;
const MS_PER_DAY: u64 = 86_400_000;
/// The rotation interval the model sets: the shortest the API allows.
const ROTATION_DAYS: u64 = 30;
const ROTATION_MS: u64 = ROTATION_DAYS * MS_PER_DAY;
/// How many keys a sequence creates at most; operations name a key by its index.
const MAX_KEYS: usize = 4;
/// The two materials a sequence imports: the second is "other material" for a key that
/// had the first.
const MATERIALS: [[u8; 32]; 2] = [[0x11; 32], [0x22; 32]];

/// Wraps material (second argument) for a wrapping public key (SPKI DER, first), as a
/// client does for import.
pub type WrapForImport<'a> = dyn Fn(&[u8], &[u8]) -> Vec<u8> + Sync + 'a;

/// A fresh engine on the clock it is given, and the store it writes.
pub type EngineOnClock<'a> = dyn Fn(Arc<ManualClock>) -> (Kms, Arc<dyn KeyStore>) + Sync + 'a;

/// How a backend runs the model: the engine (over a store the check can read, on the
/// clock it is given) and how a client wraps material for the token's algorithm.
pub struct LifecycleModel<'a> {
    /// Sequences to run.
    pub cases: u32,
    /// Steps per sequence at most.
    pub max_steps: usize,
    /// The `wrapping_algorithm` of get-parameters-for-import.
    pub wrapping_algorithm: &'static str,
    /// How a client wraps material for the token's algorithm.
    pub wrap: &'a WrapForImport<'a>,
    /// A fresh engine for each sequence.
    pub engine: &'a EngineOnClock<'a>,
}

/// One operation of a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// create-key: an AES_256 key of origin `kms` or `external`, or an EC_P256
    /// SIGN_VERIFY key when `signing` (and the backend has them).
    CreateKey {
        external: bool,
        signing: bool,
    },
    Import {
        key: usize,
        material: usize,
        expires_in_s: Option<u64>,
    },
    DeleteMaterial {
        key: usize,
    },
    Enable {
        key: usize,
    },
    Disable {
        key: usize,
    },
    ScheduleDeletion {
        key: usize,
    },
    CancelDeletion {
        key: usize,
    },
    /// encrypt-datakey, or encrypt-data when `data`.
    Encrypt {
        key: usize,
        data: bool,
    },
    /// decrypt-datakey, or decrypt-data when `data`, of the key's last blob of that kind.
    Decrypt {
        key: usize,
        data: bool,
    },
    /// update-key-description.
    Redescribe {
        key: usize,
    },
    /// rotate-on-demand.
    Rotate {
        key: usize,
    },
    /// enable-key-rotation, then update-key-rotation-interval to the shortest interval.
    EnableRotation {
        key: usize,
    },
    /// sign, then verify of the signature.
    Sign {
        key: usize,
    },
    Describe {
        key: usize,
    },
    List {
        state: KeyState,
    },
    Maintain,
    Advance {
        ms: u64,
    },
}

fn key_index() -> impl Strategy<Value = usize> {
    0..MAX_KEYS
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (any::<bool>(), 0..4u8).prop_map(|(external, kind)| Step::CreateKey {
            external,
            signing: !external && kind == 0,
        }),
        3 => (key_index(), 0..MATERIALS.len(), prop_oneof![Just(None), (1u64..=3).prop_map(Some)])
            .prop_map(|(key, material, expires_in_s)| Step::Import { key, material, expires_in_s }),
        1 => key_index().prop_map(|key| Step::DeleteMaterial { key }),
        1 => key_index().prop_map(|key| Step::Enable { key }),
        1 => key_index().prop_map(|key| Step::Disable { key }),
        1 => key_index().prop_map(|key| Step::ScheduleDeletion { key }),
        1 => key_index().prop_map(|key| Step::CancelDeletion { key }),
        2 => (key_index(), any::<bool>()).prop_map(|(key, data)| Step::Encrypt { key, data }),
        1 => (key_index(), any::<bool>()).prop_map(|(key, data)| Step::Decrypt { key, data }),
        1 => key_index().prop_map(|key| Step::Redescribe { key }),
        1 => key_index().prop_map(|key| Step::Rotate { key }),
        1 => key_index().prop_map(|key| Step::EnableRotation { key }),
        1 => key_index().prop_map(|key| Step::Sign { key }),
        1 => key_index().prop_map(|key| Step::Describe { key }),
        1 => proptest::sample::select(KeyState::ALL.to_vec()).prop_map(|state| Step::List { state }),
        1 => Just(Step::Maintain),
        2 => proptest::sample::select(vec![400, 1_000, 2_000, 3_000, 7 * MS_PER_DAY, ROTATION_MS])
            .prop_map(|ms| Step::Advance { ms }),
    ]
}

/// Steps that can run beside another: not the clock, and not the ones that check what
/// they report against the state after them (which two steps at once leave open).
fn concurrent_step() -> impl Strategy<Value = Step> {
    step().prop_filter("runs alone", |step| {
        !matches!(
            step,
            Step::Advance { .. }
                | Step::Describe { .. }
                | Step::List { .. }
                | Step::CreateKey { .. }
        )
    })
}

/// A step of a sequence: one operation, or two at once.
#[derive(Debug, Clone, Copy)]
enum Turn {
    One(Step),
    Two(Step, Step),
}

fn turn() -> impl Strategy<Value = Turn> {
    prop_oneof![
        6 => step().prop_map(Turn::One),
        1 => (concurrent_step(), concurrent_step()).prop_map(|(a, b)| Turn::Two(a, b)),
    ]
}

/// One key as the model sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ModelKey {
    external: bool,
    /// An asymmetric SIGN_VERIFY key: it signs, and refuses what symmetric keys do.
    signing: bool,
    state: KeyState,
    /// Which of [`MATERIALS`] the key holds (kms keys hold their own: `usize::MAX`).
    material: Option<usize>,
    expiry_ms: Option<u64>,
    fingerprint: Option<usize>,
    deletion_ms: Option<u64>,
    /// How many times the key rotated: its current material generation.
    rotations: u32,
    /// When scheduled rotation was enabled or the key last rotated since, if it is on.
    rotation_since_ms: Option<u64>,
}

/// The documented state machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Model {
    /// Keys by creation, `None` once purged.
    keys: Vec<Option<ModelKey>>,
}

/// What an operation answers: `Ok` or the error code.
type Answer = Result<(), String>;

fn refused(code: &str) -> Answer {
    Err(code.to_owned())
}

impl Model {
    /// Expiry: due material goes, an enabled key goes back to pending import.
    fn expire(&mut self, now: u64) {
        for key in self.keys.iter_mut().flatten() {
            if key.material.is_some() && key.expiry_ms.is_some_and(|at| at <= now) {
                key.material = None;
                key.expiry_ms = None;
                if key.state == KeyState::Enabled {
                    key.state = KeyState::PendingImport;
                }
            }
        }
    }

    fn key(&mut self, index: usize) -> Result<&mut ModelKey, String> {
        match self.keys.get_mut(index) {
            Some(Some(key)) => Ok(key),
            _ => Err("KMS.0207".to_owned()),
        }
    }

    /// Whether crypto works with `key`, as its state says.
    fn gate(key: &ModelKey) -> Answer {
        match key.state {
            KeyState::Enabled => Ok(()),
            KeyState::Disabled => refused("KMS.0209"),
            KeyState::PendingDeletion => refused("KMS.0210"),
            KeyState::PendingImport => refused("KMS.1301"),
        }
    }

    /// Applies `step` at time `now` and returns the answer the engine must give.
    fn apply(&mut self, step: Step, now: u64) -> Answer {
        self.expire(now);
        match step {
            Step::CreateKey { external, signing } => {
                self.keys.push(Some(ModelKey {
                    external,
                    signing,
                    state: if external {
                        KeyState::PendingImport
                    } else {
                        KeyState::Enabled
                    },
                    material: (!external).then_some(usize::MAX),
                    expiry_ms: None,
                    fingerprint: None,
                    deletion_ms: None,
                    rotations: 0,
                    rotation_since_ms: None,
                }));
                Ok(())
            }
            Step::Import {
                key,
                material,
                expires_in_s,
            } => {
                let key = self.key(key)?;
                if !key.external {
                    return refused("KMS.0309");
                }
                if key.state != KeyState::PendingImport {
                    return refused("KMS.0310");
                }
                if key.fingerprint.is_some_and(|before| before != material) {
                    return refused("KMS.2606");
                }
                key.state = KeyState::Enabled;
                key.material = Some(material);
                key.fingerprint = Some(material);
                key.expiry_ms = expires_in_s.map(|s| (now / 1000 + s) * 1000);
                Ok(())
            }
            Step::DeleteMaterial { key } => {
                let key = self.key(key)?;
                if !key.external {
                    return refused("KMS.0309");
                }
                if !matches!(key.state, KeyState::Enabled | KeyState::Disabled)
                    || key.material.is_none()
                {
                    return refused("KMS.2701");
                }
                key.state = KeyState::PendingImport;
                key.material = None;
                key.expiry_ms = None;
                Ok(())
            }
            Step::Enable { key } => {
                let key = self.key(key)?;
                match key.state {
                    KeyState::Disabled if key.material.is_none() => {
                        key.state = KeyState::PendingImport;
                    }
                    KeyState::Disabled => key.state = KeyState::Enabled,
                    KeyState::PendingDeletion => return refused("KMS.0210"),
                    KeyState::Enabled | KeyState::PendingImport => return refused("KMS.1201"),
                }
                Ok(())
            }
            Step::Disable { key } => {
                let key = self.key(key)?;
                match key.state {
                    KeyState::Enabled => key.state = KeyState::Disabled,
                    KeyState::PendingDeletion => return refused("KMS.0210"),
                    KeyState::Disabled | KeyState::PendingImport => return refused("KMS.1301"),
                }
                Ok(())
            }
            Step::ScheduleDeletion { key } => {
                let key = self.key(key)?;
                if key.state == KeyState::PendingDeletion {
                    return refused("KMS.1402");
                }
                key.state = KeyState::PendingDeletion;
                key.deletion_ms = Some(now + 7 * MS_PER_DAY);
                Ok(())
            }
            Step::CancelDeletion { key } => {
                let key = self.key(key)?;
                if key.state != KeyState::PendingDeletion {
                    return refused("KMS.1501");
                }
                key.state = if key.material.is_some() {
                    KeyState::Disabled
                } else {
                    KeyState::PendingImport
                };
                key.deletion_ms = None;
                Ok(())
            }
            Step::Encrypt { key, .. } | Step::Decrypt { key, .. } => {
                let key = self.key(key)?;
                Self::gate(key)?;
                if key.signing {
                    return refused("KMS.0325");
                }
                Ok(())
            }
            Step::Sign { key } => {
                let key = self.key(key)?;
                if !key.signing {
                    return refused("KMS.1115");
                }
                Self::gate(key)
            }
            Step::Redescribe { key } => match self.key(key)?.state {
                KeyState::PendingDeletion => refused("KMS.0210"),
                _ => Ok(()),
            },
            Step::Rotate { key } | Step::EnableRotation { key } => {
                let model_key = self.key(key)?;
                if model_key.signing {
                    return refused("KMS.0325");
                }
                if model_key.external {
                    return refused("KMS.0312");
                }
                Self::gate(model_key)?;
                if matches!(step, Step::Rotate { .. }) {
                    model_key.rotations += 1;
                    if model_key.rotation_since_ms.is_some() {
                        model_key.rotation_since_ms = Some(now);
                    }
                } else if model_key.rotation_since_ms.is_none() {
                    model_key.rotation_since_ms = Some(now);
                }
                Ok(())
            }
            Step::Describe { key } => self.key(key).map(drop),
            Step::List { .. } | Step::Advance { .. } => Ok(()),
            Step::Maintain => {
                for slot in &mut self.keys {
                    if slot.as_ref().is_some_and(|key| {
                        key.state == KeyState::PendingDeletion
                            && key.deletion_ms.is_some_and(|at| at <= now)
                    }) {
                        *slot = None;
                    }
                }
                for key in self.keys.iter_mut().flatten() {
                    let due = key
                        .rotation_since_ms
                        .is_some_and(|since| since + ROTATION_MS <= now);
                    if due && key.state == KeyState::Enabled && !key.external {
                        key.rotations += 1;
                        key.rotation_since_ms = Some(now);
                    }
                }
                Ok(())
            }
        }
    }
}

/// A blob the model sealed: the key's ID and the `cipher_text`.
type SealedBlob = (String, String);

/// One sequence's engine, its keys and a ciphertext per key.
struct Run<'a> {
    spec: &'a LifecycleModel<'a>,
    kms: Kms,
    store: Arc<dyn KeyStore>,
    clock: Arc<ManualClock>,
    key_ids: Vec<KeyId>,
    /// The last blob sealed under each key while it was enabled, of each kind (a data-key
    /// blob, then an encrypt-data blob), with the key's ID.
    blobs: std::sync::Mutex<Vec<[Option<SealedBlob>; 2]>>,
}

const DEK: [u8; 32] = [0x5A; 32];
/// What the model's encrypt-data seals.
const TEXT: &str = "sealed by the model";

impl Run<'_> {
    fn call(&self, operation: Operation, body: &Value) -> Result<Value, String> {
        self.kms
            .call_json(operation, &body.to_string())
            .map(|response| {
                serde_json::from_str(response.expose_secret()).unwrap_or_else(|error| {
                    panic!("{} answered invalid JSON: {error}", operation.as_str())
                })
            })
            .map_err(|error| error.code().to_owned())
    }

    fn key_id(&self, index: usize) -> Result<String, String> {
        self.key_ids
            .get(index)
            .map(ToString::to_string)
            .ok_or_else(|| "KMS.0207".to_owned())
    }

    /// Runs `step` on the engine; `List`, `Describe` and `Decrypt` also check what they
    /// report against `model`, the model after the step.
    fn run(&self, step: Step, model: &Model) -> Result<Answer, TestCaseError> {
        let by_key = |operation: Operation, key: usize, extra: Value| -> Answer {
            let mut body = json!({"key_id": self.key_id(key)?});
            if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
                body.extend(extra);
            }
            self.call(operation, &body).map(drop)
        };
        Ok(match step {
            Step::CreateKey { .. } => unreachable!("keys are created by the runner"),
            Step::Import {
                key,
                material,
                expires_in_s,
            } => self.import(key, material, expires_in_s),
            Step::DeleteMaterial { key } => {
                by_key(Operation::DeleteImportedKeyMaterial, key, json!({}))
            }
            Step::Enable { key } => by_key(Operation::EnableKey, key, json!({})),
            Step::Disable { key } => by_key(Operation::DisableKey, key, json!({})),
            Step::CancelDeletion { key } => by_key(Operation::CancelKeyDeletion, key, json!({})),
            Step::ScheduleDeletion { key } => by_key(
                Operation::ScheduleKeyDeletion,
                key,
                json!({"pending_days": "7"}),
            ),
            Step::Encrypt { key, data } => self.encrypt(key, data),
            Step::Decrypt { key, data } => self.decrypt(key, data)?,
            Step::Redescribe { key } => by_key(
                Operation::UpdateKeyDescription,
                key,
                json!({"key_description": "described by the model"}),
            ),
            Step::Rotate { key } => by_key(Operation::RotateOnDemand, key, json!({})),
            Step::EnableRotation { key } => by_key(Operation::EnableKeyRotation, key, json!({}))
                .and_then(|()| {
                    by_key(
                        Operation::UpdateKeyRotationInterval,
                        key,
                        json!({"rotation_interval": ROTATION_DAYS}),
                    )
                }),
            Step::Sign { key } => self.sign(key)?,
            Step::Describe { key } => {
                let described = self.key_id(key).and_then(|key_id| {
                    self.call(Operation::DescribeKey, &json!({"key_id": key_id}))
                });
                if let (Ok(described), Some(Some(expected))) = (&described, model.keys.get(key)) {
                    prop_assert_eq!(
                        described["key_info"]["key_state"].as_str(),
                        Some(expected.state.as_str()),
                        "describe-key of key {}",
                        key
                    );
                }
                described.map(drop)
            }
            Step::List { state } => {
                let listed = self.call(
                    Operation::ListKeys,
                    &json!({"key_state": state.as_str(), "limit": "1000"}),
                );
                let expected: Vec<String> = model
                    .keys
                    .iter()
                    .zip(&self.key_ids)
                    .filter(|(key, _)| key.as_ref().is_some_and(|key| key.state == state))
                    .map(|(_, id)| id.to_string())
                    .collect();
                if let Ok(listed) = &listed {
                    prop_assert_eq!(
                        &listed["keys"],
                        &json!(expected),
                        "list-keys in state {}",
                        state.as_str()
                    );
                }
                listed.map(drop)
            }
            Step::Maintain => self
                .kms
                .maintain()
                .map(drop)
                .map_err(|e| e.code().to_owned()),
            Step::Advance { ms } => {
                self.clock.advance_ms(ms);
                Ok(())
            }
        })
    }

    fn import(&self, key: usize, material: usize, expires_in_s: Option<u64>) -> Answer {
        let key_id = self.key_id(key)?;
        let parameters = self.call(
            Operation::GetParametersForImport,
            &json!({"key_id": key_id, "wrapping_algorithm": self.spec.wrapping_algorithm}),
        )?;
        let public_key = Base64::decode_vec(parameters["public_key"].as_str().unwrap_or_default())
            .unwrap_or_else(|error| panic!("public_key is not base64: {error}"));
        let wrapped = (self.spec.wrap)(&public_key, &MATERIALS[material]);
        let mut body = json!({
            "key_id": key_id,
            "import_token": parameters["import_token"],
            "encrypted_key_material": Base64::encode_string(&wrapped),
        });
        if let Some(seconds) = expires_in_s {
            body["expiration_time"] = json!(self.clock_now() / 1000 + seconds);
        }
        self.call(Operation::ImportKeyMaterial, &body).map(drop)
    }

    /// Signs a digest with the key and checks that the signature verifies.
    fn sign(&self, key: usize) -> Result<Answer, TestCaseError> {
        let key_id = match self.key_id(key) {
            Ok(key_id) => key_id,
            Err(code) => return Ok(Err(code)),
        };
        let message = Base64::encode_string(&DEK);
        let signed = self.call(
            Operation::Sign,
            &json!({"key_id": key_id, "message": message, "signing_algorithm": "ECDSA_SHA_256"}),
        );
        if let Ok(signed) = &signed {
            let verified = self.call(
                Operation::Verify,
                &json!({"key_id": key_id, "message": message, "signature": signed["signature"],
                        "signing_algorithm": "ECDSA_SHA_256"}),
            );
            // Verify reads the key again: a step beside this one may have disabled it.
            if let Ok(verified) = verified {
                prop_assert_eq!(verified["signature_valid"].as_str(), Some("true"));
            }
        }
        Ok(signed.map(drop))
    }

    fn clock_now(&self) -> u64 {
        crate::clock::Clock::now_ms(self.clock.as_ref())
    }

    /// Seals a blob of the kind `data` says under the key and keeps it as the key's last.
    fn encrypt(&self, key: usize, data: bool) -> Answer {
        let key_id = self.key_id(key)?;
        let response = if data {
            self.call(
                Operation::EncryptData,
                &json!({"key_id": key_id, "plain_text": TEXT}),
            )?
        } else {
            let plain_text = crate::codec::encode_hex(
                &[DEK.as_slice(), &dek_digest(CmkSpec::Aes256, &DEK)].concat(),
            );
            self.call(
                Operation::EncryptDatakey,
                &json!({"key_id": key_id, "plain_text": plain_text, "datakey_plain_length": "32"}),
            )?
        };
        let cipher_text = response["cipher_text"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut blobs = self
            .blobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(slot) = blobs
            .get_mut(key)
            .and_then(|kinds| kinds.get_mut(usize::from(data)))
        {
            *slot = Some((key_id, cipher_text));
        }
        Ok(())
    }

    /// Opens the key's last blob of the kind `data` says (or seals a fresh one when it has
    /// none): it must open to the DEK or the text whenever the key is enabled, since a key's
    /// imported material never changes (KMS.2606) and rotation keeps every generation.
    fn decrypt(&self, key: usize, data: bool) -> Result<Answer, TestCaseError> {
        let blob = self
            .blobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .and_then(|kinds| kinds.get(usize::from(data)))
            .cloned()
            .flatten();
        let Some((key_id, cipher_text)) = blob else {
            return Ok(self.encrypt(key, data));
        };
        if data {
            let opened = self.call(
                Operation::DecryptData,
                &json!({"key_id": key_id, "cipher_text": cipher_text}),
            );
            if let Ok(opened) = &opened {
                prop_assert_eq!(opened["plain_text"].as_str(), Some(TEXT));
            }
            return Ok(opened.map(drop));
        }
        let opened = self.call(
            Operation::DecryptDatakey,
            &json!({"key_id": key_id, "cipher_text": cipher_text, "datakey_cipher_length": "32"}),
        );
        if let Ok(opened) = &opened {
            let dek = crate::codec::encode_hex(&DEK);
            prop_assert_eq!(opened["data_key"].as_str(), Some(dek.as_str()));
        }
        Ok(opened.map(drop))
    }

    /// The stored record of every key equals the model's. Expiry is carried out when a
    /// call or the maintenance finds it due, so a record whose material is due to expire
    /// is compared as the expiry will leave it.
    fn check_store(&self, model: &Model) -> Result<(), TestCaseError> {
        let now = self.clock_now();
        for (index, (expected, key_id)) in model.keys.iter().zip(&self.key_ids).enumerate() {
            let mut stored = self
                .store
                .get_key(key_id)
                .map_err(|error| TestCaseError::fail(format!("reading key {index}: {error}")))?;
            if let Some(record) = stored
                .as_mut()
                .filter(|record| record.material_expired(now))
            {
                record.key_blob = None;
                record.material_expiry_ms = None;
                if record.state == KeyState::Enabled {
                    record.state = KeyState::PendingImport;
                }
            }
            match (expected, stored) {
                (None, None) => {}
                (Some(expected), Some(stored)) => {
                    prop_assert_eq!(
                        stored.state,
                        expected.state,
                        "stored state of key {}",
                        index
                    );
                    prop_assert_eq!(
                        stored.key_blob.is_some(),
                        expected.material.is_some(),
                        "material of key {} in the store",
                        index
                    );
                    prop_assert_eq!(
                        stored.material_expiry_ms,
                        expected.expiry_ms,
                        "expiry of key {}",
                        index
                    );
                    prop_assert_eq!(
                        stored.material_fingerprint.is_some(),
                        expected.fingerprint.is_some(),
                        "fingerprint of key {}",
                        index
                    );
                    prop_assert_eq!(
                        stored.scheduled_deletion_ms,
                        expected.deletion_ms,
                        "deletion time of key {}",
                        index
                    );
                    prop_assert_eq!(
                        (stored.generation, stored.rotation.rotations),
                        (expected.rotations, expected.rotations),
                        "generation of key {}",
                        index
                    );
                    prop_assert_eq!(
                        stored.retired_materials.len(),
                        expected.rotations as usize,
                        "retired materials of key {}",
                        index
                    );
                    prop_assert_eq!(
                        stored
                            .rotation
                            .enabled
                            .then_some(stored.rotation.interval_start_ms),
                        expected.rotation_since_ms,
                        "rotation of key {}",
                        index
                    );
                }
                (expected, stored) => {
                    return Err(TestCaseError::fail(format!(
                        "key {index}: the model has {expected:?}, the store {stored:?}"
                    )));
                }
            }
        }
        Ok(())
    }
}

impl LifecycleModel<'_> {
    /// Runs the model: panics with the shortest failing sequence found, and the answers.
    pub fn check(&self) {
        let mut runner = TestRunner::new(Config {
            cases: self.cases,
            failure_persistence: None,
            ..Config::default()
        });
        let sequences = proptest::collection::vec(turn(), 1..=self.max_steps);
        if let Err(error) = runner.run(&sequences, |turns| self.check_sequence(&turns)) {
            panic!("the engine left the documented state machine: {error}");
        }
    }

    fn check_sequence(&self, turns: &[Turn]) -> Result<(), TestCaseError> {
        let clock = Arc::new(ManualClock::new(START_MS));
        let (kms, store) = (self.engine)(Arc::clone(&clock));
        let mut run = Run {
            spec: self,
            kms,
            store,
            clock,
            key_ids: Vec::new(),
            blobs: std::sync::Mutex::new(Vec::new()),
        };
        let mut model = Model::default();
        let signing_keys = run
            .kms
            .backend()
            .capabilities()
            .require_key_spec(crate::key_spec::KeySpec::Asymmetric(
                crate::key_spec::AsymmetricSpec::EcP256,
            ))
            .is_ok();
        for (at, turn) in turns.iter().enumerate() {
            match *turn {
                Turn::One(Step::CreateKey { external, signing }) => {
                    if run.key_ids.len() < MAX_KEYS {
                        let now = run.clock_now();
                        let signing = signing && signing_keys;
                        let step = Step::CreateKey { external, signing };
                        prop_assert_eq!(model.apply(step, now), Ok(()));
                        run.create_key(external, signing)?;
                    }
                }
                Turn::One(step) => {
                    let now = run.clock_now();
                    let mut after = model.clone();
                    let expected = after.apply(step, now);
                    let answer = run.run(step, &after)?;
                    prop_assert_eq!(&answer, &expected, "step {}: {:?}", at, step);
                    model = after;
                }
                Turn::Two(first, second) => {
                    model = run.run_two(first, second, &model, at)?;
                }
            }
            model.expire(run.clock_now());
            run.check_store(&model).map_err(|error| {
                TestCaseError::fail(format!("after step {at} ({turn:?}): {error}"))
            })?;
        }
        // The keys of a sequence live no longer than it (on a token, they are objects).
        run.kms.destroy_all_keys().map_err(|error| {
            TestCaseError::fail(format!("destroying the sequence's keys: {error}"))
        })
    }
}

impl Run<'_> {
    fn create_key(&mut self, external: bool, signing: bool) -> Result<(), TestCaseError> {
        let alias = format!("model-{}", self.key_ids.len());
        let origin = if external { "external" } else { "kms" };
        let spec = if signing { "EC_P256" } else { "AES_256" };
        let created = self
            .call(
                Operation::CreateKey,
                &json!({"key_alias": alias, "origin": origin, "key_spec": spec}),
            )
            .map_err(|code| TestCaseError::fail(format!("create-key: {code}")))?;
        let key_id = KeyId::parse(created["key_info"]["key_id"].as_str().unwrap_or_default())
            .map_err(|error| TestCaseError::fail(format!("create-key's key ID: {error}")))?;
        self.key_ids.push(key_id);
        self.blobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push([None, None]);
        Ok(())
    }

    /// Runs two steps at once; the answers and the store must be those of one serial order.
    fn run_two(
        &self,
        first: Step,
        second: Step,
        model: &Model,
        at: usize,
    ) -> Result<Model, TestCaseError> {
        let now = self.clock_now();
        let start = std::sync::Barrier::new(2);
        let (a, b) = std::thread::scope(|scope| {
            let a = scope.spawn(|| {
                start.wait();
                self.run(first, model)
            });
            let b = scope.spawn(|| {
                start.wait();
                self.run(second, model)
            });
            (a.join(), b.join())
        });
        let answers = match (a, b) {
            (Ok(a), Ok(b)) => (a?, b?),
            _ => return Err(TestCaseError::fail(format!("step {at}: a thread panicked"))),
        };
        let mut orders = Vec::new();
        for (x, y, swap) in [(first, second, false), (second, first, true)] {
            let mut after = model.clone();
            let rx = after.apply(x, now);
            let ry = after.apply(y, now);
            let expected = if swap { (ry, rx) } else { (rx, ry) };
            if expected == answers {
                orders.push(after);
            }
        }
        for after in &orders {
            if self.check_store(after).is_ok() {
                return Ok(after.clone());
            }
        }
        Err(TestCaseError::fail(format!(
            "step {at}: {first:?} and {second:?} at once answered {answers:?}, which no serial order gives with this store"
        )))
    }
}
