//! What `kms bench` runs: the operations it can time, and each thread's requests, made
//! (with the thread's own CMK) before the clock starts.

use kms_core::models::{
    CreateDatakeyRequest, CreateEcDatakeyPairRequest, CreateKeyRequest,
    CreateRsaDatakeyPairRequest, DecryptDatakeyRequest, EncryptDatakeyRequest,
    GetParametersForImportRequest,
};
use kms_core::{CmkSpec, Kms, Result, SecretString, dek_digest, encode_hex};

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

    /// The operation's wire name, as on the command line.
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

/// One thread's request, ready to send again and again.
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
        let key_id = key_id.to_owned();
        let datakey = || CreateDatakeyRequest {
            key_id: Some(key_id.clone()),
            datakey_length: Some((spec.dek_len * 8).to_string()),
            additional_authenticated_data: Some(BENCH_AAD.into()),
            ..CreateDatakeyRequest::default()
        };
        let workload = match op {
            BenchOp::CreateDatakey => Self::CreateDatakey(datakey()),
            BenchOp::CreateDatakeyWithoutPlaintext => {
                Self::CreateDatakeyWithoutPlaintext(datakey())
            }
            BenchOp::EncryptDatakey => Self::EncryptDatakey(encrypt_request(&key_id, spec)),
            BenchOp::DecryptDatakey => {
                let sealed =
                    kms.encrypt_datakey(kms.default_tenant(), &encrypt_request(&key_id, spec))?;
                Self::DecryptDatakey(DecryptDatakeyRequest {
                    key_id: Some(key_id.clone()),
                    cipher_text: Some(sealed.cipher_text),
                    datakey_cipher_length: Some(spec.dek_len.to_string()),
                    additional_authenticated_data: Some(BENCH_AAD.into()),
                    ..DecryptDatakeyRequest::default()
                })
            }
            BenchOp::CreateEcDatakeyPair => Self::CreateEcDatakeyPair(CreateEcDatakeyPairRequest {
                key_id: Some(key_id.clone()),
                key_spec: Some(spec.ec_spec.clone()),
                additional_authenticated_data: Some(BENCH_AAD.into()),
                ..CreateEcDatakeyPairRequest::default()
            }),
            BenchOp::CreateRsaDatakeyPair => {
                Self::CreateRsaDatakeyPair(CreateRsaDatakeyPairRequest {
                    key_id: Some(key_id.clone()),
                    key_spec: Some(spec.rsa_spec.clone()),
                    additional_authenticated_data: Some(BENCH_AAD.into()),
                    ..CreateRsaDatakeyPairRequest::default()
                })
            }
            BenchOp::GetParametersForImport => {
                Self::GetParametersForImport(GetParametersForImportRequest {
                    key_id: Some(key_id.clone()),
                    wrapping_algorithm: Some(spec.wrapping_algorithm.clone()),
                    wrapping_key_spec: Some(spec.wrapping_key_spec.clone()),
                    ..GetParametersForImportRequest::default()
                })
            }
        };
        Ok(workload)
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

/// A CMK for `op` on thread `thread` (the first thread's is the shared one): a key awaiting
/// import for get-parameters-for-import, else an enabled one of `spec.cmk_spec`.
///
/// # Errors
/// Whatever create-key returns.
pub(crate) fn create_cmk(
    kms: &Kms,
    op: BenchOp,
    spec: &WorkloadSpec,
    thread: usize,
) -> Result<String> {
    let created = kms.create_key(
        kms.default_tenant(),
        &CreateKeyRequest {
            key_alias: Some(format!("kms-bench/{}/{thread}", op.as_str())),
            key_spec: Some(spec.cmk_spec.as_str().into()),
            origin: (op == BenchOp::GetParametersForImport).then(|| "external".into()),
            ..CreateKeyRequest::default()
        },
    )?;
    Ok(created.key_info.key_id)
}

/// An encrypt-datakey request of a DEK of `spec.dek_len` bytes with its digest.
fn encrypt_request(key_id: &str, spec: &WorkloadSpec) -> EncryptDatakeyRequest {
    let dek = vec![0x5A; spec.dek_len];
    let plain_text = [dek.as_slice(), &dek_digest(spec.cmk_spec, &dek)].concat();
    EncryptDatakeyRequest {
        key_id: Some(key_id.into()),
        plain_text: Some(SecretString::new(encode_hex(&plain_text))),
        datakey_plain_length: Some(spec.dek_len.to_string()),
        additional_authenticated_data: Some(BENCH_AAD.into()),
        ..EncryptDatakeyRequest::default()
    }
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
