//! [`SqliteStore`]: the key store in one SQLite file.
//!
//! WAL mode with `synchronous=FULL`: a commit is on disk before the call returns, so a key
//! whose creation was acknowledged survives a crash or power loss. Every change is one
//! `BEGIN IMMEDIATE` transaction; state changes and token use are compare-and-swap inside
//! it, and each change of a key's state or material enters the change feed in the same
//! transaction. Several processes may share the file: a writer waits for another (busy
//! timeout, then retries) and fails cleanly if it still cannot get in.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use kms_core::{
    Clock, ImportRecord, KeyBlob, KeyChanges, KeyId, KeyRecord, KeyState, KeyStore, KeyText,
    KmsError, NewMaterial, ProjectId, Result, Rotation, StateChange, SystemClock, Tag, TagChange,
};
use rusqlite::types::Type;
use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Row, Transaction, TransactionBehavior, params,
};

use crate::contract::{FeedAfter, key_changes, key_ids, lease_granted, swapped};
use crate::rows::{
    Columns, IMPORT_COLUMNS, KEY_COLUMNS, encode_blob, encode_retired, encode_token_id, engine_key,
    feed_key_id, import_record, key_record, retired_after_rotation, tag, to_i64, to_u64,
};
use crate::schema::{self, SCHEMA_VERSION};

/// How long a statement waits for another connection's lock before it reports busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a transaction that still found the database busy is tried again.
const BUSY_RETRIES: u32 = 5;

/// Key metadata in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    connection: Mutex<Connection>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    ///
    /// # Errors
    /// [`KmsError::Store`] when the file cannot be opened or migrated, or was written by a
    /// newer engine.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let failed = |what: &str, error: rusqlite::Error| {
            KmsError::Store(format!("{what} {}: {error}", path.display()))
        };
        let mut connection = Connection::open(&path).map_err(|e| failed("opening", e))?;
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| failed("configuring", e))?;
        let journal_mode: String = connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(|e| failed("configuring", e))?;
        if !journal_mode.eq_ignore_ascii_case("wal") {
            return Err(KmsError::Store(format!(
                "{} cannot use write-ahead logging (journal mode {journal_mode})",
                path.display()
            )));
        }
        connection
            .execute_batch("PRAGMA synchronous = FULL")
            .map_err(|e| failed("configuring", e))?;
        let version =
            retry_busy(|| schema::migrate(&mut connection)).map_err(|e| failed("migrating", e))?;
        if version > SCHEMA_VERSION {
            return Err(KmsError::Store(format!(
                "{} has schema version {version}; this engine knows up to {SCHEMA_VERSION}",
                path.display()
            )));
        }
        Ok(Self {
            connection: Mutex::new(connection),
            path,
        })
    }

    /// The file this store lives in.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SQLite's own consistency check: `"ok"` for a sound file.
    ///
    /// # Errors
    /// [`KmsError::Store`] when the check cannot run.
    pub fn integrity_check(&self) -> Result<String> {
        self.read("integrity check", |connection| {
            connection.query_row("PRAGMA integrity_check", [], |row| row.get(0))
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>> {
        self.connection
            .lock()
            .map_err(|_| KmsError::Store("store connection lock poisoned".into()))
    }

    fn read<T>(&self, what: &str, query: impl Fn(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let connection = self.lock()?;
        retry_busy(|| query(&connection)).map_err(|error| store_error(what, &error))
    }

    /// Runs `change` in one `BEGIN IMMEDIATE` transaction and commits it, trying again when
    /// another process held the database too long.
    fn write<T>(&self, what: &str, change: impl Fn(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut connection = self.lock()?;
        let mut attempt = 0;
        loop {
            let outcome = Transaction::new(&mut connection, TransactionBehavior::Immediate)
                .map_err(|error| store_error(what, &error))
                .and_then(|transaction| {
                    let value = change(&transaction)?;
                    transaction
                        .commit()
                        .map_err(|error| store_error(what, &error))?;
                    Ok(value)
                });
            match outcome {
                Err(KmsError::Store(message))
                    if message.contains(BUSY_MARK) && attempt < BUSY_RETRIES =>
                {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(50 * u64::from(attempt)));
                }
                other => return other,
            }
        }
    }
}

/// Marks store errors that another connection's lock caused, so [`SqliteStore::write`]
/// can try again.
const BUSY_MARK: &str = "(database busy)";

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

fn store_error(what: &str, error: &rusqlite::Error) -> KmsError {
    if is_busy(error) {
        KmsError::Store(format!("{what}: {error} {BUSY_MARK}"))
    } else {
        KmsError::Store(format!("{what}: {error}"))
    }
}

fn retry_busy<T>(mut run: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let mut attempt = 0;
    loop {
        match run() {
            Err(error) if is_busy(&error) && attempt < BUSY_RETRIES => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(50 * u64::from(attempt)));
            }
            other => return other,
        }
    }
}

/// Runs a statement inside a transaction, naming `what` in its error.
fn sql<T>(what: &str, result: rusqlite::Result<T>) -> Result<T> {
    result.map_err(|error| store_error(what, &error))
}

impl Columns for Row<'_> {
    type Error = rusqlite::Error;

    fn text(&self, column: usize) -> rusqlite::Result<Option<String>> {
        self.get(column)
    }

    fn integer(&self, column: usize) -> rusqlite::Result<Option<i64>> {
        self.get(column)
    }

    fn invalid(column: usize, what: &'static str) -> rusqlite::Error {
        rusqlite::Error::FromSqlConversionFailure(column, Type::Text, what.into())
    }
}

/// Enters a change of each of `keys` into the change feed, inside the transaction that
/// makes the changes: the head row's update takes their positions.
fn append_changes(tx: &Transaction<'_>, keys: &[KeyId]) -> Result<()> {
    const WHAT: &str = "recording a key change";
    if keys.is_empty() {
        return Ok(());
    }
    let count = to_i64(u64::try_from(keys.len()).unwrap_or(u64::MAX));
    let head: i64 = sql(
        WHAT,
        tx.query_row(
            "UPDATE key_change_head SET position = position + ?1 RETURNING position",
            [count],
            |row| row.get(0),
        ),
    )?;
    let now_ms = to_i64(SystemClock.now_ms());
    let mut insert = sql(
        WHAT,
        tx.prepare_cached(
            "INSERT INTO key_changes (position, key_id, changed_ms) VALUES (?1, ?2, ?3)",
        ),
    )?;
    for (position, key_id) in (head - count + 1..).zip(keys) {
        sql(
            WHAT,
            insert.execute(params![position, key_id.as_str(), now_ms]),
        )?;
    }
    Ok(())
}

impl KeyStore for SqliteStore {
    fn insert_key(&self, record: &KeyRecord) -> Result<()> {
        self.write("inserting a key", |tx| {
            let taken = sql(
                "checking the alias",
                tx.query_row(
                    "SELECT 1 FROM keys WHERE project_id = ?1 AND alias = ?2",
                    [record.project_id.as_str(), &record.alias],
                    |_| Ok(()),
                )
                .optional(),
            )?;
            if taken.is_some() {
                return Err(KmsError::DuplicateKeyAlias);
            }
            let seq: i64 = sql(
                "numbering the key",
                tx.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM keys", [], |row| {
                    row.get(0)
                }),
            )?;
            sql(
                "inserting a key",
                tx.execute(
                    &format!(
                        "INSERT INTO keys (seq, {KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, \
                         ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)"
                    ),
                    params![
                        seq,
                        record.key_id.as_str(),
                        record.alias,
                        record.description,
                        record.spec.as_str(),
                        record.usage.as_str(),
                        record.origin.as_str(),
                        record.state.as_str(),
                        to_i64(record.created_ms),
                        record.scheduled_deletion_ms.map(to_i64),
                        i64::from(record.generation),
                        record
                            .key_blob
                            .as_ref()
                            .map(|blob| encode_blob(blob.as_bytes())),
                        record.material_expiry_ms.map(to_i64),
                        record.material_fingerprint.as_deref().map(encode_blob),
                        record.project_id.as_str(),
                        encode_retired(&record.retired_materials),
                        i64::from(record.rotation.enabled),
                        i64::from(record.rotation.interval_days),
                        to_i64(record.rotation.interval_start_ms),
                        record.rotation.last_rotation_ms.map(to_i64),
                        i64::from(record.rotation.rotations),
                    ],
                ),
            )?;
            Ok(())
        })
    }

    fn get_key(&self, key_id: &KeyId) -> Result<Option<KeyRecord>> {
        self.read("reading a key", |connection| {
            connection
                .query_row(
                    &format!("SELECT {KEY_COLUMNS} FROM keys WHERE key_id = ?1"),
                    [key_id.as_str()],
                    |row| key_record(row),
                )
                .optional()
        })
    }

    fn list_keys(&self) -> Result<Vec<KeyRecord>> {
        self.read("listing keys", |connection| {
            let mut statement =
                connection.prepare(&format!("SELECT {KEY_COLUMNS} FROM keys ORDER BY seq"))?;
            let rows = statement.query_map([], |row| key_record(row))?;
            rows.collect()
        })
    }

    fn change_state(&self, key_id: &KeyId, change: StateChange) -> Result<bool> {
        self.write("changing a key's state", |tx| {
            let changed = sql(
                "changing a key's state",
                tx.execute(
                    "UPDATE keys SET state = ?1, scheduled_deletion_ms = ?2 \
                     WHERE key_id = ?3 AND state = ?4 \
                     AND (CASE WHEN key_blob IS NULL THEN 0 ELSE 1 END) = ?5",
                    params![
                        change.to.as_str(),
                        change.scheduled_deletion_ms.map(to_i64),
                        key_id.as_str(),
                        change.from.as_str(),
                        i64::from(change.has_material),
                    ],
                ),
            )?;
            swapped(u64::try_from(changed).unwrap_or(0), || {
                append_changes(tx, &[*key_id])
            })
        })
    }

    fn update_key_text(&self, key_id: &KeyId, text: &KeyText) -> Result<bool> {
        self.write("updating a key's alias or description", |tx| {
            let pending = KeyState::PendingDeletion.as_str();
            let changed = match text {
                KeyText::Alias(alias) => {
                    let taken = sql(
                        "checking the alias",
                        tx.query_row(
                            "SELECT 1 FROM keys WHERE alias = ?1 AND key_id <> ?2 \
                             AND project_id = (SELECT project_id FROM keys WHERE key_id = ?2)",
                            [alias.as_str(), key_id.as_str()],
                            |_| Ok(()),
                        )
                        .optional(),
                    )?;
                    if taken.is_some() {
                        return Err(KmsError::DuplicateKeyAlias);
                    }
                    sql(
                        "updating a key's alias",
                        tx.execute(
                            "UPDATE keys SET alias = ?1 WHERE key_id = ?2 AND state <> ?3",
                            [alias.as_str(), key_id.as_str(), pending],
                        ),
                    )?
                }
                KeyText::Description(description) => sql(
                    "updating a key's description",
                    tx.execute(
                        "UPDATE keys SET description = ?1 WHERE key_id = ?2 AND state <> ?3",
                        [description.as_str(), key_id.as_str(), pending],
                    ),
                )?,
            };
            Ok(changed == 1)
        })
    }

    fn set_material(&self, key_id: &KeyId, material: &NewMaterial) -> Result<bool> {
        self.write("attaching key material", |tx| {
            let changed = sql(
                "attaching key material",
                tx.execute(
                    "UPDATE keys SET state = ?1, key_blob = ?2, material_fingerprint = ?3, \
                     material_expiry_ms = ?4 WHERE key_id = ?5 AND state = ?6 AND key_blob IS NULL",
                    params![
                        KeyState::Enabled.as_str(),
                        encode_blob(material.key_blob.as_bytes()),
                        encode_blob(&material.fingerprint),
                        material.expiry_ms.map(to_i64),
                        key_id.as_str(),
                        KeyState::PendingImport.as_str(),
                    ],
                ),
            )?;
            swapped(u64::try_from(changed).unwrap_or(0), || {
                append_changes(tx, &[*key_id])
            })
        })
    }

    fn delete_material(&self, key_id: &KeyId, from: KeyState) -> Result<bool> {
        self.write("deleting key material", |tx| {
            let changed = sql(
                "deleting key material",
                tx.execute(
                    "UPDATE keys SET state = ?1, key_blob = NULL, material_expiry_ms = NULL \
                     WHERE key_id = ?2 AND state = ?3 AND key_blob IS NOT NULL",
                    params![
                        KeyState::PendingImport.as_str(),
                        key_id.as_str(),
                        from.as_str()
                    ],
                ),
            )?;
            swapped(u64::try_from(changed).unwrap_or(0), || {
                append_changes(tx, &[*key_id])
            })
        })
    }

    fn take_expired_material(&self, now_ms: u64, key_id: Option<&KeyId>) -> Result<Vec<KeyRecord>> {
        const EXPIRED: &str = "key_blob IS NOT NULL AND material_expiry_ms <= ?1 \
                               AND (?2 IS NULL OR key_id = ?2)";
        let expired_params = params![to_i64(now_ms), key_id.map(KeyId::as_str)];
        self.write("expiring imported key material", |tx| {
            let expired = sql("expiring imported key material", {
                tx.prepare(&format!(
                    "SELECT {KEY_COLUMNS} FROM keys WHERE {EXPIRED} ORDER BY seq"
                ))
                .and_then(|mut statement| {
                    statement
                        .query_map(expired_params, |row| key_record(row))?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
            })?;
            sql(
                "expiring imported key material",
                tx.execute(
                    &format!(
                        "UPDATE keys SET key_blob = NULL, material_expiry_ms = NULL, \
                         state = CASE WHEN state = ?3 THEN ?4 ELSE state END WHERE {EXPIRED}"
                    ),
                    params![
                        to_i64(now_ms),
                        key_id.map(KeyId::as_str),
                        KeyState::Enabled.as_str(),
                        KeyState::PendingImport.as_str(),
                    ],
                ),
            )?;
            append_changes(tx, &key_ids(&expired))?;
            Ok(expired)
        })
    }

    fn take_due_deletions(&self, now_ms: u64) -> Result<Vec<KeyRecord>> {
        const DUE: &str = "state = ?1 AND scheduled_deletion_ms <= ?2";
        let due_params = params![KeyState::PendingDeletion.as_str(), to_i64(now_ms)];
        self.write("deleting keys due for deletion", |tx| {
            let due = sql("deleting keys due for deletion", {
                tx.prepare(&format!(
                    "SELECT {KEY_COLUMNS} FROM keys WHERE {DUE} ORDER BY seq"
                ))
                .and_then(|mut statement| {
                    statement
                        .query_map(due_params, |row| key_record(row))?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
            })?;
            sql(
                "deleting keys due for deletion",
                tx.execute(
                    &format!(
                        "DELETE FROM key_tags WHERE key_id IN (SELECT key_id FROM keys WHERE {DUE})"
                    ),
                    due_params,
                ),
            )?;
            sql(
                "deleting keys due for deletion",
                tx.execute(&format!("DELETE FROM keys WHERE {DUE}"), due_params),
            )?;
            append_changes(tx, &key_ids(&due))?;
            Ok(due)
        })
    }

    fn key_changes_since(&self, position: Option<u64>) -> Result<KeyChanges> {
        self.read("reading the change feed", |connection| {
            // One read transaction: a snapshot of the feed, however other processes write.
            let snapshot = connection.unchecked_transaction()?;
            let head: i64 =
                snapshot.query_row("SELECT position FROM key_change_head", [], |row| row.get(0))?;
            key_changes(position, to_u64(head), |after, head| {
                let oldest: Option<i64> = snapshot.query_row(
                    "SELECT MIN(position) FROM key_changes",
                    [],
                    |row| row.get(0),
                )?;
                let mut statement = snapshot.prepare(
                    "SELECT DISTINCT key_id FROM key_changes WHERE position > ?1 AND position <= ?2",
                )?;
                let changed = statement
                    .query_map([to_i64(after), to_i64(head)], |row| feed_key_id(row))?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(FeedAfter {
                    oldest: oldest.map(to_u64),
                    changed,
                })
            })
        })
    }

    fn prune_key_changes(&self, before_ms: u64) -> Result<()> {
        self.write("pruning the change feed", |tx| {
            sql(
                "pruning the change feed",
                tx.execute(
                    "DELETE FROM key_changes WHERE changed_ms < ?1 \
                     AND position < (SELECT position FROM key_change_head)",
                    [to_i64(before_ms)],
                ),
            )?;
            Ok(())
        })
    }

    fn lease_encryptions(
        &self,
        key_id: &KeyId,
        generation: u32,
        wanted: u64,
        limit: u64,
    ) -> Result<u64> {
        const WHAT: &str = "leasing encryptions";
        self.write(WHAT, |tx| {
            let leased: Option<i64> = sql(
                WHAT,
                tx.query_row(
                    "SELECT encryptions_leased FROM keys WHERE key_id = ?1 AND generation = ?2",
                    params![key_id.as_str(), i64::from(generation)],
                    |row| row.get(0),
                )
                .optional(),
            )?;
            let Some(leased) = leased else {
                return Ok(0);
            };
            let granted = lease_granted(to_u64(leased), wanted, limit);
            sql(
                WHAT,
                tx.execute(
                    "UPDATE keys SET encryptions_leased = ?1 WHERE key_id = ?2",
                    params![
                        to_i64(to_u64(leased).saturating_add(granted)),
                        key_id.as_str()
                    ],
                ),
            )?;
            Ok(granted)
        })
    }

    fn update_rotation(&self, key_id: &KeyId, from: &Rotation, to: &Rotation) -> Result<bool> {
        const WHAT: &str = "changing a key's rotation";
        self.write(WHAT, |tx| {
            let changed = sql(
                WHAT,
                tx.execute(
                    "UPDATE keys SET rotation_enabled = ?1, rotation_interval_days = ?2, \
                     rotation_interval_start_ms = ?3 WHERE key_id = ?4 AND rotation_enabled = ?5 \
                     AND rotation_interval_days = ?6 AND rotation_interval_start_ms = ?7 \
                     AND rotations = ?8",
                    params![
                        i64::from(to.enabled),
                        i64::from(to.interval_days),
                        to_i64(to.interval_start_ms),
                        key_id.as_str(),
                        i64::from(from.enabled),
                        i64::from(from.interval_days),
                        to_i64(from.interval_start_ms),
                        i64::from(from.rotations),
                    ],
                ),
            )?;
            Ok(changed == 1)
        })
    }

    fn add_generation(
        &self,
        key_id: &KeyId,
        from_generation: u32,
        from_rotation: &Rotation,
        key_blob: &KeyBlob,
        now_ms: u64,
    ) -> Result<bool> {
        const WHAT: &str = "rotating a key";
        self.write(WHAT, |tx| {
            let record = sql(
                WHAT,
                tx.query_row(
                    &format!("SELECT {KEY_COLUMNS} FROM keys WHERE key_id = ?1"),
                    [key_id.as_str()],
                    |row| key_record(row),
                )
                .optional(),
            )?;
            let Some(retired) = record
                .and_then(|record| retired_after_rotation(&record, from_generation, from_rotation))
            else {
                return Ok(false);
            };
            let changed = sql(
                WHAT,
                tx.execute(
                    "UPDATE keys SET key_blob = ?1, generation = ?2, retired_materials = ?3, \
                     last_rotation_ms = ?4, rotation_interval_start_ms = ?4, \
                     rotations = rotations + 1, encryptions_leased = 0 \
                     WHERE key_id = ?5 AND generation = ?6",
                    params![
                        encode_blob(key_blob.as_bytes()),
                        i64::from(from_generation) + 1,
                        retired,
                        to_i64(now_ms),
                        key_id.as_str(),
                        i64::from(from_generation),
                    ],
                ),
            )?;
            swapped(u64::try_from(changed).unwrap_or(0), || {
                append_changes(tx, &[*key_id])
            })
        })
    }

    fn key_tags(&self, key_id: &KeyId) -> Result<Vec<Tag>> {
        self.read("reading a key's tags", |connection| {
            let mut statement = connection.prepare(
                "SELECT tag_key, tag_value FROM key_tags WHERE key_id = ?1 ORDER BY tag_key",
            )?;
            let rows = statement.query_map([key_id.as_str()], |row| tag(row))?;
            rows.collect()
        })
    }

    fn project_tags(&self, project_id: &ProjectId) -> Result<Vec<Tag>> {
        self.read("reading the project's tags", |connection| {
            let mut statement = connection.prepare(
                "SELECT t.tag_key, t.tag_value FROM key_tags t JOIN keys k ON k.key_id = t.key_id \
                 WHERE k.project_id = ?1 ORDER BY t.tag_key, t.tag_value",
            )?;
            let rows = statement.query_map([project_id.as_str()], |row| tag(row))?;
            rows.collect()
        })
    }

    fn change_tags(&self, key_id: &KeyId, change: &TagChange, max_tags: usize) -> Result<bool> {
        const WHAT: &str = "changing a key's tags";
        self.write(WHAT, |tx| {
            let state: Option<String> = sql(
                WHAT,
                tx.query_row(
                    "SELECT state FROM keys WHERE key_id = ?1",
                    [key_id.as_str()],
                    |row| row.get(0),
                )
                .optional(),
            )?;
            if state.is_none_or(|state| state == KeyState::PendingDeletion.as_str()) {
                return Ok(false);
            }
            let current = sql(WHAT, {
                tx.prepare(
                    "SELECT tag_key, tag_value FROM key_tags WHERE key_id = ?1 ORDER BY tag_key",
                )
                .and_then(|mut statement| {
                    statement
                        .query_map([key_id.as_str()], |row| tag(row))?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
            })?;
            let changed = change.apply(&current, max_tags)?;
            sql(
                WHAT,
                tx.execute("DELETE FROM key_tags WHERE key_id = ?1", [key_id.as_str()]),
            )?;
            for tag in &changed {
                sql(
                    WHAT,
                    tx.execute(
                        "INSERT INTO key_tags (key_id, tag_key, tag_value) VALUES (?1, ?2, ?3)",
                        [key_id.as_str(), &tag.key, &tag.value],
                    ),
                )?;
            }
            Ok(true)
        })
    }

    fn insert_import(&self, record: &ImportRecord) -> Result<()> {
        self.write("recording an import token", |tx| {
            sql(
                "recording an import token",
                tx.execute(
                    &format!(
                        "INSERT INTO imports ({IMPORT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                    ),
                    params![
                        encode_token_id(&record.token_id),
                        record.key_id.as_str(),
                        record.algorithm.as_str(),
                        record.wrapping_key_spec.as_str(),
                        encode_blob(record.wrapping_key.as_bytes()),
                        to_i64(record.expires_ms),
                    ],
                ),
            )?;
            Ok(())
        })
    }

    fn get_import(&self, token_id: &[u8; 16]) -> Result<Option<ImportRecord>> {
        self.read("reading an import token", |connection| {
            connection
                .query_row(
                    &format!("SELECT {IMPORT_COLUMNS} FROM imports WHERE token_id = ?1"),
                    [encode_token_id(token_id)],
                    |row| import_record(row),
                )
                .optional()
        })
    }

    fn take_import(&self, token_id: &[u8; 16]) -> Result<Option<ImportRecord>> {
        self.write("using an import token", |tx| {
            let id = encode_token_id(token_id);
            let record = sql(
                "using an import token",
                tx.query_row(
                    &format!("SELECT {IMPORT_COLUMNS} FROM imports WHERE token_id = ?1"),
                    [&id],
                    |row| import_record(row),
                )
                .optional(),
            )?;
            sql(
                "using an import token",
                tx.execute("DELETE FROM imports WHERE token_id = ?1", [&id]),
            )?;
            Ok(record)
        })
    }

    fn take_expired_imports(&self, now_ms: u64) -> Result<Vec<ImportRecord>> {
        self.write("sweeping expired import tokens", |tx| {
            let expired = sql("sweeping expired import tokens", {
                tx.prepare(&format!(
                    "SELECT {IMPORT_COLUMNS} FROM imports WHERE expires_ms <= ?1"
                ))
                .and_then(|mut statement| {
                    statement
                        .query_map([to_i64(now_ms)], |row| import_record(row))?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
            })?;
            sql(
                "sweeping expired import tokens",
                tx.execute(
                    "DELETE FROM imports WHERE expires_ms <= ?1",
                    [to_i64(now_ms)],
                ),
            )?;
            Ok(expired)
        })
    }

    fn import_wrapping_keys(&self) -> Result<Vec<KeyBlob>> {
        self.read("listing import tokens' wrapping keys", |connection| {
            connection
                .prepare(&format!("SELECT {IMPORT_COLUMNS} FROM imports"))?
                .query_map([], |row| import_record(row))?
                .map(|record| record.map(|import| import.wrapping_key))
                .collect::<rusqlite::Result<Vec<_>>>()
        })
    }

    fn engine_key(&self, name: &str) -> Result<Option<KeyBlob>> {
        let encoded: Option<String> = self.read("reading an engine key", |connection| {
            connection
                .query_row(
                    "SELECT key_blob FROM engine_keys WHERE name = ?1",
                    [name],
                    |row| row.get(0),
                )
                .optional()
        })?;
        encoded.map(|text| engine_key(&text)).transpose()
    }

    fn insert_engine_key(&self, name: &str, key: &KeyBlob) -> Result<KeyBlob> {
        let stored: String = self.write("storing an engine key", |tx| {
            sql(
                "storing an engine key",
                tx.execute(
                    "INSERT INTO engine_keys (name, key_blob) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                    params![name, encode_blob(key.as_bytes())],
                ),
            )?;
            sql(
                "storing an engine key",
                tx.query_row("SELECT key_blob FROM engine_keys WHERE name = ?1", [name], |row| row.get(0)),
            )
        })?;
        engine_key(&stored)
    }
}
