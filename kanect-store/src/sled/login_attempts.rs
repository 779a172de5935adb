//! [`LoginAttemptStore`] for [`SledStore`]: log-in attempt records, in the `login_attempts`
//! tree (see [`keys`](crate::kv::keys)).
//!
//! A tree of its own, not a key space of the default tree: these records change on every log-in
//! attempt and expire within minutes, so keeping them apart keeps them out of everything that
//! scans the default tree (the format check at open, the id scan, statistics) and lets expiry
//! scan only them. Each count is a read of the attempt's keys, a decision and a write of all
//! of them (one batch) under one mutex: one process owns a sled store, so that is atomic, also
//! across the keys. Writes are not waited on for durability (see
//! [`LoginAttemptStore::count_login_attempt`]); group commit's next
//! flush takes them along.

use super::format::{decode, encode, sled_error};
use super::open::Open;
use super::SledStore;
use kanect_core::backend::{Attempt, AttemptKey, LoginAttemptStore, LoginAttempts, StoreResult};
use kanect_core::{SlowDown, Timestamp};

impl Open {
    pub(super) fn count_login_attempt_now(
        &self,
        keys: &[(AttemptKey, SlowDown)],
        now: Timestamp,
    ) -> StoreResult<Attempt> {
        let _attempts = self.attempts_lock();
        let mut current = Vec::with_capacity(keys.len());
        for (key, rule) in keys {
            let record = self.attempts.get(key.0).map_err(sled_error)?;
            let record = record.map(|bytes| decode::<LoginAttempts>("login attempts", &key.0, &bytes)).transpose()?;
            current.push((*rule, record));
        }
        let attempt = Attempt::decide(current, now);
        if let Attempt::Counted(records) = &attempt {
            let mut batch = sled::Batch::default();
            for ((key, _), record) in keys.iter().zip(records) {
                batch.insert(key.0.as_slice(), encode(record)?);
            }
            self.attempts.apply_batch(batch).map_err(sled_error)?;
        }
        Ok(attempt)
    }

    pub(super) fn clear_login_attempts_now(&self, key: &AttemptKey) -> StoreResult<()> {
        let _attempts = self.attempts_lock();
        self.attempts.remove(key.0).map(drop).map_err(sled_error)
    }

    pub(super) fn expire_login_attempts_now(&self, now: Timestamp) -> StoreResult<u64> {
        let mut expired = Vec::new();
        for entry in self.attempts.iter() {
            let (key, value) = entry.map_err(sled_error)?;
            if decode::<LoginAttempts>("login attempts", &key, &value)?.expires_at <= now {
                expired.push(key);
            }
        }
        // Checked again under the lock: an attempt may have renewed a record since the scan.
        let _attempts = self.attempts_lock();
        let mut count = 0;
        for key in expired {
            let Some(value) = self.attempts.get(&key).map_err(sled_error)? else { continue };
            if decode::<LoginAttempts>("login attempts", &key, &value)?.expires_at <= now {
                self.attempts.remove(&key).map_err(sled_error)?;
                count += 1;
            }
        }
        Ok(count)
    }
}

#[async_trait::async_trait]
impl LoginAttemptStore for SledStore {
    async fn count_login_attempt(&self, keys: &[(AttemptKey, SlowDown)], now: Timestamp) -> StoreResult<Attempt> {
        self.with(|open| open.count_login_attempt_now(keys, now))
    }

    async fn clear_login_attempts(&self, key: &AttemptKey) -> StoreResult<()> {
        self.with(|open| open.clear_login_attempts_now(key))
    }

    async fn expire_login_attempts(&self, now: Timestamp) -> StoreResult<u64> {
        self.with(|open| open.expire_login_attempts_now(now))
    }
}
