//! HTTPS end to end: a server with `Server::tls` on 127.0.0.1 port 0 and a certificate the
//! test makes (its own CA), and rustls clients that trust that CA.
//!
//! HTTP/1.1 over TLS (`/health`, a sign-up and a log-in, cookies marked `Secure`) and a
//! WebSocket over TLS with an `https://` Origin; plain HTTP to the TLS port is closed and the
//! server goes on; a client that never finishes its handshake stalls no one, is counted in its
//! address's cap, and is closed after the handshake timeout; new certificate files are served
//! without a restart to new connections while open ones go on, and bad files (half-written, a
//! key that does not match) keep the old certificate, with an error in the log.

mod support;

use kanect::http::{HttpConfig, TlsConfig, TlsError};
use kanect::{Chat, MemoryStore};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::certs::{CertFiles, TestCertificates};
use support::https::{client, https, https_on, presented, replace, tls_connect, wait_for_certificate};
use support::log::Log;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A TLS server on port 0, stopped when dropped (its task aborted).
struct TlsServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start_tls(tls: TlsConfig, config: HttpConfig) -> TlsServer {
    let chat = Chat::builder(MemoryStore::new()).config(chat_config()).build().await.expect("chat");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = kanect::http::Server::new(chat, config).tls(tls);
    let task = tokio::spawn(server.serve(listener, std::future::pending()));
    TlsServer { addr, task }
}

async fn https_signup(addr: SocketAddr, tls: &Arc<rustls::ClientConfig>, username: &str) -> (String, String) {
    let body = json!({"username": username, "password": "correct horse battery"});
    let reply = https(addr, tls, "POST", "/api/v1/auth/signup", None, Some(body)).await;
    assert_eq!(reply.status, 201, "{:?}", reply.json());
    let json = reply.json();
    (json["token"].as_str().expect("token").into(), json["user"]["id"].as_str().expect("id").into())
}

/// Over HTTPS, `token`'s user opens the direct conversation with `with` and sends `text`.
async fn https_send_direct(addr: SocketAddr, tls: &Arc<rustls::ClientConfig>, token: &str, with: &str, text: &str) {
    let path = "/api/v1/conversations/direct";
    let direct = https(addr, tls, "POST", path, Some(token), Some(json!({"user": with}))).await.json();
    let path = format!("/api/v1/conversations/{}/messages", direct["id"].as_str().expect("conversation"));
    let sent = https(addr, tls, "POST", &path, Some(token), Some(json!({"client_id": "1", "body": text}))).await;
    assert_eq!(sent.status, 200, "{:?}", sent.json());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_serves_health_a_log_in_and_a_websocket() {
    let certificates = TestCertificates::new();
    let files = CertFiles::new(&certificates);
    let tls = TlsConfig::from_pem_files(files.cert(), files.key()).expect("TLS config");
    let server = start_tls(tls, HttpConfig::default()).await;
    let trusting = client(&[&certificates]);

    let stream = tls_connect(server.addr, &trusting).await.expect("TLS connection");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]), "ALPN");
    assert_eq!(presented(&stream), certificates.cert_der);
    let health = https_on(stream, server.addr, "GET", "/health", None, None).await;
    assert_eq!(health.status, 200, "{:?}", String::from_utf8_lossy(&health.body));

    let body = json!({"username": "alice", "password": "correct horse battery"});
    let signup = https(server.addr, &trusting, "POST", "/api/v1/auth/signup", None, Some(body.clone())).await;
    assert_eq!(signup.status, 201, "{:?}", signup.json());
    let login = https(server.addr, &trusting, "POST", "/api/v1/auth/login", None, Some(body)).await;
    assert_eq!(login.status, 200, "{:?}", login.json());
    let cookies = login.headers_named("set-cookie");
    assert!(!cookies.is_empty() && cookies.iter().all(|c| c.contains("; Secure")), "Secure over TLS: {cookies:?}");
    let alice = login.json()["token"].as_str().expect("token").to_string();
    let (bob_token, bob_id) = &https_signup(server.addr, &trusting, "bob").await;

    // The web app's own origin is https:// now: the Origin check lets it open its socket.
    let origin = format!("https://{}", server.addr);
    let mut socket = try_connect_tls(server.addr, bob_token, &[("origin", &origin)], trusting.clone())
        .await
        .unwrap_or_else(|status| panic!("wss:// refused with {status}"));
    socket.next_of("hello").await;
    let refused = try_connect_tls(server.addr, bob_token, &[("origin", "https://evil.example")], trusting.clone());
    assert_eq!(refused.await.err(), Some(403), "another site's origin stays refused");

    https_send_direct(server.addr, &trusting, &alice, bob_id, "over TLS").await;
    let message = socket.next_of("message").await;
    assert_eq!(message["message"]["body"], "over TLS", "{message}");

    // A client that does not trust the CA gets no session.
    let stranger = client(&[&TestCertificates::new()]);
    assert!(tls_connect(server.addr, &stranger).await.is_err(), "an untrusted certificate is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_the_tls_port_is_closed_and_the_server_goes_on() {
    let certificates = TestCertificates::new();
    let files = CertFiles::new(&certificates);
    let server = start_tls(TlsConfig::from_pem_files(files.cert(), files.key()).unwrap(), HttpConfig::default()).await;
    let mut plain = TcpStream::connect(server.addr).await.expect("connect");
    plain.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.expect("write");
    let mut answer = Vec::new();
    // rustls answers a record that is not TLS with an alert (or nothing) and closes: no HTTP.
    let _ = tokio::time::timeout(WAIT, plain.read_to_end(&mut answer)).await.expect("closed in time");
    assert!(!answer.starts_with(b"HTTP/"), "plain HTTP was answered in plain: {:?}", String::from_utf8_lossy(&answer));
    let health = https(server.addr, &client(&[&certificates]), "GET", "/health", None, None).await;
    assert_eq!(health.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_stalls_no_one_holds_its_address_slot_and_is_closed_after_the_handshake_timeout() {
    let certificates = TestCertificates::new();
    let files = CertFiles::new(&certificates);
    let trusting = client(&[&certificates]);

    // A long handshake timeout: while a client says nothing, others are served.
    let tls = TlsConfig::from_pem_files(files.cert(), files.key()).unwrap().handshake_timeout(Duration::from_secs(60));
    let server = start_tls(tls, HttpConfig::default()).await;
    let silent: Vec<TcpStream> = futures_util::future::join_all((0..3).map(|_| TcpStream::connect(server.addr)))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let started = Instant::now();
    assert_eq!(https(server.addr, &trusting, "GET", "/health", None, None).await.status, 200);
    assert!(started.elapsed() < Duration::from_secs(5), "served in {:?} beside silent clients", started.elapsed());
    drop(silent);
    drop(server);

    // One connection per address, and a short handshake timeout.
    let timeout = Duration::from_millis(500);
    let tls = TlsConfig::from_pem_files(files.cert(), files.key()).unwrap().handshake_timeout(timeout);
    let config = HttpConfig { max_connections_per_address: 1, ..HttpConfig::default() };
    let server = start_tls(tls, config).await;
    let started = Instant::now();
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The silent handshake holds the address's one slot: the next client is refused, over TLS.
    let refused = https(server.addr, &trusting, "GET", "/health", None, None).await;
    assert_eq!((refused.status, refused.code()), (429, "too_many_connections".to_string()));
    // The server closes the silent connection once its handshake time is up...
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(WAIT, silent.read(&mut byte)).await.expect("closed within the wait");
    assert!(matches!(read, Ok(0) | Err(_)), "closed, not answered: {read:?}");
    assert!(started.elapsed() >= timeout);
    // ...and its slot is free again.
    let deadline = Instant::now() + WAIT;
    loop {
        let reply = https(server.addr, &trusting, "GET", "/health", None, None).await;
        if reply.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was not given back: {}", reply.status);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_certificate_files_are_served_without_a_restart_and_bad_ones_keep_the_old() {
    let log = Log::capture();
    let (old, new) = (TestCertificates::new(), TestCertificates::new());
    let files = CertFiles::new(&old);
    let poll = Duration::from_millis(100);
    let tls = TlsConfig::from_pem_files(files.cert(), files.key()).unwrap().poll_interval(Some(poll));
    let server = start_tls(tls.clone(), HttpConfig::default()).await;
    let trusting = client(&[&old, &new]);

    let (alice, _) = https_signup(server.addr, &trusting, "alice").await;
    let (bob_token, bob_id) = https_signup(server.addr, &trusting, "bob").await;
    let mut open_socket = try_connect_tls(server.addr, &bob_token, &[], trusting.clone()).await.expect("wss://");
    open_socket.next_of("hello").await;

    // The new certificate before its key (files are rarely replaced at once): the key does
    // not fit, so the old certificate stays.
    replace(&files.cert(), &new.cert_pem);
    let error = tls.reload().expect_err("a key that does not fit");
    assert!(matches!(error, TlsError::Mismatch { .. }), "{error}");
    // A half-written certificate file: no complete PEM block.
    replace(&files.cert(), &new.cert_pem[..new.cert_pem.len() / 2]);
    let error = tls.reload().expect_err("half a certificate");
    assert!(matches!(&error, TlsError::Certificate { path, .. } if *path == files.cert()), "{error}");
    // The new certificate, and a half-written key file.
    replace(&files.cert(), &new.cert_pem);
    replace(&files.key(), &new.key_pem[..new.key_pem.len() / 2]);
    let error = tls.reload().expect_err("half a key");
    assert!(matches!(&error, TlsError::Key { path, .. } if *path == files.key()), "{error}");
    // Changed files that do not do, found by the poll (no reload called): an error in the
    // log, once, and the old certificate stays. (The poll may have seen, and logged, the states
    // above too: only what it logs from here on counts.)
    tokio::time::sleep(poll * 3).await;
    let before = log.text().len();
    replace(&files.key(), &old.key_pem);
    let deadline = Instant::now() + WAIT;
    while !log.text()[before..].contains("does not fit") {
        assert!(Instant::now() < deadline, "no error logged for bad files: {}", log.text());
        tokio::time::sleep(poll).await;
    }
    tokio::time::sleep(poll * 5).await;
    let logged = log.text()[before..].to_string();
    let errors: Vec<_> = logged.lines().filter(|line| line.contains("still serving the old certificate")).collect();
    assert_eq!(errors.len(), 1, "one error per change: {logged}");
    assert!(errors[0].contains("ERROR") && errors[0].contains(&*files.key().to_string_lossy()), "{}", errors[0]);
    let stream = tls_connect(server.addr, &trusting).await.expect("TLS connection");
    assert_eq!(presented(&stream), old.cert_der, "bad files keep the old certificate");

    // Both files right: the next poll takes them, with no reload called.
    replace(&files.cert(), &new.cert_pem);
    replace(&files.key(), &new.key_pem);
    wait_for_certificate(server.addr, &trusting, &new.cert_der).await;
    let reply = https(server.addr, &client(&[&new]), "GET", "/health", None, None).await;
    assert_eq!(reply.status, 200, "a client that trusts only the new CA is served");

    // The socket opened under the old certificate goes on.
    https_send_direct(server.addr, &trusting, &alice, &bob_id, "after").await;
    assert_eq!(open_socket.next_of("message").await["message"]["body"], "after");
}

#[test]
fn bad_files_are_refused_at_the_start_with_the_file_named() {
    let certificates = TestCertificates::new();
    let files = CertFiles::new(&certificates);
    let missing = files.dir.path().join("missing.pem");
    let error = TlsConfig::from_pem_files(&missing, files.key()).unwrap_err();
    assert!(matches!(&error, TlsError::Certificate { path, .. } if *path == missing), "{error}");
    let error = TlsConfig::from_pem_files(files.cert(), &missing).unwrap_err();
    assert!(matches!(&error, TlsError::Key { path, .. } if *path == missing), "{error}");
    // The files swapped: the key file has no certificate.
    let error = TlsConfig::from_pem_files(files.key(), files.cert()).unwrap_err();
    assert!(matches!(error, TlsError::Certificate { .. }), "{error}");
    let other = CertFiles::new(&TestCertificates::new());
    let error = TlsConfig::from_pem_files(files.cert(), other.key()).unwrap_err();
    assert!(matches!(error, TlsError::Mismatch { .. }), "{error}");
    assert!(error.to_string().contains("does not fit"), "{error}");
}
