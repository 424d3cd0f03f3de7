//! A database of its own for each PostgreSQL test, on the server `KMS_TEST_POSTGRES_URL`
//! names (`.ci/test` starts one for the run), so the tests run in parallel; dropped at the
//! end.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests panic to fail"
)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use kms_store::PgStore;
use postgres::{Client, NoTls};

/// The variable naming the test server: a superuser URL to its `postgres` database.
const SERVER_VARIABLE: &str = "KMS_TEST_POSTGRES_URL";

/// The test server's URL. Panics when it is not set: the PostgreSQL tests never pass by
/// not running.
pub fn server_url() -> String {
    std::env::var(SERVER_VARIABLE).unwrap_or_else(|_| {
        panic!(
            "{SERVER_VARIABLE} is not set: run the tests through .ci/test, which starts a \
             private PostgreSQL server for them, or set it to a superuser URL such as \
             postgres://kms@127.0.0.1:5432/postgres"
        )
    })
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let (server, _) = base
        .rsplit_once('/')
        .expect("the server URL names a database");
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// An empty database, dropped (with any connection still open to it) when this drops.
pub struct TestDatabase {
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates an empty database with a name no other test uses.
    pub fn create() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "kms_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let url = with_database(&server_url(), &name);
        Self { name, url }
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A store on the database.
    pub fn store(&self) -> PgStore {
        PgStore::connect(&self.url, None).unwrap()
    }

    /// A plain connection to the database, to set it up or look into it.
    pub fn client(&self) -> Client {
        Client::connect(&self.url, NoTls).unwrap()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let dropped = Client::connect(&server_url(), NoTls).and_then(|mut client| {
            client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
        });
        if let Err(error) = dropped {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
    }
}

fn admin() -> Client {
    let url = server_url();
    Client::connect(&url, NoTls)
        .unwrap_or_else(|error| panic!("cannot reach the test server {url}: {error}"))
}
