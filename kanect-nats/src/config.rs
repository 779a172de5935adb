//! [`NatsConfig`]: which NATS servers, how to prove who the node is to them and how to secure
//! the connection (the crate docs list the forms); the checks made before connecting, and
//! [`ConnectError`], which names what to fix when connecting fails.
//!
//! async-nats 0.52 ignores the user part of a URL, so the bus takes it out (percent-decoded)
//! and hands it to async-nats as options; the URL async-nats keeps, and logs, no longer holds
//! it. A `.creds` file and an nkey seed file are two ways of signing the server's nonce, so
//! only one may be given.
//!
//! Every file is read and checked first, so that a missing file, a seed that is not a user's
//! or a CA file without a certificate fails at once as [`ConnectError::File`] naming the file
//! and its role, rather than later as async-nats's "failed signing nonce" or as a certificate
//! that does not verify. The checks read the TLS files the way async-nats will (rustls's PEM
//! parser, a root store, the key checked against the certificate) and then hand async-nats the
//! paths, which it reads again at each connection. They run on the caller's thread: a few
//! small files, once, at the start.
//!
//! A failure to connect is sorted into what the operator fixes: the credentials (the server
//! answered "Authorization Violation"), TLS (rustls failed, on either side of the handshake:
//! async-nats reports a handshake error or a TLS alert as an I/O error, so its chain is
//! searched for rustls's) or the address.

use async_nats::rustls::pki_types::pem::{self, PemObject};
use async_nats::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use async_nats::rustls::{self, RootCertStore};
use async_nats::{ConnectOptions, ServerAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which subjects carry deliveries. Every node of a deployment must use the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Subjects {
    /// Everything on `kanect.<prefix>.events`: every node receives every event and keeps
    /// those for users it holds devices of. One publish per event. The default.
    #[default]
    Deployment,
    /// Deliveries and session ends on `kanect.<prefix>.user.<user id>`, which a node follows
    /// while it holds devices of that user; presence, heartbeats and broadcasts (changes to
    /// the user directory, for every device) stay on the deployment subject. One publish per
    /// recipient, but a node only receives its own users' events.
    PerUser,
}

/// How to reach NATS, prove who the node is, and which deployment to join.
#[derive(Clone)]
pub struct NatsConfig {
    /// Server address, e.g. `nats://127.0.0.1:4222` or `tls://nats.example.com:4222`, or
    /// several separated by commas (tried in turn at the start; async-nats learns the rest of
    /// a cluster from the server). A user and password (`nats://USER:PASSWORD@host`) or a
    /// token (`nats://TOKEN@host`) may go in it.
    pub url: String,
    /// Names the deployment: nodes with the same prefix (on the same NATS) exchange events,
    /// others are invisible to them. Letters, digits, `-` and `_`. Default `"default"`.
    pub prefix: String,
    /// Which subjects carry deliveries. Default [`Subjects::Deployment`].
    pub subjects: Subjects,
    /// How long connecting (or confirming a subscription) may take before failing.
    /// Default 10 s.
    pub connect_timeout: Duration,
    /// How long a publish may wait for room in async-nats's outgoing queue (full only while
    /// NATS is slow or unreachable) before the event is dropped. Default 1 s.
    pub publish_timeout: Duration,
    /// A `.creds` file, for servers in operator mode (decentralised authentication): the
    /// user's JWT and nkey seed, as `nsc` writes them. Not with [`NatsConfig::nkey_file`].
    pub credentials_file: Option<PathBuf>,
    /// A file holding a user's nkey seed (`SU…`), for a server that lists the user's public
    /// nkey (`authorization { users = [{ nkey: U… }] }`).
    pub nkey_file: Option<PathBuf>,
    /// Insist on TLS with a `nats://` URL too (a `tls://` URL, a CA file or a client
    /// certificate always do). Default `false`.
    pub require_tls: bool,
    /// A PEM file of the CA certificate(s) that signed the server's certificate, trusted
    /// instead of the system's roots: for a NATS server with a private CA.
    pub ca_file: Option<PathBuf>,
    /// A PEM client certificate (chain), for a server that verifies its clients (mutual TLS).
    /// Needs [`NatsConfig::client_key`].
    pub client_cert: Option<PathBuf>,
    /// The private key (PEM) of [`NatsConfig::client_cert`].
    pub client_key: Option<PathBuf>,
}

impl NatsConfig {
    /// The defaults for `url`: prefix `"default"`, one subject, no credentials beyond the
    /// URL's, TLS only if the URL or the server asks for it.
    pub fn new(url: impl Into<String>) -> Self {
        NatsConfig {
            url: url.into(),
            prefix: "default".to_string(),
            subjects: Subjects::Deployment,
            connect_timeout: Duration::from_secs(10),
            publish_timeout: Duration::from_secs(1),
            credentials_file: None,
            nkey_file: None,
            require_tls: false,
            ca_file: None,
            client_cert: None,
            client_key: None,
        }
    }

    /// The servers to connect to (their URLs without credentials) and the options that
    /// authenticate and secure the connection, every file read and checked.
    pub(crate) fn connect_options(&self) -> Result<(Vec<ServerAddr>, ConnectOptions), ConnectError> {
        let (servers, login) = servers(&self.url)?;
        let tls_files = self.ca_file.is_some() || self.client_cert.is_some();
        let mut options = ConnectOptions::new().require_tls(self.require_tls || tls_files);
        options = match login {
            Some(Login::UserPassword(user, password)) => options.user_and_password(user, password),
            Some(Login::Token(token)) => options.token(token),
            None => options,
        };
        match (&self.credentials_file, &self.nkey_file) {
            (Some(_), Some(_)) => {
                return Err(ConnectError::Settings("give a credentials file or an nkey seed file, not both"))
            }
            (Some(path), None) => {
                let text = read(FileRole::Credentials, path)?;
                options = options.credentials(&text).map_err(|error| file_error(FileRole::Credentials, path, error))?;
            }
            (None, Some(path)) => options = options.nkey(user_seed(path)?),
            (None, None) => {}
        }
        if let Some(path) = &self.ca_file {
            check_ca_file(path)?;
            options = options.add_root_certificates(path.clone());
        }
        match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                check_client_certificate(cert, key)?;
                options = options.add_client_certificate(cert.clone(), key.clone());
            }
            (None, None) => {}
            (Some(_), None) => return Err(ConnectError::Settings("a client certificate needs its key")),
            (None, Some(_)) => return Err(ConnectError::Settings("a client key needs its certificate")),
        }
        Ok((servers, options))
    }
}

/// Never shows the URL's password or token.
impl std::fmt::Debug for NatsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = match servers(&self.url) {
            Ok((servers, login)) => {
                let list = servers.iter().map(|server| server.as_url_str()).collect::<Vec<_>>().join(",");
                if login.is_some() {
                    format!("{list} (with credentials)")
                } else {
                    list
                }
            }
            Err(_) => "(not a NATS URL)".to_string(),
        };
        f.debug_struct("NatsConfig")
            .field("url", &url)
            .field("prefix", &self.prefix)
            .field("subjects", &self.subjects)
            .field("connect_timeout", &self.connect_timeout)
            .field("publish_timeout", &self.publish_timeout)
            .field("credentials_file", &self.credentials_file)
            .field("nkey_file", &self.nkey_file)
            .field("require_tls", &self.require_tls)
            .field("ca_file", &self.ca_file)
            .field("client_cert", &self.client_cert)
            .field("client_key", &self.client_key)
            .finish()
    }
}

/// Credentials from a URL's user part.
enum Login {
    UserPassword(String, String),
    Token(String),
}

/// The comma-separated servers of `url`, with the credentials taken out of them. Several
/// servers must agree on the credentials, since async-nats uses one set for all.
fn servers(url: &str) -> Result<(Vec<ServerAddr>, Option<Login>), ConnectError> {
    let mut servers = Vec::new();
    let mut login: Option<(String, Option<String>)> = None;
    for text in url.split(',').map(str::trim) {
        if text.is_empty() {
            return Err(ConnectError::Url("no server address (an empty URL, or a stray comma)".into()));
        }
        let address: ServerAddr = text.parse().map_err(|error: std::io::Error| ConnectError::Url(error.to_string()))?;
        if address.is_websocket() {
            return Err(ConnectError::Url("a WebSocket URL (ws://, wss://): use nats:// or tls://".into()));
        }
        let mut parsed = address.into_inner();
        // A password without a user (`nats://:secret@host`) is taken out too: left in, async-nats
        // would log it with the address.
        if !parsed.username().is_empty() || parsed.password().is_some() {
            let decode = |text: &str| percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned();
            let found = (decode(parsed.username()), parsed.password().map(decode));
            if login.as_ref().is_some_and(|first| *first != found) {
                return Err(ConnectError::Url("the servers' URLs give different credentials".into()));
            }
            login = Some(found);
            // Only fails for URLs without a host, which ServerAddr has refused already.
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
        }
        servers.push(ServerAddr::from_url(parsed).map_err(|error| ConnectError::Url(error.to_string()))?);
    }
    let login = login.map(|(user, password)| match password {
        Some(password) => Login::UserPassword(user, password),
        None => Login::Token(user),
    });
    Ok((servers, login))
}

/// The text of a file the configuration names.
fn read(role: FileRole, path: &Path) -> Result<String, ConnectError> {
    std::fs::read_to_string(path).map_err(|error| file_error(role, path, error))
}

fn file_error(role: FileRole, path: &Path, reason: impl std::fmt::Display) -> ConnectError {
    ConnectError::File { role, path: path.to_path_buf(), reason: reason.to_string() }
}

/// The nkey seed in `path`, which must be a user's: a server lists users' public keys, so an
/// account's or operator's seed could only be refused by it, less clearly.
fn user_seed(path: &Path) -> Result<String, ConnectError> {
    let seed = read(FileRole::Nkey, path)?.trim().to_string();
    let key_pair = nkeys::KeyPair::from_seed(&seed)
        .map_err(|error| file_error(FileRole::Nkey, path, format_args!("not an nkey seed: {error}")))?;
    match key_pair.key_pair_type() {
        nkeys::KeyPairType::User => Ok(seed),
        other => {
            Err(file_error(FileRole::Nkey, path, format_args!("the seed of a key of type {other:?}, not a user's")))
        }
    }
}

/// The certificates in a PEM file, at least one.
fn certificates(role: FileRole, path: &Path) -> Result<Vec<CertificateDer<'static>>, ConnectError> {
    let text = std::fs::read(path).map_err(|error| file_error(role, path, error))?;
    let certificates = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| file_error(role, path, not_pem(error)))?;
    if certificates.is_empty() {
        return Err(file_error(role, path, "no certificate (a PEM `CERTIFICATE` block) in it"));
    }
    Ok(certificates)
}

/// The CA file must hold certificates rustls can trust, as async-nats will load it.
fn check_ca_file(path: &Path) -> Result<(), ConnectError> {
    let mut roots = RootCertStore::empty();
    for certificate in certificates(FileRole::CaFile, path)? {
        roots
            .add(certificate)
            .map_err(|error| file_error(FileRole::CaFile, path, format_args!("not a CA certificate: {error}")))?;
    }
    Ok(())
}

/// The client certificate and key must parse, and the key must be the certificate's.
fn check_client_certificate(cert: &Path, key: &Path) -> Result<(), ConnectError> {
    let chain = certificates(FileRole::ClientCert, cert)?;
    let text = std::fs::read(key).map_err(|error| file_error(FileRole::ClientKey, key, error))?;
    let private = PrivateKeyDer::from_pem_slice(&text).map_err(|error| match error {
        pem::Error::NoItemsFound => {
            file_error(FileRole::ClientKey, key, "no private key (a PEM `PRIVATE KEY` block) in it")
        }
        error => file_error(FileRole::ClientKey, key, not_pem(error)),
    })?;
    rustls::sign::CertifiedKey::from_der(chain, private, &rustls::crypto::ring::default_provider()).map_err(
        |error| {
            let reason = format_args!("does not fit the client certificate in {}: {error}", cert.display());
            file_error(FileRole::ClientKey, key, reason)
        },
    )?;
    Ok(())
}

/// What is wrong with a file that is not PEM, in words (the parser shows markers as bytes).
fn not_pem(error: pem::Error) -> String {
    match error {
        pem::Error::MissingSectionEnd { .. } => "not PEM: a block without its END line".into(),
        pem::Error::IllegalSectionStart { .. } => "not PEM: a malformed BEGIN line".into(),
        pem::Error::Base64Decode(_) => "not PEM: a block that is not base64".into(),
        other => format!("not PEM: {other}"),
    }
}

/// Which file of a [`NatsConfig`] a [`ConnectError::File`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileRole {
    /// [`NatsConfig::credentials_file`].
    Credentials,
    /// [`NatsConfig::nkey_file`].
    Nkey,
    /// [`NatsConfig::ca_file`].
    CaFile,
    /// [`NatsConfig::client_cert`].
    ClientCert,
    /// [`NatsConfig::client_key`].
    ClientKey,
}

impl std::fmt::Display for FileRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileRole::Credentials => "credentials file",
            FileRole::Nkey => "nkey seed file",
            FileRole::CaFile => "CA file",
            FileRole::ClientCert => "client certificate",
            FileRole::ClientKey => "client key",
        })
    }
}

/// Why [`NatsBus::connect_with`](crate::NatsBus::connect_with) failed: each kind names what
/// to fix. The texts never hold a password, token or seed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// [`NatsConfig::url`] is not a NATS server address (or a list of them).
    #[error("bad NATS URL: {0}")]
    Url(String),
    /// [`NatsConfig::prefix`] is not a plain subject token.
    #[error("NATS prefix {0:?} must be 1-64 letters, digits, '-' or '_'")]
    Prefix(String),
    /// A file cannot be read or does not hold what its role needs.
    #[error("{role} {}: {reason}", path.display())]
    File {
        /// Which of the configuration's files.
        role: FileRole,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Settings that do not go together.
    #[error("{0}")]
    Settings(&'static str),
    /// The server refused the credentials, or wanted some and got none.
    #[error("NATS refused the credentials: {0}")]
    Credentials(String),
    /// TLS failed: the server's certificate did not verify (another CA, another host name),
    /// the server refused the client certificate or wanted one, or the server speaks no TLS.
    #[error("TLS with NATS failed: {0}")]
    Tls(String),
    /// No server answered (within [`NatsConfig::connect_timeout`]).
    #[error("NATS did not answer: {0}")]
    Unreachable(String),
}

impl From<async_nats::ConnectError> for ConnectError {
    fn from(error: async_nats::ConnectError) -> Self {
        use async_nats::ConnectErrorKind as Kind;
        // async-nats reports a failed handshake or a TLS alert as an I/O error: rustls's error
        // inside tells it apart from an unreachable server.
        if error.kind() == Kind::Tls || rustls_in(&error) {
            return ConnectError::Tls(error.to_string());
        }
        match error.kind() {
            Kind::AuthorizationViolation | Kind::Authentication => ConnectError::Credentials(error.to_string()),
            Kind::ServerParse => ConnectError::Url(error.to_string()),
            _ => ConnectError::Unreachable(error.to_string()),
        }
    }
}

/// Whether a rustls error is somewhere in `error`'s chain (an I/O error's own source is its
/// inner error's source, so the inner error is looked at too).
fn rustls_in(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = error.source();
    while let Some(cause) = next {
        let inner = cause.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref);
        if cause.is::<rustls::Error>() || inner.is_some_and(|inner| inner.is::<rustls::Error>()) {
            return true;
        }
        next = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(url: &str) -> Option<(String, Option<String>)> {
        servers(url).unwrap().1.map(|login| match login {
            Login::UserPassword(user, password) => (user, Some(password)),
            Login::Token(token) => (token, None),
        })
    }

    #[test]
    fn credentials_leave_the_url_percent_decoded() {
        let (servers, _) = servers("nats://al%40ice:p%3Ass@127.0.0.1:4222").unwrap();
        assert_eq!(servers[0].as_url_str(), "nats://127.0.0.1:4222");
        assert_eq!(login("nats://al%40ice:p%3Ass@127.0.0.1:4222"), Some(("al@ice".into(), Some("p:ss".into()))));
        assert_eq!(login("tls://s3cret@127.0.0.1:4222"), Some(("s3cret".into(), None)));
        assert_eq!(login("nats://127.0.0.1:4222"), None);
        // A password without a user leaves the URL as well (it stayed in, before the fix).
        let (without, _) = super::servers("nats://:s3cret@127.0.0.1:4222").unwrap();
        assert_eq!(without[0].as_url_str(), "nats://127.0.0.1:4222");
        assert_eq!(login("nats://:s3cret@127.0.0.1:4222"), Some((String::new(), Some("s3cret".into()))));
    }

    #[test]
    fn a_list_of_servers_shares_one_set_of_credentials() {
        let (servers, _) = servers("nats://u:p@127.0.0.1:4222, nats://127.0.0.1:4223").unwrap();
        assert_eq!(servers.len(), 2);
        for bad in [
            "nats://u:p@127.0.0.1:4222,nats://v:p@127.0.0.1:4223",
            "nats://127.0.0.1:4222,",
            "",
            "ws://h:1",
            "http://h",
        ] {
            assert!(matches!(super::servers(bad), Err(ConnectError::Url(_))), "{bad:?}");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let text = format!("{:?}", NatsConfig::new("nats://alice:s3cret@127.0.0.1:4222"));
        assert!(!text.contains("s3cret") && text.contains("127.0.0.1:4222 (with credentials)"), "{text}");
    }

    #[test]
    fn half_a_client_certificate_and_two_signers_are_refused() {
        let path = PathBuf::from("/nonexistent");
        let cert_only = NatsConfig { client_cert: Some(path.clone()), ..NatsConfig::new("nats://127.0.0.1") };
        let key_only = NatsConfig { client_key: Some(path.clone()), ..NatsConfig::new("nats://127.0.0.1") };
        let both = NatsConfig {
            credentials_file: Some(path.clone()),
            nkey_file: Some(path),
            ..NatsConfig::new("nats://127.0.0.1")
        };
        for config in [cert_only, key_only, both] {
            assert!(matches!(config.connect_options(), Err(ConnectError::Settings(_))), "{config:?}");
        }
    }
}
