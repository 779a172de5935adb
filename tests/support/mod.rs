//! Test helpers for the network tests: a server on 127.0.0.1 port 0, a tiny HTTP client over
//! a raw `TcpStream`, and a WebSocket client that waits for frames of a given type.
//!
//! The WebSocket client reads every frame as a `kanect::proto::ServerFrame`, so every frame a
//! test sees has been checked against the protocol's types; tests then assert on its JSON. It
//! writes typed `ClientFrame`s, or raw JSON for the malformed frames tests send on purpose.
#![allow(dead_code, unreachable_pub)] // each test file uses a different part of this module

pub mod binary;
pub mod certs;
pub mod https;
pub mod log;
pub mod netns;
pub mod smtp;

use futures_util::{SinkExt, StreamExt};
use kanect::http::HttpConfig;
use kanect::proto::{ClientFrame, Reference, ServerFrame};
use kanect::{Chat, ChatConfig, MemoryStore, PasswordCost};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// The engine config for tests: cheap password hashing.
pub fn chat_config() -> ChatConfig {
    ChatConfig { password_cost: PasswordCost::INSECURE_FAST, ..Default::default() }
}

/// A running server.
pub struct TestServer {
    pub addr: SocketAddr,
    /// Where `/metrics` is served, if the server was started with a metrics listener.
    pub metrics: Option<SocketAddr>,
    pub chat: Chat,
    /// The engine's store, to look at what was kept.
    pub store: Arc<MemoryStore>,
    /// The engine's blob store, to look at what bytes were kept.
    pub blobs: Arc<kanect::blob::MemoryBlobStore>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    /// Starts a graceful shutdown and waits for `serve` to return.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(WAIT, &mut self.task).await.expect("serve returns").expect("serve task")
    }
}

/// A server on port 0 with the default HTTP config and an in-memory store (and blob store).
pub async fn start_server() -> TestServer {
    start_server_with(HttpConfig::default(), chat_config()).await
}

/// A server on port 0.
pub async fn start_server_with(config: HttpConfig, chat_config: ChatConfig) -> TestServer {
    start(config, chat_config, false).await
}

/// A server on port 0 that also serves `/metrics` on a listener of its own (port 0 too).
pub async fn start_server_with_metrics(config: HttpConfig, chat_config: ChatConfig) -> TestServer {
    start(config, chat_config, true).await
}

/// A server on port 0 that sends Web Push as `push` says (its VAPID key made in its store).
pub async fn start_server_with_push(chat_config: ChatConfig, push: kanect::push::WebPushConfig) -> TestServer {
    start_full(HttpConfig::default(), chat_config, false, Some(push), None).await
}

/// A server on port 0 that mails through `mailer`.
pub async fn start_server_mailing(chat_config: ChatConfig, mailer: Arc<dyn kanect::Mailer>) -> TestServer {
    start_full(HttpConfig::default(), chat_config, false, None, Some(mailer)).await
}

async fn start(config: HttpConfig, chat_config: ChatConfig, metrics: bool) -> TestServer {
    start_full(config, chat_config, metrics, None, None).await
}

async fn start_full(
    config: HttpConfig,
    chat_config: ChatConfig,
    metrics: bool,
    push: Option<kanect::push::WebPushConfig>,
    mailer: Option<Arc<dyn kanect::Mailer>>,
) -> TestServer {
    // Kanect's recorder goes in before the engine registers its metrics (once per process:
    // every server of a test binary shares it, so the page's numbers add up across tests).
    let page = metrics.then(|| kanect::http::PrometheusMetrics::install().expect("no other recorder"));
    // Attachments on, as on every server the example runs.
    let store = Arc::new(MemoryStore::new());
    let blobs = Arc::new(kanect::blob::MemoryBlobStore::new());
    let mut builder = Chat::builder_shared(store.clone()).blobs_shared(blobs.clone()).config(chat_config);
    if let Some(push) = push {
        builder = builder.push(kanect::push::WebPush::start(&*store, push).await.expect("push"));
    }
    if let Some(mailer) = mailer {
        builder = builder.mailer_shared(mailer);
    }
    let chat = builder.build().await.expect("chat");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut server = kanect::http::Server::new(chat.clone(), config);
    let mut metrics_addr = None;
    if let Some(page) = page {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind metrics");
        metrics_addr = Some(listener.local_addr().expect("metrics addr"));
        server = server.metrics_listener(listener, page);
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));
    TestServer { addr, metrics: metrics_addr, chat, store, blobs, stop: Some(stop), task }
}

/// An HTTP response, as the tests look at it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as the `kanect::proto` type it should be (fails the test if it is not).
    pub fn body_as<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!("{} is not a {}: {error}", String::from_utf8_lossy(&self.body), std::any::type_name::<T>())
        })
    }

    /// The error code of a JSON error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or("").to_string()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }
}

/// Sends one request (`Connection: close`) with extra headers and a raw body.
pub async fn raw_request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).await.expect("write head");
    // A server may refuse an oversized body before reading it; that is what some tests check.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await.expect("response in time").expect("read");
    parse_reply(&raw)
}

/// Parses a raw HTTP/1.1 response (head and body).
pub fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status");
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    Reply { status, headers, body: raw[split + 4..].to_vec() }
}

/// A request with an optional bearer token and JSON body.
pub async fn request(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth));
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    raw_request(addr, method, path, &headers, body.as_bytes()).await
}

/// A signed-up, logged-in user.
#[derive(Clone, Debug)]
pub struct Session {
    pub token: String,
    pub csrf: String,
    pub id: String,
    pub username: String,
}

/// Signs a user up (password "correct horse battery").
pub async fn signup(addr: SocketAddr, username: &str) -> Session {
    let body = json!({"username": username, "password": "correct horse battery"});
    let reply = request(addr, "POST", "/api/v1/auth/signup", None, Some(body)).await;
    assert_eq!(reply.status, 201, "signup {username}: {:?}", String::from_utf8_lossy(&reply.body));
    let json = reply.json();
    Session {
        token: json["token"].as_str().expect("token").to_string(),
        csrf: json["csrf_token"].as_str().expect("csrf").to_string(),
        id: json["user"]["id"].as_str().expect("id").to_string(),
        username: username.to_string(),
    }
}

/// Creates the administrator `root` in the engine and logs it in; returns its session.
pub async fn admin_session(server: &TestServer) -> Session {
    let user = server.chat.create_admin(kanect::Registration::new("root", "the admin password")).await.expect("admin");
    let body = json!({"username": "root", "password": "the admin password"});
    let login = request(server.addr, "POST", "/api/v1/auth/login", None, Some(body)).await;
    assert_eq!(login.status, 200, "{:?}", login.json());
    let json = login.json();
    Session {
        token: json["token"].as_str().expect("token").to_string(),
        csrf: json["csrf_token"].as_str().expect("csrf").to_string(),
        id: user.id.to_string(),
        username: "root".into(),
    }
}

/// Opens the direct conversation between the two users and returns its id.
pub async fn open_direct(addr: SocketAddr, a: &Session, b: &Session) -> String {
    let reply =
        request(addr, "POST", "/api/v1/conversations/direct", Some(&a.token), Some(json!({"user": b.id}))).await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    reply.json()["id"].as_str().expect("conversation id").to_string()
}

/// A WebSocket client.
pub struct Ws {
    pub socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
}

/// Connects a WebSocket with a bearer token (and optional extra headers). Waits for `hello`.
pub async fn connect(addr: SocketAddr, token: &str) -> Ws {
    let mut ws = try_connect(addr, token, &[]).await.expect("WebSocket connects");
    let hello = ws.next_of("hello").await;
    assert!(hello["user"].is_string());
    ws
}

/// Connects a WebSocket that will resume (`?resume=1`: events wait for its `resume`). Waits
/// for `hello`.
pub async fn connect_resuming(addr: SocketAddr, token: &str) -> Ws {
    let mut ws = try_connect_to(addr, "/api/v1/ws?resume=1", token, &[]).await.expect("WebSocket connects");
    ws.next_of("hello").await;
    ws
}

/// Tries to connect; the HTTP status on refusal.
pub async fn try_connect(addr: SocketAddr, token: &str, extra: &[(&str, &str)]) -> Result<Ws, u16> {
    try_connect_to(addr, "/api/v1/ws", token, extra).await
}

/// Tries to connect at `path`, with a bearer token unless it is empty; the HTTP status on refusal.
pub async fn try_connect_to(addr: SocketAddr, path: &str, token: &str, extra: &[(&str, &str)]) -> Result<Ws, u16> {
    try_connect_over(addr, path, token, extra, None).await
}

/// Tries to connect over TLS (`wss://`), trusting what `tls` trusts; the HTTP status on refusal.
pub async fn try_connect_tls(
    addr: SocketAddr,
    token: &str,
    extra: &[(&str, &str)],
    tls: Arc<rustls::ClientConfig>,
) -> Result<Ws, u16> {
    try_connect_over(addr, "/api/v1/ws", token, extra, Some(tls)).await
}

async fn try_connect_over(
    addr: SocketAddr,
    path: &str,
    token: &str,
    extra: &[(&str, &str)],
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<Ws, u16> {
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let mut request = format!("{scheme}://{addr}{path}").into_client_request().expect("request");
    if !token.is_empty() {
        let value = HeaderValue::try_from(format!("Bearer {token}")).expect("header");
        request.headers_mut().insert("authorization", value);
    }
    for (name, value) in extra {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::try_from(*name).expect("name");
        request.headers_mut().insert(name, HeaderValue::try_from(*value).expect("value"));
    }
    let connector = tls.map(tokio_tungstenite::Connector::Rustls);
    match tokio_tungstenite::connect_async_tls_with_config(request, None, false, connector).await {
        Ok((socket, _)) => Ok(Ws { socket }),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("WebSocket connect failed: {other}"),
    }
}

impl Ws {
    /// Sends raw JSON: for frames a well-behaved client would not send.
    pub async fn send(&mut self, frame: Value) {
        self.socket.send(Message::Text(frame.to_string().into())).await.expect("send frame");
    }

    /// Sends a command.
    pub async fn send_frame(&mut self, frame: &ClientFrame) {
        let text = serde_json::to_string(frame).expect("a client frame encodes");
        self.socket.send(Message::Text(text.into())).await.expect("send frame");
    }

    pub async fn send_text(&mut self, text: String) {
        self.socket.send(Message::Text(text.into())).await.expect("send text");
    }

    /// The next text frame, read as a [`ServerFrame`] and returned with its JSON (fails the
    /// test after [`WAIT`], or if the frame is not a `ServerFrame`).
    async fn next_both(&mut self) -> (ServerFrame, Value) {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a frame in time")
                .expect("socket open")
                .expect("frame");
            if let Message::Text(text) = message {
                let frame = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text} is not a ServerFrame: {e}"));
                return (frame, serde_json::from_str(&text).expect("frames are JSON"));
            }
        }
    }

    /// The next text frame, as JSON (fails the test after [`WAIT`]).
    pub async fn next(&mut self) -> Value {
        self.next_both().await.1
    }

    /// The next text frame (fails the test after [`WAIT`]).
    pub async fn next_frame(&mut self) -> ServerFrame {
        self.next_both().await.0
    }

    /// The next frame of `kind`, skipping others (presence, typing, ...).
    pub async fn next_of(&mut self, kind: &str) -> Value {
        for _ in 0..1000 {
            let (frame, json) = self.next_both().await;
            if frame.kind() == kind {
                return json;
            }
        }
        panic!("no {kind} frame");
    }

    /// The reply (`ack`, `error` or `pong`) carrying `reference`, skipping events in between.
    async fn reply_to(&mut self, reference: &str) -> (ServerFrame, Value) {
        let reference = Reference::from(reference);
        for _ in 0..1000 {
            let (frame, json) = self.next_both().await;
            if frame.reference() == Some(&reference) {
                return (frame, json);
            }
        }
        panic!("no reply to {reference}");
    }

    /// Sends a raw frame with `ref` set to `reference` and returns the reply carrying it,
    /// skipping events in between.
    pub async fn call(&mut self, mut frame: Value, reference: &str) -> Value {
        frame["ref"] = json!(reference);
        self.send(frame).await;
        self.reply_to(reference).await.1
    }

    /// Sends a command with `ref` set to `reference` and returns the reply carrying it,
    /// skipping events in between.
    pub async fn call_frame(&mut self, frame: ClientFrame, reference: &str) -> ServerFrame {
        self.send_frame(&frame.with_ref(reference)).await;
        self.reply_to(reference).await.0
    }

    /// Whether the server closes the socket within `within` (a close frame or the end of the
    /// stream), ignoring other frames; returns the close code if one came.
    pub async fn closed_within(&mut self, within: Duration) -> Option<Option<u16>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => return Some(None),
                Ok(Some(Ok(Message::Close(frame)))) => return Some(frame.map(|f| u16::from(f.code))),
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}

/// A message frame's body and seq.
pub fn message_of(frame: &Value) -> (String, u64) {
    (frame["message"]["body"].as_str().unwrap_or("").to_string(), frame["message"]["seq"].as_u64().unwrap_or(0))
}

/// The value of `series` (a name, with its labels as the page prints them) on a Prometheus
/// text page; None if the page has no such line.
pub fn metric(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}
