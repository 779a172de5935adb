//! [`LoginAttemptStore`] for [`FjallStore`]: log-in attempt records, in the `login_attempts`
//! keyspace (see [`keys`](crate::kv::keys)).
//!
//! A keyspace of its own: these records change on every log-in attempt and expire within
//! minutes, so keeping them apart keeps them out of every scan of the data keyspace and lets
//! expiry scan only them. Each count is a read of the attempt's keys, a decision and a write of
//! all of them (one batch) under one mutex: one process owns a fjall directory, so that is
//! atomic, also across the keys. Writes are not waited on for durability (see
//! [`LoginAttemptStore::count_login_attempt`]); the next group sync takes them along.

use super::format::{decode, encode, fjall_error};
use super::{FjallStore, Inner};
use kanect_core::backend::{Attempt, AttemptKey, LoginAttemptStore, LoginAttempts, StoreResult};
use kanect_core::{SlowDown, Timestamp};

impl Inner {
    fn count_login_attempt_now(&self, keys: &[(AttemptKey, SlowDown)], now: Timestamp) -> StoreResult<Attempt> {
        let _attempts = self.attempts_lock();
        let mut current = Vec::with_capacity(keys.len());
        for (key, rule) in keys {
            let record = self.attempts.get(key.0).map_err(fjall_error)?;
            let record = record.map(|bytes| decode::<LoginAttempts>("login attempts", &key.0, &bytes)).transpose()?;
            current.push((*rule, record));
        }
        let attempt = Attempt::decide(current, now);
        if let Attempt::Counted(records) = &attempt {
            let mut batch = self.batch();
            for ((key, _), record) in keys.iter().zip(records) {
                batch.insert(&self.attempts, key.0.as_slice(), encode(record)?);
            }
            self.commit(batch)?;
        }
        Ok(attempt)
    }

    fn clear_login_attempts_now(&self, key: &AttemptKey) -> StoreResult<()> {
        let _attempts = self.attempts_lock();
        self.attempts.remove(key.0.as_slice()).map_err(fjall_error)
    }

    fn expire_login_attempts_now(&self, now: Timestamp) -> StoreResult<u64> {
        let mut expired = Vec::new();
        for entry in self.attempts.iter() {
            let (key, value) = entry.into_inner().map_err(fjall_error)?;
            if decode::<LoginAttempts>("login attempts", &key, &value)?.expires_at <= now {
                expired.push(key);
            }
        }
        // Checked again under the lock: an attempt may have renewed a record since the scan.
        let _attempts = self.attempts_lock();
        let mut batch = self.batch();
        for key in expired {
            let Some(value) = self.attempts.get(&key).map_err(fjall_error)? else { continue };
            if decode::<LoginAttempts>("login attempts", &key, &value)?.expires_at <= now {
                batch.remove(&self.attempts, key);
            }
        }
        let count = batch.len() as u64;
        self.commit(batch)?;
        Ok(count)
    }
}

#[async_trait::async_trait]
impl LoginAttemptStore for FjallStore {
    // On the writer thread, as every write (only it takes fjall's journal lock, which a sync
    // holds), but not waited on for a sync of their own (see `LoginAttemptStore`).
    async fn count_login_attempt(&self, keys: &[(AttemptKey, SlowDown)], now: Timestamp) -> StoreResult<Attempt> {
        let keys = keys.to_vec();
        self.write(move |inner| inner.count_login_attempt_now(&keys, now).map(|attempt| (attempt, false))).await
    }

    async fn clear_login_attempts(&self, key: &AttemptKey) -> StoreResult<()> {
        let key = *key;
        self.write(move |inner| inner.clear_login_attempts_now(&key).map(|()| ((), false))).await
    }

    async fn expire_login_attempts(&self, now: Timestamp) -> StoreResult<u64> {
        self.write(move |inner| inner.expire_login_attempts_now(now).map(|count| (count, false))).await
    }
}
