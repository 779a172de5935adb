//! Who is on the other end: the client's IP address, which per-address limits (connections,
//! log-in attempts, sign-ups) are keyed by.
//!
//! The address is the TCP peer's, unless the peer is one of `HttpConfig::trusted_proxies`: a
//! reverse proxy in front of Kanect makes every connection come from its own address, and says
//! whom it is forwarding for in `X-Forwarded-For`. Only a trusted proxy's word is taken, and
//! only its own hop: the header is read from the right, skipping trusted proxies, and the first
//! address that is not one is the client (anything further left was written by the client
//! itself and could be anything). A header that cannot be read leaves the proxy's address.

use hyper::HeaderMap;
use std::net::IpAddr;

/// The header reverse proxies append the client's address to.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address for a request from `peer`.
pub(crate) fn address(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> IpAddr {
    if !trusted_proxies.contains(&canonical(peer)) {
        return canonical(peer);
    }
    let hops = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(address) if trusted_proxies.contains(&canonical(address)) => continue,
            Ok(address) => return canonical(address),
            Err(_) => break,
        }
    }
    canonical(peer)
}

/// An IPv4 address seen through an IPv6 socket (`::ffff:a.b.c.d`) as the IPv4 address, so that
/// one client has one key whichever way it connected.
pub(crate) fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(FORWARDED_FOR, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let headers = forwarded(&["1.2.3.4"]);
        assert_eq!(address(ip("10.0.0.9"), &headers, &[]), ip("10.0.0.9"));
        assert_eq!(address(ip("10.0.0.9"), &headers, &[ip("10.0.0.1")]), ip("10.0.0.9"));
    }

    #[test]
    fn a_trusted_proxy_names_the_client_in_its_own_hop() {
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        // The client wrote "6.6.6.6" itself; the proxies appended the real hops.
        let headers = forwarded(&["6.6.6.6, 1.2.3.4", "10.0.0.2"]);
        assert_eq!(address(ip("10.0.0.1"), &headers, &proxies), ip("1.2.3.4"));
        assert_eq!(address(ip("10.0.0.1"), &HeaderMap::new(), &proxies), ip("10.0.0.1"));
        assert_eq!(address(ip("10.0.0.1"), &forwarded(&["garbage"]), &proxies), ip("10.0.0.1"));
    }

    #[test]
    fn ipv4_mapped_addresses_are_ipv4() {
        assert_eq!(address(ip("::ffff:1.2.3.4"), &HeaderMap::new(), &[]), ip("1.2.3.4"));
        assert_eq!(canonical(ip("::1")), ip("::1"));
    }
}
