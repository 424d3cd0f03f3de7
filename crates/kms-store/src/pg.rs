//! [`PgStore`]: the key store in one PostgreSQL database that several engine nodes share
//! (DESIGN 11), with exactly [`SqliteStore`](crate::SqliteStore)'s contract.
//!
//! Every change is one transaction at PostgreSQL's default isolation (read committed), made
//! safe against concurrent nodes row by row: state changes are compare-and-swap `UPDATE`s,
//! what a `take_*` call takes is locked (`SELECT ... FOR UPDATE`) or deleted (`DELETE ...
//! RETURNING`) so one caller gets it, and a change feed entry takes its position from the
//! feed's head row, locked until commit, so positions follow commit order. Each such
//! transaction also notifies [`CHANNEL`], which [`KeyStore::wait_for_key_change`] listens
//! to.

mod attempts;
mod listener;
mod migrate;
mod settings;

use core::fmt;
use std::time::Duration;

use kms_core::{
    Clock, ImportRecord, KeyBlob, KeyChanges, KeyId, KeyRecord, KeyState, KeyStore, KeyText,
    KmsError, NewMaterial, ProjectId, Result, Rotation, SecretString, StateChange, SystemClock,
    Tag, TagChange,
};
use postgres::error::SqlState;
use postgres::{IsolationLevel, NoTls, Row, Transaction};
use r2d2_postgres::PostgresConnectionManager;
use r2d2_postgres::r2d2;

use crate::contract::{FeedAfter, key_changes, key_ids, lease_granted, swapped};
use crate::rows::{
    Columns, IMPORT_COLUMNS, KEY_COLUMNS, encode_blob, encode_retired, encode_token_id, engine_key,
    feed_key_id, import_record, key_record, retired_after_rotation, tag, to_i64, to_u64,
};
use crate::schema::SCHEMA_VERSION;
use attempts::{Failure, Pool};
use listener::{CHANNEL, Listener};

/// How many connections a store keeps open at most.
const POOL_SIZE: u32 = 8;
/// How long a call waits for a pooled connection before it fails (and tries once more).
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
/// The advisory lock key inserts hold: it makes numbering keys in creation order
/// (`MAX(seq) + 1`) safe between nodes. Creating keys is rare enough to go one at a time.
const KEY_INSERT_LOCK: i64 = 0x6b6d_735f_6b65_7973; // "kms_keys"

/// Key metadata in one PostgreSQL database, shared by any number of engines.
///
/// Blocking: call it from a thread that may block, never from an async runtime's worker.
/// The database going away fails calls promptly with [`KmsError::Store`] (KMS.0102); once
/// it is back the pool opens new connections, with no restart.
pub struct PgStore {
    pool: Pool,
    listener: Listener,
    /// The URL connected to (it never holds a password).
    url: String,
    has_password: bool,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://USER@HOST:PORT/DB`) with `password`
    /// (see [`password_from_env_or_file`](crate::password_from_env_or_file)) and brings its
    /// schema up to date; engines starting at once migrate one after another.
    ///
    /// # Errors
    /// [`KmsError::InvalidParameter`] when `url` is not a PostgreSQL URL, holds a password
    /// (the password comes from `PGPASSWORD` or a password file, never the URL), or asks for
    /// TLS, which this store does not support yet; [`KmsError::Store`] when the database
    /// cannot be reached or migrated, or was written by a newer engine.
    pub fn connect(url: &str, password: Option<SecretString>) -> Result<Self> {
        let config = settings::config(url, password.as_ref())?;
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(CONNECTION_TIMEOUT)
            .build_unchecked(PostgresConnectionManager::new(config.clone(), NoTls));
        let version = attempts::write(&pool, url, "migrating the schema", migrate::migrate)?;
        if version > SCHEMA_VERSION {
            return Err(KmsError::Store(format!(
                "PostgreSQL at {url} has schema version {version}; this engine knows up to \
                 {SCHEMA_VERSION}"
            )));
        }
        Ok(Self {
            pool,
            listener: Listener::new(config),
            url: url.to_owned(),
            has_password: password.is_some(),
        })
    }

    /// The URL this store connected to.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    fn read<T>(
        &self,
        what: &str,
        body: impl FnMut(&mut postgres::Client) -> core::result::Result<T, Failure>,
    ) -> Result<T> {
        attempts::read(&self.pool, &self.url, what, body)
    }

    fn write<T>(
        &self,
        what: &str,
        body: impl FnMut(&mut Transaction<'_>) -> core::result::Result<T, Failure>,
    ) -> Result<T> {
        attempts::write(&self.pool, &self.url, what, body)
    }
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.url)
            .field("password", &self.has_password.then_some("<redacted>"))
            .field("pool_size", &POOL_SIZE)
            .finish_non_exhaustive()
    }
}

impl Columns for Row {
    type Error = Failure;

    fn text(&self, column: usize) -> core::result::Result<Option<String>, Failure> {
        Ok(self.try_get(column)?)
    }

    fn integer(&self, column: usize) -> core::result::Result<Option<i64>, Failure> {
        Ok(self.try_get(column)?)
    }

    fn invalid(column: usize, what: &'static str) -> Failure {
        Failure::Final(KmsError::Store(format!(
            "a stored row is not as the engine writes it (column {column}: {what})"
        )))
    }
}

fn key_records(rows: &[Row]) -> core::result::Result<Vec<KeyRecord>, Failure> {
    rows.iter().map(key_record).collect()
}

/// Enters a change of each of `keys` into the change feed inside `tx`, the transaction
/// that makes the changes, and notifies the listeners when it commits. The head row's
/// update takes the positions and keeps the row locked until then.
fn append_changes(tx: &mut Transaction<'_>, keys: &[KeyId]) -> core::result::Result<(), Failure> {
    if keys.is_empty() {
        return Ok(());
    }
    let count = to_i64(u64::try_from(keys.len()).unwrap_or(u64::MAX));
    let head: i64 = tx
        .query_one(
            "UPDATE key_change_head SET position = position + $1 RETURNING position",
            &[&count],
        )?
        .try_get(0)?;
    let ids: Vec<&str> = keys.iter().map(KeyId::as_str).collect();
    tx.execute(
        "INSERT INTO key_changes (position, key_id, changed_ms) \
         SELECT $1 + n, key_id, $3 FROM UNNEST($2::VARCHAR[]) WITH ORDINALITY AS c (key_id, n)",
        &[&(head - count), &ids, &to_i64(SystemClock.now_ms())],
    )?;
    tx.batch_execute(&format!("NOTIFY {CHANNEL}"))?;
    Ok(())
}

/// What a unique violation while inserting a key means to the caller.
fn insert_refusal(error: &postgres::Error, key_id: &KeyId) -> Option<KmsError> {
    let db = error.as_db_error()?;
    if *db.code() != SqlState::UNIQUE_VIOLATION {
        return None;
    }
    match db.constraint() {
        Some(name) if name.ends_with("project_id_alias_key") => Some(KmsError::DuplicateKeyAlias),
        Some(name) if name.ends_with("pkey") => {
            Some(KmsError::Store(format!("key {key_id} exists")))
        }
        _ => None,
    }
}

impl KeyStore for PgStore {
    fn insert_key(&self, record: &KeyRecord) -> Result<()> {
        self.write("inserting a key", |tx| {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&KEY_INSERT_LOCK])?;
            let taken = tx.query_opt(
                "SELECT 1 FROM keys WHERE project_id = $1 AND alias = $2",
                &[&record.project_id.as_str(), &record.alias],
            )?;
            if taken.is_some() {
                return Err(Failure::Final(KmsError::DuplicateKeyAlias));
            }
            let seq: i64 = tx
                .query_one("SELECT COALESCE(MAX(seq), 0) + 1 FROM keys", &[])?
                .try_get(0)?;
            tx.execute(
                &format!(
                    "INSERT INTO keys (seq, {KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, \
                     $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
                ),
                &[
                    &seq,
                    &record.key_id.as_str(),
                    &record.alias,
                    &record.description,
                    &record.spec.as_str(),
                    &record.usage.as_str(),
                    &record.origin.as_str(),
                    &record.state.as_str(),
                    &to_i64(record.created_ms),
                    &record.scheduled_deletion_ms.map(to_i64),
                    &i64::from(record.generation),
                    &record
                        .key_blob
                        .as_ref()
                        .map(|blob| encode_blob(blob.as_bytes())),
                    &record.material_expiry_ms.map(to_i64),
                    &record.material_fingerprint.as_deref().map(encode_blob),
                    &record.project_id.as_str(),
                    &encode_retired(&record.retired_materials),
                    &i64::from(record.rotation.enabled),
                    &i64::from(record.rotation.interval_days),
                    &to_i64(record.rotation.interval_start_ms),
                    &record.rotation.last_rotation_ms.map(to_i64),
                    &i64::from(record.rotation.rotations),
                ],
            )
            .map_err(|error| match insert_refusal(&error, &record.key_id) {
                Some(refusal) => Failure::Final(refusal),
                None => Failure::Sql(error),
            })?;
            Ok(())
        })
    }

    fn get_key(&self, key_id: &KeyId) -> Result<Option<KeyRecord>> {
        self.read("reading a key", |client| {
            client
                .query_opt(
                    &format!("SELECT {KEY_COLUMNS} FROM keys WHERE key_id = $1"),
                    &[&key_id.as_str()],
                )?
                .as_ref()
                .map(key_record)
                .transpose()
        })
    }

    fn list_keys(&self) -> Result<Vec<KeyRecord>> {
        self.read("listing keys", |client| {
            key_records(
                &client.query(&format!("SELECT {KEY_COLUMNS} FROM keys ORDER BY seq"), &[])?,
            )
        })
    }

    fn change_state(&self, key_id: &KeyId, change: StateChange) -> Result<bool> {
        self.write("changing a key's state", |tx| {
            let changed = tx.execute(
                "UPDATE keys SET state = $1, scheduled_deletion_ms = $2 \
                 WHERE key_id = $3 AND state = $4 AND (key_blob IS NOT NULL) = $5",
                &[
                    &change.to.as_str(),
                    &change.scheduled_deletion_ms.map(to_i64),
                    &key_id.as_str(),
                    &change.from.as_str(),
                    &change.has_material,
                ],
            )?;
            swapped(changed, || append_changes(tx, &[*key_id]))
        })
    }

    fn update_key_text(&self, key_id: &KeyId, text: &KeyText) -> Result<bool> {
        self.write("updating a key's alias or description", |tx| {
            let pending = KeyState::PendingDeletion.as_str();
            let changed = match text {
                KeyText::Alias(alias) => {
                    // The lock create-key takes: an alias is checked and taken by one
                    // writer at a time.
                    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&KEY_INSERT_LOCK])?;
                    let taken = tx.query_opt(
                        "SELECT 1 FROM keys WHERE alias = $1 AND key_id <> $2 \
                         AND project_id = (SELECT project_id FROM keys WHERE key_id = $2)",
                        &[&alias.as_str(), &key_id.as_str()],
                    )?;
                    if taken.is_some() {
                        return Err(Failure::Final(KmsError::DuplicateKeyAlias));
                    }
                    tx.execute(
                        "UPDATE keys SET alias = $1 WHERE key_id = $2 AND state <> $3",
                        &[&alias.as_str(), &key_id.as_str(), &pending],
                    )?
                }
                KeyText::Description(description) => tx.execute(
                    "UPDATE keys SET description = $1 WHERE key_id = $2 AND state <> $3",
                    &[&description.as_str(), &key_id.as_str(), &pending],
                )?,
            };
            Ok(changed == 1)
        })
    }

    fn set_material(&self, key_id: &KeyId, material: &NewMaterial) -> Result<bool> {
        self.write("attaching key material", |tx| {
            let changed = tx.execute(
                "UPDATE keys SET state = $1, key_blob = $2, material_fingerprint = $3, \
                 material_expiry_ms = $4 WHERE key_id = $5 AND state = $6 AND key_blob IS NULL",
                &[
                    &KeyState::Enabled.as_str(),
                    &encode_blob(material.key_blob.as_bytes()),
                    &encode_blob(&material.fingerprint),
                    &material.expiry_ms.map(to_i64),
                    &key_id.as_str(),
                    &KeyState::PendingImport.as_str(),
                ],
            )?;
            swapped(changed, || append_changes(tx, &[*key_id]))
        })
    }

    fn delete_material(&self, key_id: &KeyId, from: KeyState) -> Result<bool> {
        self.write("deleting key material", |tx| {
            let changed = tx.execute(
                "UPDATE keys SET state = $1, key_blob = NULL, material_expiry_ms = NULL \
                 WHERE key_id = $2 AND state = $3 AND key_blob IS NOT NULL",
                &[
                    &KeyState::PendingImport.as_str(),
                    &key_id.as_str(),
                    &from.as_str(),
                ],
            )?;
            swapped(changed, || append_changes(tx, &[*key_id]))
        })
    }

    fn take_expired_material(&self, now_ms: u64, key_id: Option<&KeyId>) -> Result<Vec<KeyRecord>> {
        self.write("expiring imported key material", |tx| {
            // Locked as selected: a concurrent caller waits, then finds the material gone.
            let expired = key_records(&tx.query(
                &format!(
                    "SELECT {KEY_COLUMNS} FROM keys WHERE key_blob IS NOT NULL \
                     AND material_expiry_ms <= $1 AND ($2::VARCHAR IS NULL OR key_id = $2) \
                     ORDER BY seq FOR UPDATE"
                ),
                &[&to_i64(now_ms), &key_id.map(KeyId::as_str)],
            )?)?;
            let ids = key_ids(&expired);
            let id_texts: Vec<&str> = ids.iter().map(KeyId::as_str).collect();
            tx.execute(
                "UPDATE keys SET key_blob = NULL, material_expiry_ms = NULL, \
                 state = CASE WHEN state = $1 THEN $2 ELSE state END WHERE key_id = ANY($3)",
                &[
                    &KeyState::Enabled.as_str(),
                    &KeyState::PendingImport.as_str(),
                    &id_texts,
                ],
            )?;
            append_changes(tx, &ids)?;
            Ok(expired)
        })
    }

    fn take_due_deletions(&self, now_ms: u64) -> Result<Vec<KeyRecord>> {
        self.write("deleting keys due for deletion", |tx| {
            let due = key_records(&tx.query(
                &format!(
                    "WITH due AS (DELETE FROM keys WHERE state = $1 \
                     AND scheduled_deletion_ms <= $2 RETURNING *) \
                     SELECT {KEY_COLUMNS} FROM due ORDER BY seq"
                ),
                &[&KeyState::PendingDeletion.as_str(), &to_i64(now_ms)],
            )?)?;
            let ids = key_ids(&due);
            let id_texts: Vec<&str> = ids.iter().map(KeyId::as_str).collect();
            tx.execute("DELETE FROM key_tags WHERE key_id = ANY($1)", &[&id_texts])?;
            append_changes(tx, &ids)?;
            Ok(due)
        })
    }

    fn key_changes_since(&self, position: Option<u64>) -> Result<KeyChanges> {
        self.read("reading the change feed", |client| {
            // One snapshot of the feed, however other nodes write meanwhile.
            let mut snapshot = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let head: i64 = snapshot
                .query_one("SELECT position FROM key_change_head", &[])?
                .try_get(0)?;
            let changes = key_changes(position, to_u64(head), |after, head| {
                let oldest: Option<i64> = snapshot
                    .query_one("SELECT MIN(position) FROM key_changes", &[])?
                    .try_get(0)?;
                let changed = snapshot
                    .query(
                        "SELECT DISTINCT key_id FROM key_changes \
                         WHERE position > $1 AND position <= $2",
                        &[&to_i64(after), &to_i64(head)],
                    )?
                    .iter()
                    .map(feed_key_id)
                    .collect::<core::result::Result<_, _>>()?;
                Ok::<_, Failure>(FeedAfter {
                    oldest: oldest.map(to_u64),
                    changed,
                })
            })?;
            snapshot.commit()?;
            Ok(changes)
        })
    }

    fn wait_for_key_change(&self, timeout: Duration) -> bool {
        self.listener.wait(timeout);
        true
    }

    fn prune_key_changes(&self, before_ms: u64) -> Result<()> {
        self.write("pruning the change feed", |tx| {
            tx.execute(
                "DELETE FROM key_changes WHERE changed_ms < $1 \
                 AND position < (SELECT position FROM key_change_head)",
                &[&to_i64(before_ms)],
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
        self.write("leasing encryptions", |tx| {
            // Locked as read: a concurrent lease waits, then reads what this one left.
            let Some(row) = tx.query_opt(
                "SELECT encryptions_leased FROM keys WHERE key_id = $1 AND generation = $2 \
                 FOR UPDATE",
                &[&key_id.as_str(), &i64::from(generation)],
            )?
            else {
                return Ok(0);
            };
            let leased = to_u64(row.try_get(0)?);
            let granted = lease_granted(leased, wanted, limit);
            tx.execute(
                "UPDATE keys SET encryptions_leased = $1 WHERE key_id = $2",
                &[&to_i64(leased.saturating_add(granted)), &key_id.as_str()],
            )?;
            Ok(granted)
        })
    }

    fn update_rotation(&self, key_id: &KeyId, from: &Rotation, to: &Rotation) -> Result<bool> {
        self.write("changing a key's rotation", |tx| {
            let changed = tx.execute(
                "UPDATE keys SET rotation_enabled = $1, rotation_interval_days = $2, \
                 rotation_interval_start_ms = $3 WHERE key_id = $4 AND rotation_enabled = $5 \
                 AND rotation_interval_days = $6 AND rotation_interval_start_ms = $7 \
                 AND rotations = $8",
                &[
                    &i64::from(to.enabled),
                    &i64::from(to.interval_days),
                    &to_i64(to.interval_start_ms),
                    &key_id.as_str(),
                    &i64::from(from.enabled),
                    &i64::from(from.interval_days),
                    &to_i64(from.interval_start_ms),
                    &i64::from(from.rotations),
                ],
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
        self.write("rotating a key", |tx| {
            // Locked as read: a concurrent rotation waits, then finds another generation.
            let record = tx
                .query_opt(
                    &format!("SELECT {KEY_COLUMNS} FROM keys WHERE key_id = $1 FOR UPDATE"),
                    &[&key_id.as_str()],
                )?
                .as_ref()
                .map(key_record)
                .transpose()?;
            let Some(retired) = record
                .and_then(|record| retired_after_rotation(&record, from_generation, from_rotation))
            else {
                return Ok(false);
            };
            let changed = tx.execute(
                "UPDATE keys SET key_blob = $1, generation = $2, retired_materials = $3, \
                 last_rotation_ms = $4, rotation_interval_start_ms = $4, \
                 rotations = rotations + 1, encryptions_leased = 0 \
                 WHERE key_id = $5 AND generation = $6",
                &[
                    &encode_blob(key_blob.as_bytes()),
                    &(i64::from(from_generation) + 1),
                    &retired,
                    &to_i64(now_ms),
                    &key_id.as_str(),
                    &i64::from(from_generation),
                ],
            )?;
            swapped(changed, || append_changes(tx, &[*key_id]))
        })
    }

    fn key_tags(&self, key_id: &KeyId) -> Result<Vec<Tag>> {
        self.read("reading a key's tags", |client| {
            client
                .query(
                    "SELECT tag_key, tag_value FROM key_tags WHERE key_id = $1 ORDER BY tag_key",
                    &[&key_id.as_str()],
                )?
                .iter()
                .map(tag)
                .collect()
        })
    }

    fn project_tags(&self, project_id: &ProjectId) -> Result<Vec<Tag>> {
        self.read("reading the project's tags", |client| {
            client
                .query(
                    "SELECT t.tag_key, t.tag_value FROM key_tags t \
                     JOIN keys k ON k.key_id = t.key_id WHERE k.project_id = $1 \
                     ORDER BY t.tag_key, t.tag_value",
                    &[&project_id.as_str()],
                )?
                .iter()
                .map(tag)
                .collect()
        })
    }

    fn change_tags(&self, key_id: &KeyId, change: &TagChange, max_tags: usize) -> Result<bool> {
        self.write("changing a key's tags", |tx| {
            // The key's row, locked: changes of one key's tags go one at a time.
            let state: Option<String> = tx
                .query_opt(
                    "SELECT state FROM keys WHERE key_id = $1 FOR UPDATE",
                    &[&key_id.as_str()],
                )?
                .map(|row| row.try_get(0))
                .transpose()?;
            if state.is_none_or(|state| state == KeyState::PendingDeletion.as_str()) {
                return Ok(false);
            }
            let current = tx
                .query(
                    "SELECT tag_key, tag_value FROM key_tags WHERE key_id = $1 ORDER BY tag_key",
                    &[&key_id.as_str()],
                )?
                .iter()
                .map(tag)
                .collect::<core::result::Result<Vec<_>, _>>()?;
            let changed = change.apply(&current, max_tags).map_err(Failure::Final)?;
            tx.execute(
                "DELETE FROM key_tags WHERE key_id = $1",
                &[&key_id.as_str()],
            )?;
            for tag in &changed {
                tx.execute(
                    "INSERT INTO key_tags (key_id, tag_key, tag_value) VALUES ($1, $2, $3)",
                    &[&key_id.as_str(), &tag.key, &tag.value],
                )?;
            }
            Ok(true)
        })
    }

    fn insert_import(&self, record: &ImportRecord) -> Result<()> {
        self.write("recording an import token", |tx| {
            tx.execute(
                &format!("INSERT INTO imports ({IMPORT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
                &[
                    &encode_token_id(&record.token_id),
                    &record.key_id.as_str(),
                    &record.algorithm.as_str(),
                    &record.wrapping_key_spec.as_str(),
                    &encode_blob(record.wrapping_key.as_bytes()),
                    &to_i64(record.expires_ms),
                ],
            )?;
            Ok(())
        })
    }

    fn get_import(&self, token_id: &[u8; 16]) -> Result<Option<ImportRecord>> {
        self.read("reading an import token", |client| {
            client
                .query_opt(
                    &format!("SELECT {IMPORT_COLUMNS} FROM imports WHERE token_id = $1"),
                    &[&encode_token_id(token_id)],
                )?
                .as_ref()
                .map(import_record)
                .transpose()
        })
    }

    fn take_import(&self, token_id: &[u8; 16]) -> Result<Option<ImportRecord>> {
        self.write("using an import token", |tx| {
            tx.query_opt(
                &format!("DELETE FROM imports WHERE token_id = $1 RETURNING {IMPORT_COLUMNS}"),
                &[&encode_token_id(token_id)],
            )?
            .as_ref()
            .map(import_record)
            .transpose()
        })
    }

    fn take_expired_imports(&self, now_ms: u64) -> Result<Vec<ImportRecord>> {
        self.write("sweeping expired import tokens", |tx| {
            tx.query(
                &format!("DELETE FROM imports WHERE expires_ms <= $1 RETURNING {IMPORT_COLUMNS}"),
                &[&to_i64(now_ms)],
            )?
            .iter()
            .map(import_record)
            .collect()
        })
    }

    fn import_wrapping_keys(&self) -> Result<Vec<KeyBlob>> {
        self.read("listing import tokens' wrapping keys", |client| {
            client
                .query(&format!("SELECT {IMPORT_COLUMNS} FROM imports"), &[])?
                .iter()
                .map(|row| import_record(row).map(|import| import.wrapping_key))
                .collect()
        })
    }

    fn engine_key(&self, name: &str) -> Result<Option<KeyBlob>> {
        let stored: Option<String> = self.read("reading an engine key", |client| {
            Ok(client
                .query_opt("SELECT key_blob FROM engine_keys WHERE name = $1", &[&name])?
                .map(|row| row.try_get(0))
                .transpose()?)
        })?;
        stored.map(|text| engine_key(&text)).transpose()
    }

    fn insert_engine_key(&self, name: &str, key: &KeyBlob) -> Result<KeyBlob> {
        let stored: String = self.write("storing an engine key", |tx| {
            // A concurrent insert of the same name waits for this one, then does nothing
            // and reads the key stored here.
            tx.execute(
                "INSERT INTO engine_keys (name, key_blob) VALUES ($1, $2) \
                 ON CONFLICT (name) DO NOTHING",
                &[&name, &encode_blob(key.as_bytes())],
            )?;
            Ok(tx
                .query_one("SELECT key_blob FROM engine_keys WHERE name = $1", &[&name])?
                .try_get(0)?)
        })?;
        engine_key(&stored)
    }
}
