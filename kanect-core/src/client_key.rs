//! [`client_key`]: what every per-address limit counts a client under — sign-ups, log-in
//! attempts and password hashes in the engine, connections in the HTTP adapter — so that one
//! client has one key everywhere.
//!
//! An IPv4 address is its own key, also when seen through an IPv6 socket (`::ffff:a.b.c.d`).
//! An IPv6 address counts by its /64: one subscriber usually holds a whole /64, and could
//! otherwise take a fresh address for every connection or attempt.

use std::net::{IpAddr, Ipv6Addr};

/// The key a per-address limit counts `address` under (see the module docs).
pub fn client_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv4_is_itself_and_ipv6_counts_by_its_64() {
        assert_eq!(client_key(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(client_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(client_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")), ip("2001:db8:1:2::"));
        assert_eq!(client_key(ip("2001:db8:1:2::1")), client_key(ip("2001:db8:1:2:ffff::9")));
        assert_ne!(client_key(ip("2001:db8:1:2::1")), client_key(ip("2001:db8:1:3::1")));
    }
}
