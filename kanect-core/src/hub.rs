//! The hub: this node's connected devices, their bounded queues, and who is online.
//!
//! Fan-out takes a read lock, clones one [`Delivery`] handle per device and `try_send`s it:
//! it never awaits, so a slow consumer can neither slow the others nor block the sender. A
//! device whose queue is full is marked *lagged*: it gets nothing more until its consumer has
//! drained the queue and been handed a [`Event::Resync`] (see [`crate::Subscription`]).
//!
//! Presence is counted here: a user is online while at least one device is subscribed on this
//! node or another node reports one (remote entries expire unless refreshed by heartbeats).

use crate::error::{Error, Limit, Result};
use crate::event::{Delivery, Event};
use crate::id::{NodeId, UserId};
use crate::model::TokenHash;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Why a device's stream ended.
pub(crate) type EndReason = String;

/// One subscribed device: the sending half of its queue and its flags.
pub(crate) struct Device {
    pub(crate) id: u64,
    pub(crate) user: UserId,
    pub(crate) session: Option<TokenHash>,
    tx: mpsc::Sender<Delivery>,
    /// Set when the queue overflowed; cleared when the consumer takes its resync.
    pub(crate) lagged: AtomicBool,
    /// Set when the session ended; the consumer's stream stops. A watch, so that a transport
    /// holding the stream back (a socket waiting for its `resume`) still hears of it at once.
    pub(crate) ended: watch::Sender<Option<EndReason>>,
    /// Users whose presence this device asked to follow.
    watching: Mutex<HashSet<UserId>>,
}

impl Device {
    /// Enqueues without waiting; on overflow marks the device lagged. Returns whether queued.
    fn offer(&self, delivery: &Delivery) -> bool {
        if self.lagged.load(Ordering::Acquire) {
            return false;
        }
        match self.tx.try_send(delivery.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.lagged.store(true, Ordering::Release);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Ends the device's stream with `reason` (the first reason given stays).
    pub(crate) fn end(&self, reason: &str) {
        self.ended.send_if_modified(|ended| {
            let first = ended.is_none();
            if first {
                *ended = Some(reason.to_string());
            }
            first
        });
        // Wake a consumer parked on an empty queue; if the queue is full it is awake anyway.
        let _ = self.tx.try_send(Delivery::new(Event::SessionEnded { reason: reason.to_string() }));
    }
}

/// Counters the hub keeps for metrics.
#[derive(Default)]
pub(crate) struct HubCounters {
    pub(crate) deliveries: AtomicU64,
    pub(crate) lagged: AtomicU64,
}

pub(crate) struct Hub {
    devices: RwLock<HashMap<UserId, Vec<Arc<Device>>>>,
    /// Watched user → devices that asked to follow their presence.
    watchers: RwLock<HashMap<UserId, Vec<Arc<Device>>>>,
    /// Users online on other nodes: user → node → when last confirmed.
    remote: Mutex<HashMap<UserId, HashMap<NodeId, Instant>>>,
    remote_ttl: Duration,
    next_device: AtomicU64,
    queue_capacity: usize,
    max_devices_per_user: usize,
    pub(crate) counters: HubCounters,
}

impl Hub {
    pub(crate) fn new(queue_capacity: usize, max_devices_per_user: usize, remote_ttl: Duration) -> Self {
        Hub {
            devices: RwLock::default(),
            watchers: RwLock::default(),
            remote: Mutex::default(),
            remote_ttl,
            next_device: AtomicU64::new(1),
            queue_capacity: queue_capacity.max(1),
            max_devices_per_user,
            counters: HubCounters::default(),
        }
    }

    /// Adds a device. Returns it, its queue, and whether the user just came online here.
    ///
    /// # Errors
    /// [`Limit::Connections`] when the user already has the maximum number of devices here.
    pub(crate) fn register(
        &self,
        user: UserId,
        session: Option<TokenHash>,
    ) -> Result<(Arc<Device>, mpsc::Receiver<Delivery>, bool)> {
        let (tx, rx) = mpsc::channel(self.queue_capacity);
        let device = Arc::new(Device {
            id: self.next_device.fetch_add(1, Ordering::Relaxed),
            user,
            session,
            tx,
            lagged: AtomicBool::new(false),
            ended: watch::channel(None).0,
            watching: Mutex::new(HashSet::new()),
        });
        let mut devices = self.devices.write().unwrap_or_else(|p| p.into_inner());
        let list = devices.entry(user).or_default();
        if list.len() >= self.max_devices_per_user {
            return Err(Error::Limited { limit: Limit::Connections, retry_after: None });
        }
        list.push(device.clone());
        let first = list.len() == 1;
        Ok((device, rx, first))
    }

    /// Removes a device. Returns whether it was the user's last one here.
    pub(crate) fn unregister(&self, device: &Device) -> bool {
        self.set_watch(device, Vec::new());
        let mut devices = self.devices.write().unwrap_or_else(|p| p.into_inner());
        let Some(list) = devices.get_mut(&device.user) else { return false };
        list.retain(|d| d.id != device.id);
        let last = list.is_empty();
        if last {
            devices.remove(&device.user);
        }
        last
    }

    /// Replaces the set of users whose presence `device` follows.
    pub(crate) fn set_watch(&self, device: &Device, users: Vec<UserId>) {
        let mut watchers = self.watchers.write().unwrap_or_else(|p| p.into_inner());
        let mut watching = device.watching.lock().unwrap_or_else(|p| p.into_inner());
        for user in watching.iter() {
            if let Some(list) = watchers.get_mut(user) {
                list.retain(|d| d.id != device.id);
                if list.is_empty() {
                    watchers.remove(user);
                }
            }
        }
        let users: HashSet<UserId> = users.into_iter().collect();
        if let Some(me) = self.registered(device) {
            for user in &users {
                watchers.entry(*user).or_default().push(me.clone());
            }
        }
        *watching = users;
    }

    /// Adds to the users whose presence `device` follows. Returns false, and adds nothing, if
    /// it would then follow more than `max`.
    pub(crate) fn add_watch(&self, device: &Device, users: Vec<UserId>, max: usize) -> bool {
        let mut watchers = self.watchers.write().unwrap_or_else(|p| p.into_inner());
        let mut watching = device.watching.lock().unwrap_or_else(|p| p.into_inner());
        let fresh: HashSet<UserId> = users.into_iter().filter(|user| !watching.contains(user)).collect();
        if watching.len() + fresh.len() > max {
            return false;
        }
        if let Some(me) = self.registered(device) {
            for user in &fresh {
                watchers.entry(*user).or_default().push(me.clone());
            }
        }
        watching.extend(fresh);
        true
    }

    /// The hub's handle on `device`, while it is registered.
    fn registered(&self, device: &Device) -> Option<Arc<Device>> {
        let devices = self.devices.read().unwrap_or_else(|p| p.into_inner());
        devices.get(&device.user).and_then(|list| list.iter().find(|d| d.id == device.id).cloned())
    }

    /// Offers a delivery to every device of every recipient (each user once).
    pub(crate) fn deliver(&self, recipients: &[UserId], delivery: &Delivery) {
        let devices = self.devices.read().unwrap_or_else(|p| p.into_inner());
        self.offer_each(recipients.iter().flat_map(|user| devices.get(user).into_iter().flatten()), delivery);
    }

    /// Offers a delivery to every device on this node.
    pub(crate) fn deliver_to_all(&self, delivery: &Delivery) {
        let devices = self.devices.read().unwrap_or_else(|p| p.into_inner());
        self.offer_each(devices.values().flatten(), delivery);
    }

    /// Offers a presence change to the devices watching `user` that are not already among
    /// `skip` (the recipients reached through shared conversations).
    pub(crate) fn deliver_to_watchers(&self, user: UserId, skip: &[UserId], delivery: &Delivery) {
        let watchers = self.watchers.read().unwrap_or_else(|p| p.into_inner());
        let devices = watchers.get(&user).into_iter().flatten().filter(|device| !skip.contains(&device.user));
        self.offer_each(devices, delivery);
    }

    /// Offers a delivery to each of `devices` and counts what was queued and what was not.
    fn offer_each<'a>(&self, devices: impl Iterator<Item = &'a Arc<Device>>, delivery: &Delivery) {
        let (mut delivered, mut lagged) = (0, 0);
        for device in devices {
            if device.offer(delivery) {
                delivered += 1;
            } else {
                lagged += 1;
            }
        }
        self.count(delivered, lagged);
    }

    fn count(&self, delivered: u64, lagged: u64) {
        self.counters.deliveries.fetch_add(delivered, Ordering::Relaxed);
        if lagged > 0 {
            self.counters.lagged.fetch_add(lagged, Ordering::Relaxed);
        }
    }

    /// Ends the streams of a user's devices: all of them, or those of one session.
    pub(crate) fn end_sessions(&self, user: UserId, session: Option<TokenHash>, reason: &str) {
        let devices = self.devices.read().unwrap_or_else(|p| p.into_inner());
        for device in devices.get(&user).into_iter().flatten() {
            if session.is_none() || device.session == session {
                device.end(reason);
            }
        }
    }

    /// Whether the user has a device on this node.
    pub(crate) fn online_here(&self, user: UserId) -> bool {
        self.devices.read().unwrap_or_else(|p| p.into_inner()).contains_key(&user)
    }

    /// Whether the user has a device on this node or, as last reported, on another.
    pub(crate) fn online(&self, user: UserId) -> bool {
        self.online_here(user) || self.online_elsewhere(user)
    }

    fn online_elsewhere(&self, user: UserId) -> bool {
        let remote = self.remote.lock().unwrap_or_else(|p| p.into_inner());
        remote.get(&user).is_some_and(|nodes| nodes.values().any(|seen| seen.elapsed() < self.remote_ttl))
    }

    /// Users with a device on this node.
    pub(crate) fn local_users(&self) -> Vec<UserId> {
        self.devices.read().unwrap_or_else(|p| p.into_inner()).keys().copied().collect()
    }

    /// Number of users online here or (as last reported) elsewhere.
    pub(crate) fn online_count(&self) -> usize {
        let mut users: std::collections::HashSet<UserId> = self.local_users().into_iter().collect();
        let remote = self.remote.lock().unwrap_or_else(|p| p.into_inner());
        for (user, nodes) in remote.iter() {
            if nodes.values().any(|seen| seen.elapsed() < self.remote_ttl) {
                users.insert(*user);
            }
        }
        users.len()
    }

    /// Number of devices on this node.
    pub(crate) fn device_count(&self) -> usize {
        self.devices.read().unwrap_or_else(|p| p.into_inner()).values().map(Vec::len).sum()
    }

    /// Records what another node says of a user; returns whether the user's overall
    /// presence changed.
    pub(crate) fn remote_presence(&self, node: NodeId, user: UserId, online: bool) -> bool {
        let before = self.online(user);
        {
            let mut remote = self.remote.lock().unwrap_or_else(|p| p.into_inner());
            let nodes = remote.entry(user).or_default();
            if online {
                nodes.insert(node, Instant::now());
            } else {
                nodes.remove(&node);
            }
            if nodes.is_empty() {
                remote.remove(&user);
            }
        }
        before != self.online(user)
    }

    /// Applies another node's heartbeat (its full online list); returns the users whose
    /// overall presence changed.
    pub(crate) fn remote_heartbeat(&self, node: NodeId, online: &[UserId]) -> Vec<UserId> {
        let mut changed = Vec::new();
        let listed: std::collections::HashSet<UserId> = online.iter().copied().collect();
        let known: Vec<UserId> = {
            let remote = self.remote.lock().unwrap_or_else(|p| p.into_inner());
            remote.iter().filter(|(_, nodes)| nodes.contains_key(&node)).map(|(u, _)| *u).collect()
        };
        for user in known.into_iter().filter(|u| !listed.contains(u)) {
            if self.remote_presence(node, user, false) {
                changed.push(user);
            }
        }
        for user in listed {
            if self.remote_presence(node, user, true) {
                changed.push(user);
            }
        }
        changed
    }

    /// Forgets remote entries older than the ttl; returns users who thereby went offline.
    pub(crate) fn expire_remote(&self) -> Vec<UserId> {
        let mut expired = Vec::new();
        {
            let mut remote = self.remote.lock().unwrap_or_else(|p| p.into_inner());
            remote.retain(|user, nodes| {
                nodes.retain(|_, seen| seen.elapsed() < self.remote_ttl);
                if nodes.is_empty() {
                    expired.push(*user);
                }
                !nodes.is_empty()
            });
        }
        expired.retain(|user| !self.online_here(*user));
        expired
    }
}
