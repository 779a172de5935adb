//! Notification settings, push subscriptions and server secrets for both embedded engines:
//! settings by user (`0x20`), push subscriptions by user and endpoint hash (`0x21`), secrets by
//! name (`0x22`).
//!
//! Writes run under the `accounts` lock that user and session writes take too: these are as
//! rare, and the lock makes a secret's check-then-write atomic, and a user's deletion of
//! everything atomic against a new subscription of theirs. A removed subscription held an
//! endpoint URL, the user's data: removals tell the engine ([`Engine::removed_user_data`]).

use super::engine::Engine;
use super::keys;
use super::records::encode;
use kanect_core::backend::StoreResult;
use kanect_core::{endpoint_hash, NotificationSettings, PushSubscription, UserId};

/// Writes `value` under `key` (settings or a subscription, encoded by the caller).
pub(crate) fn put<E: Engine>(engine: &E, key: Vec<u8>, value: Vec<u8>) -> StoreResult<()> {
    let _accounts = engine.accounts();
    let mut batch = engine.batch();
    engine.put(&mut batch, key, value);
    engine.commit(batch)
}

/// The key and value of `user`'s settings.
pub(crate) fn settings_record(user: UserId, settings: &NotificationSettings) -> StoreResult<(Vec<u8>, Vec<u8>)> {
    Ok((keys::notification_settings(user), encode(settings)?))
}

/// The key and value of a subscription.
pub(crate) fn subscription_record(subscription: &PushSubscription) -> StoreResult<(Vec<u8>, Vec<u8>)> {
    let key = keys::push_subscription(subscription.user, &subscription.endpoint_hash());
    Ok((key, encode(subscription)?))
}

/// `user`'s settings.
pub(crate) fn settings<E: Engine>(engine: &E, user: UserId) -> StoreResult<Option<NotificationSettings>> {
    engine.get("notification settings", &keys::notification_settings(user))
}

/// `user`'s subscriptions, in endpoint hash order.
pub(crate) fn subscriptions_of<E: Engine>(engine: &E, user: UserId) -> StoreResult<Vec<PushSubscription>> {
    engine.page("push subscription", keys::push_subscriptions(user), None, usize::MAX)
}

/// Removes `user`'s subscription to `endpoint`; false if there was none.
pub(crate) fn delete_subscription<E: Engine>(engine: &E, user: UserId, endpoint: &str) -> StoreResult<bool> {
    let key = keys::push_subscription(user, &endpoint_hash(endpoint));
    let _accounts = engine.accounts();
    if engine.get_raw(&key)?.is_none() {
        return Ok(false);
    }
    let mut batch = engine.batch();
    engine.remove(&mut batch, key);
    engine.commit(batch)?;
    engine.removed_user_data();
    Ok(true)
}

/// Removes `user`'s settings and subscriptions; whether there were any.
pub(crate) fn delete_of<E: Engine>(engine: &E, user: UserId) -> StoreResult<bool> {
    let _accounts = engine.accounts();
    let mut batch = engine.batch();
    let settings = keys::notification_settings(user);
    let mut any = engine.get_raw(&settings)?.is_some();
    engine.remove(&mut batch, settings);
    for key in engine.keys_with(&keys::push_subscriptions(user)) {
        engine.remove(&mut batch, key?.as_ref().to_vec());
        any = true;
    }
    if any {
        engine.commit(batch)?;
        engine.removed_user_data();
    }
    Ok(any)
}

/// The secret `name` as stored, and whether this call stored it (`value`, if there was none).
pub(crate) fn init_secret<E: Engine>(engine: &E, name: &str, value: &[u8]) -> StoreResult<(Vec<u8>, bool)> {
    let key = keys::secret(name);
    let _accounts = engine.accounts();
    if let Some(stored) = engine.get_raw(&key)? {
        return Ok((stored.as_ref().to_vec(), false));
    }
    let mut batch = engine.batch();
    engine.put(&mut batch, key, value.to_vec());
    engine.commit(batch)?;
    Ok((value.to_vec(), true))
}

/// The secret `name`.
pub(crate) fn secret<E: Engine>(engine: &E, name: &str) -> StoreResult<Option<Vec<u8>>> {
    Ok(engine.get_raw(&keys::secret(name))?.map(|value| value.as_ref().to_vec()))
}

/// Every secret, by name.
pub(crate) fn secrets<E: Engine>(engine: &E) -> StoreResult<Vec<(String, Vec<u8>)>> {
    let prefix = keys::all_secrets();
    engine
        .entries_after(&prefix, prefix.clone())
        .map(|entry| {
            let (key, value) = entry?;
            Ok((keys::secret_name(key.as_ref())?, value.as_ref().to_vec()))
        })
        .collect()
}
