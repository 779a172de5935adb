//! [`NotificationStore`] and [`SecretStore`] for [`MemoryStore`]: settings by user,
//! subscriptions by user and endpoint hash, secrets by name.

use super::MemoryStore;
use crate::id::UserId;
use crate::notifications::{endpoint_hash, NotificationSettings, PushSubscription};
use crate::store::{NotificationStore, SecretStore, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl NotificationStore for MemoryStore {
    async fn notification_settings(&self, user: UserId) -> StoreResult<Option<NotificationSettings>> {
        Ok(self.lock().notification_settings.get(&user).cloned())
    }

    async fn put_notification_settings(&self, user: UserId, settings: &NotificationSettings) -> StoreResult<()> {
        self.lock().notification_settings.insert(user, settings.clone());
        Ok(())
    }

    async fn insert_push_subscription(&self, subscription: &PushSubscription) -> StoreResult<()> {
        let key = (subscription.user, subscription.endpoint_hash());
        self.lock().push_subscriptions.insert(key, subscription.clone());
        Ok(())
    }

    async fn push_subscriptions_of(&self, user: UserId) -> StoreResult<Vec<PushSubscription>> {
        let state = self.lock();
        let range = (user, [0; 32])..=(user, [u8::MAX; 32]);
        Ok(state.push_subscriptions.range(range).map(|(_, s)| s.clone()).collect())
    }

    async fn delete_push_subscription(&self, user: UserId, endpoint: &str) -> StoreResult<bool> {
        Ok(self.lock().push_subscriptions.remove(&(user, endpoint_hash(endpoint))).is_some())
    }

    async fn delete_notifications_of(&self, user: UserId) -> StoreResult<()> {
        let mut state = self.lock();
        state.notification_settings.remove(&user);
        state.push_subscriptions.retain(|(owner, _), _| *owner != user);
        Ok(())
    }
}

#[async_trait]
impl SecretStore for MemoryStore {
    async fn server_secret(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.lock().secrets.get(name).cloned())
    }

    async fn init_server_secret(&self, name: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
        Ok(self.lock().secrets.entry(name.to_string()).or_insert_with(|| value.to_vec()).clone())
    }

    async fn server_secrets(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        Ok(self.lock().secrets.iter().map(|(name, value)| (name.clone(), value.clone())).collect())
    }
}
