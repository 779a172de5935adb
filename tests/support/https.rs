//! An HTTPS client by hand: rustls clients that trust chosen CAs, one request per connection,
//! and the certificate a server presented.

use super::certs::TestCertificates;
use super::{parse_reply, Reply, WAIT};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// A rustls client configuration that trusts the given CAs only, and offers ALPN http/1.1.
pub fn client(cas: &[&TestCertificates]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        roots.add(CertificateDer::from(ca.ca_der.clone())).expect("a CA");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A TLS connection to `addr`, handshake done (within [`WAIT`]).
pub async fn tls_connect(addr: SocketAddr, tls: &Arc<rustls::ClientConfig>) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::IpAddress(addr.ip().into());
    tokio::time::timeout(WAIT, TlsConnector::from(tls.clone()).connect(name, tcp)).await.expect("handshake in time")
}

/// The certificate the server presented on `stream`.
pub fn presented(stream: &TlsStream<TcpStream>) -> Vec<u8> {
    stream.get_ref().1.peer_certificates().expect("a certificate")[0].to_vec()
}

/// One HTTPS request (`Connection: close`) with an optional bearer token and JSON body.
pub async fn https(
    addr: SocketAddr,
    tls: &Arc<rustls::ClientConfig>,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let stream = tls_connect(addr, tls).await.expect("TLS connection");
    https_on(stream, addr, method, path, token, body).await
}

pub async fn https_on(
    mut stream: TlsStream<TcpStream>,
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await.expect("response in time").expect("read");
    parse_reply(&raw)
}

/// Waits (bounded) until a new connection sees the certificate `expected`.
pub async fn wait_for_certificate(addr: SocketAddr, tls: &Arc<rustls::ClientConfig>, expected: &[u8]) {
    let deadline = Instant::now() + WAIT;
    loop {
        let stream = tls_connect(addr, tls).await.expect("TLS connection");
        if presented(&stream) == expected {
            return;
        }
        assert!(Instant::now() < deadline, "the new certificate was not served within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes `text` to `path` through a temporary file and a rename, as certificate tools do.
pub fn replace(path: &Path, text: &str) {
    let temporary = path.with_extension("new");
    std::fs::write(&temporary, text).expect("write");
    std::fs::rename(&temporary, path).expect("rename");
}
