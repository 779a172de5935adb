//! The HTTP adapter's resource limits, tried as a hostile client would: request bodies that
//! never finish, many connections from one address, oversized request heads, and the
//! operations endpoints kept off the client port.

mod support;

use kanect::http::HttpConfig;
use std::net::SocketAddr;
use std::time::Duration;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The head of a log-in request declaring a body of `length` bytes.
fn login_head(addr: SocketAddr, length: usize) -> String {
    format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\n\r\n"
    )
}

/// Everything the server sends on `stream` until it closes it (within [`WAIT`]); nothing if it
/// closed it unanswered (or reset it).
async fn until_closed(stream: &mut (impl AsyncReadExt + Unpin)) -> Vec<u8> {
    let mut raw = Vec::new();
    let read = tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await;
    assert!(read.is_ok(), "the server neither answered nor closed within {WAIT:?}");
    raw
}

/// Reads until the server closes the connection (within [`WAIT`]) and parses the response.
async fn reply_then_close(stream: &mut (impl AsyncReadExt + Unpin)) -> Reply {
    parse_reply(&until_closed(stream).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_finishes_gets_408_and_the_connection_closes() {
    let config = HttpConfig { body_read_timeout: Duration::from_millis(400), ..HttpConfig::default() };
    let server = start_server_with(config, chat_config()).await;
    let addr = server.addr;

    // Declares 4000 bytes, sends one, then nothing.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    silent.write_all(format!("{}{{", login_head(addr, 4000)).as_bytes()).await.unwrap();
    let reply = reply_then_close(&mut silent).await;
    assert_eq!((reply.status, reply.code().as_str()), (408, "request_timeout"), "{reply:?}");
    assert_eq!(reply.header("connection"), Some("close"));

    // Sends a byte every 100 ms: each byte is progress, but the body never completes in time.
    let trickler = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = trickler.into_split();
    write.write_all(login_head(addr, 4000).as_bytes()).await.unwrap();
    let writer = tokio::spawn(async move {
        for _ in 0..100 {
            if write.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let reply = reply_then_close(&mut read).await;
    assert_eq!((reply.status, reply.code().as_str()), (408, "request_timeout"), "{reply:?}");
    writer.abort();

    // A body that arrives in time is served as before.
    let body = serde_json::json!({"username": "nobody", "password": "correct horse battery"});
    let login = request(addr, "POST", "/api/v1/auth/login", None, Some(body)).await;
    assert_eq!((login.status, login.code().as_str()), (401, "bad_credentials"));
    server.shutdown().await.unwrap();
}

/// Connects to `addr` from the local address `from` (any 127.x.y.z is the loopback on Linux).
#[cfg(target_os = "linux")]
async fn connect_from(from: &str, addr: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// A request for `/health` on an open connection; the reply once the server closes it.
async fn health_on(mut stream: TcpStream, addr: SocketAddr) -> Reply {
    let head = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    reply_then_close(&mut stream).await
}

/// One address holds its cap of connections with bodies it never finishes; more from it are
/// refused with a JSON 429 and closed (not left waiting for a slot), and the server still
/// answers everyone else — the whole server has only twice the cap.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_connection() {
    let config = HttpConfig { max_connections: 8, max_connections_per_address: 4, ..HttpConfig::default() };
    let server = start_server_with(config, chat_config()).await;
    let addr = server.addr;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = connect_from("127.0.0.1", addr).await;
        stream.write_all(format!("{}{{", login_head(addr, 4000)).as_bytes()).await.unwrap();
        held.push(stream);
    }
    // Accepted in order, so these come after the four above: each is past the cap.
    for attempt in 0..4 {
        let reply = health_on(connect_from("127.0.0.1", addr).await, addr).await;
        assert_eq!((reply.status, reply.code().as_str()), (429, "too_many_connections"), "attempt {attempt}");
        assert_eq!(reply.header("connection"), Some("close"));
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    }
    let reply = health_on(connect_from("127.0.0.2", addr).await, addr).await;
    assert_eq!(reply.status, 200, "another address is served");

    // A slot freed (the server sees the close when the body read fails) is the address's again.
    drop(held.pop());
    let mut served = false;
    for _ in 0..100 {
        if health_on(connect_from("127.0.0.1", addr).await, addr).await.status == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "the address got its freed slot back");
    drop(held); // (or shutdown would wait for their bodies, up to body_read_timeout)
    server.shutdown().await.unwrap();
}

/// Opens a connection from `from` (see [`connect_from`]) and sends `bytes` on it.
#[cfg(target_os = "linux")]
async fn send_from(from: &str, addr: SocketAddr, bytes: &str) -> TcpStream {
    let mut stream = connect_from(from, addr).await;
    stream.write_all(bytes.as_bytes()).await.unwrap();
    stream
}

/// Asks for `/health` from 127.0.0.1 (at its cap) until the server answers rather than closing
/// the connection unanswered — a refusal slot is given back a moment after its connection
/// closes — and checks the answer is `429 too_many_connections`.
#[cfg(target_os = "linux")]
async fn assert_refused_once_a_slot_is_free(addr: SocketAddr) {
    let head = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    for _ in 0..100 {
        let mut stream = connect_from("127.0.0.1", addr).await;
        let _ = stream.write_all(head.as_bytes()).await; // (it may be closed unanswered already)
        let raw = until_closed(&mut stream).await;
        if !raw.is_empty() {
            let reply = parse_reply(&raw);
            assert_eq!((reply.status, reply.code().as_str()), (429, "too_many_connections"), "{reply:?}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no refusal slot came free");
}

/// A client at its cap that keeps opening connections takes nothing from anyone else: a
/// refusal gives its place under `max_connections` back before it is answered, and holds only
/// one of a small budget of its own; past that budget, the connection is closed unanswered.
/// Another address is served while the flood goes on and every refusal slot is busy.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_take_no_capacity_from_admitted_clients() {
    // Nothing held below ends by itself while the test runs: in particular the refusal slots
    // stay busy until the test finishes their requests, whatever the machine's speed.
    let long = Duration::from_secs(600);
    let config = HttpConfig {
        max_connections: 8,
        max_connections_per_address: 4,
        max_refusals_in_progress: 2,
        refusal_timeout: long,
        body_read_timeout: long,
        ..HttpConfig::default()
    };
    let server = start_server_with(config, chat_config()).await;
    let addr = server.addr;
    // 127.0.0.1 holds its cap with bodies it never finishes, then both refusal slots with
    // request heads it never finishes (accepted in order, so these two are past the cap).
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(send_from("127.0.0.1", addr, &format!("{}{{", login_head(addr, 4000))).await);
    }
    let mut refused = Vec::new();
    for _ in 0..2 {
        refused.push(send_from("127.0.0.1", addr, &format!("GET /health HTTP/1.1\r\nHost: {addr}\r\n")).await);
    }

    // Then it opens idle connections in a loop, and 127.0.0.2 asks for /health halfway through.
    const FLOOD: usize = 40;
    let (halfway_tx, halfway) = tokio::sync::oneshot::channel();
    let flood = tokio::spawn(async move {
        let (mut opened, mut halfway_tx) = (Vec::new(), Some(halfway_tx));
        for n in 0..FLOOD {
            opened.push(connect_from("127.0.0.1", addr).await);
            if n == FLOOD / 2 {
                let _ = halfway_tx.take().map(|tx| tx.send(()));
            }
        }
        opened
    });
    halfway.await.unwrap();
    let reply = health_on(connect_from("127.0.0.2", addr).await, addr).await;
    assert_eq!(reply.status, 200, "another address is served during the flood");

    // Past the refusal budget, the flood was closed unanswered.
    let flooded = tokio::time::timeout(WAIT, flood).await.expect("the flood ends").unwrap();
    for (n, mut stream) in flooded.into_iter().enumerate() {
        assert_eq!(until_closed(&mut stream).await, b"", "flood connection {n}");
    }
    // The refusal slots were busy all along: both refusals are answered only now.
    for (n, mut stream) in refused.into_iter().enumerate() {
        stream.write_all(b"Connection: close\r\n\r\n").await.unwrap();
        let raw = until_closed(&mut stream).await;
        assert!(!raw.is_empty(), "refusal {n} is still there to be answered");
        let reply = parse_reply(&raw);
        assert_eq!((reply.status, reply.code().as_str()), (429, "too_many_connections"), "{reply:?}");
    }
    // Their slots are given back: the next connection past the cap is answered again.
    assert_refused_once_a_slot_is_free(addr).await;
    drop(held); // (or shutdown would wait for their bodies)
    server.shutdown().await.unwrap();
}

/// A refused connection that sends nothing keeps its refusal slot only until
/// `refusal_timeout`: then it is closed unanswered and the slot serves the next refusal.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_refusal_ends_after_refusal_timeout() {
    let config = HttpConfig {
        max_connections_per_address: 1,
        max_refusals_in_progress: 1,
        refusal_timeout: Duration::from_millis(300),
        ..HttpConfig::default()
    };
    let server = start_server_with(config, chat_config()).await;
    let addr = server.addr;
    let held = send_from("127.0.0.1", addr, &format!("{}{{", login_head(addr, 4000))).await;
    let mut silent = connect_from("127.0.0.1", addr).await;
    assert_eq!(until_closed(&mut silent).await, b"", "closed unanswered");
    assert_refused_once_a_slot_is_free(addr).await;
    drop(held); // (or shutdown would wait for its body)
    server.shutdown().await.unwrap();
}

/// A trusted proxy speaks for many clients from one address: the per-address cap does not
/// apply to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_is_exempt_from_the_per_address_cap() {
    let config = HttpConfig {
        max_connections_per_address: 1,
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..HttpConfig::default()
    };
    let server = start_server_with(config, chat_config()).await;
    let _idle = [TcpStream::connect(server.addr).await.unwrap(), TcpStream::connect(server.addr).await.unwrap()];
    let reply = health_on(TcpStream::connect(server.addr).await.unwrap(), server.addr).await;
    assert_eq!(reply.status, 200);
    server.shutdown().await.unwrap();
}

/// Kanect's limits on the request head answer with a JSON error and a stable code, at the limit
/// and one byte or header past it. hyper's own parser limits sit at twice Kanect's: only a
/// request past those gets hyper's bare status, with no body (see PROTOCOL.md, "Limits").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_heads_get_json_errors() {
    let config = HttpConfig { max_uri_bytes: 100, max_headers: 10, max_header_bytes: 1000, ..HttpConfig::default() };
    let server = start_server_with(config, chat_config()).await;
    let addr = server.addr;
    let get = |path: String, headers: Vec<(String, String)>| async move {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        raw_request(addr, "GET", &path, &headers, b"").await
    };
    let check = |reply: Reply, status: u16, code: &str| {
        assert_eq!((reply.status, reply.code().as_str()), (status, code), "{reply:?}");
        if status != 200 {
            assert_eq!(reply.header("content-type"), Some("application/json"));
            assert_eq!(reply.header("cache-control"), Some("no-store"));
        }
    };

    // The request target: 100 bytes pass, 101 do not.
    let path = |length: usize| format!("/health?{}", "x".repeat(length - "/health?".len()));
    check(get(path(100), vec![]).await, 200, "");
    check(get(path(101), vec![]).await, 414, "uri_too_long");

    // Header lines: `raw_request` sends Host, Connection and Content-Length; 7 more make 10.
    let extra = |count: usize| (0..count).map(|n| (format!("x-h{n}"), "v".to_string())).collect::<Vec<_>>();
    check(get("/health".into(), extra(7)).await, 200, "");
    check(get("/health".into(), extra(8)).await, 431, "too_many_headers");

    // Header bytes (names and values): make them 1000, then 1001.
    let sent = "host".len() + addr.to_string().len() + "connection".len() + "close".len() + "content-length".len() + 1;
    let padded = |total: usize| vec![("x-pad".to_string(), "p".repeat(total - sent - "x-pad".len()))];
    check(get("/health".into(), padded(1000)).await, 200, "");
    check(get("/health".into(), padded(1001)).await, 431, "headers_too_large");

    // Past hyper's own limits (twice ours): hyper answers alone, a status and no body.
    let hyper = get("/health".into(), extra(25)).await;
    assert_eq!((hyper.status, hyper.body.len()), (431, 0));
    let hyper = get(path(10_000), vec![]).await;
    assert_eq!((hyper.status, hyper.body.len()), (431, 0));
    // So does a head hyper cannot parse at all.
    let mut garbled = TcpStream::connect(addr).await.unwrap();
    garbled.write_all(b"GET /health HTTP/1.1\r\nno colon here\r\n\r\n").await.unwrap();
    let hyper = reply_then_close(&mut garbled).await;
    assert_eq!((hyper.status, hyper.body.len()), (400, 0));
    server.shutdown().await.unwrap();
}
