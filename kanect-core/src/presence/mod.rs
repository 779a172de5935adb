//! Presence: whether a user is online, across all their devices and every node, and who is told
//! when that changes.
//!
//! # Counting
//! A user is online while at least one of their devices is subscribed, on any node. Each node
//! knows two things, and a user is online as far as it knows if either says so:
//!
//! - **Its own devices**, in the hub
//!   ([`Hub::online_here`](crate::hub::Hub::online_here)): a [`Chat::subscribe`] registers
//!   one, dropping the [`Subscription`](crate::Subscription) unregisters it. A user's first
//!   device here makes them *come online here*, their last one leaving *go offline here*; more
//!   devices in between change nothing.
//! - **Other nodes' word** ([`remote`]): per user, the nodes that said the user has a device
//!   there, and when they last said so. A node says it through the bus in two ways: at once,
//!   when a user comes online or goes offline there ([`BusMessage::Presence`]), and every
//!   [`ChatConfig::heartbeat`](crate::ChatConfig::heartbeat), with the whole list of users it
//!   holds devices for ([`BusMessage::Heartbeat`]). A heartbeat replaces what its node said
//!   before, so a lost `Presence` message is corrected by the next one; and a node's word
//!   counts for three heartbeat periods unless repeated, so a node that died or lost the bus
//!   stops counting towards anyone's presence within a bounded time (each node's heartbeat
//!   task expires what has lapsed).
//!
//! What is announced is a change of the answer: another node's word only when it changes this
//! node's answer, and a user's going offline here only if no other node still counts them (a
//! user online on two nodes who leaves one is still online, and nobody hears of it). A user's
//! coming online here is always announced.
//!
//! # Who is told
//! A change is announced as [`Event::Presence`] to the user's *contacts* (everyone who shares a
//! conversation with them) and to the devices that *watch* the user
//! ([`Subscription::watch_presence`](crate::Subscription::watch_presence), for a user list that
//! shows people the viewer has no conversation with; see [`watchers`]), each device once.
//! Every node announces to its own devices only: the node where a device came or went announces
//! it and publishes the fact, and every other node announces it when what it heard changes its
//! answer (a `Presence` message, a heartbeat that adds or drops a user, an expiry). Presence
//! events do not travel between nodes as events.
//!
//! # Last seen
//! When a user's last device on a node leaves, that node records the time as the user's
//! `last_seen` in the store (even if the user is still online elsewhere) and sends it with its
//! `Presence` message; the offline announcement carries it. An expiry announces the time this
//! node noticed it (nothing is stored: the silent node may record its own). A departure runs as
//! a task of its own, since a [`Subscription`](crate::Subscription) is dropped where nothing
//! can wait; [`Chat::flush`] waits for the departures under way ([`departures`]), so that at a
//! shutdown, when every socket closes at once, each user's last-seen is recorded and their
//! going offline published before the node stops.
//!
//! # Away
//! A user online is *away* when none of their devices, on any node, has been in use for
//! [`ChatConfig::away_after`](crate::ChatConfig::away_after) (10 minutes by default). A device
//! is in use when it connects and whenever its client says so
//! ([`Subscription::mark_active`](crate::Subscription::mark_active); the WebSocket's
//! `activity` frame): the web app says so on input (keys, pointer, touch, at most once a
//! minute) and when its tab comes back into view. A tab left in the background, or open with
//! nobody at it, says nothing, so the user shows as away once every device has been silent
//! that long; a message sent counts as input too. A client that never says anything (a bot, a
//! long-poll client) counts as in use for `away_after` after it connects, and then as idle:
//! its user shows as online and away.
//!
//! Across nodes it travels as presence does: each heartbeat also lists the users whose every
//! device on its node is idle, and a node's word counts until it lapses. Each node notices
//! changes at its heartbeat (a sweep over the users it knows to be online, also with no
//! peers) and when one of its devices reports, and announces them to its own devices as
//! [`Event::Presence`] with `online: true` and `away` set or cleared, to the same people as
//! any presence change. A change is therefore seen within a heartbeat (5 s) of the time, or at
//! once on the node where a device became active.
//!
//! # Layout
//! - this file — the engine's presence operations: counting, announcing, hearing other nodes,
//!   and the heartbeat task.
//! - [`state`] — what the engine holds for them ([`PresenceState`](state::PresenceState)): a
//!   leaf, so that the engine's handle (`chat`) holds it without depending on this file.
//! - [`remote`] — other nodes' word, with expiry.
//! - [`watchers`] — the users each device watches.
//! - [`departures`] — departures under way, for [`Chat::flush`].

mod departures;
mod remote;
pub(crate) mod state;
mod watchers;

use crate::bus::BusMessage;
use crate::chat::{Chat, WeakChat};
use crate::error::{Error, Invalid, Result};
use crate::event::{Delivery, Event};
use crate::hub::Device;
use crate::id::{NodeId, UserId};
use crate::model::{Presence, Timestamp, User};
use crate::store::UserUpdate;
use std::collections::HashSet;
use std::sync::Arc;

/// How many users one device may follow the presence of.
pub const WATCH_MAX: usize = 1000;

impl Chat {
    /// A user's presence as this node knows it.
    pub fn presence(&self, user: &User) -> Presence {
        self.presence_of(user.id, user.last_seen)
    }

    /// The user's presence as this node knows it, with `last_seen` as given.
    pub(crate) fn presence_of(&self, user: UserId, last_seen: Option<Timestamp>) -> Presence {
        let online = self.online(user);
        Presence { user, online, away: online && !self.active(user), last_seen }
    }

    /// Whether a device of the user, here or (as last reported) on another node, is in use.
    fn active(&self, user: UserId) -> bool {
        self.hub().active_here(user, self.config().away_after) || self.presence_state().remote.active(user)
    }

    /// Announces the users whose away state changed since this node last said, among those
    /// given (see the module docs, "Away"). A user gone offline leaves the set silently: the
    /// offline announcement says it.
    pub(crate) async fn sweep_away(&self, users: impl IntoIterator<Item = UserId>) {
        let mut changed = Vec::new();
        {
            let mut away = self.presence_state().away.lock().unwrap_or_else(|p| p.into_inner());
            for user in users {
                let presence = self.presence_of(user, None);
                let was = away.contains(&user);
                if !presence.online {
                    away.remove(&user);
                } else if presence.away != was {
                    if presence.away {
                        away.insert(user);
                    } else {
                        away.remove(&user);
                    }
                    changed.push(presence);
                }
            }
        }
        for presence in changed {
            self.announce_presence(presence).await;
        }
    }

    /// Every user whose away state this node may have to announce: those online here or
    /// elsewhere, and those it last announced as away.
    async fn sweep_all_away(&self) {
        let mut users: HashSet<UserId> = self.hub().local_users().into_iter().collect();
        self.presence_state().remote.add_online_users(&mut users);
        users.extend(self.presence_state().away.lock().unwrap_or_else(|p| p.into_inner()).iter().copied());
        self.sweep_away(users).await;
    }

    /// Whether the user has a device on this node or, as last reported, on another.
    fn online(&self, user: UserId) -> bool {
        self.hub().online_here(user) || self.presence_state().remote.online(user)
    }

    /// Number of users online here or (as last reported) elsewhere.
    pub(crate) fn online_count(&self) -> usize {
        let mut users: HashSet<UserId> = self.hub().local_users().into_iter().collect();
        self.presence_state().remote.add_online_users(&mut users);
        users.len()
    }

    /// Replaces the users whose presence `device` follows.
    ///
    /// # Errors
    /// `too_long` for more than [`WATCH_MAX`] users.
    pub(crate) fn watch(&self, device: &Arc<Device>, users: Vec<UserId>) -> Result<()> {
        if users.len() > WATCH_MAX {
            return Err(Error::invalid("users", Invalid::TooLong));
        }
        self.presence_state().watchers.set(device, users);
        Ok(())
    }

    /// Adds to the users whose presence `device` follows.
    ///
    /// # Errors
    /// `too_long` if it would then follow more than [`WATCH_MAX`]; nothing is added.
    pub(crate) fn watch_more(&self, device: &Arc<Device>, users: Vec<UserId>) -> Result<()> {
        if !self.presence_state().watchers.add(device, users, WATCH_MAX) {
            return Err(Error::invalid("users", Invalid::TooLong));
        }
        Ok(())
    }

    /// A device arrived and was the user's first here.
    pub(crate) async fn came_online_here(&self, user: UserId) {
        if self.has_peers() {
            self.publish(BusMessage::Presence { user, online: true, last_seen: None }).await;
        }
        self.announce_presence(Presence { user, online: true, away: false, last_seen: None }).await;
    }

    /// A device went away: if it was the user's last here, record last-seen and announce, in a
    /// task that [`Chat::flush`] waits for.
    pub(crate) fn device_left(&self, device: &Device) {
        self.presence_state().watchers.forget(device);
        if !self.hub().unregister(device) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let departure = self.presence_state().departures.begin();
        let (chat, user) = (self.clone(), device.user);
        runtime.spawn(async move {
            chat.went_offline_here(user).await;
            // Counted until here, or until the task is dropped unrun.
            drop(departure);
        });
    }

    async fn went_offline_here(&self, user: UserId) {
        if self.hub().online_here(user) {
            return; // reconnected meanwhile
        }
        let now = self.now();
        if let Err(error) = self.record_last_seen(user, now).await {
            tracing::warn!(%error, "could not record last seen");
        }
        if self.has_peers() {
            self.publish(BusMessage::Presence { user, online: false, last_seen: Some(now) }).await;
        }
        if !self.online(user) {
            self.announce_presence(Presence { user, online: false, away: false, last_seen: Some(now) }).await;
        }
    }

    /// Records when a user was last seen (their last device here went away). Only that field:
    /// an administrator's disable or promotion at the same moment stays.
    async fn record_last_seen(&self, user: UserId, at: Timestamp) -> Result<()> {
        self.store().update_user(user, UserUpdate::LastSeen(at)).await?;
        Ok(())
    }

    /// Tells the user's contacts and watchers on this node that their presence changed.
    async fn announce_presence(&self, presence: Presence) {
        let contacts = match self.contacts_of(presence.user).await {
            Ok(contacts) => contacts,
            Err(error) => {
                tracing::warn!(%error, "presence: could not read contacts");
                Vec::new()
            }
        };
        let delivery = Delivery::new(Event::Presence(presence));
        self.hub().deliver(&contacts, &delivery);
        self.presence_state().watchers.deliver(self.hub(), presence.user, &contacts, &delivery);
    }

    /// Applies another node's [`BusMessage::Presence`]; announces it if it changed the user's
    /// presence here. Runs on the bus's task: never blocks.
    pub(crate) fn heard_presence(&self, node: NodeId, user: UserId, online: bool, last_seen: Option<Timestamp>) {
        if self.remote_presence(node, user, online) {
            spawn(
                self.clone(),
                move |chat| async move { chat.announce_presence(chat.presence_of(user, last_seen)).await },
            );
        }
    }

    /// Applies another node's [`BusMessage::Heartbeat`] (its full list of users online there);
    /// announces the users whose presence it changed. Runs on the bus's task: never blocks.
    pub(crate) fn heard_heartbeat(&self, node: NodeId, online: &[UserId], idle: &[UserId]) {
        let listed: HashSet<UserId> = online.iter().copied().collect();
        let idle: HashSet<UserId> = idle.iter().copied().collect();
        let mut changed = Vec::new();
        for user in self.presence_state().remote.listed_by(node).into_iter().filter(|u| !listed.contains(u)) {
            if self.remote_presence(node, user, false) {
                changed.push(user);
            }
        }
        for user in listed {
            if self.remote_presence(node, user, true) {
                changed.push(user);
            }
            self.presence_state().remote.set_idle(node, user, idle.contains(&user));
        }
        for user in changed {
            let presence = self.presence_of(user, None);
            spawn(self.clone(), move |chat| async move { chat.announce_presence(presence).await });
        }
    }

    /// Records what another node says of a user; returns whether the user's overall presence
    /// changed.
    fn remote_presence(&self, node: NodeId, user: UserId, online: bool) -> bool {
        let before = self.online(user);
        self.presence_state().remote.set(node, user, online);
        before != self.online(user)
    }

    /// One heartbeat: tells other nodes who is online here, and announces the users who went
    /// offline because the nodes that counted them have gone quiet.
    async fn beat(&self) {
        let online = self.hub().local_users();
        let away_after = self.config().away_after;
        let idle = online.iter().copied().filter(|user| !self.hub().active_here(*user, away_after)).collect();
        self.publish(BusMessage::Heartbeat { online, idle }).await;
        let mut expired = self.presence_state().remote.expire();
        expired.retain(|user| !self.hub().online_here(*user));
        for user in expired {
            let now = self.now();
            self.announce_presence(Presence { user, online: false, away: false, last_seen: Some(now) }).await;
        }
    }
}

/// Every [`ChatConfig::heartbeat`](crate::ChatConfig::heartbeat), while the engine lives and has
/// peers: [`Chat::beat`].
pub(crate) async fn heartbeat(weak: WeakChat) {
    let period = match weak.upgrade() {
        Some(chat) => chat.config().heartbeat,
        None => return,
    };
    let mut ticker = tokio::time::interval(period);
    loop {
        ticker.tick().await;
        let Some(chat) = weak.upgrade() else { return };
        if chat.has_peers() {
            chat.beat().await;
        }
        chat.sweep_all_away().await;
    }
}

/// Runs `f(chat)` as a task of its own, if there is a runtime to run it.
fn spawn<F, Fut>(chat: Chat, f: F)
where
    F: FnOnce(Chat) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(f(chat));
    }
}
