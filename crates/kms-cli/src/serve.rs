//! `kms serve`: the KMS HTTP API over the home's engine (DESIGN 10), until SIGTERM or
//! SIGINT. It prints one JSON line saying where it listens, then the access log.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Arg, ArgMatches, Command, value_parser};
use kms_core::{KmsConfig, KmsError, Result};
use kms_server::{Credentials, Server, ServerConfig, TlsFiles, default_path};
use serde_json::json;

use crate::cli::Global;
use crate::home;

/// What `kms serve` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServeOptions {
    listen: SocketAddr,
    credentials: Option<PathBuf>,
    tls: Option<TlsFiles>,
    maintenance_every: Option<Duration>,
    coherence_bound: Duration,
    max_encryptions_per_key: u64,
    encryption_lease: u64,
}

/// The `serve` subcommand.
pub(crate) fn command() -> Command {
    Command::new("serve")
        .about(
            "Serve the KMS HTTP API (POST /v1.0/{project_id}/kms/<operation>) so the official \
             SDKs work against this engine; stops on SIGTERM or SIGINT after the requests in \
             flight",
        )
        .arg(
            Arg::new("listen")
                .long("listen")
                .value_name("ADDR:PORT")
                .default_value("127.0.0.1:8080")
                .value_parser(value_parser!(SocketAddr))
                .help("Where to listen (port 0: any free port; the first line printed says which)"),
        )
        .arg(
            Arg::new("credentials")
                .long("credentials")
                .value_name("FILE")
                .value_parser(value_parser!(PathBuf))
                .help(
                    "The credentials file (TOML, mode 0600; default <home>/credentials.toml, \
                     created with a random access key and project on first use)",
                ),
        )
        .arg(
            Arg::new("maintenance-interval")
                .long("maintenance-interval")
                .value_name("SECONDS")
                .default_value("60")
                .value_parser(value_parser!(u64))
                .help(
                    "How often to run the periodic work (expired material, unused import \
                     tokens, due deletions; see kms maintain); 0: never",
                ),
        )
        .arg(
            Arg::new("coherence-bound")
                .long("coherence-bound")
                .value_name("MILLISECONDS")
                .default_value("1000")
                .value_parser(value_parser!(u64).range(1..=3_600_000))
                .help(
                    "With a store other engines share: how soon a key state change made \
                     through another engine is honoured here; a cached key this engine cannot \
                     confirm with the store within it is not used",
                ),
        )
        .arg(
            Arg::new("max-encryptions-per-key")
                .long("max-encryptions-per-key")
                .value_name("COUNT")
                .default_value("4294967296")
                .value_parser(value_parser!(u64).range(1..=1 << 32))
                .help(
                    "Encryptions one key's material may make in its life, across every engine \
                     on the store (at most 2^32, the random-nonce bound); KMS.9003 after",
                ),
        )
        .arg(
            Arg::new("encryption-lease")
                .long("encryption-lease")
                .value_name("COUNT")
                .default_value("4194304")
                .value_parser(value_parser!(u64).range(1..))
                .help(
                    "The most encryptions of one key this engine leases from the store at once: \
                     what is forfeited if it dies",
                ),
        )
        .arg(
            Arg::new("tls-cert")
                .long("tls-cert")
                .value_name("PEM")
                .requires("tls-key")
                .value_parser(value_parser!(PathBuf))
                .help("Serve HTTPS with this certificate chain (PEM)"),
        )
        .arg(
            Arg::new("tls-key")
                .long("tls-key")
                .value_name("PEM")
                .requires("tls-cert")
                .value_parser(value_parser!(PathBuf))
                .help("The private key of --tls-cert (PEM)"),
        )
}

/// Reads the `serve` subcommand's options.
pub(crate) fn read(matches: &ArgMatches) -> ServeOptions {
    let path = |id: &str| matches.get_one::<PathBuf>(id).cloned();
    // Each has a default, so the fallback is never taken.
    let number = |id: &str| matches.get_one::<u64>(id).copied().unwrap_or(1);
    ServeOptions {
        listen: matches
            .get_one::<SocketAddr>("listen")
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        credentials: path("credentials"),
        tls: path("tls-cert")
            .zip(path("tls-key"))
            .map(|(cert, key)| TlsFiles { cert, key }),
        maintenance_every: matches
            .get_one::<u64>("maintenance-interval")
            .filter(|seconds| **seconds > 0)
            .map(|seconds| Duration::from_secs(*seconds)),
        coherence_bound: Duration::from_millis(number("coherence-bound")),
        max_encryptions_per_key: number("max-encryptions-per-key"),
        encryption_lease: number("encryption-lease"),
    }
}

/// Serves until SIGTERM or SIGINT; the engine (and with it the wrapping-key pool's keys)
/// is released before this returns.
///
/// # Errors
/// The credentials file's, the listener's and the engine's opening errors.
pub(crate) fn run(global: &Global, options: &ServeOptions) -> Result<()> {
    let credentials_path = options
        .credentials
        .clone()
        .unwrap_or_else(|| default_path(&global.home));
    let kms = Arc::new(home::open_with(
        global,
        KmsConfig {
            coherence_bound: options.coherence_bound,
            max_encryptions_per_key: options.max_encryptions_per_key,
            encryption_lease: options.encryption_lease,
            ..KmsConfig::default()
        },
    )?);
    let (credentials, created) = Credentials::load_or_create(&credentials_path)?;
    if let Some(created) = created {
        eprintln!(
            "created {} with access key {} for project {}; its secret key is in that file",
            credentials_path.display(),
            created.access_key,
            created.project_id
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| KmsError::Backend(format!("starting the server's runtime: {error}")))?;
    let mut config = ServerConfig::new(options.listen, credentials);
    config.tls = options.tls.clone();
    config.maintenance_every = options.maintenance_every;
    runtime.block_on(async {
        let server = Server::bind(kms, config).await?;
        // Registered before the address is printed: a supervisor that stops the server as
        // soon as it is up gets a clean shutdown, never the signal's default action.
        let shutdown = shutdown_signal()?;
        let listening = json!({
            "listening": server.url()?,
            "credentials": credentials_path.canonicalize().unwrap_or(credentials_path),
        });
        println!("{listening}");
        server.serve(shutdown).await
    })
}

/// Handles SIGTERM and SIGINT from now on; the future completes on the first of them.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};

    let handle = |kind: SignalKind| {
        signal(kind).map_err(|error| {
            KmsError::Backend(format!("handling the server's stop signals: {error}"))
        })
    };
    let mut terminate = handle(SignalKind::terminate())?;
    let mut interrupt = handle(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}
