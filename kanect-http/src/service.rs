//! [`KanectService`]: the whole of Kanect over HTTP — `/health`, the REST API, the WebSocket
//! endpoint, long polls and (at the root) the web app — as one `tower::Service`, so that an
//! application mounts it in its own server (axum, hyper, ...) under a path of its own, behind
//! its own TLS and middleware. [`crate::Server`] is the ready-made server built on it: every
//! request it serves goes through the same service, so there is one routing path.
//!
//! What the service cannot see when it is mounted, the embedding server tells it through
//! request extensions:
//! - [`PeerAddress`](crate::PeerAddress): the TCP peer, which per-address limits (log-in attempts, sign-ups,
//!   password resets) are keyed by. Without it every request counts as coming from one
//!   address (`0.0.0.0`): the limits then hold for all clients together — stricter, never
//!   looser.
//! - a [`kanect_core::Caller`] (from [`kanect_core::Chat::act_as`]): the user the
//!   application's own session authenticated. Kanect's bearer token and cookie are not looked
//!   at then; see [`KanectService`] for CSRF.
//!
//! Connection limits (`max_connections`, `max_connections_per_address`) and the connection
//! gauge are the embedding server's concern: they belong to whoever accepts the connections.

use crate::config::HttpConfig;
use crate::error::{Body, BoxError};
use crate::export::ExportSource;
use crate::incoming::{Connection, ReadError};
use crate::state::{App, AppInner};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper::{Request, Response};
use kanect_core::Chat;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;
use sync_wrapper::SyncWrapper;
use tokio::sync::watch;

/// Kanect as a `tower::Service<http::Request<B>>`, for any request body `B` of hyper 1 or axum:
/// cheap to clone (a handle), never failing (errors are responses).
///
/// ```no_run
/// # async fn run(chat: kanect_core::Chat) {
/// // In an axum app: `Router::new().route_service("/chat/{*rest}", kanect)`.
/// let kanect = kanect_http::KanectService::builder(chat, kanect_http::HttpConfig::default())
///     .mounted_at("/chat")
///     .build();
/// # }
/// ```
///
/// # Paths
/// Mounted at `/chat`, the service answers `/chat/health`, `/chat/api/v1/...` (the WebSocket
/// at `/chat/api/v1/ws`); a request outside its prefix gets `404 not_found`. It takes the
/// whole path as it arrives: mount it where the embedding router keeps the path whole (axum:
/// `route_service` with a wildcard, not `nest_service`, which strips the prefix). The web app
/// is served only by a service mounted at the root: its pages and modules link to absolute
/// paths. Cookies it sets are for the prefix's path.
///
/// # Authentication and CSRF
/// A request that carries a [`kanect_core::Caller`] extension acts as that user. Its
/// authentication is the application's (usually a cookie of its own), so Kanect's CSRF token
/// does not apply; instead, a state-changing request (not `GET`, `HEAD`, `OPTIONS`) and every
/// WebSocket upgrade with an `Origin` header must come from the request's own host or an
/// origin of `HttpConfig::allowed_origins`, or get `403 origin_forbidden`: a browser sends
/// `Origin` on every cross-site `POST` and upgrade. A request without the extension is
/// authenticated by Kanect as always (bearer token or Kanect's cookie and CSRF token), and gets
/// `401 unauthenticated` without one.
///
/// # Shutdown
/// [`KanectService::shutdown`] closes sockets (`1001`) and long polls and flushes the store;
/// the embedding server drains its own connections.
#[derive(Clone)]
pub struct KanectService {
    app: App,
    /// Tells sockets and polls that shutdown began; shared by every clone.
    shutdown: Arc<watch::Sender<bool>>,
}

impl std::fmt::Debug for KanectService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KanectService").field("mounted_at", &self.app.mount).finish_non_exhaustive()
    }
}

impl KanectService {
    /// Starts building a service for `chat` with `config` (the same configuration as
    /// [`crate::Server`]'s), mounted at the root until told otherwise.
    pub fn builder(chat: Chat, config: HttpConfig) -> KanectServiceBuilder {
        KanectServiceBuilder { chat, config, mount: String::new(), export: None }
    }

    /// Begins shutdown: open WebSockets are closed (`1001`), long polls answered, poll
    /// sessions dropped, and the store (and the bus) flushed. Requests that come after are
    /// still answered (`/health` says `shutting_down`).
    ///
    /// # Errors
    /// If the final flush of the store fails.
    pub async fn shutdown(&self) -> io::Result<()> {
        self.begin_shutdown();
        self.app.polls.clear();
        self.app.chat.flush().await.map_err(io::Error::other)
    }

    /// Tells sockets and polls that shutdown began (for [`crate::Server`], which drains its
    /// connections before [`KanectService::shutdown`] flushes).
    pub(crate) fn begin_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// The shared state, for [`crate::Server`]'s connections and metrics page.
    pub(crate) fn app(&self) -> &App {
        &self.app
    }
}

/// Builds a [`KanectService`]: where it is mounted, and what it serves the admin's export from.
pub struct KanectServiceBuilder {
    chat: Chat,
    config: HttpConfig,
    mount: String,
    export: Option<Arc<dyn ExportSource>>,
}

impl std::fmt::Debug for KanectServiceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `Chat` is a handle on the whole engine, with nothing useful to print.
        f.debug_struct("KanectServiceBuilder")
            .field("config", &self.config)
            .field("mounted_at", &self.mount)
            .field("export", &self.export.is_some())
            .finish_non_exhaustive()
    }
}

impl KanectServiceBuilder {
    /// The path prefix the service is mounted at, e.g. `/chat` (a missing leading `/` is
    /// added, trailing ones are dropped; `/` or empty is the root).
    pub fn mounted_at(mut self, prefix: &str) -> Self {
        self.mount = normal_mount(prefix);
        self
    }

    /// Serves `GET /api/v1/admin/export` from `source` (see [`crate::Server::export_source`]).
    pub fn export_source(mut self, source: impl ExportSource) -> Self {
        self.export = Some(Arc::new(source));
        self
    }

    /// Cookies marked `Secure` whatever the configuration says: the service is served over TLS
    /// (`Server::tls`).
    pub(crate) fn secure_cookies(mut self) -> Self {
        self.config.secure_cookies = true;
        self
    }

    /// The service. It starts a task that drops idle poll sessions, which ends with the last
    /// clone of the service.
    ///
    /// # Panics
    /// Outside a tokio runtime (the task needs one).
    pub fn build(self) -> KanectService {
        let (shutdown, signal) = watch::channel(false);
        let service = KanectService {
            app: App::new(self.chat, self.config, self.mount, self.export, signal),
            shutdown: Arc::new(shutdown),
        };
        tokio::spawn(sweep_polls(service.app.downgrade()));
        service
    }
}

/// `prefix` with one leading `/` and no trailing one; empty for the root.
fn normal_mount(prefix: &str) -> String {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

/// Every half `poll_idle`, drops idle poll sessions, until the service is gone or shuts down.
async fn sweep_polls(app: Weak<AppInner>) {
    let Some(period) = app.upgrade().map(|app| (app.config.poll_idle / 2).max(Duration::from_millis(10))) else {
        return;
    };
    let mut ticker = tokio::time::interval(period);
    loop {
        ticker.tick().await;
        match app.upgrade() {
            Some(app) if !*app.shutdown.borrow() => app.polls.sweep(app.config.poll_idle),
            _ => return,
        }
    }
}

/// A request body of any `Send` type made `Sync` (so that handlers may hold `&Request` across
/// an await): it is only ever read through `&mut`, which [`SyncWrapper`] allows. Its size hint
/// is lost, which nothing reads (limits are on `Content-Length` and on the bytes read).
struct SyncBody<B>(SyncWrapper<Pin<Box<B>>>);

impl<B: hyper::body::Body> hyper::body::Body for SyncBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        self.get_mut().0.get_mut().as_mut().poll_frame(cx)
    }
}

impl<B> tower_service::Service<Request<B>> for KanectService
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    /// Always ready: limits are per request (bodies, rates) or the embedding server's.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let app = self.app.clone();
        let connection = Connection::of(&request);
        let request = request
            .map(|body| SyncBody(SyncWrapper::new(Box::pin(body))).map_err(|error| ReadError(error.into())).boxed());
        Box::pin(crate::routes::handle(app, request, connection))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mount_is_one_leading_slash_and_no_trailing_one() {
        assert_eq!(normal_mount("/chat"), "/chat");
        assert_eq!(normal_mount("chat/"), "/chat");
        assert_eq!(normal_mount("/a/b/"), "/a/b");
        assert_eq!(normal_mount("/"), "");
        assert_eq!(normal_mount(""), "");
    }
}
