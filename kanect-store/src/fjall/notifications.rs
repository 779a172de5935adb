//! [`NotificationStore`] and [`SecretStore`] for [`FjallStore`]: the shared record spaces
//! (`kv::notifications`), each write a job on the writer thread, acknowledged after its group
//! sync. A removal marks the store for a purge (see `Engine::removed_user_data`).

use super::FjallStore;
use crate::kv::notifications;
use kanect_core::backend::{NotificationStore, SecretStore, StoreResult};
use kanect_core::{NotificationSettings, PushSubscription, UserId};

#[async_trait::async_trait]
impl NotificationStore for FjallStore {
    async fn notification_settings(&self, user: UserId) -> StoreResult<Option<NotificationSettings>> {
        self.with(|inner| notifications::settings(inner, user))
    }

    async fn put_notification_settings(&self, user: UserId, settings: &NotificationSettings) -> StoreResult<()> {
        let (key, value) = notifications::settings_record(user, settings)?;
        self.write(move |inner| notifications::put(inner, key, value).map(|()| ((), true))).await
    }

    async fn insert_push_subscription(&self, subscription: &PushSubscription) -> StoreResult<()> {
        let (key, value) = notifications::subscription_record(subscription)?;
        self.write(move |inner| notifications::put(inner, key, value).map(|()| ((), true))).await
    }

    async fn push_subscriptions_of(&self, user: UserId) -> StoreResult<Vec<PushSubscription>> {
        self.with(|inner| notifications::subscriptions_of(inner, user))
    }

    async fn delete_push_subscription(&self, user: UserId, endpoint: &str) -> StoreResult<bool> {
        let endpoint = endpoint.to_string();
        self.write(move |inner| {
            notifications::delete_subscription(inner, user, &endpoint).map(|deleted| (deleted, deleted))
        })
        .await
    }

    async fn delete_notifications_of(&self, user: UserId) -> StoreResult<()> {
        self.write(move |inner| notifications::delete_of(inner, user).map(|any| ((), any))).await
    }
}

#[async_trait::async_trait]
impl SecretStore for FjallStore {
    async fn server_secret(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        self.with(|inner| notifications::secret(inner, name))
    }

    async fn init_server_secret(&self, name: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
        let (name, value) = (name.to_string(), value.to_vec());
        self.write(move |inner| notifications::init_secret(inner, &name, &value)).await
    }

    async fn server_secrets(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        self.with(notifications::secrets)
    }
}
