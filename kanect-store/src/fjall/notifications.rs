//! [`NotificationStore`] and [`SecretStore`] for [`FjallStore`]: settings by user (`0x20`),
//! push subscriptions by user and endpoint hash (`0x21`), server secrets by name (`0x22`).
//!
//! Each write is one job on the writer thread under the `accounts` mutex that user and session
//! writes take too (these are as rare): a secret's check-then-write is atomic, and so is a
//! user's deletion of everything against a new subscription of theirs. A deleted subscription
//! held an endpoint URL, the user's data: a deletion marks the store for a purge.

use super::format::{decode, encode};
use super::{FjallStore, Inner};
use crate::kv::keys;
use kanect_core::backend::{NotificationStore, SecretStore, StoreResult};
use kanect_core::{endpoint_hash, NotificationSettings, PushSubscription, UserId};

impl Inner {
    fn put_now(&self, key: Vec<u8>, value: Vec<u8>) -> StoreResult<()> {
        let _accounts = self.accounts();
        let mut batch = self.batch();
        batch.insert(&self.data, key, value);
        self.commit(batch)
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
        if self.get_raw(&key)?.is_none() {
            return Ok(false);
        }
        let mut batch = self.batch();
        batch.remove(&self.data, key);
        self.commit(batch)?;
        self.purge.mark_garbage();
        Ok(true)
    }

    fn delete_notifications_of_now(&self, user: UserId) -> StoreResult<bool> {
        let _accounts = self.accounts();
        let mut batch = self.batch();
        let settings = keys::notification_settings(user);
        let mut any = self.get_raw(&settings)?.is_some();
        batch.remove(&self.data, settings);
        for entry in self.entries_with(&keys::push_subscriptions(user)) {
            let (key, _) = entry?;
            batch.remove(&self.data, key);
            any = true;
        }
        if any {
            self.commit(batch)?;
            self.purge.mark_garbage();
        }
        Ok(any)
    }

    /// The secret as stored, and whether this call stored it.
    fn init_server_secret_now(&self, name: &str, value: &[u8]) -> StoreResult<(Vec<u8>, bool)> {
        let key = keys::secret(name);
        let _accounts = self.accounts();
        if let Some(stored) = self.get_raw(&key)? {
            return Ok((stored.to_vec(), false));
        }
        let mut batch = self.batch();
        batch.insert(&self.data, key, value.to_vec());
        self.commit(batch)?;
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
impl NotificationStore for FjallStore {
    async fn notification_settings(&self, user: UserId) -> StoreResult<Option<NotificationSettings>> {
        self.with(|inner| inner.get("notification settings", &keys::notification_settings(user)))
    }

    async fn put_notification_settings(&self, user: UserId, settings: &NotificationSettings) -> StoreResult<()> {
        let (key, value) = (keys::notification_settings(user), encode(settings)?);
        self.write(move |inner| inner.put_now(key, value).map(|()| ((), true))).await
    }

    async fn insert_push_subscription(&self, subscription: &PushSubscription) -> StoreResult<()> {
        let key = keys::push_subscription(subscription.user, &subscription.endpoint_hash());
        let value = encode(subscription)?;
        self.write(move |inner| inner.put_now(key, value).map(|()| ((), true))).await
    }

    async fn push_subscriptions_of(&self, user: UserId) -> StoreResult<Vec<PushSubscription>> {
        self.with(|inner| inner.push_subscriptions_of_now(user))
    }

    async fn delete_push_subscription(&self, user: UserId, endpoint: &str) -> StoreResult<bool> {
        let endpoint = endpoint.to_string();
        self.write(move |inner| inner.delete_push_subscription_now(user, &endpoint).map(|deleted| (deleted, deleted)))
            .await
    }

    async fn delete_notifications_of(&self, user: UserId) -> StoreResult<()> {
        self.write(move |inner| inner.delete_notifications_of_now(user).map(|any| ((), any))).await
    }
}

#[async_trait::async_trait]
impl SecretStore for FjallStore {
    async fn server_secret(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        self.with(|inner| Ok(inner.get_raw(&keys::secret(name))?.map(|value| value.to_vec())))
    }

    async fn init_server_secret(&self, name: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
        let (name, value) = (name.to_string(), value.to_vec());
        self.write(move |inner| inner.init_server_secret_now(&name, &value)).await
    }

    async fn server_secrets(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        self.with(|inner| inner.server_secrets_now())
    }
}
