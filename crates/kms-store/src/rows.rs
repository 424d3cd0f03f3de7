//! Mapping between the engine's records and table rows, the same for every database: each
//! store reads a row's columns through [`Columns`], and the decoding from column values to
//! records lives here once.

use base64ct::{Base64, Encoding};
use kms_core::{
    ImportRecord, KeyBlob, KeyId, KeyOrigin, KeyRecord, KeySpec, KeyState, KeyUsage, ProjectId,
    RetiredMaterial, Rotation, Tag, WrappingAlgorithm, WrappingKeySpec,
};

/// The columns of `keys` that [`key_record`] reads, in order.
pub(crate) const KEY_COLUMNS: &str = "key_id, alias, description, spec, usage, origin, state, \
     created_ms, scheduled_deletion_ms, generation, key_blob, material_expiry_ms, \
     material_fingerprint, project_id, retired_materials, rotation_enabled, \
     rotation_interval_days, rotation_interval_start_ms, last_rotation_ms, rotations";

/// The columns of `imports` that [`import_record`] reads, in order.
pub(crate) const IMPORT_COLUMNS: &str =
    "token_id, key_id, algorithm, wrapping_key_spec, wrapping_key, expires_ms";

/// A result row of one database driver, read column by column (numbered from 0). The
/// schema holds text (`VARCHAR`, `TEXT`) and 64-bit integers (`BIGINT`) only.
pub(crate) trait Columns {
    /// The driver's error.
    type Error;

    /// A text column, `None` when it is NULL.
    fn text(&self, column: usize) -> Result<Option<String>, Self::Error>;

    /// A `BIGINT` column, `None` when it is NULL.
    fn integer(&self, column: usize) -> Result<Option<i64>, Self::Error>;

    /// The error for a column whose value is not what the engine wrote.
    fn invalid(column: usize, what: &'static str) -> Self::Error;
}

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

/// A count or position read back from a `BIGINT` (never negative as the engine writes it).
pub(crate) fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn text<R: Columns>(row: &R, column: usize) -> Result<String, R::Error> {
    row.text(column)?
        .ok_or_else(|| R::invalid(column, "unexpected NULL"))
}

fn wire<R: Columns, T>(
    row: &R,
    column: usize,
    parse: fn(&str) -> Option<T>,
) -> Result<T, R::Error> {
    parse(&text(row, column)?).ok_or_else(|| R::invalid(column, "unknown enumeration value"))
}

fn blob<R: Columns>(row: &R, column: usize) -> Result<Option<Vec<u8>>, R::Error> {
    row.text(column)?
        .map(|text| decode_blob(&text).ok_or_else(|| R::invalid(column, "not base64")))
        .transpose()
}

fn millis<R: Columns>(row: &R, column: usize) -> Result<Option<u64>, R::Error> {
    Ok(row.integer(column)?.map(to_u64))
}

fn key_id<R: Columns>(row: &R, column: usize) -> Result<KeyId, R::Error> {
    KeyId::parse(&text(row, column)?).map_err(|_| R::invalid(column, "malformed key ID"))
}

fn integer<R: Columns>(row: &R, column: usize) -> Result<i64, R::Error> {
    row.integer(column)?
        .ok_or_else(|| R::invalid(column, "unexpected NULL"))
}

fn count<R: Columns>(row: &R, column: usize) -> Result<u32, R::Error> {
    u32::try_from(integer(row, column)?).map_err(|_| R::invalid(column, "out of range"))
}

/// The `retired_materials` column: each retired generation as
/// `<generation>.<created_ms>.<base64 reference>`, separated by spaces, oldest first (no
/// base64 character is a dot or a space).
pub(crate) fn encode_retired(retired: &[RetiredMaterial]) -> String {
    retired
        .iter()
        .map(|material| {
            format!(
                "{}.{}.{}",
                material.generation,
                material.created_ms,
                encode_blob(material.key_blob.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn decode_retired(text: &str) -> Option<Vec<RetiredMaterial>> {
    text.split_whitespace()
        .map(|entry| {
            let mut parts = entry.splitn(3, '.');
            Some(RetiredMaterial {
                generation: parts.next()?.parse().ok()?,
                created_ms: parts.next()?.parse().ok()?,
                key_blob: KeyBlob::new(decode_blob(parts.next()?)?),
            })
        })
        .collect()
}

/// The `retired_materials` column after key `record` rotates: its current material
/// retired too. `None` when the key cannot rotate from `from_generation` and
/// `from_rotation` (not enabled, without material, at another generation, or under another
/// rotation policy).
pub(crate) fn retired_after_rotation(
    record: &KeyRecord,
    from_generation: u32,
    from_rotation: &Rotation,
) -> Option<String> {
    let current = record.key_blob.clone()?;
    if record.state != KeyState::Enabled
        || record.generation != from_generation
        || record.rotation != *from_rotation
    {
        return None;
    }
    let mut retired = record.retired_materials.clone();
    retired.push(RetiredMaterial {
        generation: from_generation,
        key_blob: current,
        created_ms: record.material_created_ms(),
    });
    Some(encode_retired(&retired))
}

/// A `key_tags` row selected as `tag_key, tag_value`.
pub(crate) fn tag<R: Columns>(row: &R) -> Result<Tag, R::Error> {
    Ok(Tag {
        key: text(row, 0)?,
        value: text(row, 1)?,
    })
}

/// A `keys` row selected with [`KEY_COLUMNS`].
pub(crate) fn key_record<R: Columns>(row: &R) -> Result<KeyRecord, R::Error> {
    let generation = integer(row, 9)?;
    Ok(KeyRecord {
        key_id: key_id(row, 0)?,
        alias: text(row, 1)?,
        description: text(row, 2)?,
        spec: wire(row, 3, KeySpec::from_wire)?,
        usage: wire(row, 4, KeyUsage::from_wire)?,
        origin: wire(row, 5, KeyOrigin::from_wire)?,
        state: wire(row, 6, KeyState::from_wire)?,
        created_ms: millis(row, 7)?.unwrap_or(0),
        scheduled_deletion_ms: millis(row, 8)?,
        generation: u32::try_from(generation)
            .map_err(|_| R::invalid(9, "generation out of range"))?,
        key_blob: blob(row, 10)?.map(KeyBlob::new),
        material_expiry_ms: millis(row, 11)?,
        material_fingerprint: blob(row, 12)?,
        project_id: ProjectId::parse(&text(row, 13)?)
            .map_err(|_| R::invalid(13, "malformed project ID"))?,
        retired_materials: decode_retired(&text(row, 14)?)
            .ok_or_else(|| R::invalid(14, "malformed retired materials"))?,
        rotation: Rotation {
            enabled: integer(row, 15)? != 0,
            interval_days: count(row, 16)?,
            interval_start_ms: millis(row, 17)?.unwrap_or(0),
            last_rotation_ms: millis(row, 18)?,
            rotations: count(row, 19)?,
        },
    })
}

/// An `imports` row selected with [`IMPORT_COLUMNS`].
pub(crate) fn import_record<R: Columns>(row: &R) -> Result<ImportRecord, R::Error> {
    let token_id = kms_core::decode_hex(&text(row, 0)?)
        .ok()
        .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
        .ok_or_else(|| R::invalid(0, "malformed token ID"))?;
    Ok(ImportRecord {
        token_id,
        key_id: key_id(row, 1)?,
        algorithm: wire(row, 2, WrappingAlgorithm::from_wire)?,
        wrapping_key_spec: wire(row, 3, WrappingKeySpec::from_wire)?,
        wrapping_key: KeyBlob::new(blob(row, 4)?.ok_or_else(|| R::invalid(4, "unexpected NULL"))?),
        expires_ms: millis(row, 5)?.unwrap_or(0),
    })
}

/// A stored engine key (base64 text).
pub(crate) fn engine_key(text: &str) -> kms_core::Result<KeyBlob> {
    decode_blob(text)
        .map(KeyBlob::new)
        .ok_or_else(|| kms_core::KmsError::Store("an engine key is not base64".into()))
}

/// A key ID read from the change feed.
pub(crate) fn feed_key_id<R: Columns>(row: &R) -> Result<KeyId, R::Error> {
    key_id(row, 0)
}
