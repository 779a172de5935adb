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

/// Reads until the server closes the connection (within [`WAIT`]) and parses the response.
async fn reply_then_close(stream: &mut (impl AsyncReadExt + Unpin)) -> Reply {
    let mut raw = Vec::new();
    let read = tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await;
    assert!(read.is_ok(), "the server neither answered nor closed within {WAIT:?}");
    parse_reply(&raw)
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
