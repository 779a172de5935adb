//! Other nodes' word on their users' presence, and for how long it counts.
//!
//! Per user, the nodes that said the user has a device there and when each last said so. A
//! word counts for the time to live (three heartbeat periods) after it was given; a node that
//! stops repeating it (died, or cut off from the bus) stops counting without anyone telling
//! this node so. Entries that have lapsed are dropped by [`RemoteNodes::expire`].

use crate::id::{NodeId, UserId};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Users online on other nodes: user → node → when last confirmed.
pub(super) struct RemoteNodes {
    users: Mutex<HashMap<UserId, HashMap<NodeId, Instant>>>,
    /// How long a node's word counts unless repeated.
    ttl: Duration,
}

impl RemoteNodes {
    pub(super) fn new(ttl: Duration) -> Self {
        RemoteNodes { users: Mutex::default(), ttl }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<UserId, HashMap<NodeId, Instant>>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a word given at `seen` still counts.
    fn fresh(&self, seen: &Instant) -> bool {
        seen.elapsed() < self.ttl
    }

    /// Whether some node said, recently enough, that the user has a device there.
    pub(super) fn online(&self, user: UserId) -> bool {
        self.lock().get(&user).is_some_and(|nodes| nodes.values().any(|seen| self.fresh(seen)))
    }

    /// Adds to `users` everyone some node said, recently enough, has a device there.
    pub(super) fn add_online_users(&self, users: &mut HashSet<UserId>) {
        for (user, nodes) in self.lock().iter() {
            if nodes.values().any(|seen| self.fresh(seen)) {
                users.insert(*user);
            }
        }
    }

    /// Records that `node` says the user has a device there (`online`; confirmed now) or not.
    pub(super) fn set(&self, node: NodeId, user: UserId, online: bool) {
        let mut users = self.lock();
        let nodes = users.entry(user).or_default();
        if online {
            nodes.insert(node, Instant::now());
        } else {
            nodes.remove(&node);
        }
        if nodes.is_empty() {
            users.remove(&user);
        }
    }

    /// The users `node` said have a device there (whether or not that still counts).
    pub(super) fn listed_by(&self, node: NodeId) -> Vec<UserId> {
        self.lock().iter().filter(|(_, nodes)| nodes.contains_key(&node)).map(|(user, _)| *user).collect()
    }

    /// Forgets what has lapsed; returns the users no node counts any more.
    pub(super) fn expire(&self) -> Vec<UserId> {
        let mut expired = Vec::new();
        self.lock().retain(|user, nodes| {
            nodes.retain(|_, seen| self.fresh(seen));
            if nodes.is_empty() {
                expired.push(*user);
            }
            !nodes.is_empty()
        });
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_counts_while_some_node_says_so() {
        let remote = RemoteNodes::new(Duration::from_secs(3600));
        let (a, b, alice) = (NodeId::new(), NodeId::new(), UserId::new());
        remote.set(a, alice, true);
        remote.set(b, alice, true);
        remote.set(a, alice, false);
        assert!(remote.online(alice), "node b still says so");
        assert_eq!(remote.listed_by(b), [alice]);
        assert!(remote.listed_by(a).is_empty());
        remote.set(b, alice, false);
        assert!(!remote.online(alice));
        assert!(remote.expire().is_empty(), "nothing left to expire");
    }

    #[test]
    fn a_word_not_repeated_lapses() {
        let remote = RemoteNodes::new(Duration::ZERO);
        let (node, alice) = (NodeId::new(), UserId::new());
        remote.set(node, alice, true);
        assert!(!remote.online(alice), "lapsed at once");
        let mut online = HashSet::new();
        remote.add_online_users(&mut online);
        assert!(online.is_empty());
        assert_eq!(remote.listed_by(node), [alice], "listed until expired");
        assert_eq!(remote.expire(), [alice]);
        assert!(remote.listed_by(node).is_empty());
    }
}
