//! [`Engine`]: what a record space shared by both embedded engines asks of sled or fjall — read
//! a key, scan a prefix, build and commit an atomic batch, take a write lock.
//!
//! The simple record spaces (account tokens, invites, notification settings, push
//! subscriptions, secrets, sessions) mean the same keys and the same writes in
//! both engines, so their logic is written once, generic over this trait (`kv::account_tokens`
//! and its siblings), and each engine's file keeps only what is its own: how a write waits
//! for durability (sled's group commit, fjall's writer thread). The trait's methods are
//! thin: one call of the engine each, so nothing about durability or locking hides here.

use kanect_core::backend::StoreResult;
use serde::de::DeserializeOwned;
use std::sync::MutexGuard;

/// What a scan yields: each item a key, or a key and its value, or the engine's error.
pub(crate) type Scan<'a, T> = Box<dyn Iterator<Item = StoreResult<T>> + 'a>;

/// An open embedded database, as the shared record spaces use it. Every key is in the one
/// tree (sled) or `kanect` keyspace (fjall) that `kv::keys` describes.
pub(crate) trait Engine {
    /// A write batch: every change in it is applied atomically by [`Engine::commit`].
    type Batch;
    /// Bytes the engine hands out (a key or a value).
    type Bytes: AsRef<[u8]>;

    /// A new, empty batch.
    fn batch(&self) -> Self::Batch;

    /// Adds the write of `value` under `key` to `batch`.
    fn put(&self, batch: &mut Self::Batch, key: Vec<u8>, value: Vec<u8>);

    /// Adds the removal of `key` to `batch`.
    fn remove(&self, batch: &mut Self::Batch, key: Vec<u8>);

    /// Applies `batch` atomically (durable after the engine's next group sync or commit).
    fn commit(&self, batch: Self::Batch) -> StoreResult<()>;

    /// The value under `key`.
    fn get_raw(&self, key: &[u8]) -> StoreResult<Option<Self::Bytes>>;

    /// Every key that starts with `prefix`, in key order.
    fn keys_with<'a>(&'a self, prefix: &[u8]) -> Scan<'a, Self::Bytes>;

    /// Entries from `start` (excluded) to the end of `prefix`'s keys, in key order.
    fn entries_after<'a>(&'a self, prefix: &[u8], start: Vec<u8>) -> Scan<'a, (Self::Bytes, Self::Bytes)>;

    /// Entries of `prefix`'s keys before `end` (excluded; None: all of them), last first.
    fn entries_newest_first<'a>(&'a self, prefix: &[u8], end: Option<Vec<u8>>) -> Scan<'a, (Self::Bytes, Self::Bytes)>;

    /// The lock that user, session, account token and notification writes hold.
    fn accounts(&self) -> MutexGuard<'_, ()>;

    /// The lock that invite writes hold.
    fn invites(&self) -> MutexGuard<'_, ()>;

    /// Told after a commit that removed a user's data (a push subscription's endpoint), for an
    /// engine that must purge old values from its files (fjall); sled has nothing to do.
    fn removed_user_data(&self) {}

    /// The decoded record under `key` (`what` names it in a corruption error).
    fn get<T: DeserializeOwned>(&self, what: &str, key: &[u8]) -> StoreResult<Option<T>> {
        self.get_raw(key)?.map(|bytes| super::records::decode(what, key, bytes.as_ref())).transpose()
    }

    /// A page of the decoded records (`what`) under `prefix`, in key order: at most `limit`
    /// after the key `after` (None: from the first).
    fn page<T: DeserializeOwned>(
        &self,
        what: &str,
        prefix: Vec<u8>,
        after: Option<Vec<u8>>,
        limit: usize,
    ) -> StoreResult<Vec<T>> {
        let start = after.unwrap_or_else(|| prefix.clone());
        self.entries_after(&prefix, start)
            .take(limit)
            .map(|entry| {
                let (key, value) = entry?;
                super::records::decode(what, key.as_ref(), value.as_ref())
            })
            .collect()
    }
}
