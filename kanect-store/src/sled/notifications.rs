//! [`NotificationStore`] and [`SecretStore`] for [`SledStore`]: settings by user (`0x20`),
//! push subscriptions by user and endpoint hash (`0x21`), server secrets by name (`0x22`).
//!
//! Direct writes (see `commit`), under the `accounts` lock that user and session writes take
//! too: these are as rare, and the lock makes a secret's check-then-write atomic, and a
//! user's deletion of everything atomic against a new subscription of theirs.

use super::format::{decode, encode};
use super::open::Open;
use super::SledStore;
use crate::kv::keys;
use kanect_core::backend::{NotificationStore, SecretStore, StoreResult};
use kanect_core::{endpoint_hash, NotificationSettings, PushSubscription, UserId};

impl Open {
    fn put_notification_settings_now(&self, user: UserId, settings: &NotificationSettings) -> StoreResult<()> {
        let _accounts = self.accounts();
        self.insert(&keys::notification_settings(user), encode(settings)?)
    }

    fn insert_push_subscription_now(&self, subscription: &PushSubscription) -> StoreResult<()> {
        let key = keys::push_subscription(subscription.user, &subscription.endpoint_hash());
        let _accounts = self.accounts();
        self.insert(&key, encode(subscription)?)
    }

    fn push_subscriptions_of_now(&self, user: UserId) -> StoreResult<Vec<PushSubscription>> {
        self.entries_with(&keys::push_subscriptions(user))
            .map(|entry| {
                let (key, value) = entry?;
                decode("push subscription", &key, &value)
            })
            .collect()
    }

    fn delete_push_subscription_now(&self, user: UserId, endpoint: &str) -> StoreResult<bool> {
        let key = keys::push_subscription(user, &endpoint_hash(endpoint));
        let _accounts = self.accounts();
        let removed = self.db.remove(key).map_err(|error| self.sled_error(error))?;
        Ok(removed.is_some())
    }

    fn delete_notifications_of_now(&self, user: UserId) -> StoreResult<bool> {
        let _accounts = self.accounts();
        let mut batch = sled::Batch::default();
        let mut any = self.get_raw(&keys::notification_settings(user))?.is_some();
        batch.remove(keys::notification_settings(user));
        for key in self.keys_with(&keys::push_subscriptions(user)) {
            batch.remove(key?);
            any = true;
        }
        if any {
            self.apply(batch)?;
        }
        Ok(any)
    }

    fn init_server_secret_now(&self, name: &str, value: &[u8]) -> StoreResult<(Vec<u8>, bool)> {
        let key = keys::secret(name);
        let _accounts = self.accounts();
        if let Some(stored) = self.get_raw(&key)? {
            return Ok((stored.to_vec(), false));
        }
        self.insert(&key, value.to_vec())?;
        Ok((value.to_vec(), true))
    }

    fn server_secrets_now(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        self.entries_with(&keys::all_secrets())
            .map(|entry| {
                let (key, value) = entry?;
                Ok((keys::secret_name(&key)?, value.to_vec()))
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl NotificationStore for SledStore {
    async fn notification_settings(&self, user: UserId) -> StoreResult<Option<NotificationSettings>> {
        self.with(|open| open.get("notification settings", &keys::notification_settings(user)))
    }

    async fn put_notification_settings(&self, user: UserId, settings: &NotificationSettings) -> StoreResult<()> {
        self.write(|open| open.put_notification_settings_now(user, settings).map(|()| ((), true))).await
    }

    async fn insert_push_subscription(&self, subscription: &PushSubscription) -> StoreResult<()> {
        self.write(|open| open.insert_push_subscription_now(subscription).map(|()| ((), true))).await
    }

    async fn push_subscriptions_of(&self, user: UserId) -> StoreResult<Vec<PushSubscription>> {
        self.with(|open| open.push_subscriptions_of_now(user))
    }

    async fn delete_push_subscription(&self, user: UserId, endpoint: &str) -> StoreResult<bool> {
        self.write(|open| open.delete_push_subscription_now(user, endpoint).map(|deleted| (deleted, deleted))).await
    }

    async fn delete_notifications_of(&self, user: UserId) -> StoreResult<()> {
        self.write(|open| open.delete_notifications_of_now(user).map(|any| ((), any))).await
    }
}

#[async_trait::async_trait]
impl SecretStore for SledStore {
    async fn server_secret(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        self.with(|open| Ok(open.get_raw(&keys::secret(name))?.map(|value| value.to_vec())))
    }

    async fn init_server_secret(&self, name: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
        // Waits for a flush also when it wrote nothing: the secret it read may have been
        // written a moment ago by another caller and not be durable yet.
        self.write(|open| open.init_server_secret_now(name, value).map(|(secret, _)| (secret, true))).await
    }

    async fn server_secrets(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        self.with(|open| open.server_secrets_now())
    }
}
