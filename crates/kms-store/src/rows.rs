//! Mapping between the engine's records and table rows.

use base64ct::{Base64, Encoding};
use kms_core::{
    CmkSpec, ImportRecord, KeyBlob, KeyId, KeyOrigin, KeyRecord, KeyState, KeyUsage, ProjectId,
    WrappingAlgorithm, WrappingKeySpec,
};
use rusqlite::Row;
use rusqlite::types::Type;

/// The columns of `keys` that [`key_record`] reads, in order.
pub(crate) const KEY_COLUMNS: &str = "key_id, alias, description, spec, usage, origin, state, \
     created_ms, scheduled_deletion_ms, generation, key_blob, material_expiry_ms, \
     material_fingerprint, project_id";

/// The columns of `imports` that [`import_record`] reads, in order.
pub(crate) const IMPORT_COLUMNS: &str =
    "token_id, key_id, algorithm, wrapping_key_spec, wrapping_key, expires_ms";

pub(crate) fn encode_blob(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

pub(crate) fn decode_blob(text: &str) -> Option<Vec<u8>> {
    Base64::decode_vec(text).ok()
}

pub(crate) fn encode_token_id(token_id: &[u8; 16]) -> String {
    kms_core::encode_hex(token_id)
}

pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn invalid(column: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, Type::Text, what.to_owned().into())
}

fn text(row: &Row<'_>, column: usize) -> rusqlite::Result<String> {
    row.get(column)
}

fn wire<T>(row: &Row<'_>, column: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    parse(&text(row, column)?).ok_or_else(|| invalid(column, "unknown enumeration value"))
}

fn blob(row: &Row<'_>, column: usize) -> rusqlite::Result<Option<Vec<u8>>> {
    row.get::<_, Option<String>>(column)?
        .map(|text| decode_blob(&text).ok_or_else(|| invalid(column, "not base64")))
        .transpose()
}

fn millis(row: &Row<'_>, column: usize) -> rusqlite::Result<Option<u64>> {
    Ok(row
        .get::<_, Option<i64>>(column)?
        .map(|ms| u64::try_from(ms).unwrap_or(0)))
}

fn key_id(row: &Row<'_>, column: usize) -> rusqlite::Result<KeyId> {
    KeyId::parse(&text(row, column)?).map_err(|_| invalid(column, "malformed key ID"))
}

/// A `keys` row selected with [`KEY_COLUMNS`].
pub(crate) fn key_record(row: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        key_id: key_id(row, 0)?,
        alias: text(row, 1)?,
        description: text(row, 2)?,
        spec: wire(row, 3, CmkSpec::from_wire)?,
        usage: wire(row, 4, KeyUsage::from_wire)?,
        origin: wire(row, 5, KeyOrigin::from_wire)?,
        state: wire(row, 6, KeyState::from_wire)?,
        created_ms: millis(row, 7)?.unwrap_or(0),
        scheduled_deletion_ms: millis(row, 8)?,
        generation: u32::try_from(row.get::<_, i64>(9)?)
            .map_err(|_| invalid(9, "generation out of range"))?,
        key_blob: blob(row, 10)?.map(KeyBlob::new),
        material_expiry_ms: millis(row, 11)?,
        material_fingerprint: blob(row, 12)?,
        project_id: ProjectId::parse(&text(row, 13)?)
            .map_err(|_| invalid(13, "malformed project ID"))?,
    })
}

/// An `imports` row selected with [`IMPORT_COLUMNS`].
pub(crate) fn import_record(row: &Row<'_>) -> rusqlite::Result<ImportRecord> {
    let token_id = kms_core::decode_hex(&text(row, 0)?)
        .ok()
        .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
        .ok_or_else(|| invalid(0, "malformed token ID"))?;
    Ok(ImportRecord {
        token_id,
        key_id: key_id(row, 1)?,
        algorithm: wire(row, 2, WrappingAlgorithm::from_wire)?,
        wrapping_key_spec: wire(row, 3, WrappingKeySpec::from_wire)?,
        wrapping_key: KeyBlob::new(
            blob(row, 4)?.ok_or_else(|| invalid(4, "missing wrapping key"))?,
        ),
        expires_ms: millis(row, 5)?.unwrap_or(0),
    })
}
