//! [`NotificationStore`]: each user's notification settings and their devices' Web Push
//! subscriptions.

use super::StoreResult;
use crate::id::UserId;
use crate::notifications::{NotificationSettings, PushSubscription};
use async_trait::async_trait;

/// Notification settings (one record per user, replaced whole) and push subscriptions (per
/// user and endpoint).
///
/// The engine writes a user's settings by reading, changing and writing back the whole record
/// (one node's changes to it run one at a time; two nodes changing one user's settings at the
/// same instant keep the last write). Writes are durable when they return, as every store write.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// `user`'s settings, None if never set.
    async fn notification_settings(&self, user: UserId) -> StoreResult<Option<NotificationSettings>>;

    /// Replaces `user`'s settings.
    async fn put_notification_settings(&self, user: UserId, settings: &NotificationSettings) -> StoreResult<()>;

    /// Records a subscription, replacing the one of the same user and endpoint.
    async fn insert_push_subscription(&self, subscription: &PushSubscription) -> StoreResult<()>;

    /// `user`'s subscriptions, in endpoint-hash order.
    async fn push_subscriptions_of(&self, user: UserId) -> StoreResult<Vec<PushSubscription>>;

    /// Deletes `user`'s subscription at `endpoint`. Returns false if there was none.
    async fn delete_push_subscription(&self, user: UserId, endpoint: &str) -> StoreResult<bool>;

    /// Deletes `user`'s settings and subscriptions (their account is being deleted).
    async fn delete_notifications_of(&self, user: UserId) -> StoreResult<()>;
}
