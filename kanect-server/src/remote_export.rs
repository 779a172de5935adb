//! `export FILE --from http://HOST:PORT --admin-username NAME`: a backup of a running server,
//! taken over its API, for a store the server holds locked (sled, fjall).
//!
//! Logs in as the administrator (`POST /api/v1/auth/login`), streams `GET
//! /api/v1/admin/export` chunk by chunk (memory stays flat) into a temporary file beside FILE,
//! makes it durable (fsync, rename over FILE, fsync of the directory) before it says so, and
//! logs out again. A dump cut off on the way (the server failed or shut down, the connection
//! broke) is an error, and the partial file is removed: FILE is either a complete new dump or
//! what it was before.
//!
//! `https://HOST:PORT` speaks TLS (rustls on ring, as the server): the certificate must be
//! valid for HOST and signed by an authority the system trusts or one in `--from-ca-file`
//! (a private CA, or the server's own self-signed certificate). The password goes over the
//! connection, so use `https://` for anything but the server's own machine or network.

use crate::store::{open_blobs, open_store, Purpose, StoreFlags};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use kanect::proto::rest::{LogIn, LoggedIn};
use kanect::proto::ErrorBody;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_rustls::TlsConnector;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// `--from` and what goes with it, for `export` and `backup`.
#[derive(clap::Args, Debug)]
pub(crate) struct FromFlags {
    /// The running server to back up, `http://HOST:PORT` or `https://HOST:PORT` (its
    /// `--listen` address), logged in as `--admin-username` (the password is read from stdin).
    #[arg(long, value_name = "URL")]
    from: Option<String>,
    /// With an `https://` `--from`: trust the certificate authorities in this PEM file as
    /// well as the system's (a private CA, or a self-signed certificate).
    #[arg(long, value_name = "PEM", requires = "from")]
    from_ca_file: Option<PathBuf>,
    /// With `--from`: how long to wait on the server, for a connection, for each answer and
    /// for each next piece of the dump, before giving up: a whole number of seconds, minutes
    /// or hours, up to one.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::cli::from_timeout_setting)]
    from_timeout: Duration,
}

impl FromFlags {
    /// The server to back up and the administrator to log in as (the global
    /// `--admin-username`), if `--from` was given.
    pub(crate) fn server<'a>(&self, admin_username: Option<&'a str>) -> Result<Option<(Server, &'a str)>, AnyError> {
        let Some(url) = &self.from else { return Ok(None) };
        let username = admin_username
            .ok_or("--from needs --admin-username (KANECT_ADMIN_USERNAME): the administrator to log in as")?;
        Ok(Some((Server::parse(url, self.from_ca_file.as_deref(), self.from_timeout)?, username)))
    }
}

/// `backup DIR --from URL`: the running server's dump over its API, then the bytes its records
/// refer to, read beside the server: from `--store`'s PostgreSQL, or else from
/// `--data-dir`/blobs opened read-only (a blob's file never changes once it has its name, so
/// it is safe to copy while the server writes others).
pub(crate) async fn backup_from(
    flags: &StoreFlags,
    server: &Server,
    username: &str,
    dir: &Path,
) -> Result<(), AnyError> {
    let password = crate::dump::read_password()?;
    let backup = kanect::store::backup::BackupDir::prepare(dir)?;
    let blobs: std::sync::Arc<dyn kanect::blob::BlobStore> = if flags.store.is_some() {
        open_blobs(flags, &open_store(flags, Purpose::Backup).await?)?
    } else {
        let path = flags.data_dir.join("blobs");
        std::sync::Arc::new(kanect::store::FsBlobStore::open_read_only(&path).map_err(|error| {
            format!(
                "--data-dir {}: the server's attachments are read from its blobs: {error}",
                flags.data_dir.display()
            )
        })?)
    };
    run(server, username, &password, &backup.pending_dump()).await?;
    let copied = backup.save_blobs(&*blobs).await?;
    eprintln!("backed up {copied}");
    Ok(())
}

/// Backs up `server` into `file` (`-`: standard output) as `username`.
pub(crate) async fn run(server: &Server, username: &str, password: &str, file: &Path) -> Result<(), AnyError> {
    let url = &server.url;
    let login = LogIn { username: username.to_string(), password: password.to_string() };
    let reply = server.send(Method::POST, "/api/v1/auth/login", None, Some(serde_json::to_vec(&login)?)).await?;
    let reply = refused_unless_ok("log in", reply, server.timeout).await?;
    let body = within(server.timeout, "the log-in's answer", reply.into_body().collect()).await??;
    let session: LoggedIn = serde_json::from_slice(&body.to_bytes())?;
    let result = download(server, &session.token, file).await;
    // The session was only for this backup: end it, whatever became of the download.
    if let Err(error) = server.send(Method::POST, "/api/v1/auth/logout", Some(&session.token), None).await {
        tracing::warn!(%error, "could not log out after the export");
    }
    let bytes = result?;
    eprintln!("exported {bytes} bytes from {url}");
    Ok(())
}

/// Streams the dump into `file` and makes it durable; returns its size. The dump goes to a
/// temporary file beside it, renamed over `file` once complete and fsynced (then the directory
/// is fsynced too): `file` is either the new dump, whole, or what it was before (an older
/// backup is not lost to a failed one).
async fn download(server: &Server, token: &str, file: &Path) -> Result<u64, AnyError> {
    let reply = server.send(Method::GET, "/api/v1/admin/export", Some(token), None).await?;
    let mut body = refused_unless_ok("export", reply, server.timeout).await?.into_body();
    if file == Path::new("-") {
        return copy(&mut body, &mut tokio::io::stdout(), server.timeout).await;
    }
    let (partial, out) = crate::dump::partial_file(file)?;
    let mut out = tokio::fs::File::from_std(out);
    let copied = async {
        let bytes = copy(&mut body, &mut out, server.timeout).await?;
        out.sync_all().await?;
        crate::dump::finish(&partial, file)?;
        Ok::<_, AnyError>(bytes)
    }
    .await;
    if copied.is_err() {
        drop(out);
        let _ = tokio::fs::remove_file(&partial).await;
    }
    copied
}

/// Copies the response body into `out` a chunk at a time, and flushes it. A body cut off
/// (no final chunk), or silent for `timeout`, is an error.
async fn copy(
    body: &mut hyper::body::Incoming,
    out: &mut (impl AsyncWrite + Unpin),
    timeout: Duration,
) -> Result<u64, AnyError> {
    let mut bytes = 0;
    loop {
        let next = tokio::time::timeout(timeout, body.frame())
            .await
            .map_err(|_| format!("the dump stalled: nothing came for {timeout:?} after {bytes} bytes"))?;
        let Some(frame) = next else { break };
        let frame = frame.map_err(|error| format!("the dump was cut off after {bytes} bytes: {error}"))?;
        if let Ok(data) = frame.into_data() {
            out.write_all(&data).await?;
            bytes += data.len() as u64;
        }
    }
    out.flush().await?;
    Ok(bytes)
}

/// Passes a `200` on; anything else is an error naming what failed and the server's code.
async fn refused_unless_ok(
    what: &str,
    reply: hyper::Response<hyper::body::Incoming>,
    timeout: Duration,
) -> Result<hyper::Response<hyper::body::Incoming>, AnyError> {
    let status = reply.status();
    if status == StatusCode::OK {
        return Ok(reply);
    }
    let body = within(timeout, "the refusal's body", reply.into_body().collect()).await??.to_bytes();
    let reason = match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(error) => format!("{} ({})", error.error.code, error.error.message),
        Err(_) => String::from_utf8_lossy(&body).into_owned(),
    };
    Err(format!("{what}: the server answered {status}: {reason}").into())
}

/// The server to back up: where to connect, what to send as `Host`, and how to speak TLS.
pub(crate) struct Server {
    /// As given, for messages.
    url: String,
    authority: String,
    /// For `https://`: the client's configuration and the name the certificate must have.
    tls: Option<(TlsConnector, ServerName<'static>)>,
    /// How long to wait on the server for anything (`--from-timeout`).
    timeout: Duration,
}

impl Server {
    /// `http://HOST:PORT` or `https://HOST:PORT` (a trailing `/` allowed; no path); `ca_file`,
    /// certificate authorities trusted besides the system's for `https://`.
    pub(crate) fn parse(url: &str, ca_file: Option<&Path>, timeout: Duration) -> Result<Self, AnyError> {
        const EXPECTED: &str = "expected http://HOST:PORT or https://HOST:PORT";
        let uri: Uri = url.parse().map_err(|error| format!("--from {url:?}: {error}"))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(format!("--from {url:?}: {EXPECTED}").into()),
        };
        let Some(authority) = uri.authority().filter(|authority| authority.port().is_some()) else {
            return Err(format!("--from {url:?}: {EXPECTED}, with the port").into());
        };
        if !matches!(uri.path(), "" | "/") {
            return Err(format!("--from {url:?}: expected no path after HOST:PORT").into());
        }
        let tls = match (https, ca_file) {
            (true, _) => {
                // The host without an IPv6 address's brackets: a name, or an address.
                let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_string();
                let name = ServerName::try_from(host).map_err(|error| format!("--from {url:?}: {error}"))?;
                Some((TlsConnector::from(client_config(ca_file)?), name))
            }
            (false, Some(_)) => return Err("--from-ca-file: only for an https:// --from".into()),
            (false, None) => None,
        };
        Ok(Server { url: url.to_string(), authority: authority.to_string(), tls, timeout })
    }

    /// One request on a connection of its own, with a bearer token and a JSON body if given;
    /// the response's body is read by the caller. The connection and the response's head come
    /// within the timeout, or it is an error.
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        json: Option<Vec<u8>>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, AnyError> {
        let what = format!("an answer to {method} {path} from {}", self.authority);
        within(self.timeout, &what, self.request(method, path, token, json)).await?
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        json: Option<Vec<u8>>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, AnyError> {
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|error| format!("cannot connect to {}: {error}", self.authority))?;
        let mut sender = match &self.tls {
            Some((connector, name)) => {
                let stream = connector
                    .connect(name.clone(), stream)
                    .await
                    .map_err(|error| format!("TLS with {}: {error}", self.authority))?;
                handshake(stream).await?
            }
            None => handshake(stream).await?,
        };
        let mut request = Request::builder().method(method).uri(path).header(HOST, &self.authority);
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match json {
            Some(json) => {
                request = request.header(CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(json)).boxed()
            }
            None => Empty::new().boxed(),
        };
        Ok(sender.send_request(request.body(body)?).await?)
    }
}

/// `future`'s output, or an error saying that `what` did not come within `timeout`.
async fn within<T>(timeout: Duration, what: &str, future: impl std::future::Future<Output = T>) -> Result<T, AnyError> {
    tokio::time::timeout(timeout, future).await.map_err(|_| format!("{what}: nothing within {timeout:?}").into())
}

/// The request side of an HTTP/1 connection over `stream`, whose connection task runs apart.
async fn handshake<S>(
    stream: S,
) -> Result<http1::SendRequest<http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>>, AnyError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "connection to the server ended");
        }
    });
    Ok(sender)
}

/// rustls on ring trusting the system's authorities and those in `ca_file`. A system
/// certificate rustls cannot read is skipped; a `ca_file` that holds none is an error.
fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, AnyError> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(certificate);
    }
    if let Some(path) = ca_file {
        let bad = |reason: String| format!("--from-ca-file {}: {reason}", path.display());
        let pem = std::fs::read(path).map_err(|error| bad(error.to_string()))?;
        let mut found = 0;
        for certificate in CertificateDer::pem_slice_iter(&pem) {
            roots.add(certificate.map_err(|error| bad(error.to_string()))?).map_err(|error| bad(error.to_string()))?;
            found += 1;
        }
        if found == 0 {
            return Err(bad("no PEM certificate in it".into()).into());
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
