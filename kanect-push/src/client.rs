//! One push, as RFC 8030 has it: `POST` the encrypted body to the endpoint with `TTL`,
//! `Content-Encoding: aes128gcm` and the VAPID `Authorization`, over a connection made to the
//! address the endpoint check approved ([`Target::address`]), TLS (rustls, the system's roots)
//! for `https`, one HTTP/1.1 request per connection (pushes are rare per endpoint; a pool
//! would hold sockets to every push service for nothing).

use crate::endpoint::Target;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// What the push service answered, or why there was no answer.
#[derive(Debug)]
pub(crate) enum Answer {
    /// Its status.
    Status(StatusCode),
    /// No answer: the text says why, for logs.
    Failed(String),
}

/// Posts pushes; holds the TLS configuration (the system's root certificates, read once).
#[derive(Clone)]
pub(crate) struct Client {
    tls: TlsConnector,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl Client {
    /// A client whose requests give up after `timeout`, trusting the system's roots.
    pub(crate) fn new(timeout: Duration) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        for certificate in rustls_native_certs::load_native_certs().certs {
            // A certificate the system lists but rustls cannot read is skipped: others stand.
            let _ = roots.add(certificate);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|builder| builder.with_root_certificates(roots).with_no_client_auth());
        let config = match config {
            Ok(config) => config,
            // ring's default provider supports the default versions: this cannot fail.
            Err(error) => panic!("rustls configuration: {error}"),
        };
        Client { tls: TlsConnector::from(Arc::new(config)), timeout }
    }

    /// Posts `body` to `target` with `headers`.
    pub(crate) async fn post(&self, target: &Target, headers: &[(&str, String)], body: Vec<u8>) -> Answer {
        match tokio::time::timeout(self.timeout, self.exchange(target, headers, body)).await {
            Ok(Ok(status)) => Answer::Status(status),
            Ok(Err(error)) => Answer::Failed(error),
            Err(_) => Answer::Failed(format!("no answer within {:?}", self.timeout)),
        }
    }

    async fn exchange(&self, target: &Target, headers: &[(&str, String)], body: Vec<u8>) -> Result<StatusCode, String> {
        let tcp = TcpStream::connect(target.address).await.map_err(|error| format!("connect: {error}"))?;
        let path = target.uri.path_and_query().map_or("/", |path| path.as_str());
        let host = target.uri.authority().map_or(target.host.as_str(), |authority| authority.as_str());
        let mut request = Request::post(path).header("host", host).header("content-length", body.len());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request.body(Full::new(Bytes::from(body))).map_err(|error| format!("request: {error}"))?;
        if target.tls {
            let name = ServerName::try_from(target.host.clone()).map_err(|error| format!("server name: {error}"))?;
            let tls = self.tls.connect(name, tcp).await.map_err(|error| format!("tls: {error}"))?;
            send(TokioIo::new(tls), request).await
        } else {
            send(TokioIo::new(tcp), request).await
        }
    }
}

async fn send<I>(io: I, request: Request<Full<Bytes>>) -> Result<StatusCode, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = http1::handshake(io).await.map_err(|error| format!("handshake: {error}"))?;
    let driver = tokio::spawn(connection);
    let response = sender.send_request(request).await.map_err(|error| format!("request: {error}"));
    let status = match response {
        Ok(response) => {
            let status = response.status();
            // The body is read (a push service's is small) so that the connection ends cleanly.
            let _ = response.into_body().collect().await;
            Ok(status)
        }
        Err(error) => Err(error),
    };
    driver.abort();
    status
}
