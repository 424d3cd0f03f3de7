//! Running reads and transactions on the connection pool, and trying again after the
//! failures that are worth another try: a conflict between concurrent transactions
//! (serialization failure, deadlock), or a connection that could not be had or broke before
//! the transaction's COMMIT was sent. A failure during COMMIT is never tried again: the
//! change may have been made.

use std::time::Duration;

use kms_core::{KmsError, Result};
use postgres::error::SqlState;
use postgres::{Client, NoTls, Transaction};
use r2d2_postgres::PostgresConnectionManager;

/// The pool of connections to one database.
pub(crate) type Pool = r2d2_postgres::r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// How often a transaction that lost a conflict with another is tried again.
const CONFLICT_RETRIES: u32 = 5;
/// The first pause before a transaction that lost a conflict runs again; it doubles each
/// time.
const CONFLICT_BACKOFF: Duration = Duration::from_millis(10);
/// How often a call tries again after the pool found no connection in its timeout (each
/// try has already waited that long).
const NO_CONNECTION_RETRIES: u32 = 1;
/// How often a call tries again on a fresh connection after one broke.
const BROKEN_CONNECTION_RETRIES: u32 = 2;
/// The pause before a call tries again after a connection problem.
const CONNECTION_BACKOFF: Duration = Duration::from_millis(100);

/// Why the body of a read or transaction failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A statement failed: retried when that is safe and worth it.
    Sql(postgres::Error),
    /// The call's own answer (such as a taken alias): returned as it is.
    Final(KmsError),
}

impl From<postgres::Error> for Failure {
    fn from(error: postgres::Error) -> Self {
        Self::Sql(error)
    }
}

/// One failed attempt.
enum Trouble {
    /// The pool had no connection to give in its timeout.
    NoConnection(r2d2_postgres::r2d2::Error),
    /// A statement failed before COMMIT was sent.
    Statement(postgres::Error),
    /// COMMIT failed.
    Commit(postgres::Error),
    /// The call's own answer.
    Final(KmsError),
}

impl From<Failure> for Trouble {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Sql(error) => Self::Statement(error),
            Failure::Final(error) => Self::Final(error),
        }
    }
}

impl Trouble {
    /// The error the caller gets: [`KmsError::Store`] saying what was being done where, or
    /// the call's own answer.
    fn into_error(self, target: &str, what: &str) -> KmsError {
        match self {
            Self::NoConnection(error) => KmsError::Store(format!(
                "{what}: cannot reach PostgreSQL at {target}: {error}"
            )),
            Self::Statement(error) => {
                KmsError::Store(format!("{what} in PostgreSQL at {target}: {error}"))
            }
            Self::Commit(error) if error.as_db_error().is_some() => KmsError::Store(format!(
                "{what} in PostgreSQL at {target}: the database refused to commit, so nothing \
                 was changed: {error}"
            )),
            Self::Commit(error) => KmsError::Store(format!(
                "{what} in PostgreSQL at {target}: the connection failed while committing, so \
                 whether the change was made is unknown: {error}"
            )),
            Self::Final(error) => error,
        }
    }
}

/// Whether `error` is a conflict with a concurrent transaction that a new try can win.
fn is_conflict(error: &postgres::Error) -> bool {
    error.code().is_some_and(|code| {
        *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
    })
}

/// Whether `error` says the connection is gone or unusable (closed, an I/O failure, the
/// server shutting down or starting up), rather than that the statement was refused.
fn is_connection_failure(error: &postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    match error.code() {
        Some(code) => {
            code.code().starts_with("08")
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
        }
        None => {
            std::error::Error::source(error).is_some_and(|source| source.is::<std::io::Error>())
        }
    }
}

/// Runs `body` on a pooled connection (outside a transaction: for reads, which are safe to
/// repeat), trying again as the module says.
///
/// # Errors
/// [`KmsError::Store`] naming `what` and `target` once the tries are used up or the failure
/// is not worth another; `body`'s own answer as it is.
pub(crate) fn read<T>(
    pool: &Pool,
    target: &str,
    what: &str,
    mut body: impl FnMut(&mut Client) -> core::result::Result<T, Failure>,
) -> Result<T> {
    attempt(target, what, || {
        let mut client = pool.get().map_err(Trouble::NoConnection)?;
        Ok(body(&mut client)?)
    })
}

/// Runs `body` in one transaction and commits it, trying again as the module says.
///
/// # Errors
/// As [`read`]; when COMMIT fails, [`KmsError::Store`] saying whether the change may have
/// been made.
pub(crate) fn write<T>(
    pool: &Pool,
    target: &str,
    what: &str,
    mut body: impl FnMut(&mut Transaction<'_>) -> core::result::Result<T, Failure>,
) -> Result<T> {
    attempt(target, what, || {
        let mut client = pool.get().map_err(Trouble::NoConnection)?;
        let mut transaction = client.transaction().map_err(Trouble::Statement)?;
        let value = body(&mut transaction)?;
        transaction.commit().map_err(Trouble::Commit)?;
        Ok(value)
    })
}

fn attempt<T>(
    target: &str,
    what: &str,
    mut once: impl FnMut() -> core::result::Result<T, Trouble>,
) -> Result<T> {
    let (mut conflicts, mut no_connection, mut broken) = (0, 0, 0);
    loop {
        let trouble = match once() {
            Ok(value) => return Ok(value),
            Err(trouble) => trouble,
        };
        let pause = match &trouble {
            Trouble::NoConnection(_) if no_connection < NO_CONNECTION_RETRIES => {
                no_connection += 1;
                CONNECTION_BACKOFF
            }
            Trouble::Statement(error) if is_conflict(error) && conflicts < CONFLICT_RETRIES => {
                conflicts += 1;
                CONFLICT_BACKOFF * (1 << (conflicts - 1))
            }
            Trouble::Statement(error)
                if is_connection_failure(error) && broken < BROKEN_CONNECTION_RETRIES =>
            {
                broken += 1;
                CONNECTION_BACKOFF
            }
            _ => return Err(trouble.into_error(target, what)),
        };
        std::thread::sleep(pause);
    }
}
