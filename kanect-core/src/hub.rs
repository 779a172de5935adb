//! The hub: this node's connected devices, their bounded queues, and fan-out to them.
//!
//! Fan-out takes a read lock, clones one [`Delivery`] handle per device and `try_send`s it:
//! it never awaits, so a slow consumer can neither slow the others nor block the sender. A
//! device whose queue is full is marked *lagged*: it gets nothing more until its consumer has
//! drained the queue and been handed a [`Event::Resync`] (see [`crate::Subscription`]).
//!
//! The hub knows which users have a device here ([`Hub::online_here`]); the `presence` module
//! adds what other nodes say and decides who hears of a change.

use crate::error::{Error, Limit, Result};
use crate::event::{Delivery, Event};
use crate::id::UserId;
use crate::metrics::Metrics;
use crate::model::TokenHash;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
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
    /// When its client last said it was in use (or it connected): what "away" is measured by
    /// (see the `presence` module docs).
    active_at: std::sync::Mutex<tokio::time::Instant>,
}

impl Device {
    /// Records that the device's client is in use now.
    pub(crate) fn mark_active(&self) {
        *self.active_at.lock().unwrap_or_else(|p| p.into_inner()) = tokio::time::Instant::now();
    }

    /// Whether the device was in use within `within`.
    fn active_within(&self, within: std::time::Duration) -> bool {
        self.active_at.lock().unwrap_or_else(|p| p.into_inner()).elapsed() < within
    }

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
    next_device: AtomicU64,
    queue_capacity: usize,
    max_devices_per_user: usize,
    pub(crate) counters: HubCounters,
    /// The engine's metric handles: deliveries and the devices gauge.
    metrics: Metrics,
}

impl Hub {
    pub(crate) fn new(queue_capacity: usize, max_devices_per_user: usize, metrics: Metrics) -> Self {
        Hub {
            devices: RwLock::default(),
            next_device: AtomicU64::new(1),
            queue_capacity: queue_capacity.max(1),
            max_devices_per_user,
            counters: HubCounters::default(),
            metrics,
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
            active_at: std::sync::Mutex::new(tokio::time::Instant::now()),
        });
        let mut devices = self.devices.write().unwrap_or_else(|p| p.into_inner());
        let list = devices.entry(user).or_default();
        if list.len() >= self.max_devices_per_user {
            return Err(Error::Limited { limit: Limit::Connections, retry_after: None });
        }
        list.push(device.clone());
        self.metrics.devices_connected.increment(1.0);
        let first = list.len() == 1;
        Ok((device, rx, first))
    }

    /// Removes a device. Returns whether it was the user's last one here.
    pub(crate) fn unregister(&self, device: &Device) -> bool {
        let mut devices = self.devices.write().unwrap_or_else(|p| p.into_inner());
        let Some(list) = devices.get_mut(&device.user) else { return false };
        let before = list.len();
        list.retain(|d| d.id != device.id);
        if list.len() < before {
            self.metrics.devices_connected.decrement(1.0);
        }
        let last = list.is_empty();
        if last {
            devices.remove(&device.user);
        }
        last
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

    /// Offers a delivery to each of `devices` and counts what was queued and what was not.
    pub(crate) fn offer_each<'a>(&self, devices: impl Iterator<Item = &'a Arc<Device>>, delivery: &Delivery) {
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
        self.metrics.deliveries.increment(delivered);
        if lagged > 0 {
            self.counters.lagged.fetch_add(lagged, Ordering::Relaxed);
            self.metrics.deliveries_lagged.increment(lagged);
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

    /// Whether the user has a device on this node that was in use within `within`.
    pub(crate) fn active_here(&self, user: UserId, within: std::time::Duration) -> bool {
        let devices = self.devices.read().unwrap_or_else(|p| p.into_inner());
        devices.get(&user).is_some_and(|list| list.iter().any(|device| device.active_within(within)))
    }

    /// Whether the user has a device on this node.
    pub(crate) fn online_here(&self, user: UserId) -> bool {
        self.devices.read().unwrap_or_else(|p| p.into_inner()).contains_key(&user)
    }

    /// Users with a device on this node.
    pub(crate) fn local_users(&self) -> Vec<UserId> {
        self.devices.read().unwrap_or_else(|p| p.into_inner()).keys().copied().collect()
    }

    /// Number of devices on this node.
    pub(crate) fn device_count(&self) -> usize {
        self.devices.read().unwrap_or_else(|p| p.into_inner()).values().map(Vec::len).sum()
    }
}
