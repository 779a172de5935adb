//! The top of the server: [`serve`] and [`Server`] bind the pieces together — the client port's
//! accept loop with its connection limits, the metrics listener, the sweeper of poll sessions —
//! and shut it all down gracefully.
//!
//! Everything here depends downward: the accept loop, hyper's settings and the connection
//! driver are `connection`'s (shared with the metrics listener), requests go to the
//! [`KanectService`] an embedding application would mount (each with its connection's guard
//! as an extension), and the metrics page is `metrics`'s. Nothing below imports this module.
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
//! - With TLS (see [`crate::tls`]), the handshake happens in the connection's task, after its
//!   permit and its address's slot are taken, within the handshake timeout: a client that never
//!   finishes one holds a slot of its own address for that long, and stalls no one else. A
//!   refused connection is answered over TLS too, its handshake inside `refusal_timeout`.
//! - The metrics listener, if any (see [`Server`]), runs the same accept loop and connection
//!   driver with a small limit of its own and no per-address cap, and stops when shutdown
//!   begins.
//! - Shutdown, as axum does it: stop accepting; tell every connection (hyper's
//!   `graceful_shutdown`, which finishes in-flight requests) and every socket (close frame
//!   `1001`) through a watch channel; wait — up to `shutdown_grace` — until every clone of the
//!   tracking receiver is dropped; then the service's own shutdown drops the poll sessions and
//!   flushes the store (and the bus).

use crate::config::HttpConfig;
use crate::connection::{accept_until, drive, http1_builder, log_end, ConnectionGuard};
use crate::error::ApiError;
use crate::export::ExportSource;
use crate::headers::with_common_headers;
use crate::metrics::PrometheusMetrics;
use crate::per_address::{AddressSlot, PerAddress};
use crate::service::{KanectService, KanectServiceBuilder};
use crate::state::App;
use crate::tls::TlsConfig;
use hyper::service::service_fn;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use kanect_core::{Chat, Limit};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tower_service::Service;
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
    /// What every request is served by: the service an application would mount, at the root.
    service: KanectServiceBuilder,
    /// The connection limits, the shutdown grace and the per-address caps: a server's own.
    config: HttpConfig,
    metrics: Option<(TcpListener, PrometheusMetrics)>,
    /// HTTPS on the client port, if set.
    tls: Option<TlsConfig>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("service", &self.service)
            .field("metrics", &self.metrics)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Server {
    /// A server for `chat` with `config`, serving no metrics page.
    pub fn new(chat: Chat, config: HttpConfig) -> Self {
        Server { service: KanectService::builder(chat, config.clone()), config, metrics: None, tls: None }
    }

    /// Serves `GET /api/v1/admin/export` from `source`: an administrator's backup of the
    /// running server, streamed (see [`ExportSource`], and `PROTOCOL.md`). Without a source,
    /// the endpoint answers `501 export_unavailable`.
    pub fn export_source(mut self, source: impl ExportSource) -> Self {
        self.service = self.service.export_source(source);
        self
    }

    /// Also serves `GET /metrics` on `listener`, rendered from `page`, while the server runs
    /// (until its shutdown begins).
    pub fn metrics_listener(mut self, listener: TcpListener, page: PrometheusMetrics) -> Self {
        self.metrics = Some((listener, page));
        self
    }

    /// Serves HTTPS (and WebSockets over TLS) on the client port with `tls`'s certificate,
    /// reloaded as [`TlsConfig`] says. Cookies are then marked `Secure`, whatever
    /// `HttpConfig::secure_cookies` says. The metrics listener stays plain HTTP (it is for an
    /// internal address).
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.service = self.service.secure_cookies();
        self.tls = Some(tls);
        self
    }

    /// Serves on `listener` (and the metrics listener) until `shutdown` resolves, then drains
    /// connections, closes sockets and flushes the store and the bus.
    ///
    /// # Errors
    /// Only if the final flush of the store fails (`accept` errors are retried, connection
    /// errors end only that connection).
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let Server { service, config, metrics, tls } = self;
        let service = service.build();
        let (tracker_tx, tracker_rx) = watch::channel(());
        let grace = config.shutdown_grace;
        let limit = config.max_connections;
        let per_address = PerAddress::new(config.max_connections_per_address.max(1), config.trusted_proxies.clone());
        let refusals = Arc::new(Semaphore::new(config.max_refusals_in_progress.min(Semaphore::MAX_PERMITS)));
        let app = service.app().clone();
        let watcher = tls.clone().map(|tls| tokio::spawn(tls.watch()));
        if let Some((listener, page)) = metrics {
            tokio::spawn(crate::metrics::serve(app.clone(), page, listener, tracker_rx.clone()));
        }
        accept_until(&listener, limit, shutdown, |stream, peer, permit| {
            let tracker = tracker_rx.clone();
            if let Some(slot) = per_address.admit(peer) {
                tokio::spawn(connection(service.clone(), stream, peer, (permit, slot), tracker, tls.clone()));
                return;
            }
            // Refused: the permit goes back before anything else, as admitted clients need it.
            drop(permit);
            match refusals.clone().try_acquire_owned() {
                Ok(refusal) => drop(tokio::spawn(refuse(app.clone(), stream, peer, refusal, tracker, tls.clone()))),
                Err(_) => {
                    tracing::debug!(%peer, "connection closed unanswered: its address is at its cap, refusals too");
                    drop(stream);
                }
            }
        })
        .await;
        drop(listener);
        tracing::info!("shutting down: draining connections");
        service.begin_shutdown();
        drop(tracker_rx);
        if tokio::time::timeout(grace, tracker_tx.closed()).await.is_err() {
            tracing::warn!("shutdown: some connections did not finish within {grace:?}");
        }
        if let Some(watcher) = watcher {
            watcher.abort();
        }
        service.shutdown().await?;
        tracing::info!("shut down: store and bus flushed");
        Ok(())
    }
}

/// Serves one TCP connection (after its TLS handshake, with `tls`). `tracker` is held (here,
/// then by a WebSocket task) until the connection is completely finished; so are its
/// server-wide permit and its address's slot.
async fn connection(
    service: KanectService,
    stream: TcpStream,
    peer: IpAddr,
    held: (OwnedSemaphorePermit, AddressSlot),
    tracker: watch::Receiver<()>,
    tls: Option<TlsConfig>,
) {
    // Chat frames are small and latency-sensitive: don't let Nagle hold them back.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "TCP_NODELAY failed");
    }
    let app = service.app().clone();
    let guard = Arc::new(ConnectionGuard::new(&app, peer, held, tracker));
    let span = tracing::info_span!("connection", %peer);
    async move {
        let Some(tls) = tls else { return serve_http(service, stream, guard).await };
        tokio::select! {
            stream = tls.handshake(stream) => if let Some(stream) = stream { serve_http(service, stream, guard).await },
            _ = app.until_shutdown() => {}
        }
    }
    .instrument(span)
    .await
}

/// Serves HTTP/1.1 (and upgrades) on a connection's byte stream, plain or TLS.
async fn serve_http<I>(service: KanectService, io: I, guard: Arc<ConnectionGuard>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let app = service.app().clone();
    let service = service_fn(move |mut request: Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(guard.clone());
        service.clone().call(request)
    });
    let builder = http1_builder(&app.config, app.config.header_read_timeout);
    drive(&app, builder.serve_connection(TokioIo::new(io), service).with_upgrades()).await;
}

/// Answers the requests of a connection whose address is at its cap with `429
/// too_many_connections` and closes it, within `refusal_timeout` (the TLS handshake, with
/// `tls`, included). The request is read first (its head only), so that the client reads the
/// answer rather than a reset. `_refusal` is the connection's place in the refusal budget,
/// given back when it ends.
async fn refuse(
    app: App,
    stream: TcpStream,
    peer: IpAddr,
    _refusal: OwnedSemaphorePermit,
    _tracker: watch::Receiver<()>,
    tls: Option<TlsConfig>,
) {
    tracing::debug!(%peer, "connection refused: its address is at its cap");
    let within = app.config.refusal_timeout;
    let answer = async {
        match tls {
            None => answer_refusal(&app, stream, within).await,
            Some(tls) => match tls.accept(stream).await {
                Ok(stream) => answer_refusal(&app, stream, within).await,
                Err(error) => tracing::debug!(%error, "TLS handshake failed"),
            },
        }
    };
    // Shutdown does not wait for a refusal: a closed connection tells its client as much.
    tokio::select! {
        result = tokio::time::timeout(within, answer) => if result.is_err() { tracing::debug!(%peer, "refusal timed out") },
        _ = app.until_shutdown() => {}
    }
}

/// The `429 too_many_connections` answer to every request on `io`.
async fn answer_refusal<I>(app: &App, io: I, within: Duration)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limit = app.config.max_connections_per_address;
    let service = service_fn(move |_request| async move {
        let message = format!("this address already has {limit} connections open: close one first");
        let refusal = ApiError::new(StatusCode::TOO_MANY_REQUESTS, Limit::Connections.code(), message).closing();
        Ok::<_, Infallible>(with_common_headers(refusal.into_response()))
    });
    log_end(http1_builder(&app.config, within).serve_connection(TokioIo::new(io), service).await);
}
