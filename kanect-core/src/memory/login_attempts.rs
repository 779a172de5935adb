//! [`LoginAttemptStore`] for [`MemoryStore`]: the store's one lock makes each count atomic.

use super::MemoryStore;
use crate::model::Timestamp;
use crate::store::{LoginAttemptStore, StoreResult};
use crate::throttle::{Attempt, AttemptKey, SlowDown};
use async_trait::async_trait;

#[async_trait]
impl LoginAttemptStore for MemoryStore {
    async fn count_login_attempt(&self, keys: &[(AttemptKey, SlowDown)], now: Timestamp) -> StoreResult<Attempt> {
        let mut state = self.lock();
        let current = keys.iter().map(|(key, rule)| (*rule, state.login_attempts.get(key).copied()));
        let attempt = Attempt::decide(current, now);
        if let Attempt::Counted(records) = &attempt {
            state.login_attempts.extend(keys.iter().map(|(key, _)| *key).zip(records.iter().copied()));
        }
        Ok(attempt)
    }

    async fn clear_login_attempts(&self, key: &AttemptKey) -> StoreResult<()> {
        self.lock().login_attempts.remove(key);
        Ok(())
    }

    async fn expire_login_attempts(&self, now: Timestamp) -> StoreResult<u64> {
        let mut state = self.lock();
        let before = state.login_attempts.len();
        state.login_attempts.retain(|_, record| record.expires_at > now);
        Ok((before - state.login_attempts.len()) as u64)
    }
}
