//! The top of the server: [`serve`] and [`Server`] bind the pieces together — the client port's
//! accept loop with its connection limits, the metrics listener, the sweeper of poll sessions —
//! and shut it all down gracefully.
//!
//! Everything here depends downward: the accept loop, hyper's settings and the connection
//! driver are `connection`'s (shared with the metrics listener), requests go to `routes`, and
//! the metrics page is `metrics`'s. Nothing below imports this module.
//!
//! - A connection needs a server-wide permit, taken before `accept` (see
//!   [`crate::connection`]). Then, once accepted, a slot of its address (see
//!   [`crate::per_address`]). An address at its cap is not left waiting — a slot elsewhere
//!   would not help it — but refused: every request on the connection gets `429
//!   too_many_connections` (JSON, `Connection: close`) and the connection closes.
//! - A refusal takes nothing from admitted clients: its server-wide permit goes back before it
//!   is answered. Were it kept until the answer is read, a client at its cap could open idle
//!   connections faster than their refusals end and so hold every permit — and since permits
//!   are taken before `accept`, everyone else would wait in the backlog. Refusals are bounded
//!   instead by a budget of their own (`HttpConfig::max_refusals_in_progress`), each for at
//!   most `HttpConfig::refusal_timeout`, so they too are bounded in sockets, memory and time.
//!   The budget is taken with `try_acquire`, never waited for: past it, the connection is
//!   closed at once without an answer. That tells its client as much as the 429 would (not
//!   served; try later), and it happens only while refusals arrive faster than they end,
//!   which is a flood, not a browser with one tab too many.
//! - The metrics listener, if any (see [`Server`]), runs the same accept loop and connection
//!   driver with a small limit of its own and no per-address cap, and stops when shutdown
//!   begins.
//! - Shutdown, as axum does it: stop accepting; tell every connection (hyper's
//!   `graceful_shutdown`, which finishes in-flight requests) and every socket (close frame
//!   `1001`) through a watch channel; wait — up to `shutdown_grace` — until every clone of the
//!   tracking receiver is dropped; drop the poll sessions; flush the store (and the bus).

use crate::config::HttpConfig;
use crate::connection::{accept_until, drive, http1_builder, log_end, ConnectionGuard};
use crate::error::ApiError;
use crate::export::ExportSource;
use crate::headers::with_common_headers;
use crate::metrics::PrometheusMetrics;
use crate::per_address::{AddressSlot, PerAddress};
use crate::state::App;
use hyper::service::service_fn;
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use kanect_core::{Chat, Limit};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

/// Serves `chat` on `listener` until `shutdown` resolves, then drains connections, closes
/// sockets and flushes the store and the bus: `Server::new(chat, config).serve(listener,
/// shutdown)` (see [`Server`] for the metrics page).
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
    Server::new(chat, config).serve(listener, shutdown).await
}

/// A server about to serve: the engine, the configuration, and optionally a second listener
/// for the Prometheus metrics page.
///
/// The metrics page (`GET /metrics`) is for the operator's scraper, not for clients — it
/// tells anyone who can read it how busy the server is and how many people are online — so it
/// is never served on the client port: only on a listener given here, which the operator binds
/// to an internal address. The page renders Kanect's Prometheus recorder, installed before the
/// engine is built (see [`PrometheusMetrics`]).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use kanect_core::{Chat, MemoryStore};
/// use tokio::net::TcpListener;
/// let page = kanect_http::PrometheusMetrics::install()?; // before the engine registers its metrics
/// let chat = Chat::builder(MemoryStore::new()).build().await?;
/// let clients = TcpListener::bind("0.0.0.0:8080").await?;
/// let scraper = TcpListener::bind("127.0.0.1:9464").await?;
/// let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
/// kanect_http::Server::new(chat, kanect_http::HttpConfig::default())
///     .metrics_listener(scraper, page)
///     .serve(clients, shutdown)
///     .await?;
/// # Ok(()) }
/// ```
pub struct Server {
    chat: Chat,
    config: HttpConfig,
    metrics: Option<(TcpListener, PrometheusMetrics)>,
    export: Option<Arc<dyn ExportSource>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `Chat` is a handle on the whole engine, with nothing useful to print.
        f.debug_struct("Server")
            .field("config", &self.config)
            .field("metrics", &self.metrics)
            .field("export", &self.export.is_some())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server for `chat` with `config`, serving no metrics page.
    pub fn new(chat: Chat, config: HttpConfig) -> Self {
        Server { chat, config, metrics: None, export: None }
    }

    /// Serves `GET /api/v1/admin/export` from `source`: an administrator's backup of the
    /// running server, streamed (see [`ExportSource`], and `PROTOCOL.md`). Without a source,
    /// the endpoint answers `501 export_unavailable`.
    pub fn export_source(mut self, source: impl ExportSource) -> Self {
        self.export = Some(Arc::new(source));
        self
    }

    /// Also serves `GET /metrics` on `listener`, rendered from `page`, while the server runs
    /// (until its shutdown begins).
    pub fn metrics_listener(mut self, listener: TcpListener, page: PrometheusMetrics) -> Self {
        self.metrics = Some((listener, page));
        self
    }

    /// Serves on `listener` (and the metrics listener) until `shutdown` resolves, then drains
    /// connections, closes sockets and flushes the store and the bus.
    ///
    /// # Errors
    /// Only if the final flush of the store fails (`accept` errors are retried, connection
    /// errors end only that connection).
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let Server { chat, config, metrics, export } = self;
        let (signal_tx, signal_rx) = watch::channel(false);
        let (tracker_tx, tracker_rx) = watch::channel(());
        let grace = config.shutdown_grace;
        let limit = config.max_connections;
        let per_address = PerAddress::new(config.max_connections_per_address.max(1), config.trusted_proxies.clone());
        let refusals = Arc::new(Semaphore::new(config.max_refusals_in_progress.min(Semaphore::MAX_PERMITS)));
        let app = App::new(chat.clone(), config, export, signal_rx);
        let sweeper = tokio::spawn(sweep_polls(app.clone()));
        if let Some((listener, page)) = metrics {
            tokio::spawn(crate::metrics::serve(app.clone(), page, listener, tracker_rx.clone()));
        }
        accept_until(&listener, limit, shutdown, |stream, peer, permit| {
            let tracker = tracker_rx.clone();
            if let Some(slot) = per_address.admit(peer) {
                tokio::spawn(connection(app.clone(), stream, peer, (permit, slot), tracker));
                return;
            }
            // Refused: the permit goes back before anything else, as admitted clients need it.
            drop(permit);
            match refusals.clone().try_acquire_owned() {
                Ok(refusal) => drop(tokio::spawn(refuse(app.clone(), stream, peer, refusal, tracker))),
                Err(_) => {
                    tracing::debug!(%peer, "connection closed unanswered: its address is at its cap, refusals too");
                    drop(stream);
                }
            }
        })
        .await;
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
}

/// Serves one TCP connection. `tracker` is held (here, then by a WebSocket task) until the
/// connection is completely finished; so are its server-wide permit and its address's slot.
async fn connection(
    app: App,
    stream: TcpStream,
    peer: IpAddr,
    held: (OwnedSemaphorePermit, AddressSlot),
    tracker: watch::Receiver<()>,
) {
    // Chat frames are small and latency-sensitive: don't let Nagle hold them back.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "TCP_NODELAY failed");
    }
    let guard = Arc::new(ConnectionGuard::new(&app, peer, held, tracker));
    let service_app = app.clone();
    let service = service_fn(move |request| crate::routes::handle(service_app.clone(), request, guard.clone()));
    let builder = http1_builder(&app.config, app.config.header_read_timeout);
    let span = tracing::info_span!("connection", %peer);
    drive(&app, builder.serve_connection(TokioIo::new(stream), service).with_upgrades()).instrument(span).await;
}

/// Answers the requests of a connection whose address is at its cap with `429
/// too_many_connections` and closes it, within `refusal_timeout`. The request is read first
/// (its head only), so that the client reads the answer rather than a reset. `_refusal` is the
/// connection's place in the refusal budget, given back when it ends.
async fn refuse(
    app: App,
    stream: TcpStream,
    peer: IpAddr,
    _refusal: OwnedSemaphorePermit,
    _tracker: watch::Receiver<()>,
) {
    tracing::debug!(%peer, "connection refused: its address is at its cap");
    let limit = app.config.max_connections_per_address;
    let service = service_fn(move |_request| async move {
        let message = format!("this address already has {limit} connections open: close one first");
        let refusal = ApiError::new(StatusCode::TOO_MANY_REQUESTS, Limit::Connections.code(), message).closing();
        Ok::<_, Infallible>(with_common_headers(refusal.into_response()))
    });
    let within = app.config.refusal_timeout;
    let connection = http1_builder(&app.config, within).serve_connection(TokioIo::new(stream), service);
    // Shutdown does not wait for a refusal: a closed connection tells its client as much.
    tokio::select! {
        result = tokio::time::timeout(within, connection) => if let Ok(result) = result { log_end(result) },
        _ = app.until_shutdown() => {}
    }
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
