//! [`FaultyStore`]: a store that fails (or slows) the calls a test chooses, as a store does
//! when its disk fills or its database goes away (or is far away), so that tests can check what the engine does with
//! `unavailable` — above all, that an operation that fails changes nothing. Every call is
//! handed on to the store inside, unless its method is failing. It can also move the clock of
//! the log-in attempt calls ahead, as a node's clock that runs ahead does: so a test steps
//! through log-in slow-downs (which the engine times by the wall clock) without waiting.

use crate::error::StoreError;
use crate::model::Timestamp;
use crate::store::{LoginAttemptStore, Store, StoreResult};
use crate::throttle::{Attempt, AttemptKey, SlowDown};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// A store that delegates to another, and fails the methods named in [`FaultyStore::fail`]
/// (or [`FaultyStore::fail_after`]) with [`StoreError::Backend`] until [`FaultyStore::heal`].
/// Cheap to clone: clones share the inner store and the faults, so a test keeps one to steer
/// the engine's.
#[derive(Clone)]
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    /// The `Store` methods set to fail (`"history"`, `"append_message"`, ...), each with how
    /// many more calls succeed first.
    failing: Arc<Mutex<HashMap<&'static str, usize>>>,
    /// The methods set to answer late, and how late: a slow disk or a distant database.
    slow: Arc<Mutex<HashMap<&'static str, Duration>>>,
    /// Milliseconds added to the `now` of log-in attempt calls.
    clock_ahead: Arc<AtomicU64>,
}

/// The error a failing method returns.
#[derive(Debug, thiserror::Error)]
#[error("injected failure of {0}")]
struct Injected(&'static str);

impl FaultyStore {
    /// Wraps `inner`; nothing fails yet.
    pub fn new(inner: impl Store) -> Self {
        FaultyStore {
            inner: Arc::new(inner),
            failing: Arc::default(),
            slow: Arc::default(),
            clock_ahead: Arc::default(),
        }
    }

    /// Makes every later call of `method` (a `Store` method's name) fail.
    pub fn fail(&self, method: &'static str) {
        self.fail_after(method, 0);
    }

    /// Lets `calls` more calls of `method` through, then fails every later one: for failing in
    /// the middle of an operation.
    pub fn fail_after(&self, method: &'static str, calls: usize) {
        self.faults().insert(method, calls);
    }

    /// Makes every later call of `method` wait `by` (on tokio's clock) before it is handed on.
    pub fn slow(&self, method: &'static str, by: Duration) {
        self.slow.lock().unwrap_or_else(PoisonError::into_inner).insert(method, by);
    }

    /// Moves the clock of the log-in attempt calls (`count_login_attempt`,
    /// `expire_login_attempts`) `by` further ahead: from now on they see the engine's `now`
    /// plus every such step, as if that much more time had passed. (Not undone by
    /// [`FaultyStore::heal`]: time does not run back.)
    pub fn advance_clock(&self, by: Duration) {
        self.clock_ahead.fetch_add(by.as_millis() as u64, Ordering::Relaxed);
    }

    /// `now` as the log-in attempt calls see it.
    fn later(&self, now: Timestamp) -> Timestamp {
        now.plus(Duration::from_millis(self.clock_ahead.load(Ordering::Relaxed)))
    }

    /// Ends every failure and slowness.
    pub fn heal(&self) {
        self.faults().clear();
        self.slow.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, usize>> {
        self.failing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn check(&self, method: &'static str) -> StoreResult<()> {
        let delay = self.slow.lock().unwrap_or_else(PoisonError::into_inner).get(method).copied();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        match self.faults().get_mut(method) {
            Some(0) => Err(StoreError::backend(Injected(method))),
            Some(calls) => {
                *calls -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl std::fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyStore").field("failing", &*self.faults()).finish_non_exhaustive()
    }
}

// Each method fails if its name is failing, else hands the call on; the log-in attempt calls
// with their clock moved ahead.
crate::delegate_store!(
    impl UserStore, SessionStore, ConversationStore, MessageStore, AttachmentStore, AdminStore, InviteStore, AccountTokenStore,
    NotificationStore, SecretStore, Store for FaultyStore => inner,
    before check
);

#[async_trait::async_trait]
impl LoginAttemptStore for FaultyStore {
    async fn count_login_attempt(&self, keys: &[(AttemptKey, SlowDown)], now: Timestamp) -> StoreResult<Attempt> {
        self.check("count_login_attempt").await?;
        self.inner.count_login_attempt(keys, self.later(now)).await
    }

    async fn clear_login_attempts(&self, key: &AttemptKey) -> StoreResult<()> {
        self.check("clear_login_attempts").await?;
        self.inner.clear_login_attempts(key).await
    }

    async fn expire_login_attempts(&self, now: Timestamp) -> StoreResult<u64> {
        self.check("expire_login_attempts").await?;
        self.inner.expire_login_attempts(self.later(now)).await
    }
}
