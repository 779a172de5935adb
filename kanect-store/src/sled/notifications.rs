//! [`NotificationStore`] and [`SecretStore`] for [`SledStore`]: the shared record spaces
//! (`kv::notifications`), each write acknowledged after group commit.

use super::SledStore;
use crate::kv::notifications;
use kanect_core::backend::{NotificationStore, SecretStore, StoreResult};
use kanect_core::{NotificationSettings, PushSubscription, UserId};

#[async_trait::async_trait]
impl NotificationStore for SledStore {
    async fn notification_settings(&self, user: UserId) -> StoreResult<Option<NotificationSettings>> {
        self.with(|open| notifications::settings(open, user))
    }

    async fn put_notification_settings(&self, user: UserId, settings: &NotificationSettings) -> StoreResult<()> {
        let (key, value) = notifications::settings_record(user, settings)?;
        self.write(|open| notifications::put(open, key, value).map(|()| ((), true))).await
    }

    async fn insert_push_subscription(&self, subscription: &PushSubscription) -> StoreResult<()> {
        let (key, value) = notifications::subscription_record(subscription)?;
        self.write(|open| notifications::put(open, key, value).map(|()| ((), true))).await
    }

    async fn push_subscriptions_of(&self, user: UserId) -> StoreResult<Vec<PushSubscription>> {
        self.with(|open| notifications::subscriptions_of(open, user))
    }

    async fn delete_push_subscription(&self, user: UserId, endpoint: &str) -> StoreResult<bool> {
        self.write(|open| notifications::delete_subscription(open, user, endpoint).map(|deleted| (deleted, deleted)))
            .await
    }

    async fn delete_notifications_of(&self, user: UserId) -> StoreResult<()> {
        self.write(|open| notifications::delete_of(open, user).map(|any| ((), any))).await
    }
}

#[async_trait::async_trait]
impl SecretStore for SledStore {
    async fn server_secret(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        self.with(|open| notifications::secret(open, name))
    }

    async fn init_server_secret(&self, name: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
        // Waits for a flush also when it wrote nothing: the secret it read may have been
        // written a moment ago by another caller and not be durable yet.
        self.write(|open| notifications::init_secret(open, name, value).map(|(secret, _)| (secret, true))).await
    }

    async fn server_secrets(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        self.with(notifications::secrets)
    }
}
