//! A request as the handlers see it, whichever server accepted it (the ready-made
//! [`crate::Server`] or an application that mounts [`crate::KanectService`]): one body type for
//! every server's bodies, and the connection it came on. Its own module so that the handlers
//! (`api`, `poll`, `ws`) depend on it, not on the service that calls them.

use crate::connection::ConnectionGuard;
use crate::error::BoxError;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::Request;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// The body of every request as the handlers see it, whatever the embedding server's body type.
pub(crate) type RequestBody = BoxBody<Bytes, ReadError>;

/// Why a request body could not be read: the embedding server's body error, as it came.
///
/// A type of its own rather than a bare [`BoxError`]: with a boxed error, the futures that read
/// a body through `http_body_util::Limited` could not be proven `Send` for every lifetime (the
/// compiler weighs `From<&str>` for the box), so the service's future could not be boxed.
#[derive(Debug)]
pub(crate) struct ReadError(pub(crate) BoxError);

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// The client's TCP peer address, as a request extension the embedding server inserts (axum:
/// from `ConnectInfo<SocketAddr>`, in a middleware). Kanect keys per-address limits by it (or,
/// when it is one of `HttpConfig::trusted_proxies`, by the address the proxy forwards for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddress(pub IpAddr);

/// Who is on the other end of a request, as routing needs it: the peer's address and, when
/// [`crate::Server`] accepted the connection, its guard (which a WebSocket keeps alive).
#[derive(Clone)]
pub(crate) struct Connection {
    /// The TCP peer (a proxy's, behind one: see [`crate::client`]).
    pub(crate) peer: IpAddr,
    /// The connection's slot under the server's limits, held by a WebSocket opened on it; none
    /// when mounted (the embedding server owns its connections).
    pub(crate) guard: Option<Arc<ConnectionGuard>>,
}

impl Connection {
    /// The connection a request came on, from its extensions.
    pub(crate) fn of<B>(request: &Request<B>) -> Self {
        if let Some(guard) = request.extensions().get::<Arc<ConnectionGuard>>() {
            return Connection { peer: guard.peer, guard: Some(guard.clone()) };
        }
        let peer = request.extensions().get::<PeerAddress>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |peer| peer.0);
        Connection { peer: crate::client::canonical(peer), guard: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mounted_request_comes_from_its_peer_address_extension_or_else_from_one_address_for_all() {
        let mut request = Request::new(());
        assert_eq!(Connection::of(&request).peer, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        request.extensions_mut().insert(PeerAddress("::ffff:1.2.3.4".parse().unwrap()));
        let connection = Connection::of(&request);
        assert_eq!(connection.peer, "1.2.3.4".parse::<IpAddr>().unwrap(), "IPv4-mapped is IPv4");
        assert!(connection.guard.is_none());
    }
}
