//! HTTPS: [`TlsConfig`], a certificate and key from PEM files that the server serves with
//! rustls, and reloads without a restart.
//!
//! Why each piece is as it is:
//! - The certificate is not fixed in the rustls `ServerConfig` but chosen per handshake by a
//!   resolver ([`Certificates`]) that holds the current certified key behind a lock. A reload
//!   swaps that one `Arc`: handshakes after it get the new certificate, connections already
//!   open keep the session they negotiated, and nothing is restarted.
//! - A reload reads both files and checks them — PEM that parses, a key that matches the
//!   certificate — before swapping. A half-written file or a key that does not match the new
//!   certificate (the files are rarely replaced at the same instant) leaves the old certificate
//!   in place, with an error in the log; once both files are right, the next reload takes them.
//! - Reloads happen on [`TlsConfig::reload`] (the standalone server calls it on `SIGHUP`) and
//!   when the files change: the server polls their modification times and sizes every
//!   [`TlsConfig::poll_interval`]. Polling a couple of `stat`s every few seconds costs nothing
//!   and needs no file-watching dependency; it also sees a file replaced by a rename, as
//!   certificate tools do.
//! - The handshake runs in the connection's own task, after the connection took its permit and
//!   its address's slot, so a silent or slow client is counted in the limits like a plain
//!   connection and stalls no one else; it has [`TlsConfig::handshake_timeout`] to finish.
//! - ALPN offers `http/1.1` only: the server speaks HTTP/1.1 (hyper's `http1`), and WebSockets
//!   upgrade from it.
//! - rustls on ring, the provider the rest of the workspace uses, given explicitly so that no
//!   process-wide default provider is needed.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a client has for its TLS handshake unless [`TlsConfig::handshake_timeout`] says
/// otherwise: as long as a plain connection has for its first request head.
const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the certificate files are checked for changes unless
/// [`TlsConfig::poll_interval`] says otherwise.
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// HTTPS for a [`crate::Server`]: a certificate chain and its private key, read from PEM files
/// and reloaded when they change (see [`crate::Server::tls`]).
///
/// A cheap handle: clones share the certificate, so a clone kept by the application (to call
/// [`reload`](Self::reload) on `SIGHUP`) reloads the server's.
///
/// ```no_run
/// # async fn run(chat: kanect_core::Chat) -> Result<(), Box<dyn std::error::Error>> {
/// let tls = kanect_http::TlsConfig::from_pem_files("/etc/kanect/cert.pem", "/etc/kanect/key.pem")?;
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:443").await?;
/// let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
/// kanect_http::Server::new(chat, kanect_http::HttpConfig::default()).tls(tls).serve(listener, shutdown).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct TlsConfig {
    /// The files and the certified key the resolver hands out, shared with every clone.
    certificates: Arc<Certificates>,
    /// What rustls serves with: ALPN, protocol versions, and `certificates` as the resolver.
    server: Arc<ServerConfig>,
    /// The most a handshake may take, so a silent client does not hold its slot for long.
    handshake_timeout: Duration,
    /// How often the server checks the files for changes; `None`: only on `reload`.
    poll_interval: Option<Duration>,
}

impl TlsConfig {
    /// Reads the certificate chain (`cert`: the server's certificate first, then any
    /// intermediates, PEM) and its private key (`key`: PKCS#8, PKCS#1 or SEC1, PEM).
    ///
    /// # Errors
    /// A file that cannot be read, holds no certificate (or no key), does not parse, or a key
    /// that does not match the certificate; the error names the file.
    pub fn from_pem_files(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (cert, key) = (cert.into(), key.into());
        // Looked at before reading: a change while they are read is seen by the next poll.
        let seen = Mutex::new(Fingerprint::of(&cert, &key));
        let loaded = load(&cert, &key, &provider)?;
        let certificates = Arc::new(Certificates {
            seen,
            cert,
            key,
            current: RwLock::new(Arc::new(loaded)),
            provider: provider.clone(),
        });
        let mut server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| TlsError::Setup(error.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(certificates.clone());
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConfig {
            certificates,
            server: Arc::new(server),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            poll_interval: Some(DEFAULT_POLL_INTERVAL),
        })
    }

    /// The most a client's TLS handshake may take before its connection is closed (default
    /// 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How often the server checks the files' modification times and sizes, and reloads them
    /// when either changed (default 5 s); `None` reloads only on [`reload`](Self::reload).
    pub fn poll_interval(mut self, interval: Option<Duration>) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Reads the files again and, if they are good, serves the new certificate to every
    /// handshake from now on (open connections keep theirs).
    ///
    /// # Errors
    /// As [`from_pem_files`](Self::from_pem_files); the certificate served stays the old one.
    pub fn reload(&self) -> Result<(), TlsError> {
        self.certificates.remember_files();
        self.certificates.reload()
    }

    /// Reloads if either file's modification time or size changed since it was last looked
    /// at, logging the outcome (an error keeps the old certificate).
    fn reload_if_changed(&self) {
        let certificates = &self.certificates;
        if !certificates.remember_files() {
            return;
        }
        if let Err(error) = certificates.reload() {
            tracing::error!(%error, "the certificate files changed but cannot be used: still serving the old certificate");
        }
    }

    /// Checks the files every `poll_interval`, forever (the server aborts it when it stops).
    pub(crate) async fn watch(self) {
        let Some(period) = self.poll_interval else { return };
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let tls = self.clone();
            // File reads and the key check are blocking work: off the runtime's workers.
            if tokio::task::spawn_blocking(move || tls.reload_if_changed()).await.is_err() {
                tracing::error!("the certificate reload panicked");
            }
        }
    }

    /// The TLS handshake on `stream`, without a time limit (the caller has one).
    pub(crate) async fn accept(&self, stream: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
        TlsAcceptor::from(self.server.clone()).accept(stream).await
    }

    /// The TLS handshake on `stream` within the handshake timeout; `None` (logged at debug
    /// level) if it failed or took too long: the connection is then closed.
    pub(crate) async fn handshake(&self, stream: TcpStream) -> Option<TlsStream<TcpStream>> {
        match tokio::time::timeout(self.handshake_timeout, self.accept(stream)).await {
            Ok(Ok(stream)) => Some(stream),
            Ok(Err(error)) => {
                tracing::debug!(%error, "TLS handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!(timeout = ?self.handshake_timeout, "TLS handshake timed out");
                None
            }
        }
    }
}

/// Why a certificate or key could not be used. Each kind names the file at fault, so that a
/// program can name its own setting for it (the standalone server names its flag).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file cannot be read, holds no certificate, or does not parse.
    #[error("certificate file {}: {reason}", path.display())]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key file cannot be read, holds no private key, or holds one rustls cannot use.
    #[error("key file {}: {reason}", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key is not the certificate's (or the certificate is not a valid X.509 one).
    #[error("the key in {} does not fit the certificate in {}: {reason}", key.display(), certificate.display())]
    Mismatch {
        /// The certificate file.
        certificate: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        reason: String,
    },
    /// rustls refused the configuration itself (not expected with its default versions).
    #[error("TLS setup: {0}")]
    Setup(String),
}

/// Reads and checks a certificate chain and key: both must parse, and the key must be the
/// certificate's.
fn load(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let cert_error = |reason: String| TlsError::Certificate { path: cert.to_path_buf(), reason };
    let key_error = |reason: String| TlsError::Key { path: key.to_path_buf(), reason };
    let cert_pem = std::fs::read(cert).map_err(|error| cert_error(error.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| cert_error(pem_reason(error)))?;
    if chain.is_empty() {
        return Err(cert_error("no certificate (a PEM `CERTIFICATE` block) in it".into()));
    }
    let key_pem = std::fs::read(key).map_err(|error| key_error(error.to_string()))?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|error| match error {
        rustls::pki_types::pem::Error::NoItemsFound => {
            key_error("no private key (a PEM `PRIVATE KEY` block) in it".into())
        }
        error => key_error(pem_reason(error)),
    })?;
    let signing_key = provider.key_provider.load_private_key(private).map_err(|error| key_error(error.to_string()))?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match().map_err(|error| TlsError::Mismatch {
        certificate: cert.to_path_buf(),
        key: key.to_path_buf(),
        reason: error.to_string(),
    })?;
    Ok(certified)
}

/// What is wrong with a file that does not parse as PEM, in words (the parser's own message
/// shows the markers as byte arrays).
fn pem_reason(error: rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match error {
        Error::MissingSectionEnd { .. } => "not PEM: a block without its END line (a file half-written?)".into(),
        Error::IllegalSectionStart { .. } => "not PEM: a malformed BEGIN line".into(),
        Error::Base64Decode(_) => "not PEM: a block that is not base64".into(),
        other => format!("not PEM: {other}"),
    }
}

/// The rustls resolver: the files, and the certified key every handshake gets until the next
/// successful reload.
#[derive(Debug)]
struct Certificates {
    /// The certificate chain's file.
    cert: PathBuf,
    /// The private key's file.
    key: PathBuf,
    /// What handshakes get now. A read lock is held only to clone the `Arc`.
    current: RwLock<Arc<CertifiedKey>>,
    /// The files as last looked at, so that polling reloads (and logs) once per change, not
    /// every tick while a bad file stays.
    seen: Mutex<Fingerprint>,
    /// Loads private keys (ring's).
    provider: Arc<CryptoProvider>,
}

impl Certificates {
    /// Records the files' current fingerprint; whether it differs from the one before.
    fn remember_files(&self) -> bool {
        let now = Fingerprint::of(&self.cert, &self.key);
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *seen, now) != now
    }

    /// Loads the files and, if they are good, swaps them in.
    fn reload(&self) -> Result<(), TlsError> {
        let loaded = Arc::new(load(&self.cert, &self.key, &self.provider)?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = loaded;
        tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
        Ok(())
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(PoisonError::into_inner).clone())
    }
}

/// Modification time and size of the certificate and key files (`None` for a file that
/// cannot be looked at, which is a change too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fingerprint([Option<(SystemTime, u64)>; 2]);

impl Fingerprint {
    fn of(cert: &Path, key: &Path) -> Self {
        let look = |path: &Path| std::fs::metadata(path).ok().and_then(|m| Some((m.modified().ok()?, m.len())));
        Fingerprint([look(cert), look(key)])
    }
}
