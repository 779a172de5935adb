//! `export FILE --from http://HOST:PORT --admin-username NAME`: a backup of a running server,
//! taken over its API, for a store the server holds locked (sled, fjall).
//!
//! Logs in as the administrator (`POST /api/v1/auth/login`), streams `GET
//! /api/v1/admin/export` chunk by chunk (memory stays flat) into a temporary file beside FILE,
//! makes it durable (fsync, rename over FILE, fsync of the directory) before it says so, and
//! logs out again. A dump cut off on the way (the server failed or shut down, the connection
//! broke) is an error, and the partial file is removed: FILE is either a complete new dump or
//! what it was before. Plain HTTP only: run it on the server's
//! machine or network, or against a TLS proxy's upstream address.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use kanect::proto::rest::{LogIn, LoggedIn};
use kanect::proto::ErrorBody;
use std::path::Path;
use tokio::io::{AsyncWrite, AsyncWriteExt};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// Backs up the server at `url` into `file` (`-`: standard output) as `username`.
pub(crate) async fn run(url: &str, username: &str, password: &str, file: &Path) -> Result<(), AnyError> {
    let server = Server::parse(url)?;
    let login = LogIn { username: username.to_string(), password: password.to_string() };
    let reply = server.send(Method::POST, "/api/v1/auth/login", None, Some(serde_json::to_vec(&login)?)).await?;
    let reply = refused_unless_ok("log in", reply).await?;
    let session: LoggedIn = serde_json::from_slice(&reply.into_body().collect().await?.to_bytes())?;
    let result = download(&server, &session.token, file).await;
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
    let mut body = refused_unless_ok("export", reply).await?.into_body();
    if file == Path::new("-") {
        return copy(&mut body, &mut tokio::io::stdout()).await;
    }
    let name = file.file_name().ok_or_else(|| format!("{}: not a file name", file.display()))?;
    let partial = file.with_file_name(format!(".{}.partial", name.to_string_lossy()));
    // Owner-only, as the offline export's file (see `backup_file`); the rename carries it over.
    let _ = std::fs::remove_file(&partial);
    let out = crate::dump::backup_file(&partial).map_err(|error| format!("{}: {error}", partial.display()))?;
    let mut out = tokio::fs::File::from_std(out);
    let copied = async {
        let bytes = copy(&mut body, &mut out).await?;
        out.sync_all().await?;
        tokio::fs::rename(&partial, file).await?;
        let directory = file.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
        tokio::fs::File::open(directory).await?.sync_all().await?;
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
/// (no final chunk) is an error.
async fn copy(body: &mut hyper::body::Incoming, out: &mut (impl AsyncWrite + Unpin)) -> Result<u64, AnyError> {
    let mut bytes = 0;
    while let Some(frame) = body.frame().await {
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
) -> Result<hyper::Response<hyper::body::Incoming>, AnyError> {
    let status = reply.status();
    if status == StatusCode::OK {
        return Ok(reply);
    }
    let body = reply.into_body().collect().await?.to_bytes();
    let reason = match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(error) => format!("{} ({})", error.error.code, error.error.message),
        Err(_) => String::from_utf8_lossy(&body).into_owned(),
    };
    Err(format!("{what}: the server answered {status}: {reason}").into())
}

/// The server to back up: where to connect and what to send as `Host`.
struct Server {
    authority: String,
}

impl Server {
    /// `http://HOST:PORT` (a trailing `/` allowed; no path).
    fn parse(url: &str) -> Result<Self, AnyError> {
        let uri: Uri = url.parse().map_err(|error| format!("--from {url:?}: {error}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("--from {url:?}: expected http://HOST:PORT").into());
        }
        let Some(authority) = uri.authority().filter(|authority| authority.port().is_some()) else {
            return Err(format!("--from {url:?}: expected http://HOST:PORT, with the port").into());
        };
        if !matches!(uri.path(), "" | "/") {
            return Err(format!("--from {url:?}: expected no path after HOST:PORT").into());
        }
        Ok(Server { authority: authority.to_string() })
    }

    /// One request on a connection of its own, with a bearer token and a JSON body if given;
    /// the response's body is read by the caller.
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        json: Option<Vec<u8>>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, AnyError> {
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|error| format!("cannot connect to {}: {error}", self.authority))?;
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection to the server ended");
            }
        });
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
