//! Watch lists: the users whose presence a device follows beyond its contacts.
//!
//! A device's contacts (the members of its user's conversations) hear of each other's presence
//! without asking; a user list that also shows people the viewer has no conversation with asks
//! for theirs ([`Subscription::watch_presence`](crate::Subscription::watch_presence)). Both
//! directions are kept, under one lock: watched user → devices, to deliver; device → watched
//! users, to replace or drop a device's list.

use crate::event::Delivery;
use crate::hub::{Device, Hub};
use crate::id::UserId;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Who watches whom, on this node.
#[derive(Default)]
pub(super) struct Watchers {
    lists: RwLock<Lists>,
}

#[derive(Default)]
struct Lists {
    /// Watched user → the devices that follow them.
    watchers: HashMap<UserId, Vec<Arc<Device>>>,
    /// Device id → the users it follows (no entry for a device that follows nobody).
    watching: HashMap<u64, HashSet<UserId>>,
}

impl Lists {
    /// Stops `device` from following anyone.
    fn remove(&mut self, device: &Device) {
        for user in self.watching.remove(&device.id).unwrap_or_default() {
            if let Some(list) = self.watchers.get_mut(&user) {
                list.retain(|d| d.id != device.id);
                if list.is_empty() {
                    self.watchers.remove(&user);
                }
            }
        }
    }

    /// Makes `device` follow `users` as well as whom it follows.
    fn add(&mut self, device: &Arc<Device>, users: HashSet<UserId>) {
        if users.is_empty() {
            return;
        }
        for user in &users {
            self.watchers.entry(*user).or_default().push(device.clone());
        }
        self.watching.entry(device.id).or_default().extend(users);
    }
}

impl Watchers {
    fn read(&self) -> RwLockReadGuard<'_, Lists> {
        self.lists.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Lists> {
        self.lists.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the users `device` follows.
    pub(super) fn set(&self, device: &Arc<Device>, users: Vec<UserId>) {
        let mut lists = self.write();
        lists.remove(device);
        lists.add(device, users.into_iter().collect());
    }

    /// Adds to the users `device` follows. Returns false, and adds nothing, if it would then
    /// follow more than `max`.
    pub(super) fn add(&self, device: &Arc<Device>, users: Vec<UserId>, max: usize) -> bool {
        let mut lists = self.write();
        let watching = lists.watching.get(&device.id);
        let fresh: HashSet<UserId> =
            users.into_iter().filter(|user| !watching.is_some_and(|watching| watching.contains(user))).collect();
        if watching.map_or(0, HashSet::len) + fresh.len() > max {
            return false;
        }
        lists.add(device, fresh);
        true
    }

    /// Stops `device` from following anyone (it is going away).
    pub(super) fn forget(&self, device: &Device) {
        self.write().remove(device);
    }

    /// Offers a presence change of `user` to the devices watching them whose users are not
    /// among `skip` (the contacts, who were told already).
    pub(super) fn deliver(&self, hub: &Hub, user: UserId, skip: &[UserId], delivery: &Delivery) {
        let lists = self.read();
        let devices = lists.watchers.get(&user).into_iter().flatten().filter(|device| !skip.contains(&device.user));
        hub.offer_each(devices, delivery);
    }
}
