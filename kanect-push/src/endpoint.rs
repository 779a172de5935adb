//! Which push endpoints the server may call: the guard that keeps a push subscription from
//! turning the server into a door into its own network (SSRF).
//!
//! An endpoint must be an `https` URL whose host resolves only to public addresses: every
//! address it resolves to is checked (a name that resolves to one public and one private
//! address is refused), and the connection then goes to an address that was checked, never to
//! a second resolution of the name (which could answer differently: DNS rebinding). The check
//! runs when a subscription is made and again at every push.
//!
//! [`WebPushConfig::allow_private_endpoints`](crate::WebPushConfig::allow_private_endpoints)
//! lifts both rules (`http` and private addresses), for a push service on the operator's own
//! network and for tests with a local stand-in.

use hyper::Uri;
use kanect_core::PushRefused;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// An endpoint that passed the checks, and where to connect for it.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// The URL.
    pub(crate) uri: Uri,
    /// Its host, for TLS's server name and the `Host` header.
    pub(crate) host: String,
    /// Whether to speak TLS (`https`).
    pub(crate) tls: bool,
    /// The checked address to connect to.
    pub(crate) address: SocketAddr,
    /// `scheme://host[:port]`: the VAPID token's audience.
    pub(crate) origin: String,
}

/// Checks `endpoint` and resolves its host.
///
/// # Errors
/// [`PushRefused::Endpoint`] for a URL that does not parse, is not `https` (unless
/// `allow_private`), has no host, does not resolve, or resolves to any address that is not
/// [`is_public`] (unless `allow_private`).
pub(crate) async fn check(endpoint: &str, allow_private: bool) -> Result<Target, PushRefused> {
    let uri: Uri = endpoint.parse().map_err(|_| PushRefused::Endpoint)?;
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") if allow_private => false,
        _ => return Err(PushRefused::Endpoint),
    };
    let authority = uri.authority().ok_or(PushRefused::Endpoint)?;
    if authority.as_str().contains('@') {
        // No credentials in a push URL: they would go to whoever the host is.
        return Err(PushRefused::Endpoint);
    }
    let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_string();
    if host.is_empty() {
        return Err(PushRefused::Endpoint);
    }
    let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host.as_str(), port)).await.map_err(|_| PushRefused::Endpoint)?.collect(),
    };
    if addresses.is_empty() || !(allow_private || addresses.iter().all(|address| is_public(address.ip()))) {
        return Err(PushRefused::Endpoint);
    }
    let origin = format!("{}://{}", if tls { "https" } else { "http" }, authority.as_str());
    Ok(Target { address: addresses[0], uri, host, tls, origin })
}

/// Whether the server may call `ip`: not private, loopback, link-local, unspecified,
/// broadcast, multicast, shared (CGNAT), documentation or otherwise reserved, in IPv4 or IPv6
/// (an IPv4-mapped IPv6 address is judged as its IPv4 address).
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated), fec0::/10
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b) // NAT64, which maps to IPv4 anything
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for private in [
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn endpoints_must_be_https_and_public_unless_allowed() {
        for refused in [
            "http://8.8.8.8/push",
            "ftp://8.8.8.8/push",
            "not a url",
            "https://127.0.0.1/push",
            "https://[::1]:8443/push",
            "https://10.0.0.8/push",
            "https://169.254.169.254/latest",
            "https://localhost/push",
            "https://user:pw@8.8.8.8/push",
            "/relative",
        ] {
            assert_eq!(check(refused, false).await.unwrap_err(), PushRefused::Endpoint, "{refused}");
        }
        let ok = check("https://8.8.8.8/push/abc", false).await.unwrap();
        assert_eq!((ok.tls, ok.origin.as_str(), ok.address), (true, "https://8.8.8.8", "8.8.8.8:443".parse().unwrap()));
        let local = check("http://127.0.0.1:9000/push", true).await.unwrap();
        assert_eq!((local.tls, local.origin.as_str()), (false, "http://127.0.0.1:9000"));
        assert!(check("https://localhost:9/push", true).await.is_ok());
    }
}
