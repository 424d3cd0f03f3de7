//! What `kms bench` runs: the operations it can time, and each thread's requests, made
//! (with the thread's own CMK) before the clock starts.

use kms_core::models::{
    CreateDatakeyRequest, CreateEcDatakeyPairRequest, CreateKeyRequest,
    CreateRsaDatakeyPairRequest, DecryptDatakeyRequest, EncryptDatakeyRequest,
    GetParametersForImportRequest,
};
use kms_core::{CmkSpec, Kms, KmsError, Result, dek_digest, encode_hex};
use serde_json::{Value, json};

use super::runner::{CallError, Caller};

/// An operation `kms bench` can time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BenchOp {
    CreateDatakey,
    CreateDatakeyWithoutPlaintext,
    EncryptDatakey,
    DecryptDatakey,
    CreateEcDatakeyPair,
    CreateRsaDatakeyPair,
    GetParametersForImport,
}

impl BenchOp {
    /// Every operation, in the order `--op all` runs them.
    pub(crate) const ALL: [Self; 7] = [
        Self::CreateDatakey,
        Self::CreateDatakeyWithoutPlaintext,
        Self::EncryptDatakey,
        Self::DecryptDatakey,
        Self::CreateEcDatakeyPair,
        Self::CreateRsaDatakeyPair,
        Self::GetParametersForImport,
    ];

    /// The operation's wire name, as on the command line and in its URI
    /// (`/v1.0/{project_id}/kms/<name>`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::CreateDatakey => "create-datakey",
            Self::CreateDatakeyWithoutPlaintext => "create-datakey-without-plaintext",
            Self::EncryptDatakey => "encrypt-datakey",
            Self::DecryptDatakey => "decrypt-datakey",
            Self::CreateEcDatakeyPair => "create-ec-datakey-pair",
            Self::CreateRsaDatakeyPair => "create-rsa-datakey-pair",
            Self::GetParametersForImport => "get-parameters-for-import",
        }
    }

    /// The operation named `name`.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.as_str() == name)
    }

    /// Whether the request opens a DEK sealed (by encrypt-datakey) before the clock starts.
    pub(crate) fn needs_sealed_dek(self) -> bool {
        self == Self::DecryptDatakey
    }
}

/// The specs and sizes every thread's requests use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkloadSpec {
    /// The CMK spec of the DEK operations.
    pub cmk_spec: CmkSpec,
    /// The DEK length of create-, encrypt- and decrypt-datakey, in bytes.
    pub dek_len: usize,
    /// The key spec of create-ec-datakey-pair.
    pub ec_spec: String,
    /// The key spec of create-rsa-datakey-pair.
    pub rsa_spec: String,
    /// The wrapping algorithm of get-parameters-for-import.
    pub wrapping_algorithm: String,
    /// The wrapping key spec of get-parameters-for-import.
    pub wrapping_key_spec: String,
    /// All threads use one CMK (a hot key) instead of one each.
    pub shared_key: bool,
}

/// AAD every bench request binds.
const BENCH_AAD: &str = "kms-bench";

/// The create-key body of the CMK for `op` on thread `thread` of the run `run` (the first
/// thread's is the shared one): a key awaiting import for get-parameters-for-import, else
/// an enabled one of `spec.cmk_spec`. Its alias `kms-bench/<run>/<op>/<thread>` is unique
/// while `run` is.
pub(crate) fn create_key_body(op: BenchOp, spec: &WorkloadSpec, run: &str, thread: usize) -> Value {
    let alias = format!("kms-bench/{run}/{}/{thread}", op.as_str());
    if op == BenchOp::GetParametersForImport {
        json!({"key_alias": alias, "key_spec": spec.cmk_spec.as_str(), "origin": "external"})
    } else {
        json!({"key_alias": alias, "key_spec": spec.cmk_spec.as_str()})
    }
}

/// The wire body of `op`'s request under the CMK `key_id`, the same in-process and over
/// HTTP. A decrypt-datakey request opens `sealed`: the `cipher_text` of an encrypt-datakey
/// of this module's DEK (see [`BenchOp::needs_sealed_dek`]).
pub(crate) fn request_body(
    op: BenchOp,
    spec: &WorkloadSpec,
    key_id: &str,
    sealed: Option<&str>,
) -> Value {
    let datakey_length = (spec.dek_len * 8).to_string();
    match op {
        BenchOp::CreateDatakey | BenchOp::CreateDatakeyWithoutPlaintext => json!({
            "key_id": key_id,
            "datakey_length": datakey_length,
            "additional_authenticated_data": BENCH_AAD,
        }),
        BenchOp::EncryptDatakey => {
            let dek = vec![0x5A; spec.dek_len];
            let plain_text = [dek.as_slice(), &dek_digest(spec.cmk_spec, &dek)].concat();
            json!({
                "key_id": key_id,
                "plain_text": encode_hex(&plain_text),
                "datakey_plain_length": spec.dek_len.to_string(),
                "additional_authenticated_data": BENCH_AAD,
            })
        }
        BenchOp::DecryptDatakey => json!({
            "key_id": key_id,
            "cipher_text": sealed.unwrap_or_default(),
            "datakey_cipher_length": spec.dek_len.to_string(),
            "additional_authenticated_data": BENCH_AAD,
        }),
        BenchOp::CreateEcDatakeyPair => json!({
            "key_id": key_id,
            "key_spec": spec.ec_spec,
            "additional_authenticated_data": BENCH_AAD,
        }),
        BenchOp::CreateRsaDatakeyPair => json!({
            "key_id": key_id,
            "key_spec": spec.rsa_spec,
            "additional_authenticated_data": BENCH_AAD,
        }),
        BenchOp::GetParametersForImport => json!({
            "key_id": key_id,
            "wrapping_algorithm": spec.wrapping_algorithm,
            "wrapping_key_spec": spec.wrapping_key_spec,
        }),
    }
}

/// One thread's request to the engine, ready to send again and again.
#[derive(Debug)]
pub(crate) enum Workload {
    CreateDatakey(CreateDatakeyRequest),
    CreateDatakeyWithoutPlaintext(CreateDatakeyRequest),
    EncryptDatakey(EncryptDatakeyRequest),
    DecryptDatakey(DecryptDatakeyRequest),
    CreateEcDatakeyPair(CreateEcDatakeyPairRequest),
    CreateRsaDatakeyPair(CreateRsaDatakeyPairRequest),
    GetParametersForImport(GetParametersForImportRequest),
}

/// A request body read as the engine's request type.
fn typed<T: serde::de::DeserializeOwned>(body: Value) -> Result<T> {
    serde_json::from_value(body).map_err(|error| KmsError::InvalidJson(error.to_string()))
}

impl Workload {
    /// The request for `op` under the CMK `key_id` (made by [`create_cmk`]).
    ///
    /// # Errors
    /// Whatever the one encryption a decrypt-datakey workload needs returns.
    pub(crate) fn prepare(
        kms: &Kms,
        op: BenchOp,
        spec: &WorkloadSpec,
        key_id: &str,
    ) -> Result<Self> {
        let sealed = if op.needs_sealed_dek() {
            let request = typed(request_body(BenchOp::EncryptDatakey, spec, key_id, None))?;
            Some(
                kms.encrypt_datakey(kms.default_tenant(), &request)?
                    .cipher_text,
            )
        } else {
            None
        };
        let body = request_body(op, spec, key_id, sealed.as_deref());
        Ok(match op {
            BenchOp::CreateDatakey => Self::CreateDatakey(typed(body)?),
            BenchOp::CreateDatakeyWithoutPlaintext => {
                Self::CreateDatakeyWithoutPlaintext(typed(body)?)
            }
            BenchOp::EncryptDatakey => Self::EncryptDatakey(typed(body)?),
            BenchOp::DecryptDatakey => Self::DecryptDatakey(typed(body)?),
            BenchOp::CreateEcDatakeyPair => Self::CreateEcDatakeyPair(typed(body)?),
            BenchOp::CreateRsaDatakeyPair => Self::CreateRsaDatakeyPair(typed(body)?),
            BenchOp::GetParametersForImport => Self::GetParametersForImport(typed(body)?),
        })
    }

    /// Sends the request once; the response is dropped (and its secrets wiped).
    ///
    /// # Errors
    /// The operation's error.
    pub(crate) fn call(&self, kms: &Kms) -> Result<()> {
        match self {
            Self::CreateDatakey(request) => {
                kms.create_datakey(kms.default_tenant(), request).map(drop)
            }
            Self::CreateDatakeyWithoutPlaintext(request) => kms
                .create_datakey_without_plaintext(kms.default_tenant(), request)
                .map(drop),
            Self::EncryptDatakey(request) => {
                kms.encrypt_datakey(kms.default_tenant(), request).map(drop)
            }
            Self::DecryptDatakey(request) => {
                kms.decrypt_datakey(kms.default_tenant(), request).map(drop)
            }
            Self::CreateEcDatakeyPair(request) => kms
                .create_ec_datakey_pair(kms.default_tenant(), request)
                .map(drop),
            Self::CreateRsaDatakeyPair(request) => kms
                .create_rsa_datakey_pair(kms.default_tenant(), request)
                .map(drop),
            Self::GetParametersForImport(request) => kms
                .get_parameters_for_import(kms.default_tenant(), request)
                .map(drop),
        }
    }
}

/// One thread's workload on the engine in-process.
#[derive(Debug)]
pub(crate) struct EngineCaller<'k> {
    pub kms: &'k Kms,
    pub workload: Workload,
}

impl Caller for EngineCaller<'_> {
    fn call(&mut self) -> std::result::Result<(), CallError> {
        Ok(self.workload.call(self.kms)?)
    }
}

/// The CMK for `op` on thread `thread` of a run on a fresh engine, made in-process from
/// [`create_key_body`].
///
/// # Errors
/// Whatever create-key returns.
pub(crate) fn create_cmk(
    kms: &Kms,
    op: BenchOp,
    spec: &WorkloadSpec,
    thread: usize,
) -> Result<String> {
    let request: CreateKeyRequest = typed(create_key_body(op, spec, "run", thread))?;
    Ok(kms
        .create_key(kms.default_tenant(), &request)?
        .key_info
        .key_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_found_by_its_name() {
        for op in BenchOp::ALL {
            assert_eq!(BenchOp::from_name(op.as_str()), Some(op));
        }
        assert_eq!(BenchOp::from_name("all"), None);
    }
}
