//! The listener: accepts connections (plain or TLS) up to a cap, serves HTTP/1.1 on each
//! with header and body timeouts, and shuts down gracefully: no new connections, requests
//! in flight finished, then the engine is released.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use kms_core::{Clock, Kms, KmsError, Result, SystemClock};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::access_log::{AccessLog, MaintenanceRecord};
use crate::connections::{Connections, Slot};
use crate::credentials::Credentials;
use crate::handler::{State, handle};
use crate::metrics::Metrics;

/// Bounds that keep one client from taking the server from the others.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body (KMS.0203 past it). Default 64 KiB: the largest request of the
    /// API, an RSA_4096 import, is under 3 KiB.
    pub max_body_bytes: usize,
    /// Requests the engine works on at once; more wait their turn. Default 256.
    pub max_in_flight: usize,
    /// Connections open at once. Past it, the connection idle longest is closed to make
    /// room, so idle connections cannot keep new clients out. Default 1024.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and how long an idle
    /// keep-alive connection is kept. Default 10 s.
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body. Default 10 s.
    pub body_timeout: Duration,
    /// How long shutdown waits for requests in flight. Default 30 s.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            max_in_flight: 256,
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// A PEM certificate chain and private key for TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// How to serve.
pub struct ServerConfig {
    /// Where to listen (port 0: any free port).
    pub listen: SocketAddr,
    /// Who may call.
    pub credentials: Credentials,
    /// TLS, or plain HTTP (for loopback and tests) when `None`.
    pub tls: Option<TlsFiles>,
    /// The bounds.
    pub limits: Limits,
    /// Where request signatures' dates are checked against.
    pub clock: Arc<dyn Clock>,
    /// Where the access log goes, a JSON line per request.
    pub access_log: Box<dyn Write + Send>,
    /// How often the engine's periodic work ([`Kms::maintain`]) runs: expiry of imported
    /// material, unused import tokens' wrapping keys, due deletions. `None`: never (an
    /// embedder that runs it elsewhere). Default every 60 s.
    pub maintenance_every: Option<Duration>,
}

impl ServerConfig {
    /// Plain HTTP on `listen` with the default limits, the system clock and the access log
    /// on standard output.
    #[must_use]
    pub fn new(listen: SocketAddr, credentials: Credentials) -> Self {
        Self {
            listen,
            credentials,
            tls: None,
            limits: Limits::default(),
            clock: Arc::new(SystemClock),
            access_log: Box::new(std::io::stdout()),
            maintenance_every: Some(Duration::from_secs(60)),
        }
    }
}

/// A bound server, ready to serve.
pub struct Server {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<State>,
    connections: Arc<Connections>,
    maintenance_every: Option<Duration>,
}

impl Server {
    /// Binds `config.listen` and loads the TLS files, if any.
    ///
    /// # Errors
    /// KMS.0102 when the address cannot be bound or a TLS file cannot be read; KMS.0308 for
    /// TLS files that hold no certificate or key, or that do not match.
    pub async fn bind(kms: Arc<Kms>, config: ServerConfig) -> Result<Self> {
        let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|error| KmsError::Store(format!("listening on {}: {error}", config.listen)))?;
        let limits = config.limits;
        let state = Arc::new(State {
            kms,
            credentials: config.credentials,
            metrics: Metrics::default(),
            access_log: AccessLog::new(config.access_log),
            in_flight: Semaphore::new(limits.max_in_flight),
            limits: limits.clone(),
            clock: config.clock,
        });
        Ok(Self {
            listener,
            tls,
            connections: Connections::new(limits.max_connections),
            state,
            maintenance_every: config.maintenance_every,
        })
    }

    /// The address it listens on.
    ///
    /// # Errors
    /// KMS.0102 when the socket cannot say.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener
            .local_addr()
            .map_err(|error| KmsError::Store(format!("reading the listening address: {error}")))
    }

    /// `http://ADDR` or `https://ADDR`.
    ///
    /// # Errors
    /// As [`local_addr`](Self::local_addr).
    pub fn url(&self) -> Result<String> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        Ok(format!("{scheme}://{}", self.local_addr()?))
    }

    /// Serves until `shutdown` completes, then stops accepting, lets requests in flight
    /// finish (up to the shutdown grace) and returns. The engine is released when the last
    /// request holding it is done.
    ///
    /// # Errors
    /// None today: accept failures (such as running out of file descriptors) are waited
    /// out, not fatal.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.state.limits.header_timeout)
            .keep_alive(true);
        tokio::pin!(shutdown);
        let maintenance = self
            .maintenance_every
            .map(|every| tokio::spawn(maintain_every(Arc::clone(&self.state), every)));
        loop {
            let slot = tokio::select! {
                () = &mut shutdown => break,
                slot = self.connections.slot() => slot,
            };
            let Some(slot) = slot else { break };
            let accepted = tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => accepted,
            };
            let Ok((stream, _peer)) = accepted else {
                // Out of descriptors or a reset before accept: wait a moment, go on.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            let connection = Connection {
                state: Arc::clone(&self.state),
                connections: Arc::clone(&self.connections),
                http: http.clone(),
                slot,
            };
            match &self.tls {
                None => {
                    tokio::spawn(connection.serve(stream));
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    let handshake_timeout = self.state.limits.header_timeout;
                    tokio::spawn(async move {
                        if let Ok(Ok(tls)) =
                            tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await
                        {
                            connection.serve(tls).await;
                        }
                    });
                }
            }
        }
        drop(self.listener);
        if let Some(maintenance) = maintenance {
            maintenance.abort();
        }
        self.connections.close_all();
        self.connections
            .closed(self.state.limits.shutdown_grace)
            .await;
        Ok(())
    }
}

/// One accepted connection.
struct Connection {
    state: Arc<State>,
    connections: Arc<Connections>,
    http: hyper::server::conn::http1::Builder,
    slot: Slot,
}

impl Connection {
    /// Serves HTTP/1.1 on `io` until the client closes, a timeout closes it, or the table
    /// asks it to close (once idle).
    async fn serve<IO>(self, io: IO)
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Self {
            state,
            connections,
            http,
            slot,
        } = self;
        let tracked = Arc::clone(slot.tracked());
        let service = service_fn(move |request| {
            let state = Arc::clone(&state);
            let busy = connections.busy(&tracked);
            async move {
                let response = handle(state, request).await;
                drop(busy);
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        let connection = http.serve_connection(TokioIo::new(io), service);
        tokio::pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => {}
            () = slot.tracked().close_requested() => {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
            }
        }
        drop(slot);
    }
}

/// Runs the engine's periodic work every `every`, on a blocking thread, and logs each run
/// that did something or failed.
async fn maintain_every(state: Arc<State>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let kms = Arc::clone(&state.kms);
        let outcome = tokio::task::spawn_blocking(move || kms.maintain()).await;
        let record = match outcome {
            Ok(Ok(done)) => {
                let quiet = done.expired_material.is_empty()
                    && done.deleted.is_empty()
                    && done.wrapping_keys_destroyed == 0
                    && done.orphaned_wrapping_keys_destroyed == 0
                    && done.orphaned_wrapping_keys_left == 0
                    && done.material_left.is_empty()
                    && done.rotated.is_empty()
                    && done.rotation_failures.is_empty();
                if quiet {
                    continue;
                }
                MaintenanceRecord {
                    expired_material: done.expired_material.len(),
                    deleted: done.deleted.len(),
                    wrapping_keys_destroyed: done.wrapping_keys_destroyed,
                    orphaned_wrapping_keys_destroyed: done.orphaned_wrapping_keys_destroyed,
                    orphaned_wrapping_keys_left: done.orphaned_wrapping_keys_left,
                    material_left: with_codes(&done.material_left),
                    rotated: done.rotated.len(),
                    rotation_failures: with_codes(&done.rotation_failures),
                    error_code: None,
                }
            }
            Ok(Err(error)) => MaintenanceRecord::failed(error.code()),
            Err(_) => MaintenanceRecord::failed("KMS.0103"),
        };
        state
            .access_log
            .write_maintenance(state.clock.now_ms(), &record);
    }
}

/// Each key with the code of its error, for the log.
fn with_codes(failures: &[(kms_core::KeyId, kms_core::KmsError)]) -> Vec<String> {
    failures
        .iter()
        .map(|(key_id, error)| format!("{key_id}: {}", error.code()))
        .collect()
}

/// A TLS acceptor over the PEM files.
fn tls_acceptor(files: &TlsFiles) -> Result<TlsAcceptor> {
    let read = |path: &PathBuf| {
        std::fs::read(path)
            .map_err(|error| KmsError::Store(format!("reading {}: {error}", path.display())))
    };
    let invalid = |what: String| KmsError::InvalidParameter(what);
    let certs = CertificateDer::pem_slice_iter(&read(&files.cert)?)
        .collect::<core::result::Result<Vec<_>, _>>()
        .map_err(|_| {
            invalid(format!(
                "{} is not a PEM certificate chain",
                files.cert.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(invalid(format!(
            "{} holds no certificate",
            files.cert.display()
        )));
    }
    let key_pem = zeroize::Zeroizing::new(read(&files.key)?);
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|_| invalid(format!("{} holds no PEM private key", files.key.display())))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| invalid(format!("TLS: {error}")))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|error| invalid(format!("TLS certificate and key: {error}")))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
