//! [`NotificationStore`] and [`SecretStore`] for [`PgStore`]: `kanect_notification_settings`
//! (a JSON document per user), `kanect_push_subscriptions` (per user and endpoint hash) and
//! `kanect_server_secrets`, one statement per method.
//!
//! A secret's first write wins across nodes: `INSERT ... ON CONFLICT DO NOTHING`, then the row
//! as stored is read back (the loser's insert did nothing, and its read sees the winner's
//! committed row). A deleted subscription held an endpoint URL: a deletion marks the store for
//! a vacuum.

use super::sql::{execute, query, query_one, query_opt};
use super::PgStore;
use async_trait::async_trait;
use kanect_core::backend::{NotificationStore, SecretStore, StoreResult};
use kanect_core::{endpoint_hash, NotificationSettings, PushSubscription, StoreError, UserId};
use tokio_postgres::types::Json;

fn corrupt(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {error}"))
}

#[async_trait]
impl NotificationStore for PgStore {
    async fn notification_settings(&self, user: UserId) -> StoreResult<Option<NotificationSettings>> {
        let sql = "SELECT settings FROM kanect_notification_settings WHERE user_id = $1";
        let client = self.client().await?;
        let Some(row) = query_opt(&client, sql, &[user.as_uuid()]).await? else { return Ok(None) };
        let Json(settings) = row.try_get(0).map_err(|error| corrupt("notification settings", error))?;
        Ok(Some(settings))
    }

    async fn put_notification_settings(&self, user: UserId, settings: &NotificationSettings) -> StoreResult<()> {
        let sql = "INSERT INTO kanect_notification_settings (user_id, settings) VALUES ($1, $2) \
                   ON CONFLICT (user_id) DO UPDATE SET settings = EXCLUDED.settings";
        let client = self.client().await?;
        execute(&client, sql, &[user.as_uuid(), &Json(settings)]).await.map(drop)
    }

    async fn insert_push_subscription(&self, subscription: &PushSubscription) -> StoreResult<()> {
        let sql = "INSERT INTO kanect_push_subscriptions (user_id, endpoint_hash, subscription) VALUES ($1, $2, $3) \
                   ON CONFLICT (user_id, endpoint_hash) DO UPDATE SET subscription = EXCLUDED.subscription";
        let hash = subscription.endpoint_hash();
        let client = self.client().await?;
        execute(&client, sql, &[subscription.user.as_uuid(), &&hash[..], &Json(subscription)]).await.map(drop)
    }

    async fn push_subscriptions_of(&self, user: UserId) -> StoreResult<Vec<PushSubscription>> {
        let sql = "SELECT subscription FROM kanect_push_subscriptions WHERE user_id = $1 ORDER BY endpoint_hash";
        let client = self.client().await?;
        query(&client, sql, &[user.as_uuid()])
            .await?
            .iter()
            .map(|row| {
                let Json(subscription) = row.try_get(0).map_err(|error| corrupt("push subscription", error))?;
                Ok(subscription)
            })
            .collect()
    }

    async fn delete_push_subscription(&self, user: UserId, endpoint: &str) -> StoreResult<bool> {
        let sql = "DELETE FROM kanect_push_subscriptions WHERE user_id = $1 AND endpoint_hash = $2";
        let hash = endpoint_hash(endpoint);
        let client = self.client().await?;
        let deleted = execute(&client, sql, &[user.as_uuid(), &&hash[..]]).await? > 0;
        if deleted {
            self.purge.mark_garbage();
        }
        Ok(deleted)
    }

    async fn delete_notifications_of(&self, user: UserId) -> StoreResult<()> {
        let client = self.client().await?;
        execute(&client, "DELETE FROM kanect_notification_settings WHERE user_id = $1", &[user.as_uuid()]).await?;
        execute(&client, "DELETE FROM kanect_push_subscriptions WHERE user_id = $1", &[user.as_uuid()]).await?;
        self.purge.mark_garbage();
        Ok(())
    }
}

#[async_trait]
impl SecretStore for PgStore {
    async fn server_secret(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        let sql = "SELECT value FROM kanect_server_secrets WHERE name = $1";
        let client = self.client().await?;
        let Some(row) = query_opt(&client, sql, &[&name]).await? else { return Ok(None) };
        row.try_get(0).map(Some).map_err(|error| corrupt("server secret", error))
    }

    async fn init_server_secret(&self, name: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
        let insert = "INSERT INTO kanect_server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
        let client = self.client().await?;
        execute(&client, insert, &[&name, &value]).await?;
        let row = query_one(&client, "SELECT value FROM kanect_server_secrets WHERE name = $1", &[&name]).await?;
        row.try_get(0).map_err(|error| corrupt("server secret", error))
    }

    async fn server_secrets(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let client = self.client().await?;
        query(&client, "SELECT name, value FROM kanect_server_secrets ORDER BY name COLLATE \"C\"", &[])
            .await?
            .iter()
            .map(|row| {
                Ok((
                    row.try_get(0).map_err(|e| corrupt("server secret", e))?,
                    row.try_get(1).map_err(|e| corrupt("server secret", e))?,
                ))
            })
            .collect()
    }
}
