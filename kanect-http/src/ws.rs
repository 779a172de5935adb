//! The WebSocket endpoint: the upgrade (authenticate, check Origin, subscribe — all before the
//! `101`, so refusals are ordinary HTTP errors), then the socket loop (`socket`) as a task of
//! its own.
//!
//! An idle socket costs little: hyper's read buffer is dropped at the upgrade, the socket runs
//! as a task of its own, and its buffers are small ([`ws_config`]).

use crate::connection::ConnectionGuard;
use crate::error::{ApiError, Body};
use crate::incoming::Connection;
use crate::incoming::RequestBody;
use crate::state::App;
use futures_util::StreamExt;
use hyper::header::{HeaderValue, CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE};
use hyper::upgrade::{Parts, Upgraded};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use kanect_core::Subscription;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use tracing::Instrument;

/// Bytes a socket reads at a time (see [`ws_config`]).
const READ_BUFFER: usize = 1024;

/// `GET /api/v1/ws`: validates the upgrade and starts the socket task.
pub(crate) async fn upgrade(
    app: &App,
    mut request: Request<RequestBody>,
    connection: Connection,
) -> Result<Response<Body>, ApiError> {
    let headers = request.headers();
    let is_upgrade = header_has(headers.get(UPGRADE), "websocket") && header_has(headers.get(CONNECTION), "upgrade");
    let key = headers.get(SEC_WEBSOCKET_KEY).cloned();
    let (true, Some(key)) = (is_upgrade, key) else {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "not_websocket", "this endpoint needs a WebSocket upgrade"));
    };
    if headers.get(SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes) != Some(b"13") {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "not_websocket", "WebSocket version 13 required"));
    }
    crate::auth::check_origin(headers, &app.config.allowed_origins)?;
    // Upgrades are GETs: no CSRF token, the Origin check above stands in for it.
    let caller = crate::auth::authenticate(app, &request).await?;
    let resumes = matches!(crate::api::request::Query::of(&request).text("resume"), Some("1" | "true"));
    let subscription = app.chat.subscribe(&caller).await?;

    let on_upgrade = hyper::upgrade::on(&mut request);
    let app = app.clone();
    // The socket's logs stay in the upgrade request's span: its request id and user.
    let upgrade = async move {
        // The socket keeps the connection's slot and shutdown tracker until it closes.
        match on_upgrade.await {
            Ok(upgraded) => start_socket(app, subscription, resumes, upgraded, connection.guard).await,
            Err(error) => tracing::debug!(%error, "WebSocket upgrade failed"),
        }
    };
    tokio::spawn(upgrade.in_current_span());

    let mut response = Response::new(Body::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    let accept = derive_accept_key(key.as_bytes());
    headers.insert(SEC_WEBSOCKET_ACCEPT, HeaderValue::try_from(accept).map_err(|_| ApiError::not_found())?);
    Ok(response)
}

fn header_has(value: Option<&HeaderValue>, token: &str) -> bool {
    value
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|part| part.trim().eq_ignore_ascii_case(token)))
}

/// Wraps the upgraded connection and runs the socket loop as a task of its own (the upgrade
/// task's future is large and would otherwise stay alive with every idle socket).
///
/// The connection's own stream (plain TCP, or TLS on it) is taken back out of hyper's
/// `Upgraded`, so hyper's 8 KiB read buffer is freed: only the bytes it had already read are
/// handed over.
async fn start_socket(
    app: App,
    subscription: Subscription,
    resumes: bool,
    upgraded: Upgraded,
    connection: Option<Arc<ConnectionGuard>>,
) {
    let upgraded = match upgraded.downcast::<TokioIo<TcpStream>>() {
        Ok(parts) => return start_on(app, subscription, resumes, parts, connection).await,
        Err(upgraded) => upgraded,
    };
    let upgraded = match upgraded.downcast::<TokioIo<TlsStream<TcpStream>>>() {
        Ok(parts) => return start_on(app, subscription, resumes, parts, connection).await,
        Err(upgraded) => upgraded,
    };
    // Another transport (an embedding server's) keeps hyper's buffer, and works.
    let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(ws_config(&app))).await;
    tokio::spawn(serve(app, subscription, resumes, socket, connection).in_current_span());
}

/// Starts the socket task on the stream hyper upgraded, with the bytes hyper had read past the
/// request.
async fn start_on<I>(
    app: App,
    subscription: Subscription,
    resumes: bool,
    parts: Parts<TokioIo<I>>,
    connection: Option<Arc<ConnectionGuard>>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let config = Some(ws_config(&app));
    let read = parts.read_buf.to_vec();
    let socket = WebSocketStream::from_partially_read(parts.io.into_inner(), read, Role::Server, config).await;
    tokio::spawn(serve(app, subscription, resumes, socket, connection).in_current_span());
}

/// The socket task: splits the socket and runs the loop, holding the connection's slot (when
/// [`crate::Server`] accepted it; a mounted service's connections are its server's).
async fn serve<S>(
    app: App,
    subscription: Subscription,
    resumes: bool,
    socket: WebSocketStream<S>,
    _connection: Option<Arc<ConnectionGuard>>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (sink, stream) = socket.split();
    crate::socket::run(app, subscription, resumes, sink, stream).await;
}

/// Small buffers: tungstenite's default limits (64 MiB messages and frames, a 128 KiB read
/// buffer, a 128 KiB write buffer) would let each of thousands of sockets hold far more memory
/// than a chat frame needs.
fn ws_config(app: &App) -> WebSocketConfig {
    let mut config = WebSocketConfig::default();
    // Held by every socket, idle or not, and grown to fit a larger frame when one comes: client
    // frames are commands of a few hundred bytes, and a larger buffer would be a large share of
    // an idle socket's memory.
    config.read_buffer_size = READ_BUFFER;
    // Frames fed in one batch share a write syscall up to this size; the loop flushes once per
    // batch. (0 would make every feed its own `send`, several times the server's CPU per
    // delivery in a large room.)
    config.write_buffer_size = 16 * 1024;
    config.max_write_buffer_size = 1024 * 1024;
    config.max_message_size = Some(app.config.max_ws_message_bytes);
    config.max_frame_size = Some(app.config.max_ws_message_bytes);
    config
}
