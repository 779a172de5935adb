//! Which users' subjects a bus follows in [`Subjects::PerUser`](crate::Subjects::PerUser) mode,
//! and when to stop.
//!
//! The engine tells the bus what it needs without knowing it: it publishes
//! `Presence { online: true }` when a user's first device arrives on its node, and a heartbeat
//! listing the users with devices there. A user becomes *followed* (their subject subscribed)
//! on the first of these; following stops only after the user is missing from **two**
//! consecutive heartbeats. Stopping on `Presence { online: false }` instead would race with a
//! reconnect (offline computed, device returns, offline published last) and leave an online
//! user unfollowed; two heartbeats cannot both predate a return that the next one reports. The
//! cost is up to two heartbeat periods of events for a user who has left.

use kanect_core::{NodeId, UserId};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::task::AbortHandle;

/// One followed user: the task listening on their subject, and heartbeats that missed them.
struct Followed {
    listener: AbortHandle,
    missed: u8,
}

/// The followed (node, user) pairs of one bus. Dropping it stops every listener.
#[derive(Default)]
pub(crate) struct Interest {
    followed: Mutex<HashMap<(NodeId, UserId), Followed>>,
}

impl Interest {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(NodeId, UserId), Followed>> {
        self.followed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes that `node` holds devices of `user`; true if their subject must be subscribed.
    pub(crate) fn wanted(&self, node: NodeId, user: UserId) -> bool {
        match self.lock().get_mut(&(node, user)) {
            Some(followed) => {
                followed.missed = 0;
                false
            }
            None => true,
        }
    }

    /// Records the listener of a newly subscribed user (or stops it, if a concurrent call
    /// recorded one first).
    pub(crate) fn followed(&self, node: NodeId, user: UserId, listener: AbortHandle) {
        match self.lock().entry((node, user)) {
            std::collections::hash_map::Entry::Occupied(_) => listener.abort(),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(Followed { listener, missed: 0 });
            }
        }
    }

    /// Applies a heartbeat of `node` listing `online`: returns the listed users not yet
    /// followed, and stops following those missing from this and the previous heartbeat.
    pub(crate) fn heartbeat(&self, node: NodeId, online: &[UserId]) -> Vec<UserId> {
        let listed: std::collections::HashSet<UserId> = online.iter().copied().collect();
        let mut followed = self.lock();
        followed.retain(|(of, user), entry| {
            if *of != node || listed.contains(user) {
                return true;
            }
            entry.missed = entry.missed.saturating_add(1);
            if entry.missed >= 2 {
                entry.listener.abort();
                return false;
            }
            true
        });
        let mut new = Vec::new();
        for user in listed {
            match followed.get_mut(&(node, user)) {
                Some(entry) => entry.missed = 0,
                None => new.push(user),
            }
        }
        new
    }

    /// How many (node, user) subjects are followed now.
    pub(crate) fn count(&self) -> usize {
        self.lock().len()
    }
}

impl Drop for Interest {
    fn drop(&mut self) {
        for (_, entry) in self.followed.get_mut().unwrap_or_else(|p| p.into_inner()).drain() {
            entry.listener.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn idle_listener() -> AbortHandle {
        tokio::spawn(std::future::pending::<()>()).abort_handle()
    }

    #[tokio::test]
    async fn following_stops_after_two_heartbeats_without_the_user() {
        let interest = Interest::default();
        let (node, other_node, user) = (NodeId::new(), NodeId::new(), UserId::new());
        assert!(interest.wanted(node, user));
        let listener = idle_listener().await;
        interest.followed(node, user, listener.clone());
        assert!(!interest.wanted(node, user), "already followed");

        assert!(interest.heartbeat(other_node, &[]).is_empty(), "another node's heartbeat changes nothing");
        assert!(interest.heartbeat(node, &[]).is_empty());
        assert_eq!(interest.count(), 1, "one missed heartbeat is not enough");
        assert!(interest.heartbeat(node, &[user]).is_empty(), "listed again: the count starts over");
        interest.heartbeat(node, &[]);
        assert_eq!(interest.count(), 1);
        interest.heartbeat(node, &[]);
        assert_eq!(interest.count(), 0);
        tokio::task::yield_now().await;
        assert!(listener.is_finished(), "the listener was stopped");
    }

    #[tokio::test]
    async fn heartbeats_name_users_to_follow_and_races_keep_one_listener() {
        let interest = Interest::default();
        let (node, user) = (NodeId::new(), UserId::new());
        assert_eq!(interest.heartbeat(node, &[user]), vec![user]);
        let (first, second) = (idle_listener().await, idle_listener().await);
        interest.followed(node, user, first.clone());
        interest.followed(node, user, second.clone());
        tokio::task::yield_now().await;
        assert!(!first.is_finished());
        assert!(second.is_finished(), "the later duplicate was stopped");
        assert!(interest.heartbeat(node, &[user]).is_empty());
        drop(interest);
        tokio::task::yield_now().await;
        assert!(first.is_finished(), "dropping stops every listener");
    }
}
