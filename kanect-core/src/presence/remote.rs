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

/// What a node last said of a user: when it last confirmed a device there, and whether all of
/// them are idle (its last heartbeat's word; a device just arrived is in use).
#[derive(Clone, Copy)]
struct Word {
    seen: Instant,
    idle: bool,
}

/// Users online on other nodes: user → node → what it last said.
pub(super) struct RemoteNodes {
    users: Mutex<HashMap<UserId, HashMap<NodeId, Word>>>,
    /// How long a node's word counts unless repeated.
    ttl: Duration,
}

impl RemoteNodes {
    pub(super) fn new(ttl: Duration) -> Self {
        RemoteNodes { users: Mutex::default(), ttl }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<UserId, HashMap<NodeId, Word>>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a word given at `seen` still counts.
    fn fresh(&self, word: &Word) -> bool {
        word.seen.elapsed() < self.ttl
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
            let now = Instant::now();
            nodes.entry(node).and_modify(|word| word.seen = now).or_insert(Word { seen: now, idle: false });
        } else {
            nodes.remove(&node);
        }
        if nodes.is_empty() {
            users.remove(&user);
        }
    }

    /// Records whether every device of the user on `node` is idle, as its heartbeat says.
    pub(super) fn set_idle(&self, node: NodeId, user: UserId, idle: bool) {
        if let Some(word) = self.lock().get_mut(&user).and_then(|nodes| nodes.get_mut(&node)) {
            word.idle = idle;
        }
    }

    /// Whether some node said, recently enough, that the user has a device in use there.
    pub(super) fn active(&self, user: UserId) -> bool {
        self.lock().get(&user).is_some_and(|nodes| nodes.values().any(|word| self.fresh(word) && !word.idle))
    }

    /// The users `node` said have a device there (whether or not that still counts).
    pub(super) fn listed_by(&self, node: NodeId) -> Vec<UserId> {
        self.lock().iter().filter(|(_, nodes)| nodes.contains_key(&node)).map(|(user, _)| *user).collect()
    }

    /// Forgets what has lapsed; returns the users no node counts any more.
    pub(super) fn expire(&self) -> Vec<UserId> {
        let mut expired = Vec::new();
        self.lock().retain(|user, nodes| {
            nodes.retain(|_, word| self.fresh(word));
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
    fn a_user_is_active_while_some_node_has_a_device_in_use() {
        let remote = RemoteNodes::new(Duration::from_secs(3600));
        let (a, b, alice) = (NodeId::new(), NodeId::new(), UserId::new());
        remote.set(a, alice, true);
        assert!(remote.active(alice), "a device just arrived is in use");
        remote.set_idle(a, alice, true);
        remote.set(a, alice, true);
        assert!(!remote.active(alice), "a repeated word keeps the idleness");
        remote.set(b, alice, true);
        assert!(remote.active(alice));
        remote.set_idle(b, alice, true);
        assert!(!remote.active(alice) && remote.online(alice), "online, all idle");
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
