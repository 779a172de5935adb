//! The cap on connections per client address (`HttpConfig::max_connections_per_address`).
//!
//! Without it, the server-wide limit (`max_connections`) is one pool that a single client can
//! drain: it opens connections until there are none left for anyone else. With it, one address
//! holds at most its share, and `max_connections / max_connections_per_address` addresses are
//! needed to fill the server. For that to hold, a connection past the cap must take no slot of
//! `max_connections` while it is refused: see [`crate::server`].
//!
//! - The key is the TCP peer at accept time — before a request is read, so before any
//!   `X-Forwarded-For` could be — as [`kanect_core::client_key`] reduces it: an IPv4 address,
//!   or an IPv6 /64 (a client usually holds a whole /64 and could otherwise take a new address
//!   per connection).
//! - A trusted proxy (`HttpConfig::trusted_proxies`) is exempt: every client behind it shares
//!   its address, so counting it would cap all of them together. Cap per client at the proxy.
//! - A count lives while its connection does (its [`AddressSlot`] is dropped with the
//!   connection, after any WebSocket on it), and an address at zero is forgotten, so the map
//!   holds only addresses with open connections.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// Open connections per address key, shared by the limiter and every slot it gave out.
type Counts = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// Open connections per client address.
#[derive(Debug)]
pub(crate) struct PerAddress {
    limit: usize,
    exempt: Vec<IpAddr>,
    counts: Counts,
}

impl PerAddress {
    /// At most `limit` connections per address; `exempt` peers (trusted proxies) are not
    /// counted.
    pub(crate) fn new(limit: usize, exempt: Vec<IpAddr>) -> Self {
        PerAddress { limit, exempt, counts: Arc::default() }
    }

    /// A slot for a new connection from `peer`, or `None` if its address holds `limit` already.
    pub(crate) fn admit(&self, peer: IpAddr) -> Option<AddressSlot> {
        if self.exempt.contains(&crate::client::canonical(peer)) {
            return Some(AddressSlot(None));
        }
        let key = kanect_core::client_key(peer);
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(key).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(AddressSlot(Some((self.counts.clone(), key))))
    }
}

/// One connection's place in its address's count, given back on drop.
#[derive(Debug)]
pub(crate) struct AddressSlot(Option<(Counts, IpAddr)>);

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let Some((counts, key)) = self.0.take() else { return };
        // A panic under the lock leaves counts that are at worst one too high: keep going.
        let mut counts = counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_gets_its_limit_and_its_slots_back() {
        let limits = PerAddress::new(2, vec![ip("10.0.0.1")]);
        let first = limits.admit(ip("1.2.3.4")).expect("first");
        let _second = limits.admit(ip("::ffff:1.2.3.4")).expect("second (the same address over IPv6)");
        assert!(limits.admit(ip("1.2.3.4")).is_none(), "past the limit");
        assert!(limits.admit(ip("1.2.3.5")).is_some(), "another address");
        drop(first);
        let _third = limits.admit(ip("1.2.3.4")).expect("a freed slot");
        let proxied: Vec<_> = (0..5).map(|_| limits.admit(ip("10.0.0.1"))).collect();
        assert!(proxied.iter().all(Option::is_some), "a trusted proxy is not counted");
    }

    #[test]
    fn an_ipv6_slash_64_is_one_address_and_empty_counts_are_forgotten() {
        let limits = PerAddress::new(1, Vec::new());
        let slot = limits.admit(ip("2001:db8:1:2::1")).expect("first");
        assert!(limits.admit(ip("2001:db8:1:2:ffff::9")).is_none(), "same /64");
        assert!(limits.admit(ip("2001:db8:1:3::1")).is_some(), "another /64");
        drop(slot);
        assert!(limits.counts.lock().unwrap().is_empty());
    }
}
