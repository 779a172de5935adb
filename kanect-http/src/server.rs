//! The server loop: accept under a connection limit, serve HTTP/1.1 with upgrades, and shut
//! down gracefully.
//!
//! - A connection needs a semaphore permit, taken *before* `accept`, so at the limit new
//!   connections wait in the kernel's backlog instead of being accepted and starved. The permit
//!   moves into the connection (and on into its WebSocket task after an upgrade).
//! - A failing `accept` (out of file descriptors, ...) is logged and retried after a backoff
//!   that doubles up to one second, instead of spinning or killing the server.
//! - Shutdown, as axum does it: stop accepting; tell every connection (hyper's
//!   `graceful_shutdown`, which finishes in-flight requests) and every socket (close frame
//!   `1001`) through a watch channel; wait — up to `shutdown_grace` — until every clone of the
//!   tracking receiver is dropped; drop the poll sessions; flush the store (and the bus).

use crate::config::HttpConfig;
use crate::state::App;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use kanect_core::Chat;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// Serves `chat` on `listener` until `shutdown` resolves, then drains connections, closes
/// sockets and flushes the store and the bus.
///
/// The listener is bound by the caller (tests bind port 0 and read the address back).
///
/// ```no_run
/// # async fn run(chat: kanect_core::Chat) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
/// kanect_http::serve(listener, chat, kanect_http::HttpConfig::default(), shutdown).await
/// # }
/// ```
///
/// # Errors
/// Only if the final flush of the store fails (`accept` errors are retried, connection errors
/// end only that connection).
pub async fn serve(
    listener: TcpListener,
    chat: Chat,
    config: HttpConfig,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let (signal_tx, signal_rx) = watch::channel(false);
    let (tracker_tx, tracker_rx) = watch::channel(());
    let grace = config.shutdown_grace;
    let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let app = App::new(chat.clone(), config, signal_rx);
    let sweeper = tokio::spawn(sweep_polls(app.clone()));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // the semaphore is never closed
            },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = accept(&listener) => accepted,
            _ = &mut shutdown => break,
        };
        tokio::spawn(connection(app.clone(), stream, peer, permit, tracker_rx.clone()));
    }
    drop(listener);
    tracing::info!("shutting down: draining connections");
    let _ = signal_tx.send(true);
    drop(tracker_rx);
    if tokio::time::timeout(grace, tracker_tx.closed()).await.is_err() {
        tracing::warn!("shutdown: some connections did not finish within {grace:?}");
    }
    sweeper.abort();
    app.polls.clear();
    chat.flush().await.map_err(io::Error::other)?;
    tracing::info!("shut down: store and bus flushed");
    Ok(())
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

/// Serves one TCP connection. `tracker` is held (here, then by a WebSocket task) until the
/// connection is completely finished.
async fn connection(
    app: App,
    stream: TcpStream,
    peer: IpAddr,
    permit: OwnedSemaphorePermit,
    tracker: watch::Receiver<()>,
) {
    // Chat frames are small and latency-sensitive: don't let Nagle hold them back.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "TCP_NODELAY failed");
    }
    let guard = Arc::new(ConnectionGuard { peer, _permit: permit, _tracker: tracker, _open: app.connections.enter() });
    let service_app = app.clone();
    let service = service_fn(move |request| crate::routes::handle(service_app.clone(), request, guard.clone()));
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(app.config.header_read_timeout).keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => log_end(result),
        _ = app.until_shutdown() => {
            connection.as_mut().graceful_shutdown();
            log_end(connection.as_mut().await);
        }
    }
}

fn log_end(result: Result<(), hyper::Error>) {
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// What a connection holds while open: its slot under the limit, the shutdown tracker, and its
/// place in the open-connections gauge. Shared with the connection's WebSocket task, which
/// outlives the HTTP part of the connection after an upgrade.
pub(crate) struct ConnectionGuard {
    /// The TCP peer's address (a proxy's, behind one: see [`crate::client`]).
    pub(crate) peer: IpAddr,
    _permit: OwnedSemaphorePermit,
    _tracker: watch::Receiver<()>,
    _open: crate::state::GaugeGuard,
}

/// Every half `poll_idle`, drops idle poll sessions.
async fn sweep_polls(app: App) {
    let period = (app.config.poll_idle / 2).max(Duration::from_millis(10));
    let mut ticker = tokio::time::interval(period);
    loop {
        ticker.tick().await;
        app.polls.sweep(app.config.poll_idle);
    }
}
