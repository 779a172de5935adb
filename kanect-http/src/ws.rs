//! The WebSocket endpoint: the upgrade (authenticate, check Origin, subscribe — all before the
//! `101`, so refusals are ordinary HTTP errors), and the socket loop, generic over any
//! `Sink`/`Stream` of tungstenite messages so unit tests drive it with channels.
//!
//! The loop multiplexes six things: engine events (written as the shared, encode-once
//! `Delivery::json` text), replies of commands under way (up to [`MAX_IN_FLIGHT`] applied at
//! once), client frames, a ping timer (a peer silent for `ws_idle_timeout` is closed; each ping
//! also re-checks the session, see `Subscription::recheck`), the session's end (heard even while
//! events are held), and server shutdown (close frame `1001`). Everything is fed to the sink
//! as it comes and flushed once nothing else is ready, so a burst costs one write.
//!
//! An idle socket costs little: hyper's read buffer is dropped at the upgrade and the socket
//! runs as a task of its own.

use crate::command::{self, Command, Frame};
use crate::error::{ApiError, Body};
use crate::server::ConnectionGuard;
use crate::state::App;
use bytes::Bytes;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE};
use hyper::upgrade::Upgraded;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use kanect_core::{Event, Subscription};
use serde_json::json;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// Events fed to the socket in one go, at most, before the loop looks at its other inputs.
const FLUSH_BATCH: usize = 64;

/// Bytes a socket reads at a time (see [`ws_config`]).
const READ_BUFFER: usize = 1024;

/// Commands one socket may have under way at once; further frames wait in its receive buffer.
const MAX_IN_FLIGHT: usize = 32;

/// How long the close frame may take to go out before the socket is simply dropped.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// `GET /api/v1/ws`: validates the upgrade and starts the socket task.
pub(crate) async fn upgrade(
    app: &App,
    mut request: Request<Incoming>,
    connection: Arc<ConnectionGuard>,
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
    let caller = crate::auth::authenticate(&app.chat, request.method(), headers).await?;
    let resumes = matches!(crate::api::request::Query::of(&request).text("resume"), Some("1" | "true"));
    let subscription = app.chat.subscribe(&caller).await?;

    let on_upgrade = hyper::upgrade::on(&mut request);
    let app = app.clone();
    tokio::spawn(async move {
        // The socket keeps the connection's slot and shutdown tracker until it closes.
        match on_upgrade.await {
            Ok(upgraded) => start_socket(app, subscription, resumes, upgraded, connection).await,
            Err(error) => tracing::debug!(%error, "WebSocket upgrade failed"),
        }
    });

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
/// The plain TCP stream is taken back out of hyper's `Upgraded`, so hyper's 8 KiB read buffer
/// is freed: only the bytes it had already read are handed over.
async fn start_socket(
    app: App,
    subscription: Subscription,
    resumes: bool,
    upgraded: Upgraded,
    connection: Arc<ConnectionGuard>,
) {
    let config = Some(ws_config(&app));
    match upgraded.downcast::<TokioIo<TcpStream>>() {
        Ok(parts) => {
            let read = parts.read_buf.to_vec();
            let socket = WebSocketStream::from_partially_read(parts.io.into_inner(), read, Role::Server, config).await;
            tokio::spawn(serve(app, subscription, resumes, socket, connection));
        }
        // Another transport under hyper (none today) keeps hyper's buffer, and works.
        Err(upgraded) => {
            let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, config).await;
            tokio::spawn(serve(app, subscription, resumes, socket, connection));
        }
    }
}

/// The socket task: splits the socket and runs the loop, holding the connection's slot.
async fn serve<S>(
    app: App,
    subscription: Subscription,
    resumes: bool,
    socket: WebSocketStream<S>,
    _connection: Arc<ConnectionGuard>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (sink, stream) = socket.split();
    run(app, subscription, resumes, sink, stream).await;
}

/// Small buffers: tungstenite's default limits (64 MiB messages and frames, a 128 KiB read
/// buffer, a 128 KiB write buffer) would let each of thousands of sockets hold far more memory
/// than a chat frame needs.
fn ws_config(app: &App) -> WebSocketConfig {
    let mut config = WebSocketConfig::default();
    // Held by every socket, idle or not, and grown to fit a larger frame when one comes: client
    // frames are commands of a few hundred bytes. (The 4 KiB of tungstenite 0.24 was a third
    // of an idle socket's memory.)
    config.read_buffer_size = READ_BUFFER;
    // Frames fed in one batch share a write syscall up to this size; the loop flushes once per
    // batch. (0 made every feed its own `send`: measured 4.6 vs 0.8 µs of server CPU per
    // delivery in a 1,000-member room.)
    config.write_buffer_size = 16 * 1024;
    config.max_write_buffer_size = 1024 * 1024;
    config.max_message_size = Some(app.config.max_ws_message_bytes);
    config.max_frame_size = Some(app.config.max_ws_message_bytes);
    config
}

/// What the loop should do after handling something.
enum Flow {
    Continue,
    /// A `resume` command was handled: held events may flow.
    Resumed,
    /// A `resync` event was written: the client has a gap until it resumes.
    Resync,
    /// The session ended while events were held: let them flow, so that the stream's
    /// `session_ended` (which comes before anything else) is written and the socket closes.
    Ended,
    Close(CloseCode, &'static str),
    Stop,
}

/// What an inbound frame asks of the loop.
enum Inbound {
    /// Reply at once (a refused frame), or with nothing (ping and pong frames).
    Reply(Option<String>),
    /// A command to apply.
    Apply(Frame),
    /// Reply, then close.
    Close(String, CloseCode, &'static str),
    Stop,
}

/// Serves one connected device until the peer leaves, the session ends, the peer goes silent,
/// or the server shuts down. Always ends by dropping the subscription (the device disconnects).
///
/// Commands other than `resume` and `watch` are applied concurrently, up to
/// [`MAX_IN_FLIGHT`] at a time, and each reply is written when its command finishes (replies
/// may come in a different order than their commands: clients match them by `ref`). Frames are
/// fed to the sink as they are ready and flushed once nothing else is: one write per burst.
/// Events come first, so a chatty client cannot starve its own deliveries.
///
/// With `resumes` (the client connected with `?resume=1`), events are held while the client has
/// a gap — from connecting, and after each `resync` — until its next `resume` (its last part)
/// is applied, so that missed messages always come before live ones and none comes twice. The
/// end of the session is never held: a revoked session's socket closes at once, resumed or not.
pub(crate) async fn run<Si, St>(app: App, mut subscription: Subscription, resumes: bool, mut sink: Si, mut stream: St)
where
    Si: Sink<Message> + Unpin,
    Si::Error: Display,
    St: Stream<Item = Result<Message, WsError>> + Unpin,
{
    let _open = app.sockets.enter();
    let hello = json!({
        "v": kanect_core::PROTOCOL_VERSION, "type": "hello",
        "user": subscription.caller().user(), "max_frame_bytes": app.config.max_frame_bytes,
    });
    if sink.send(Message::Text(hello.to_string().into())).await.is_err() {
        return;
    }
    let caller = subscription.caller().clone();
    // Boxed: the set keeps a stub task the size of its future alive for as long as the socket.
    let mut in_flight: FuturesUnordered<Pin<Box<dyn Future<Output = Option<String>> + Send + '_>>> =
        FuturesUnordered::new();
    let mut hold = resumes;
    // Held events or not, the end of the session is heard at once (see `Flow::Ended`).
    let ended = subscription.ended().fuse();
    tokio::pin!(ended);
    let mut dirty = false;
    let mut heard = Instant::now();
    let mut ticker = tokio::time::interval(app.config.ws_ping_interval);
    ticker.tick().await; // the first tick is immediate
    let idle = app.config.ws_idle_timeout;
    let flow = loop {
        let flow = tokio::select! {
            biased;
            _ = app.until_shutdown() => Flow::Close(CloseCode::Away, "server shutting down"),
            () = &mut ended, if hold => Flow::Ended,
            delivery = subscription.next(), if !hold => match delivery {
                None => Flow::Stop,
                // A peer that stops reading fills its TCP window and the write waits; give up
                // on it after the idle timeout rather than hang (its queue lags meanwhile).
                Some(delivery) => {
                    dirty = true;
                    tokio::time::timeout(idle, feed_events(&mut subscription, &mut sink, delivery))
                        .await
                        .unwrap_or(Flow::Stop)
                }
            },
            Some(reply) = in_flight.next(), if !in_flight.is_empty() => {
                dirty = true;
                feed_reply(&mut sink, idle, reply).await
            }
            inbound = stream.next(), if in_flight.len() < MAX_IN_FLIGHT => {
                heard = Instant::now();
                match inbound.map(|frame| read(&app, frame)) {
                    None | Some(Inbound::Stop) => Flow::Stop,
                    Some(Inbound::Reply(reply)) => {
                        dirty = true;
                        feed_reply(&mut sink, idle, reply).await
                    }
                    Some(Inbound::Close(reply, code, reason)) => {
                        let _ = tokio::time::timeout(CLOSE_WAIT, sink.feed(Message::Text(reply.into()))).await;
                        Flow::Close(code, reason)
                    }
                    Some(Inbound::Apply(frame)) if frame.needs_subscription() => {
                        // The last part of a resume, once it is applied, ends the hold; a refused
                        // one changed nothing, and the client sends it again.
                        let last_part = matches!(frame.command, Command::Resume { more: false, .. });
                        let reference = frame.reference.clone();
                        let applied = Box::pin(frame.apply(&app.chat, &mut subscription)).await;
                        let resumed = last_part && applied.is_ok();
                        dirty = true;
                        match feed_reply(&mut sink, idle, reply(applied, reference)).await {
                            Flow::Continue if resumed => Flow::Resumed,
                            flow => flow,
                        }
                    }
                    Some(Inbound::Apply(frame)) => {
                        let reference = frame.reference.clone();
                        in_flight.push(Box::pin(async { reply(frame.apply_as(&app.chat, &caller).await, reference) }));
                        Flow::Continue
                    }
                }
            }
            _ = ticker.tick() => {
                if heard.elapsed() >= idle {
                    Flow::Close(CloseCode::Away, "no response to pings")
                } else {
                    // A revocation whose event missed this node, or an expiry, ends the session
                    // here at the latest (the stream then says so, and the socket closes).
                    if let Err(error) = subscription.recheck().await {
                        tracing::debug!(%error, "could not re-check the session");
                    }
                    dirty = true;
                    match tokio::time::timeout(idle, sink.feed(Message::Ping(Bytes::new()))).await {
                        Ok(Ok(())) => Flow::Continue,
                        _ => Flow::Stop,
                    }
                }
            }
            () = std::future::ready(()), if dirty => {
                dirty = false;
                match tokio::time::timeout(idle, sink.flush()).await {
                    Ok(Ok(())) => Flow::Continue,
                    _ => Flow::Stop,
                }
            }
        };
        match flow {
            Flow::Continue => {}
            Flow::Resumed | Flow::Ended => hold = false,
            Flow::Resync => hold = resumes,
            other => break other,
        }
    };
    if let Flow::Close(code, reason) = flow {
        // Commands already under way finish and are answered, within the close's time.
        let answered = async {
            while let Some(reply) = in_flight.next().await {
                if let Some(text) = reply {
                    if sink.feed(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
            }
        };
        let _ = tokio::time::timeout(CLOSE_WAIT, answered).await;
        let frame = CloseFrame { code, reason: reason.into() };
        let _ = tokio::time::timeout(CLOSE_WAIT, sink.send(Message::Close(Some(frame)))).await;
    }
    let _ = tokio::time::timeout(CLOSE_WAIT, sink.close()).await;
}

/// Feeds one event and everything else ready, up to [`FLUSH_BATCH`]; the loop flushes.
async fn feed_events<Si>(subscription: &mut Subscription, sink: &mut Si, first: kanect_core::Delivery) -> Flow
where
    Si: Sink<Message> + Unpin,
{
    let mut after = Flow::Continue;
    let mut next = Some(first);
    let mut fed = 0;
    while let Some(delivery) = next.take() {
        match delivery.event() {
            Event::SessionEnded { .. } => after = Flow::Close(CloseCode::Normal, "session ended"),
            Event::Resync => after = Flow::Resync,
            _ => {}
        }
        // tungstenite owns its text as `Bytes`: one copy of the shared encoding.
        if sink.feed(Message::Text(delivery.json().as_ref().into())).await.is_err() {
            return Flow::Stop;
        }
        fed += 1;
        if !matches!(after, Flow::Continue) || fed >= FLUSH_BATCH {
            break;
        }
        next = subscription.try_next().into_ready();
    }
    after
}

/// Feeds a reply frame, if any; the loop flushes.
async fn feed_reply<Si>(sink: &mut Si, idle: std::time::Duration, reply: Option<String>) -> Flow
where
    Si: Sink<Message> + Unpin,
{
    let Some(text) = reply else { return Flow::Continue };
    match tokio::time::timeout(idle, sink.feed(Message::Text(text.into()))).await {
        Ok(Ok(())) => Flow::Continue,
        _ => Flow::Stop,
    }
}

/// Reads one inbound frame: a command to apply, or what to answer at once.
fn read(app: &App, frame: Result<Message, WsError>) -> Inbound {
    match frame {
        Ok(Message::Text(text)) if text.len() > app.config.max_frame_bytes => {
            Inbound::Reply(Some(frame_too_large(app.config.max_frame_bytes).frame(None)))
        }
        Ok(Message::Text(text)) => match command::parse(&text) {
            Ok(frame) => Inbound::Apply(frame),
            Err(rejected) => Inbound::Reply(Some(rejected.error.frame(rejected.reference.as_ref()))),
        },
        Ok(Message::Binary(_)) => Inbound::Reply(Some(
            ApiError::new(StatusCode::BAD_REQUEST, "wrong_type", "frames are JSON text, not binary").frame(None),
        )),
        Ok(Message::Close(_)) => Inbound::Stop,
        Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => Inbound::Reply(None),
        Err(WsError::Capacity(_)) => Inbound::Close(
            frame_too_large(app.config.max_ws_message_bytes).frame(None),
            CloseCode::Size,
            "message too large",
        ),
        Err(error) => {
            tracing::debug!(%error, "WebSocket read failed");
            Inbound::Stop
        }
    }
}

/// The reply frame for an applied command: its own, or an error frame carrying its `ref`.
fn reply(applied: Result<Option<String>, kanect_core::Error>, reference: Option<serde_json::Value>) -> Option<String> {
    applied.unwrap_or_else(|error| Some(ApiError::from(error).frame(reference.as_ref())))
}

fn frame_too_large(limit: usize) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "frame_too_large", format!("frames are limited to {limit} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_channel::mpsc;
    use kanect_core::{Caller, Chat, ChatConfig, ConversationId, MemoryStore, PasswordCost, Registration};
    use serde_json::Value;
    use tokio::sync::watch;

    async fn next_json(out: &mut mpsc::UnboundedReceiver<Message>) -> Value {
        match out.next().await {
            Some(Message::Text(text)) => serde_json::from_str(&text).unwrap(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// Alice and Bob and their direct conversation, on a fresh in-memory engine.
    async fn alice_and_bob() -> (Chat, Caller, Caller, ConversationId) {
        alice_and_bob_on(MemoryStore::new()).await
    }

    /// Alice and Bob and their direct conversation, on a fresh engine over `store`.
    async fn alice_and_bob_on(store: impl kanect_core::Store) -> (Chat, Caller, Caller, ConversationId) {
        let config = ChatConfig { password_cost: PasswordCost::INSECURE_FAST, ..Default::default() };
        let chat = Chat::builder(store).config(config).build().await.unwrap();
        let alice = chat.register(Registration::new("alice", "correct horse")).await.unwrap();
        let bob = chat.register(Registration::new("bob", "battery staple")).await.unwrap();
        let (alice, bob) = (chat.act_as(alice.id).await.unwrap(), chat.act_as(bob.id).await.unwrap());
        let direct = chat.open_direct(&alice, bob.user()).await.unwrap().id;
        (chat, alice, bob, direct)
    }

    /// A socket loop run over channels, past its `hello`.
    struct Socket {
        out: mpsc::UnboundedReceiver<Message>,
        inbound: mpsc::UnboundedSender<Result<Message, WsError>>,
        task: tokio::task::JoinHandle<()>,
        shutdown: watch::Sender<bool>,
    }

    impl Socket {
        async fn open(chat: &Chat, caller: &Caller, resumes: bool) -> Socket {
            Socket::open_with(chat, caller, resumes, crate::HttpConfig::default()).await
        }

        async fn open_with(chat: &Chat, caller: &Caller, resumes: bool, config: crate::HttpConfig) -> Socket {
            let (shutdown, shutdown_rx) = watch::channel(false);
            let app = App::new(chat.clone(), config, shutdown_rx);
            let subscription = chat.subscribe(caller).await.unwrap();
            let (out_tx, mut out) = mpsc::unbounded::<Message>();
            let (inbound, in_rx) = mpsc::unbounded::<Result<Message, WsError>>();
            let task = tokio::spawn(run(app, subscription, resumes, out_tx, in_rx));
            assert_eq!(next_json(&mut out).await["type"], "hello");
            Socket { out, inbound, task, shutdown }
        }

        fn send(&self, frame: impl ToString) {
            self.inbound.unbounded_send(Ok(Message::Text(frame.to_string().into()))).unwrap();
        }

        async fn next(&mut self) -> Value {
            next_json(&mut self.out).await
        }
    }

    #[tokio::test]
    async fn the_socket_loop_runs_over_channels() {
        let (chat, alice, bob, direct) = alice_and_bob().await;
        let mut socket = Socket::open(&chat, &alice, false).await;

        socket.send(json!({"type":"send","conversation":direct,"client_id":"c1","body":"hi","ref":"r1"}));
        let mut got = [socket.next().await, socket.next().await];
        got.sort_by_key(|frame| frame["type"].as_str().unwrap_or("").to_string());
        assert_eq!(
            (got[0]["type"].clone(), got[0]["ref"].clone(), got[0]["seq"].clone()),
            (json!("ack"), json!("r1"), json!(1))
        );
        assert_eq!((got[1]["type"].clone(), got[1]["message"]["body"].clone()), (json!("message"), json!("hi")));

        chat.send(&bob, direct, "b1", "hello alice").await.unwrap();
        assert_eq!(socket.next().await["message"]["body"], "hello alice");

        socket.send("{oops");
        assert_eq!(socket.next().await["code"], "invalid_json");
        socket.send(r#"{"type":"ping","ref":2}"#);
        assert_eq!(socket.next().await, json!({"v":1,"type":"pong","ref":2}));

        socket.shutdown.send(true).unwrap();
        match socket.out.next().await {
            Some(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::Away),
            other => panic!("expected a close frame, got {other:?}"),
        }
        socket.task.await.unwrap();
        assert_eq!(chat.connected_devices(), 0, "the device left with the socket");
    }

    #[tokio::test]
    async fn commands_under_way_together_are_all_answered_by_ref() {
        let (chat, alice, _, direct) = alice_and_bob().await;
        let mut socket = Socket::open(&chat, &alice, false).await;

        // More commands than may be under way at once, queued before the loop reads any.
        let sends = MAX_IN_FLIGHT * 2;
        for n in 0..sends {
            socket.send(json!({"type":"send","conversation":direct,"client_id":format!("c{n}"),"body":"hi","ref":n}));
        }
        socket.send(r#"{"type":"typing","conversation":"x"}"#);
        socket.send(r#"{"type":"ping","ref":"p"}"#);
        let (mut acked, mut seqs, mut errors, mut pongs) = (Vec::new(), Vec::new(), 0, 0);
        while acked.len() < sends || seqs.len() < sends || errors < 1 || pongs < 1 {
            let frame = socket.next().await;
            match frame["type"].as_str() {
                Some("ack") => acked.push((frame["ref"].as_u64().unwrap(), frame["seq"].as_u64().unwrap())),
                Some("message") => seqs.push(frame["message"]["seq"].as_u64().unwrap()),
                Some("error") => errors += 1,
                Some("pong") => pongs += 1,
                other => panic!("unexpected frame {other:?}"),
            }
        }
        acked.sort_unstable();
        let refs: Vec<u64> = acked.iter().map(|(r, _)| *r).collect();
        assert_eq!(refs, (0..sends as u64).collect::<Vec<_>>(), "every send acked once");
        let mut acked_seqs: Vec<u64> = acked.iter().map(|(_, seq)| *seq).collect();
        acked_seqs.sort_unstable();
        assert_eq!(acked_seqs, (1..=sends as u64).collect::<Vec<_>>(), "each ack has its own seq");
        assert_eq!(seqs, (1..=sends as u64).collect::<Vec<_>>(), "deliveries come in seq order");
    }

    #[tokio::test]
    async fn an_ended_session_closes_the_socket_normally() {
        let (chat, alice, _, _) = alice_and_bob().await;
        let mut socket = Socket::open(&chat, &alice, false).await;
        chat.logout_everywhere(&alice).await.unwrap();
        assert_eq!(socket.next().await, json!({"v":1,"type":"session_ended","reason":"logged_out"}));
        match socket.out.next().await {
            Some(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::Normal),
            other => panic!("expected a close frame, got {other:?}"),
        }
        socket.task.await.unwrap();
    }

    #[tokio::test]
    async fn a_resuming_socket_gets_missed_messages_before_live_ones_and_none_twice() {
        let (chat, alice, bob, direct) = alice_and_bob().await;
        chat.send(&bob, direct, "1", "missed").await.unwrap();
        let mut socket = Socket::open(&chat, &alice, true).await;
        // Live while the socket waits for its resume: held back.
        chat.send(&bob, direct, "2", "live").await.unwrap();
        socket.send(json!({"type":"resume","cursors":[{"conversation":direct,"seq":0}],"ref":"r"}));
        let (mut seqs, mut acked) = (Vec::new(), false);
        while seqs.len() < 2 || !acked {
            let frame = socket.next().await;
            acked |= frame["type"] == "ack";
            seqs.extend(frame["message"]["seq"].as_u64());
        }
        assert_eq!(seqs, vec![1, 2], "missed first, then live");
        // Nothing else is pending: the pong comes before any duplicate could.
        socket.send(r#"{"type":"ping","ref":"p"}"#);
        assert_eq!(socket.next().await["type"], "pong");
    }

    /// Frames until (and with) the reply carrying `reference`.
    async fn until_reply(socket: &mut Socket, reference: &str) -> Vec<Value> {
        let mut frames = Vec::new();
        loop {
            let frame = socket.next().await;
            let done = frame["ref"] == reference;
            frames.push(frame);
            if done {
                return frames;
            }
        }
    }

    fn message_seqs(frames: &[Value]) -> Vec<u64> {
        frames.iter().filter(|f| f["type"] == "message").filter_map(|f| f["message"]["seq"].as_u64()).collect()
    }

    #[tokio::test]
    async fn a_refused_resume_keeps_holding_events() {
        let store = kanect_core::testing::FaultyStore::new(MemoryStore::new());
        let (chat, alice, bob, direct) = alice_and_bob_on(store.clone()).await;
        chat.send(&bob, direct, "1", "missed").await.unwrap();
        let mut socket = Socket::open(&chat, &alice, true).await;
        store.fail("history");
        socket.send(json!({"type":"resume","cursors":[{"conversation":direct,"seq":0}],"ref":"r1"}));
        assert_eq!(until_reply(&mut socket, "r1").await.last().unwrap()["code"], "unavailable");
        // Still held: a live message waits for the resume that works.
        chat.send(&bob, direct, "2", "live").await.unwrap();
        socket.send(json!({"type":"ping","ref":"p"}));
        assert_eq!(message_seqs(&until_reply(&mut socket, "p").await), Vec::<u64>::new());
        store.heal();
        socket.send(json!({"type":"resume","cursors":[{"conversation":direct,"seq":0}],"ref":"r2"}));
        let mut frames = until_reply(&mut socket, "r2").await;
        while message_seqs(&frames).len() < 2 {
            frames.push(socket.next().await);
        }
        assert_eq!(message_seqs(&frames), vec![1, 2], "missed first, then live");
    }

    #[tokio::test]
    async fn a_resume_in_parts_holds_events_until_the_last_part() {
        let (chat, alice, bob, direct) = alice_and_bob().await;
        let group = chat.create_group(&bob, "g", &[alice.user()]).await.unwrap().id;
        chat.send(&bob, direct, "d1", "missed").await.unwrap();
        chat.send(&bob, group, "g1", "missed").await.unwrap();
        let mut socket = Socket::open(&chat, &alice, true).await;
        let first = json!({"type":"resume","cursors":[{"conversation":direct,"seq":0}],"more":true,"ref":"r1"});
        socket.send(first);
        assert_eq!(message_seqs(&until_reply(&mut socket, "r1").await), Vec::<u64>::new());
        chat.send(&bob, group, "g2", "live").await.unwrap();
        socket.send(json!({"type":"ping","ref":"p"}));
        assert_eq!(message_seqs(&until_reply(&mut socket, "p").await), Vec::<u64>::new(), "still held");
        socket.send(json!({"type":"resume","cursors":[{"conversation":group,"seq":0}],"ref":"r2"}));
        let mut frames = until_reply(&mut socket, "r2").await;
        while message_seqs(&frames).len() < 3 {
            frames.push(socket.next().await);
        }
        let order: Vec<(String, u64)> = frames
            .iter()
            .filter(|f| f["type"] == "message")
            .map(|f| (f["message"]["client_id"].as_str().unwrap().to_string(), f["message"]["seq"].as_u64().unwrap()))
            .collect();
        let expected = [("d1", 1), ("g1", 1), ("g2", 2)].map(|(c, s)| (c.to_string(), s));
        assert_eq!(order, expected, "both parts' missed messages, then the live one");
    }

    #[tokio::test(start_paused = true)]
    async fn a_session_ended_where_its_event_cannot_reach_closes_at_the_next_ping() {
        // Two nodes on one store with no bus between them: the log-out's event is lost.
        let store: std::sync::Arc<dyn kanect_core::Store> = std::sync::Arc::new(MemoryStore::new());
        let config = ChatConfig { password_cost: PasswordCost::INSECURE_FAST, ..Default::default() };
        let here = Chat::builder_shared(store.clone()).config(config.clone()).build().await.unwrap();
        let there = Chat::builder_shared(store).config(config).build().await.unwrap();
        here.register(Registration::new("alice", "correct horse")).await.unwrap();
        let http = crate::HttpConfig { ws_ping_interval: std::time::Duration::from_secs(1), ..Default::default() };
        for resumes in [false, true] {
            let login = here.login("alice", "correct horse").await.unwrap();
            let alice = here.authenticate(login.token.as_str()).await.unwrap();
            let mut socket = Socket::open_with(&here, &alice, resumes, http.clone()).await;
            there.logout(&alice).await.unwrap();
            let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                loop {
                    match socket.out.next().await {
                        Some(Message::Ping(_)) => continue, // the ping goes out with the check
                        Some(Message::Text(text)) => break serde_json::from_str::<Value>(&text).unwrap(),
                        other => panic!("expected session_ended, got {other:?}"),
                    }
                }
            });
            let ended = ended.await.expect("ended by the next ping's check");
            assert_eq!(ended, json!({"v":1,"type":"session_ended","reason":"logged_out"}));
            match socket.out.next().await {
                Some(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::Normal),
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }
}
