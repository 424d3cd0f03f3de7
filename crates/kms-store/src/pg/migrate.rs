//! Bringing a PostgreSQL database's schema up to date: the same migrations as SQLite's,
//! run by one engine at a time however many start at once.

use postgres::Transaction;

use super::attempts::Failure;
use crate::schema::{MIGRATIONS, SCHEMA_VERSION};

/// The advisory lock that migrations hold: engines starting together migrate one after
/// another (`CREATE TABLE IF NOT EXISTS` alone is not safe against a concurrent one in
/// PostgreSQL), and each later one finds the work done.
const MIGRATION_LOCK: i64 = 0x6b6d_735f_6d69_6772; // "kms_migr"

/// Brings the schema up to [`SCHEMA_VERSION`] in `transaction`, and returns the version
/// found (greater than [`SCHEMA_VERSION`] when a newer engine wrote the database).
///
/// # Errors
/// The database's error; nothing is changed then.
pub(crate) fn migrate(transaction: &mut Transaction<'_>) -> Result<usize, Failure> {
    // A migration may copy every key and wait for another engine's: no statement timeout.
    transaction.batch_execute("SET LOCAL statement_timeout = 0")?;
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    transaction
        .batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let found: Option<i32> = transaction
        .query_one("SELECT MAX(version) FROM schema_version", &[])?
        .try_get(0)?;
    let mut version = usize::try_from(found.unwrap_or(0)).unwrap_or(usize::MAX);
    if version > SCHEMA_VERSION {
        // A newer engine wrote this database: refuse rather than guess.
        return Ok(version);
    }
    for migration in MIGRATIONS.iter().skip(version) {
        transaction.batch_execute(migration)?;
        version += 1;
        let recorded = i32::try_from(version).unwrap_or(i32::MAX);
        transaction.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&recorded],
        )?;
    }
    Ok(version)
}
