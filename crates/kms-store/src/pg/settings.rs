//! What [`PgStore`](super::PgStore) connects with: the checks on its URL, and the driver's
//! configuration with the timeouts that keep an unreachable database from hanging a call.

use core::str::FromStr;
use std::time::Duration;

use kms_core::{KmsError, Result, SecretString};
use postgres::Config;

/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long data sent to the server may go unacknowledged before the connection is given
/// up (a server that vanished without closing its connections).
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle time after which TCP keepalives probe the connection.
const KEEPALIVES_IDLE: Duration = Duration::from_secs(30);
/// How long one statement may run (or wait for a lock) on the server, in milliseconds. A
/// URL's own `options` come after, so a URL may set another.
const STATEMENT_TIMEOUT_MS: u32 = 10_000;
/// How the engine's connections show in `pg_stat_activity`, unless the URL names them.
const APPLICATION_NAME: &str = "kms-engine";

/// The form of URL [`PgStore::connect`](super::PgStore::connect) takes.
const URL_FORM: &str = "postgres://USER@HOST:PORT/DB";

/// Checks `url` and builds the driver's configuration to connect with, `password` included.
///
/// # Errors
/// [`KmsError::InvalidParameter`] when `url` is not a PostgreSQL URL, holds a password, or
/// asks for TLS (`sslmode=require`, `verify-ca`, `verify-full`), which this store does not
/// do yet. The message never quotes the URL.
pub(crate) fn config(url: &str, password: Option<&SecretString>) -> Result<Config> {
    let invalid = |what: &str| KmsError::InvalidParameter(format!("the PostgreSQL URL {what}"));
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(invalid(&format!("must have the form {URL_FORM}")));
    }
    if let Some(mode) = query_value(url, "sslmode")
        && !matches!(mode, "disable" | "prefer")
    {
        return Err(invalid(&format!(
            "asks for TLS (sslmode={mode}), which the PostgreSQL store does not support \
             yet; connections are plain TCP, so use a trusted network and leave sslmode out"
        )));
    }
    let mut config =
        Config::from_str(url).map_err(|error| invalid(&format!("is not valid: {error}")))?;
    if config.get_password().is_some() {
        return Err(invalid(
            "holds a password: the password comes from PGPASSWORD or a password file, \
             never the URL",
        ));
    }
    let options = format!(
        "-c statement_timeout={STATEMENT_TIMEOUT_MS} {}",
        config.get_options().unwrap_or_default()
    );
    config.options(options.trim_end());
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(TCP_USER_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name(APPLICATION_NAME);
    }
    config.keepalives_idle(KEEPALIVES_IDLE);
    if let Some(password) = password {
        // The driver keeps its own copy, which it does not wipe: the password is a
        // credential to the database, not key material, and lives as long as the store.
        config.password(password.expose_secret());
    }
    Ok(config)
}

/// The value of `key` in the query string of `url`, if it has one.
fn query_value<'a>(url: &'a str, key: &str) -> Option<&'a str> {
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == key)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests panic to fail")]

    use super::*;

    fn refusal(url: &str) -> String {
        match config(url, None) {
            Ok(_) => String::from("accepted"),
            Err(error) => {
                assert_eq!(error.code(), "KMS.0308");
                error.to_string()
            }
        }
    }

    #[test]
    fn a_url_with_a_password_is_refused_without_quoting_it() {
        for url in [
            "postgres://kms:hunter2@127.0.0.1:5432/kms",
            "postgres://kms@127.0.0.1:5432/kms?password=hunter2",
        ] {
            let message = refusal(url);
            assert!(message.contains("never the URL"), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
    }

    #[test]
    fn a_url_asking_for_tls_is_refused() {
        for mode in ["require", "verify-ca", "verify-full"] {
            let message = refusal(&format!("postgres://kms@db:5432/kms?sslmode={mode}"));
            assert!(message.contains("does not support"), "{message}");
        }
        assert_eq!(
            refusal("postgres://kms@db:5432/kms?sslmode=disable"),
            "accepted"
        );
    }

    #[test]
    fn only_postgres_urls_are_taken() {
        assert!(refusal("host=db user=kms").contains(URL_FORM));
        assert!(refusal("mysql://kms@db/kms").contains(URL_FORM));
    }

    #[test]
    fn the_configuration_bounds_every_wait() {
        let config = config(
            "postgres://kms@db:5432/kms",
            Some(&SecretString::new("pw".into())),
        )
        .unwrap();
        assert_eq!(config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(config.get_tcp_user_timeout(), Some(&TCP_USER_TIMEOUT));
        assert_eq!(config.get_options(), Some("-c statement_timeout=10000"));
        assert_eq!(config.get_password(), Some(&b"pw"[..]));
        assert_eq!(config.get_dbname(), Some("kms"));
    }
}
