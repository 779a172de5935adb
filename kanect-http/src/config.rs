//! [`HttpConfig`]: the adapter's limits and timeouts, with defaults that suit a server and
//! can each be shortened by tests.

use std::net::IpAddr;
use std::time::Duration;

/// Settings of the HTTP adapter. `HttpConfig::default()` is what `PROTOCOL.md` documents.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Connections served at once; further ones wait in the listen backlog for a free slot
    /// (the permit is taken *before* `accept`). Default 10,000.
    pub max_connections: usize,
    /// Largest request body. Default 64 KiB.
    pub max_body_bytes: usize,
    /// Largest WebSocket text frame the application accepts; a bigger one gets an error frame
    /// and the socket carries on. Default 32 KiB: a 4000-character body fits with room to spare.
    pub max_frame_bytes: usize,
    /// Largest WebSocket message the transport reads (tungstenite's limit; the default of
    /// 64 MiB would let one client make the server buffer that much). Beyond it the socket is
    /// closed with 1009 after an error frame. Default 64 KiB.
    pub max_ws_message_bytes: usize,
    /// How long a client may take to send its request headers (slowloris). Default 10 s.
    pub header_read_timeout: Duration,
    /// How often the server pings an idle WebSocket. Default 30 s.
    pub ws_ping_interval: Duration,
    /// A socket from which nothing arrived for this long is considered dead and closed.
    /// Default 60 s.
    pub ws_idle_timeout: Duration,
    /// Longest a long-poll request is held open. Default 25 s.
    pub poll_wait: Duration,
    /// A poll session not polled for this long is dropped. Default 60 s.
    pub poll_idle: Duration,
    /// Origins allowed to open WebSockets besides the server's own (exact match, e.g.
    /// `https://chat.example.com`). Default empty.
    pub allowed_origins: Vec<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (see the `client` module):
    /// behind one, every connection comes from the proxy's address, and per-address limits
    /// would count all clients as one. Default empty (the TCP peer is the client).
    pub trusted_proxies: Vec<IpAddr>,
    /// Adds `Secure` to cookies; set when served over HTTPS by a proxy in front. Default false;
    /// a server with [`Server::tls`](crate::Server::tls) adds it whatever this says.
    pub secure_cookies: bool,
    /// How long graceful shutdown waits for connections to finish before giving up on them.
    /// Default 10 s.
    pub shutdown_grace: Duration,
    /// How long a request's body may take to arrive, counted from the end of its headers
    /// (which `header_read_timeout` bounds): with it, a whole request read is bounded, and a
    /// client that declares a body and trickles it (or sends nothing) gets `408
    /// request_timeout` and is disconnected instead of holding its connection. Default 10 s.
    pub body_read_timeout: Duration,
    /// How long an upload's body (`POST /attachments`) may take to arrive, from its headers:
    /// as `body_read_timeout`, for bodies up to the file size limit (25 MiB by default takes
    /// ~3.5 minutes at 1 Mbit/s). Past it the upload is refused with `408 request_timeout` and
    /// nothing is kept. Default 5 minutes.
    pub upload_read_timeout: Duration,
    /// Connections one client address may hold at once (IPv6: one /64, which one client
    /// usually has whole); more get `429 too_many_connections` and are closed, so that one
    /// address cannot take every slot of `max_connections`. Keyed by the TCP peer: a trusted
    /// proxy (`trusted_proxies`) is exempt, since all its clients share its address (limit
    /// them at the proxy). Default 100.
    pub max_connections_per_address: usize,
    /// Longest request target (path and query). Longer: `414 uri_too_long`. Default 8 KiB.
    pub max_uri_bytes: usize,
    /// Most header lines in a request. More: `431 too_many_headers`. Default 64.
    pub max_headers: usize,
    /// Most bytes of header names and values in a request, all together. More: `431
    /// headers_too_large`. Default 16 KiB.
    ///
    /// hyper's own parser limits are set to twice these three (see the `server` module), so
    /// that a request past ours still reaches Kanect and gets a JSON error; only one past
    /// hyper's gets hyper's bare status.
    pub max_header_bytes: usize,
    /// Connections past their address's cap (`max_connections_per_address`) that are being
    /// answered `429 too_many_connections` at once, server-wide. A refusal takes no slot of
    /// `max_connections`, so a client at its cap that keeps opening connections takes nothing
    /// from admitted clients; but each refusal holds a socket (count it in `ulimit -n`) and a
    /// request buffer until it is answered or `refusal_timeout` passes, and this bounds them.
    /// Past it, such a connection is closed at once, without an answer. Default 64.
    pub max_refusals_in_progress: usize,
    /// How long a connection refused for its address may take to send its request and be
    /// answered; then it is closed. Default 1 s.
    pub refusal_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_connections: 10_000,
            max_body_bytes: 64 * 1024,
            max_frame_bytes: 32 * 1024,
            max_ws_message_bytes: 64 * 1024,
            header_read_timeout: Duration::from_secs(10),
            ws_ping_interval: Duration::from_secs(30),
            ws_idle_timeout: Duration::from_secs(60),
            poll_wait: Duration::from_secs(25),
            poll_idle: Duration::from_secs(60),
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            secure_cookies: false,
            shutdown_grace: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            upload_read_timeout: Duration::from_secs(300),
            max_connections_per_address: 100,
            max_uri_bytes: 8 * 1024,
            max_headers: 64,
            max_header_bytes: 16 * 1024,
            max_refusals_in_progress: 64,
            refusal_timeout: Duration::from_secs(1),
        }
    }
}
