//! The plumbing every listener of the server shares: accepting under a connection limit,
//! hyper's connection settings, driving one HTTP connection to its end, and what an open
//! connection holds ([`ConnectionGuard`]).
//!
//! It is a leaf below the request handling: it knows nothing of routes, the API or the metrics
//! page, which are handed to it as hyper services. So `server` (the client port) and `metrics`
//! (the scraper's port) run the same loop and driver, and the handlers that keep a connection
//! open (the WebSocket upgrade) take its guard from here, not from the server above them.
//!
//! - A connection needs a semaphore permit, taken *before* `accept`, so at the limit new
//!   connections wait in the kernel's backlog instead of being accepted and starved. The permit
//!   moves into the connection (and on into its WebSocket task after an upgrade).
//! - A failing `accept` (out of file descriptors, ...) is logged and retried after a backoff
//!   that doubles up to one second, instead of spinning or killing the server.
//! - When shutdown begins, a connection finishes the request under way (hyper's
//!   `graceful_shutdown`) and closes.

use crate::config::HttpConfig;
use crate::error::Body;
use crate::per_address::AddressSlot;
use crate::state::{App, GaugeGuard};
use hyper::body::Incoming;
use hyper::server::conn::http1::{self, UpgradeableConnection};
use hyper::service::HttpService;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// Accepts connections on `listener`, at most `limit` open at once (a permit is taken before
/// each `accept` and handed over with the connection), until `stop` resolves.
pub(crate) async fn accept_until(
    listener: &TcpListener,
    limit: usize,
    stop: impl Future<Output = ()>,
    mut accepted: impl FnMut(TcpStream, IpAddr, OwnedSemaphorePermit),
) {
    let permits = Arc::new(Semaphore::new(limit.max(1)));
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // the semaphore is never closed
            },
            _ = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            next = accept(listener) => next,
            _ = &mut stop => break,
        };
        accepted(stream, peer, permit);
    }
}

/// Accepts one connection, retrying failures with a backoff. Returns it and the peer's
/// address.
async fn accept(listener: &TcpListener) -> (TcpStream, IpAddr) {
    let mut backoff = Duration::from_millis(10);
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => return (stream, crate::client::canonical(peer.ip())),
            Err(error) => {
                tracing::warn!(%error, ?backoff, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// Drives an HTTP connection (over TCP, or TLS on TCP) to its end. When shutdown begins, the request under way finishes
/// (hyper's graceful shutdown) and the connection closes.
pub(crate) async fn drive<I, S>(app: &App, connection: UpgradeableConnection<TokioIo<I>, S>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HttpService<Incoming, ResBody = Body>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => log_end(result),
        _ = app.until_shutdown() => {
            connection.as_mut().graceful_shutdown();
            log_end(connection.as_mut().await);
        }
    }
}

/// The most a connection reads from its socket at once. 64 KiB reads keep a fast upload's
/// system calls few (a file of 25 MiB is 400 of them) and its memory small.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// hyper's HTTP/1.1 connection settings, the same for every connection of the server.
///
/// hyper refuses a request head it will not parse on its own, before Kanect sees the request,
/// with a bare status line and no body (hyper 1.x `proto::h1::role::Server::on_error`, which
/// `http1::Builder` offers no way to shape). So its limits are set to twice Kanect's
/// (`routes::check_head`): a request past Kanect's limits is parsed and gets a JSON error, and
/// only one past twice them meets hyper's `431` (too many headers, or a head over the byte
/// ceiling — which comes before hyper's fixed 64 KiB `414`).
///
/// A connection reads into a buffer of at most [`READ_BUFFER_BYTES`] (or the head ceiling, if
/// that is higher): hyper's own default grows it to 408 KiB under a fast sender, and an upload
/// hands each read on as a chunk that keeps its buffer alive until written, so the ceiling is
/// memory per upload in flight.
pub(crate) fn http1_builder(config: &HttpConfig, header_read_timeout: Duration) -> http1::Builder {
    // A head is the request line (method, target, version) and, per header, its name, its
    // value, ": " and CRLF.
    let head_bytes = config
        .max_uri_bytes
        .saturating_add(config.max_header_bytes)
        .saturating_add(config.max_headers.saturating_mul(4))
        .saturating_add(64);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .keep_alive(true)
        .max_headers(config.max_headers.saturating_mul(2))
        .max_header_size(head_bytes.saturating_mul(2))
        .max_buf_size(READ_BUFFER_BYTES.max(head_bytes.saturating_mul(2)));
    builder
}

/// Logs how a connection ended, if with an error (a client going away mid-request is common:
/// debug level).
pub(crate) fn log_end(result: Result<(), hyper::Error>) {
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// What a connection holds while open: its slot under the limit and under its address's cap,
/// the shutdown tracker, and its place in the open-connections gauge. Shared with the
/// connection's WebSocket task, which outlives the HTTP part of the connection after an upgrade.
pub(crate) struct ConnectionGuard {
    /// The TCP peer's address (a proxy's, behind one: see [`crate::client`]).
    pub(crate) peer: IpAddr,
    _permit: OwnedSemaphorePermit,
    _address: AddressSlot,
    _tracker: watch::Receiver<()>,
    _open: GaugeGuard,
}

impl ConnectionGuard {
    /// The guard of a connection from `peer`, holding its server-wide `permit`, its `address`'s
    /// slot and the shutdown `tracker`, and counted in `app`'s open-connections gauge.
    pub(crate) fn new(
        app: &App,
        peer: IpAddr,
        (permit, address): (OwnedSemaphorePermit, AddressSlot),
        tracker: watch::Receiver<()>,
    ) -> Self {
        ConnectionGuard { peer, _permit: permit, _address: address, _tracker: tracker, _open: app.connections.enter() }
    }
}
