//! What a node keeps about presence beyond its own devices, as plain state the engine holds.
//!
//! Apart from the presence operations (the parent module, `impl Chat` blocks that need the
//! engine handle) so that the engine can hold this state without importing them: the handle's
//! module (`chat`) depends on this one, and the operations on the handle, never the other way
//! round.

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
}

impl PresenceState {
    /// State in which another node's word counts for `remote_ttl` unless repeated.
    pub(crate) fn new(remote_ttl: Duration) -> Self {
        PresenceState {
            remote: RemoteNodes::new(remote_ttl),
            watchers: Watchers::default(),
            departures: Departures::default(),
        }
    }

    /// Returns once no departure is under way (see the `presence` module docs, "Last seen").
    pub(crate) async fn departures_finished(&self) {
        self.departures.finished().await;
    }
}
