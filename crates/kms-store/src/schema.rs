//! The schema and its versioned migrations.
//!
//! The SQL keeps to what SQLite and PostgreSQL both run: `VARCHAR`, `BIGINT`, `INTEGER`,
//! `TEXT`, primary keys and `UNIQUE` constraints, no `AUTOINCREMENT`, no `rowid`, no
//! `WITHOUT ROWID`. Binary values (key blobs) are stored as base64 `TEXT` for the same
//! reason.

use rusqlite::{Connection, Transaction, TransactionBehavior};

/// The migrations, in order; the schema version is how many have been applied. SQLite and
/// PostgreSQL run the same strings.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: keys, issued import tokens, the engine's own keys.
    "CREATE TABLE keys (
        key_id VARCHAR(36) NOT NULL PRIMARY KEY,
        seq BIGINT NOT NULL UNIQUE,
        alias VARCHAR(255) NOT NULL UNIQUE,
        description VARCHAR(255) NOT NULL,
        spec VARCHAR(16) NOT NULL,
        usage VARCHAR(32) NOT NULL,
        origin VARCHAR(16) NOT NULL,
        state VARCHAR(2) NOT NULL,
        created_ms BIGINT NOT NULL,
        scheduled_deletion_ms BIGINT,
        generation BIGINT NOT NULL,
        key_blob TEXT,
        material_expiry_ms BIGINT,
        material_fingerprint TEXT
    );
    CREATE TABLE imports (
        token_id VARCHAR(32) NOT NULL PRIMARY KEY,
        key_id VARCHAR(36) NOT NULL,
        algorithm VARCHAR(32) NOT NULL,
        wrapping_key_spec VARCHAR(16) NOT NULL,
        wrapping_key TEXT NOT NULL,
        expires_ms BIGINT NOT NULL
    );
    CREATE TABLE engine_keys (
        name VARCHAR(64) NOT NULL PRIMARY KEY,
        key_blob TEXT NOT NULL
    );",
    // 2: every key belongs to a project, and aliases are unique within a project (so a
    // taken alias says nothing about another project's keys). Keys from before projects
    // move to the default project.
    "CREATE TABLE keys_v2 (
        key_id VARCHAR(36) NOT NULL PRIMARY KEY,
        seq BIGINT NOT NULL UNIQUE,
        project_id VARCHAR(64) NOT NULL,
        alias VARCHAR(255) NOT NULL,
        description VARCHAR(255) NOT NULL,
        spec VARCHAR(16) NOT NULL,
        usage VARCHAR(32) NOT NULL,
        origin VARCHAR(16) NOT NULL,
        state VARCHAR(2) NOT NULL,
        created_ms BIGINT NOT NULL,
        scheduled_deletion_ms BIGINT,
        generation BIGINT NOT NULL,
        key_blob TEXT,
        material_expiry_ms BIGINT,
        material_fingerprint TEXT,
        UNIQUE (project_id, alias)
    );
    INSERT INTO keys_v2 (key_id, seq, project_id, alias, description, spec, usage, origin,
        state, created_ms, scheduled_deletion_ms, generation, key_blob, material_expiry_ms,
        material_fingerprint)
    SELECT key_id, seq, 'default', alias, description, spec, usage, origin, state,
        created_ms, scheduled_deletion_ms, generation, key_blob, material_expiry_ms,
        material_fingerprint FROM keys;
    DROP TABLE keys;
    ALTER TABLE keys_v2 RENAME TO keys;",
    // 3: what several engines sharing the store need (DESIGN 11). Each key counts the
    // encryptions leased out of its material's bound. The change feed logs every change
    // of a key's state or material; its head row hands out positions: a transaction takes
    // the next one by updating that row, which it keeps locked until it commits, so
    // positions follow commit order (a sequence hands numbers out as they are asked for,
    // so a reader could pass a position whose change commits later).
    "ALTER TABLE keys ADD COLUMN encryptions_leased BIGINT NOT NULL DEFAULT 0;
    CREATE TABLE key_change_head (
        position BIGINT NOT NULL
    );
    INSERT INTO key_change_head (position) VALUES (0);
    CREATE TABLE key_changes (
        position BIGINT PRIMARY KEY,
        key_id VARCHAR(36) NOT NULL,
        changed_ms BIGINT NOT NULL
    );",
    // 4: rotation (DESIGN 12). A key's retired material generations are one text column
    // (see `rows::encode_retired`), changed with the key's row in one compare-and-swap;
    // its rotation policy and history are columns of its own. Tags are rows of their own.
    "ALTER TABLE keys ADD COLUMN retired_materials TEXT NOT NULL DEFAULT '';
    ALTER TABLE keys ADD COLUMN rotation_enabled BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE keys ADD COLUMN rotation_interval_days BIGINT NOT NULL DEFAULT 365;
    ALTER TABLE keys ADD COLUMN rotation_interval_start_ms BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE keys ADD COLUMN last_rotation_ms BIGINT;
    ALTER TABLE keys ADD COLUMN rotations BIGINT NOT NULL DEFAULT 0;
    CREATE TABLE key_tags (
        key_id VARCHAR(36) NOT NULL,
        tag_key TEXT NOT NULL,
        tag_value TEXT NOT NULL,
        PRIMARY KEY (key_id, tag_key)
    );",
];

/// The schema version this code writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Brings the schema up to [`SCHEMA_VERSION`] in one transaction, and returns the version
/// found (greater than [`SCHEMA_VERSION`] when a newer engine wrote the store).
pub(crate) fn migrate(connection: &mut Connection) -> rusqlite::Result<usize> {
    connection
        .execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let transaction = Transaction::new(connection, TransactionBehavior::Immediate)?;
    let version: Option<i64> =
        transaction.query_row("SELECT MAX(version) FROM schema_version", [], |row| {
            row.get(0)
        })?;
    let mut version = usize::try_from(version.unwrap_or(0)).unwrap_or(usize::MAX);
    if version > SCHEMA_VERSION {
        // A newer engine wrote this store: refuse rather than guess.
        return Ok(version);
    }
    for migration in MIGRATIONS.iter().skip(version) {
        transaction.execute_batch(migration)?;
        version += 1;
        transaction.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [version as i64],
        )?;
    }
    transaction.commit()?;
    Ok(version)
}
