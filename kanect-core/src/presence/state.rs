//! What the engine holds for presence: other nodes' word, the watch lists, the departures under
//! way.
//!
//! Plain state in a file of its own, away from the presence operations (the parent module),
//! because those are `impl Chat` blocks that import the engine handle while the handle's module
//! (`chat`) holds this state: kept together they would import each other. This file imports
//! neither.

use super::departures::Departures;
use super::remote::RemoteNodes;
use super::watchers::Watchers;
use std::time::Duration;

/// What a node keeps about presence beyond its own devices (those are in the
/// [`Hub`](crate::hub::Hub)).
pub(crate) struct PresenceState {
    /// Other nodes' word on their users.
    pub(super) remote: RemoteNodes,
    /// Watched user → the devices here that follow them.
    pub(super) watchers: Watchers,
    /// Departures still being recorded and announced.
    pub(super) departures: Departures,
    /// The users this node last announced as away (see the `presence` module docs, "Away").
    pub(super) away: std::sync::Mutex<std::collections::HashSet<crate::id::UserId>>,
}

impl PresenceState {
    /// State in which another node's word counts for `remote_ttl` unless repeated.
    pub(crate) fn new(remote_ttl: Duration) -> Self {
        PresenceState {
            remote: RemoteNodes::new(remote_ttl),
            watchers: Watchers::default(),
            departures: Departures::default(),
            away: std::sync::Mutex::default(),
        }
    }

    /// Returns once no departure is under way (see the `presence` module docs, "Last seen").
    pub(crate) async fn departures_finished(&self) {
        self.departures.finished().await;
    }
}
