//! [`LoginAttemptStore`]: the records of log-in slow-downs, shared by every node.

use super::StoreResult;
use crate::model::Timestamp;
use crate::throttle::{Attempt, AttemptKey, SlowDown};
use async_trait::async_trait;

/// Log-in attempt records, per [`AttemptKey`] (see the `throttle` module of the engine for
/// why they are kept in the store: so that every node sharing it sees every attempt).
///
/// A log-in attempt is counted at all of its keys, or refused at all, atomically
/// ([`LoginAttemptStore::count_login_attempt`]). Unlike every other write, the records need not
/// be durable when a call returns.
#[async_trait]
pub trait LoginAttemptStore: Send + Sync {
    /// Counts one log-in attempt at every key of `keys`, each under its rule, if every rule
    /// allows one at `now`, and at none of them otherwise: reads the keys' records, decides
    /// with [`Attempt::decide`], and stores the new records, as one atomic step (also across
    /// nodes sharing the store: two attempts never both see the same count at a key, and no
    /// attempt is ever counted at some of its keys only, whatever other attempts at the same
    /// keys run at the same time). A refused attempt changes nothing. The keys are distinct.
    ///
    /// Unlike other writes, a counted attempt need not be durable when this returns: losing the
    /// last moments' counts in a crash only shortens a slow-down, and a sync per log-in attempt
    /// would cost more than the password check it guards.
    async fn count_login_attempt(&self, keys: &[(AttemptKey, SlowDown)], now: Timestamp) -> StoreResult<Attempt>;

    /// Forgets `key`'s attempts (after a right password). Durable as
    /// [`LoginAttemptStore::count_login_attempt`].
    async fn clear_login_attempts(&self, key: &AttemptKey) -> StoreResult<()>;

    /// Deletes every attempt record expired at `now`
    /// ([`LoginAttempts::expires_at`](crate::backend::LoginAttempts::expires_at) ≤ `now`);
    /// returns how many.
    async fn expire_login_attempts(&self, now: Timestamp) -> StoreResult<u64>;
}
