//! Attachments over real sockets: the upload's limits and failures, the download's headers,
//! ranges and validators, who may read, and sending over REST and the WebSocket.

mod support;

use kanect::http::HttpConfig;
use kanect::{AttachmentLimits, ChatConfig, RateLimits};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMIT: u64 = 100_000;

async fn server() -> TestServer {
    let limits = AttachmentLimits { max_file_bytes: LIMIT, ..Default::default() };
    let config = ChatConfig { attachments: limits, rate_limits: RateLimits::UNLIMITED, ..chat_config() };
    let http = HttpConfig { upload_read_timeout: Duration::from_secs(2), ..HttpConfig::default() };
    start_server_with(http, config).await
}

async fn upload(addr: SocketAddr, token: &str, name: &str, bytes: &[u8]) -> Reply {
    let auth = format!("Bearer {token}");
    let path = format!("/api/v1/attachments?name={}", name.replace(' ', "%20"));
    raw_request(addr, "POST", &path, &[("Authorization", &auth), ("Content-Type", "image/png")], bytes).await
}

async fn get(addr: SocketAddr, token: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let auth = format!("Bearer {token}");
    let mut all = vec![("Authorization", auth.as_str())];
    all.extend_from_slice(headers);
    raw_request(addr, "GET", path, &all, b"").await
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(width, height, image::Rgb([200, 40, 40]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Sends a head and then `body` chunked, without announcing the length; `stop_after` cuts the
/// connection (no last chunk) after that many bytes. Returns the reply, if any came.
async fn chunked_upload(addr: SocketAddr, token: &str, body: &[u8], stop_after: Option<usize>) -> Option<Reply> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1/attachments?name=c.bin HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let end = stop_after.unwrap_or(body.len());
    for chunk in body[..end].chunks(16 * 1024) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if stream.write_all(&framed).await.is_err() {
            break;
        }
    }
    if stop_after.is_some() {
        drop(stream);
        return None;
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await.expect("reply in time").ok()?;
    Some(parse_reply(&raw))
}

#[tokio::test]
async fn uploads_at_the_limit_pass_and_past_it_are_refused_with_or_without_a_length() {
    let server = server().await;
    let alice = signup(server.addr, "alice").await;
    let at_limit = vec![0u8; LIMIT as usize];
    let reply = upload(server.addr, &alice.token, "big.bin", &at_limit).await;
    assert_eq!(reply.status, 201, "{}", String::from_utf8_lossy(&reply.body));
    let record = reply.json();
    assert_eq!(record["size"], LIMIT);
    assert_eq!(record["content_type"], "application/octet-stream", "sniffed, not the claimed image/png");

    let past = vec![7u8; LIMIT as usize + 1];
    let reply = upload(server.addr, &alice.token, "big.bin", &past).await;
    assert_eq!((reply.status, reply.code().as_str()), (413, "attachment_too_large"));
    assert_eq!(reply.header("connection"), Some("close"));
    let reply = chunked_upload(server.addr, &alice.token, &past, None).await.expect("a reply");
    assert_eq!((reply.status, reply.code().as_str()), (413, "attachment_too_large"), "no length announced");

    let reply = upload(server.addr, &alice.token, "empty", b"").await;
    assert_eq!((reply.status, reply.code().as_str()), (400, "empty"));
    let reply = raw_request(server.addr, "POST", "/api/v1/attachments", &[], b"x").await;
    assert_eq!(reply.status, 401, "uploads need a session");

    // A client that stops mid-upload leaves nothing: bytes and records are what they were.
    chunked_upload(server.addr, &alice.token, &vec![1u8; 60_000], Some(40_000)).await;
    // And one that sends nothing after its head is cut off at the upload read deadline.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/attachments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 50\r\n\r\n",
        alice.token
    );
    idle.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, idle.read_to_end(&mut raw)).await.expect("cut off in time").unwrap();
    let reply = parse_reply(&raw);
    assert_eq!((reply.status, reply.code().as_str()), (408, "request_timeout"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    use kanect::backend::AttachmentStore;
    assert_eq!(
        server.store.attachments_after(None, 10).await.unwrap().len(),
        1,
        "only the upload at the limit is kept"
    );
    assert_eq!(server.blobs.len(), 1);
}

#[tokio::test]
async fn downloads_stream_with_ranges_validators_and_safe_headers() {
    let server = server().await;
    let alice = signup(server.addr, "alice").await;
    let bob = signup(server.addr, "bob").await;
    let carol = signup(server.addr, "carol").await;
    let conversation = open_direct(server.addr, &alice, &bob).await;
    let html = b"<!doctype html><script>alert(document.cookie)</script>".to_vec();
    let page = upload(server.addr, &alice.token, "page.html", &html).await.json();
    let photo = upload(server.addr, &alice.token, "red dot.png", &png(640, 480)).await.json();
    assert_eq!(photo["content_type"], "image/png");
    assert_eq!(photo["image"], json!({"width":640,"height":480,"thumbnail_width":320,"thumbnail_height":240}));
    let ids = json!([page["id"], photo["id"]]);
    let sent = request(
        server.addr,
        "POST",
        &format!("/api/v1/conversations/{conversation}/messages"),
        Some(&alice.token),
        Some(json!({"client_id":"c1","body":"","attachments":ids})),
    )
    .await;
    assert_eq!(sent.status, 200, "{}", String::from_utf8_lossy(&sent.body));
    assert_eq!(sent.json()["attachments"][1]["name"], "red dot.png");

    let page_id = page["id"].as_str().unwrap();
    let reply = get(server.addr, &bob.token, &format!("/api/v1/attachments/{page_id}"), &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, html);
    assert_eq!(reply.header("content-type"), Some("text/plain; charset=utf-8"), "markup is never served as html");
    assert!(reply.header("content-disposition").unwrap().starts_with("attachment;"), "a download, never rendered");
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert!(reply.header("content-security-policy").unwrap().starts_with("sandbox"));
    let etag = reply.header("etag").unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", page["sha256"].as_str().unwrap()));
    let reply =
        get(server.addr, &bob.token, &format!("/api/v1/attachments/{page_id}"), &[("If-None-Match", &etag)]).await;
    assert_eq!(reply.status, 304);
    assert!(reply.body.is_empty());

    let range =
        get(server.addr, &bob.token, &format!("/api/v1/attachments/{page_id}"), &[("Range", "bytes=2-8")]).await;
    assert_eq!(range.status, 206);
    assert_eq!(range.body, html[2..=8]);
    assert_eq!(range.header("content-range"), Some(format!("bytes 2-8/{}", html.len()).as_str()));
    let past = format!("bytes={}-", html.len());
    let reply = get(server.addr, &bob.token, &format!("/api/v1/attachments/{page_id}"), &[("Range", &past)]).await;
    assert_eq!((reply.status, reply.code().as_str()), (416, "range_not_satisfiable"));
    assert_eq!(reply.header("content-range"), Some(format!("bytes */{}", html.len()).as_str()));

    // An SVG (which can carry script) is text to the server, and a download.
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    let svg = upload(server.addr, &alice.token, "logo.svg", svg).await.json();
    assert_eq!(svg["content_type"], "text/plain; charset=utf-8");
    let reply =
        get(server.addr, &alice.token, &format!("/api/v1/attachments/{}", svg["id"].as_str().unwrap()), &[]).await;
    assert!(reply.header("content-disposition").unwrap().starts_with("attachment;"));

    let photo_id = photo["id"].as_str().unwrap();
    let reply = get(server.addr, &bob.token, &format!("/api/v1/attachments/{photo_id}"), &[]).await;
    assert_eq!(reply.header("content-type"), Some("image/png"));
    assert!(reply.header("content-disposition").unwrap().starts_with("inline;"));
    let thumbnail = get(server.addr, &bob.token, &format!("/api/v1/attachments/{photo_id}/thumbnail"), &[]).await;
    assert_eq!(thumbnail.status, 200);
    assert_eq!(image::load_from_memory(&thumbnail.body).unwrap().width(), 320);
    let none = get(server.addr, &bob.token, &format!("/api/v1/attachments/{page_id}/thumbnail"), &[]).await;
    assert_eq!((none.status, none.code().as_str()), (404, "attachment_not_found"));

    for path in [format!("/api/v1/attachments/{page_id}"), format!("/api/v1/attachments/{photo_id}/thumbnail")] {
        let reply = get(server.addr, &carol.token, &path, &[]).await;
        assert_eq!((reply.status, reply.code().as_str()), (404, "attachment_not_found"), "{path} to a non-member");
    }
    let unknown =
        get(server.addr, &bob.token, &format!("/api/v1/attachments/{}", kanect::AttachmentId::new()), &[]).await;
    assert_eq!((unknown.status, unknown.code().as_str()), (404, "attachment_not_found"));
}

#[tokio::test]
async fn a_socket_send_carries_attachments_to_every_member_and_refusals_have_codes() {
    let server = server().await;
    let alice = signup(server.addr, "alice").await;
    let bob = signup(server.addr, "bob").await;
    let conversation = open_direct(server.addr, &alice, &bob).await;
    let file = upload(server.addr, &alice.token, "notes.txt", b"plain notes").await.json();
    let theirs = upload(server.addr, &bob.token, "bobs.txt", b"bob's notes").await.json();
    let mut alice_ws = try_connect(server.addr, &alice.token, &[]).await.unwrap();
    let hello = alice_ws.next_of("hello").await;
    assert_eq!(hello["max_file_bytes"], LIMIT, "the socket says how large a file may be");
    let mut bob_ws = connect(server.addr, &bob.token).await;

    let refused = alice_ws
        .call(
            json!({"type":"send","conversation":conversation,"client_id":"x","body":"","attachments":[theirs["id"]]}),
            "r1",
        )
        .await;
    assert_eq!(refused["code"], "attachment_not_found", "{refused}");
    let refused = alice_ws
        .call(json!({"type":"send","conversation":conversation,"client_id":"x","body":"","attachments":[file["id"], file["id"]]}), "r2")
        .await;
    assert_eq!((refused["code"].as_str(), refused["field"].as_str()), (Some("repeated"), Some("attachments")));

    let ack = alice_ws
        .call(
            json!({"type":"send","conversation":conversation,"client_id":"y","body":"","attachments":[file["id"]]}),
            "r3",
        )
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let message: Value = bob_ws.next_of("message").await;
    assert_eq!(message["message"]["attachments"][0]["name"], "notes.txt");
    assert_eq!(message["message"]["attachments"][0]["size"], 11);
    let taken = alice_ws
        .call(json!({"type":"send","conversation":conversation,"client_id":"z","body":"again","attachments":[file["id"]]}), "r4")
        .await;
    assert_eq!(taken["code"], "attachment_in_use");
}
