//! The load generator's side of the wire: just enough HTTP to create accounts and
//! conversations (hyper's client connection, kept alive per worker), and WebSocket sockets
//! bound to a chosen 127.0.0.x source address so that tens of thousands of connections do not
//! run out of ephemeral ports.

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use kanect::proto::rest::{LoggedIn, NewGroup, SignUp, UserRef};
use kanect::proto::{Conversation, ConversationId, ErrorBody, UserId};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

/// Every failure of the load generator: reported, never a panic.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A client WebSocket over a plain TCP stream.
pub(crate) type Socket = WebSocketStream<TcpStream>;

/// The longest a WebSocket connection and handshake may take.
pub(crate) const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Password of every generated account (long enough and not a common one).
const PASSWORD: &str = "loadgen-password-7f3a";

/// A registered user: its id and a bearer token.
#[derive(Clone, Debug)]
pub(crate) struct Account {
    /// The user's id.
    pub(crate) id: UserId,
    /// Bearer token for REST calls and the WebSocket upgrade.
    pub(crate) token: String,
}

/// One keep-alive HTTP/1.1 connection to the server's REST API.
pub(crate) struct Api {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Api {
    /// Opens a connection to `server`.
    pub(crate) async fn connect(server: SocketAddr) -> Result<Api, BoxError> {
        let stream = TcpStream::connect(server).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Api { sender, host: server.to_string() })
    }

    /// POSTs a body and reads the answer, or an error naming the status and the server's
    /// error code.
    async fn post<B: Serialize, A: DeserializeOwned>(
        &mut self,
        path: &str,
        token: Option<&str>,
        body: &B,
    ) -> Result<A, BoxError> {
        let mut request =
            hyper::Request::post(path).header("host", &self.host).header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Full::new(Bytes::from(serde_json::to_vec(body)?)))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            let code =
                serde_json::from_slice::<ErrorBody>(&bytes).map_or_else(|_| "?".to_owned(), |body| body.error.code);
            // The limits are for people; a load run signs up and sends far faster.
            let hint = if code == "rate_limited" { " (start the server with --no-rate-limits)" } else { "" };
            return Err(format!("POST {path}: {status} {code}{hint}").into());
        }
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// Signs up `username` and returns its id and token.
    pub(crate) async fn signup(&mut self, username: &str) -> Result<Account, BoxError> {
        let body = SignUp {
            username: username.into(),
            password: PASSWORD.into(),
            email: None,
            display_name: None,
            invite: None,
        };
        let answer: LoggedIn = self.post("/api/v1/auth/signup", None, &body).await?;
        Ok(Account { id: answer.user.id, token: answer.token })
    }

    /// Opens (or finds) the direct conversation between `caller` and `peer`; returns its id.
    pub(crate) async fn open_direct(&mut self, caller: &Account, peer: &Account) -> Result<ConversationId, BoxError> {
        let body = UserRef { user: peer.id };
        let answer: Conversation = self.post("/api/v1/conversations/direct", Some(&caller.token), &body).await?;
        Ok(answer.id)
    }

    /// Creates a group owned by `owner` with `members`; returns its id.
    pub(crate) async fn create_group(
        &mut self,
        owner: &Account,
        name: &str,
        members: &[Account],
    ) -> Result<ConversationId, BoxError> {
        let members = members.iter().filter(|m| m.id != owner.id).map(|m| m.id).collect();
        let body = NewGroup { name: name.into(), members };
        let answer: Conversation = self.post("/api/v1/conversations", Some(&owner.token), &body).await?;
        Ok(answer.id)
    }
}

/// Registers `count` users named `{prefix}{i}`, `concurrency` at a time (each worker keeps
/// one HTTP connection). Password hashing makes this the slow part of a run, so it runs in
/// parallel; the order of the result follows `i`.
pub(crate) async fn register(
    server: SocketAddr,
    prefix: &str,
    count: usize,
    concurrency: usize,
) -> Result<Vec<Account>, BoxError> {
    let next = Arc::new(AtomicUsize::new(0));
    let workers = (0..concurrency.clamp(1, count.max(1))).map(|_| {
        let next = next.clone();
        let prefix = prefix.to_string();
        tokio::spawn(async move {
            let mut api = Api::connect(server).await?;
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, BoxError>(done);
                }
                done.push((i, api.signup(&format!("{prefix}{i}")).await?));
            }
        })
    });
    let mut accounts: Vec<(usize, Account)> = Vec::with_capacity(count);
    for worker in futures_util::future::join_all(workers).await {
        accounts.extend(worker??);
    }
    accounts.sort_by_key(|(i, _)| *i);
    Ok(accounts.into_iter().map(|(_, account)| account).collect())
}

/// Source addresses for outgoing sockets: 127.0.0.1, 127.0.0.2, ... (each has its own
/// ~28,000 ephemeral ports). For a server that is not on loopback, only the default route's
/// address is used.
#[derive(Clone, Debug)]
pub(crate) struct Sources {
    count: u8,
    loopback: bool,
}

impl Sources {
    /// `count` loopback sources (1–254) if `server` is on loopback, else the default one.
    pub(crate) fn new(server: SocketAddr, count: u8) -> Sources {
        Sources { count: count.max(1), loopback: server.ip().is_loopback() }
    }

    /// The source address of the `n`th socket.
    fn pick(&self, n: usize) -> Option<SocketAddr> {
        let last = (n % usize::from(self.count)) as u8 + 1;
        self.loopback.then(|| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)), 0))
    }
}

/// Opens the `n`th WebSocket to `server` as `account`. `write_buffer` bounds what is batched
/// before a write.
pub(crate) async fn connect_socket(
    server: SocketAddr,
    sources: &Sources,
    n: usize,
    account: &Account,
    write_buffer: usize,
) -> Result<Socket, BoxError> {
    let socket = if server.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    if let Some(source) = sources.pick(n) {
        socket.bind(source)?;
    }
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    let mut request = format!("ws://{server}/api/v1/ws").into_client_request()?;
    request.headers_mut().insert("authorization", HeaderValue::from_str(&format!("Bearer {}", account.token))?);
    let mut config = WebSocketConfig::default();
    config.write_buffer_size = write_buffer;
    config.max_message_size = Some(1 << 20);
    // tungstenite zeroes up to this much before each read (and reads at most this much): its
    // default of 128 KiB would dwarf thousands of idle sockets and cost a 128 KiB memset a read.
    config.read_buffer_size = 4096;
    let (socket, _response) = tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await?;
    Ok(socket)
}

/// Opens one socket per entry of `owners` (an index into `accounts`), `concurrency` at a
/// time, account `i`'s to `servers[i % servers.len()]` (the nodes of one cluster); the results
/// are in order. A handshake that takes longer than [`CONNECT_TIMEOUT`]
/// (e.g. a server at its connection limit holds new ones in its backlog) fails.
pub(crate) async fn connect_all(
    servers: &[SocketAddr],
    sources: &Sources,
    accounts: &[Account],
    owners: &[usize],
    concurrency: usize,
    write_buffer: usize,
) -> Vec<Result<Socket, BoxError>> {
    stream::iter(owners.iter().enumerate())
        .map(|(n, &owner)| async move {
            let server = servers[owner % servers.len()];
            let connecting = connect_socket(server, sources, n, &accounts[owner], write_buffer);
            match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!("no WebSocket handshake within {CONNECT_TIMEOUT:?}").into()),
            }
        })
        .buffered(concurrency.max(1))
        .collect()
        .await
}

/// Raises the soft open-file limit to the hard one: every socket is a descriptor.
pub(crate) fn raise_fd_limit() -> std::io::Result<()> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    setrlimit(Resource::Nofile, Rlimit { current: limit.maximum, ..limit })?;
    Ok(())
}
