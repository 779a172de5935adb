//! The socket loop: one connected device, served over any `Sink`/`Stream` of tungstenite
//! messages (a real socket, or channels in unit tests) until the peer leaves, the session ends,
//! the peer goes silent, or the server shuts down.
//!
//! A [`Socket`] owns the loop's state and has a method per thing it waits on: server shutdown
//! (close frame `1001`), the session's end (heard even while events are held), engine events
//! (written as the delivery's shared encoding), replies of commands under way (up to
//! [`MAX_IN_FLIGHT`] applied at once), client frames, and a ping timer (a peer silent for
//! `ws_idle_timeout` is closed; each ping also starts a re-check of the session, see
//! `Subscription::recheck`, which runs beside the loop: with the store unreachable it takes as
//! long as the store's timeouts, and a socket that waited for it would stop reading its
//! peer's pongs and frames meanwhile, and close a healthy peer as silent). Everything is fed to the sink as it comes and flushed once nothing
//! else is ready, so a burst costs one write.

use crate::command::{self, Command, EngineCommand, Frame};
use crate::error::ApiError;
use crate::state::App;
use crate::wire::{self, ToWire};
use bytes::Bytes;
use futures_util::future::{BoxFuture, Fuse, FusedFuture};
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use hyper::StatusCode;
use kanect_core::{Caller, Delivery, Event, Subscription};
use kanect_proto::{Reference, ServerFrame};
use std::fmt::Display;
use std::time::{Duration, Instant};
use tokio::time::Interval;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Events fed to the socket in one go, at most, before the loop looks at its other inputs.
const FLUSH_BATCH: usize = 64;

/// Commands one socket may have under way at once; further frames wait in its receive buffer.
pub(crate) const MAX_IN_FLIGHT: usize = 32;

/// How long the close frame may take to go out before the socket is simply dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// What the loop should do after handling something.
enum Flow {
    Continue,
    /// The last part of a `resume` was applied: held events may flow.
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
    Reply(Option<ServerFrame>),
    /// A command to apply.
    Apply(Frame),
    /// Reply, then close.
    Close(ServerFrame, CloseCode, &'static str),
    Stop,
}

/// Serves one connected device; see [`Socket`]. Always ends by dropping the subscription (the
/// device disconnects).
pub(crate) async fn run<Si, St>(app: App, subscription: Subscription, resumes: bool, sink: Si, stream: St)
where
    Si: Sink<Message> + Unpin,
    Si::Error: Display,
    St: Stream<Item = Result<Message, WsError>> + Unpin,
{
    let _open = app.sockets.enter();
    app.traffic.ws_opened.increment(1);
    if let Some(socket) = Socket::open(app, subscription, resumes, sink, stream).await {
        socket.serve().await;
    }
}

/// One device's socket loop and everything it keeps between events.
///
/// Commands other than `resume` and `watch` are applied concurrently, up to [`MAX_IN_FLIGHT`]
/// at a time, and each reply is written when its command finishes (replies may come in a
/// different order than their commands: clients match them by `ref`). `resume` and `watch` work
/// on the subscription the loop owns, so the loop applies them itself, one at a time. Events
/// come first, so a chatty client cannot starve its own deliveries.
///
/// With `resumes` (the client connected with `?resume=1`), events are held while the client has
/// a gap — from connecting, and after each `resync` — until its next `resume` (its last part)
/// is applied, so that missed messages always come before live ones and none comes twice. The
/// end of the session is never held: a revoked session's socket closes at once, resumed or not.
struct Socket<Si, St> {
    /// The server: engine, config, shutdown signal.
    app: App,
    /// The device: its event stream, also what `resume` and `watch` change.
    subscription: Subscription,
    /// Who the commands act as: the subscription's caller, kept apart so that commands under
    /// way need no borrow of the subscription the loop reads from.
    caller: Caller,
    /// Frames to the client.
    sink: Si,
    /// Frames from the client.
    stream: St,
    /// Commands under way, each resolving to its reply. Boxed: the set keeps a stub task the
    /// size of its future alive for as long as the socket.
    in_flight: FuturesUnordered<BoxFuture<'static, Option<ServerFrame>>>,
    /// The client connected with `?resume=1`: after a `resync`, hold events again until it
    /// resumes.
    resumes: bool,
    /// Events are held back until the client's `resume` (its last part) is applied.
    hold: bool,
    /// The session's end, heard even while events are held (see `Flow::Ended`).
    ended: Fuse<BoxFuture<'static, ()>>,
    /// The session's re-check under way, if any (terminated when none is).
    rechecking: Fuse<BoxFuture<'static, ()>>,
    /// Frames were fed since the last flush.
    dirty: bool,
    /// When the client was last heard from (any frame): the ping timer closes a silent one.
    heard: Instant,
    /// Pings, and the idle and session checks that go with them.
    ticker: Interval,
}

impl<Si, St> Socket<Si, St>
where
    Si: Sink<Message> + Unpin,
    Si::Error: Display,
    St: Stream<Item = Result<Message, WsError>> + Unpin,
{
    /// Greets the client with `hello`; `None` if the socket is already gone.
    async fn open(app: App, subscription: Subscription, resumes: bool, mut sink: Si, stream: St) -> Option<Self> {
        let caller = subscription.caller().clone();
        let hello = ServerFrame::Hello {
            user: caller.user().to_wire(),
            max_frame_bytes: app.config.max_frame_bytes as u64,
            max_file_bytes: app.chat.attachments_enabled().then(|| app.chat.config().attachments.max_file_bytes),
            away_after_ms: Some(u64::try_from(app.chat.config().away_after.as_millis()).unwrap_or(u64::MAX)),
        };
        sink.send(Message::Text(hello.to_json().into())).await.ok()?;
        let mut ticker = tokio::time::interval(app.config.ws_ping_interval);
        ticker.tick().await; // the first tick is immediate
        let ended: BoxFuture<'static, ()> = Box::pin(subscription.ended());
        Some(Socket {
            app,
            subscription,
            caller,
            sink,
            stream,
            in_flight: FuturesUnordered::new(),
            resumes,
            hold: resumes,
            ended: ended.fuse(),
            rechecking: Fuse::terminated(),
            dirty: false,
            heard: Instant::now(),
            ticker,
        })
    }

    /// Runs the loop until it stops, then closes the socket.
    async fn serve(mut self) {
        let flow = loop {
            let flow = tokio::select! {
                biased;
                _ = self.app.until_shutdown() => Flow::Close(CloseCode::Away, "server shutting down"),
                () = &mut self.ended, if self.hold => Flow::Ended,
                delivery = self.subscription.next(), if !self.hold => self.on_delivery(delivery).await,
                Some(reply) = self.in_flight.next(), if !self.in_flight.is_empty() => self.on_reply(reply).await,
                // Above the peer's frames, so that a peer that always has one ready cannot hold
                // the check back.
                () = &mut self.rechecking => Flow::Continue,
                inbound = self.stream.next(), if self.in_flight.len() < MAX_IN_FLIGHT => self.on_inbound(inbound).await,
                _ = self.ticker.tick() => self.on_tick().await,
                () = std::future::ready(()), if self.dirty => self.flush().await,
            };
            match flow {
                Flow::Continue => {}
                Flow::Resumed | Flow::Ended => self.hold = false,
                Flow::Resync => self.hold = self.resumes,
                other => break other,
            }
        };
        if let Flow::Close(code, reason) = flow {
            self.close(code, reason).await;
        }
        let _ = tokio::time::timeout(CLOSE_WAIT, self.sink.close()).await;
    }

    /// An engine event, or the end of the stream.
    ///
    /// A peer that stops reading fills its TCP window and the write waits; give up on it after
    /// the idle timeout rather than hang (its queue lags meanwhile).
    async fn on_delivery(&mut self, delivery: Option<Delivery>) -> Flow {
        let Some(delivery) = delivery else { return Flow::Stop };
        self.dirty = true;
        let idle = self.app.config.ws_idle_timeout;
        tokio::time::timeout(idle, self.feed_events(delivery)).await.unwrap_or(Flow::Stop)
    }

    /// Feeds one event and everything else ready, up to [`FLUSH_BATCH`]; the loop flushes.
    async fn feed_events(&mut self, first: Delivery) -> Flow {
        let mut after = Flow::Continue;
        let mut next = Some(first);
        let mut fed = 0;
        while let Some(delivery) = next.take() {
            match delivery.event() {
                Event::SessionEnded { .. } => after = Flow::Close(CloseCode::Normal, "session ended"),
                Event::Resync => after = Flow::Resync,
                _ => {}
            }
            let text = wire::delivery_text(&delivery);
            // tungstenite owns its text as `Bytes`: one copy of the shared encoding. An event
            // with no frame (see `wire`) is not sent.
            if !text.is_empty() && self.sink.feed(Message::Text(text.as_ref().into())).await.is_err() {
                return Flow::Stop;
            }
            fed += 1;
            if !matches!(after, Flow::Continue) || fed >= FLUSH_BATCH {
                break;
            }
            next = self.subscription.try_next().into_ready();
        }
        after
    }

    /// A command under way finished: its reply, if any.
    async fn on_reply(&mut self, reply: Option<ServerFrame>) -> Flow {
        self.feed_reply(reply).await
    }

    /// A frame from the client, or the end of its stream.
    async fn on_inbound(&mut self, inbound: Option<Result<Message, WsError>>) -> Flow {
        self.heard = Instant::now();
        self.app.traffic.ws_frames_received.increment(1);
        match inbound.map(|frame| read(&self.app, frame)) {
            None | Some(Inbound::Stop) => Flow::Stop,
            Some(Inbound::Reply(reply)) => self.feed_reply(reply).await,
            Some(Inbound::Close(reply, code, reason)) => {
                let _ = tokio::time::timeout(CLOSE_WAIT, self.sink.feed(Message::Text(reply.to_json().into()))).await;
                Flow::Close(code, reason)
            }
            Some(Inbound::Apply(Frame { reference, command: Command::Engine(command) })) => {
                self.start(command, reference);
                Flow::Continue
            }
            Some(Inbound::Apply(Frame { reference, command: Command::Subscription(command) })) => {
                // The last part of a resume, once it is applied, ends the hold; a refused one
                // changed nothing, and the client sends it again.
                let ends_a_resume = command.ends_a_resume();
                let applied = Box::pin(command.apply(&mut self.subscription, reference.clone())).await;
                let resumed = ends_a_resume && applied.is_ok();
                match self.feed_reply(reply(applied, reference)).await {
                    Flow::Continue if resumed => Flow::Resumed,
                    flow => flow,
                }
            }
        }
    }

    /// Starts a command that runs alongside others; its reply comes through `on_reply`.
    fn start(&mut self, command: EngineCommand, reference: Option<Reference>) {
        let (chat, caller) = (self.app.chat.clone(), self.caller.clone());
        let timing = self.app.traffic.ws_command.clone();
        self.in_flight.push(Box::pin(async move {
            let started = Instant::now();
            let applied = command.apply(&chat, &caller, reference.clone()).await;
            timing.record(started.elapsed());
            reply(applied, reference)
        }));
    }

    /// The ping timer: close a silent peer, start a re-check of the session, ping.
    async fn on_tick(&mut self) -> Flow {
        let idle = self.app.config.ws_idle_timeout;
        if self.heard.elapsed() >= idle {
            return Flow::Close(CloseCode::Away, "no response to pings");
        }
        // A revocation whose event missed this node, or an expiry, ends the session here at
        // the latest (the stream then says so, and the socket closes). One at a time: a check
        // still under way (the store is slow) is not doubled.
        if self.rechecking.is_terminated() {
            let check = self.subscription.recheck();
            self.rechecking = async move {
                if let Err(error) = check.await {
                    tracing::debug!(%error, "could not re-check the session");
                }
            }
            .boxed()
            .fuse();
        }
        self.dirty = true;
        match tokio::time::timeout(idle, self.sink.feed(Message::Ping(Bytes::new()))).await {
            Ok(Ok(())) => Flow::Continue,
            _ => Flow::Stop,
        }
    }

    /// Nothing else is ready: write what was fed.
    async fn flush(&mut self) -> Flow {
        self.dirty = false;
        match tokio::time::timeout(self.app.config.ws_idle_timeout, self.sink.flush()).await {
            Ok(Ok(())) => Flow::Continue,
            _ => Flow::Stop,
        }
    }

    /// Feeds a reply frame, if any; the loop flushes.
    async fn feed_reply(&mut self, reply: Option<ServerFrame>) -> Flow {
        let Some(frame) = reply else { return Flow::Continue };
        self.dirty = true;
        let fed = self.sink.feed(Message::Text(frame.to_json().into()));
        match tokio::time::timeout(self.app.config.ws_idle_timeout, fed).await {
            Ok(Ok(())) => Flow::Continue,
            _ => Flow::Stop,
        }
    }

    /// Answers the commands already under way, then sends the close frame, each within
    /// [`CLOSE_WAIT`].
    async fn close(&mut self, code: CloseCode, reason: &'static str) {
        let answered = async {
            while let Some(reply) = self.in_flight.next().await {
                if let Some(frame) = reply {
                    if self.sink.feed(Message::Text(frame.to_json().into())).await.is_err() {
                        break;
                    }
                }
            }
        };
        let _ = tokio::time::timeout(CLOSE_WAIT, answered).await;
        let frame = CloseFrame { code, reason: reason.into() };
        let _ = tokio::time::timeout(CLOSE_WAIT, self.sink.send(Message::Close(Some(frame)))).await;
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
            Err(rejected) => {
                let command::Rejected { reference, error } = *rejected;
                Inbound::Reply(Some(error.frame(reference)))
            }
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
fn reply(
    applied: Result<Option<ServerFrame>, kanect_core::Error>,
    reference: Option<Reference>,
) -> Option<ServerFrame> {
    applied.unwrap_or_else(|error| Some(ApiError::from(error).frame(reference)))
}

fn frame_too_large(limit: usize) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "frame_too_large", format!("frames are limited to {limit} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_channel::mpsc;
    use kanect_core::{Caller, Chat, ChatConfig, ConversationId, MemoryStore, PasswordCost, Registration};
    use serde_json::{json, Value};
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
            let app = App::new(chat.clone(), config, String::new(), None, shutdown_rx);
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
    async fn hello_says_how_soon_the_user_shows_as_away() {
        let away_after = std::time::Duration::from_secs(90);
        let config = ChatConfig { password_cost: PasswordCost::INSECURE_FAST, away_after, ..Default::default() };
        let chat = Chat::builder(MemoryStore::new()).config(config).build().await.unwrap();
        let alice = chat.register(Registration::new("alice", "correct horse")).await.unwrap();
        let alice = chat.act_as(alice.id).await.unwrap();
        let (_shutdown, shutdown_rx) = watch::channel(false);
        let app = App::new(chat.clone(), crate::HttpConfig::default(), String::new(), None, shutdown_rx);
        let (out_tx, mut out) = mpsc::unbounded::<Message>();
        let (_inbound, in_rx) = mpsc::unbounded::<Result<Message, WsError>>();
        let task = tokio::spawn(run(app, chat.subscribe(&alice).await.unwrap(), false, out_tx, in_rx));
        let hello = next_json(&mut out).await;
        assert_eq!((hello["type"].clone(), hello["away_after_ms"].clone()), (json!("hello"), json!(90_000)));
        task.abort();
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
        while message_seqs(&frames).len() < 4 {
            frames.push(socket.next().await);
        }
        // The group's seq 1 is its "created" system line (a client id of the engine's own).
        let order: Vec<(String, u64)> = frames
            .iter()
            .filter(|f| f["type"] == "message")
            .map(|f| {
                let client_id = f["message"]["client_id"].as_str().unwrap();
                let client_id = if client_id.starts_with('~') { "created line" } else { client_id };
                (client_id.to_string(), f["message"]["seq"].as_u64().unwrap())
            })
            .collect();
        let expected = [("d1", 1), ("created line", 1), ("g1", 2), ("g2", 3)].map(|(c, s)| (c.to_string(), s));
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

    #[tokio::test(start_paused = true)]
    async fn a_session_check_stuck_on_the_store_does_not_stop_the_socket() {
        let store = std::sync::Arc::new(kanect_core::testing::FaultyStore::new(MemoryStore::new()));
        let config = ChatConfig { password_cost: PasswordCost::INSECURE_FAST, ..Default::default() };
        let chat = Chat::builder_shared(store.clone()).config(config).build().await.unwrap();
        let alice = chat.register(Registration::new("alice", "correct horse")).await.unwrap();
        let alice = chat.act_as(alice.id).await.unwrap();
        let http = crate::HttpConfig {
            ws_ping_interval: Duration::from_secs(1),
            ws_idle_timeout: Duration::from_secs(3),
            ..Default::default()
        };
        let mut socket = Socket::open_with(&chat, &alice, false, http).await;
        // The store stops answering the check (as an unreachable PostgreSQL does, for its
        // timeouts' length) while the peer stays well: it answers every ping, and asks too.
        store.slow("user", Duration::from_secs(60));
        for round in 0..10 {
            // A second on (tokio's paused clock): the socket's timer ticks and starts a check.
            tokio::time::sleep(Duration::from_secs(1)).await;
            socket.send(json!({"type": "ping", "ref": round}));
            let answered = tokio::time::timeout(Duration::from_secs(2), async {
                loop {
                    match socket.out.next().await {
                        Some(Message::Ping(payload)) => {
                            socket.inbound.unbounded_send(Ok(Message::Pong(payload))).unwrap()
                        }
                        Some(Message::Text(text)) => break serde_json::from_str::<Value>(&text).unwrap(),
                        other => panic!("expected a pong, got {other:?}"),
                    }
                }
            });
            let pong = answered.await.unwrap_or_else(|_| panic!("no pong in round {round}: the loop is stuck"));
            assert_eq!(pong, json!({"v": 1, "type": "pong", "ref": round}));
        }
        assert!(!socket.task.is_finished(), "a healthy peer stays connected");
    }
}
