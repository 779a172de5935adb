//! Log-in throttling: slow-downs, not lock-outs (OWASP Authentication Cheat Sheet, "Account
//! Lockout"; the exponential back-off the OWASP testing guide cites from AWS Cognito).
//!
//! A hard lock after N failures per username made every visible username a lever: anyone could
//! lock its owner out, renewably. And a check-then-count throttle let 40 concurrent guesses all
//! through before the first failure was counted. Log-ins now pass three gates, cheapest first:
//!
//! 1. **This node's per-address admission** (module `admission`), before anything else: a budget
//!    of password checks per client address (a burst, then one per interval) and a cap on the
//!    address's checks in flight or waiting for a hashing slot. It protects the node's CPU and
//!    the hashing queue, which every log-in shares: a flood from one address can hold at most a
//!    couple of places in that queue, so other people's log-ins are not made to wait behind it.
//!    Per node on purpose: it guards the node's own resources, refuses without a store round
//!    trip, and the guesses an address may make at any one account are bounded by the shared
//!    slow-downs below, however many nodes it spreads its requests over.
//! 2. **Slow-downs per account and client address**, shared by every node through the store:
//!    after [`SlowDown::free_attempts`] (default 5) attempts, each further attempt must wait,
//!    1 s doubling up to 15 minutes. An attacker's failures slow down the attacker's own address
//!    only; the account's owner, from their address, is not affected.
//! 3. **Slow-downs per account**, from all addresses together: a much higher threshold (50) and
//!    short waits (1 s doubling up to 10 s), against guessing spread over many addresses. Even
//!    then its owner waits seconds, never minutes.
//!
//! An attempt is counted **before** its password is checked, as one atomic step in the store
//! ([`Store::count_login_attempt`](crate::Store::count_login_attempt): read, decide by
//! [`SlowDown::attempt`], write, also atomic across nodes), so concurrent attempts each see the
//! ones before them and no more than the allowance ever reach the hash. A refused attempt changes
//! nothing, so hammering a refused key does not lengthen anyone's wait. The per-address key is
//! counted first: an attempt it refuses does not use up the account-wide allowance (else one
//! address could drain it for everyone). A right password clears both keys, so the counts are of
//! failures since the last success; a wrong one leaves its count in place.
//!
//! Keys are SHA-256 hashes ([`AttemptKey`]): stores never hold the usernames people tried (or the
//! passwords some type into the username field) nor their addresses. An IPv6 client is keyed by
//! its /64, which one subscriber usually holds whole; an IPv4-mapped IPv6 address is its IPv4
//! address. Records expire ([`LoginAttempts::expires_at`]) and the engine deletes expired ones
//! about once a minute, from the log-in path.
//!
//! [`Chat::login`](crate::Chat::login) does not know the client's address: it applies the
//! account-wide slow-down only (for embedders that authenticate on their own terms);
//! [`Chat::login_from`](crate::Chat::login_from) applies all three gates and is what a server
//! facing the network calls. A refusal is `too_many_attempts` with the wait, in whole seconds,
//! rounded up.

use crate::admission::Admission;
use crate::chat::Chat;
use crate::error::{Error, Limit, Result};
use crate::model::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How one key's attempts slow further attempts down: a few free, then exponential waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlowDown {
    /// Attempts allowed back to back (at least 1 is assumed). The one that uses up the last
    /// sets the first wait.
    pub free_attempts: u32,
    /// The first wait; each further attempt doubles it.
    pub first_delay: Duration,
    /// No wait is longer.
    pub max_delay: Duration,
    /// A key is forgotten this long after its wait ends (or after its last attempt, with no
    /// wait): the observation window.
    pub forget_after: Duration,
}

impl SlowDown {
    /// Decides an attempt at `now` against `current` (a key's stored record, if any): counted,
    /// with the record to store, or refused, with how long to wait. The rule every store
    /// applies; a record expired at `now` counts as none.
    pub fn attempt(&self, current: Option<LoginAttempts>, now: Timestamp) -> Attempt {
        let current = current.filter(|record| record.expires_at > now);
        if let Some(record) = current.filter(|record| record.not_before > now) {
            return Attempt::Refused { retry_after: Duration::from_millis(record.not_before.0 - now.0) };
        }
        let count = current.map_or(0, |record| record.count).saturating_add(1);
        let free = self.free_attempts.max(1);
        let not_before = if count >= free { now.plus(self.delay(count - free)) } else { now };
        Attempt::Counted(LoginAttempts { count, not_before, expires_at: not_before.plus(self.forget_after) })
    }

    /// The wait after the `beyond`-th attempt past the free ones (0 for the last free one).
    fn delay(&self, beyond: u32) -> Duration {
        let factor = 2u32.checked_pow(beyond).unwrap_or(u32::MAX);
        self.first_delay.checked_mul(factor).unwrap_or(self.max_delay).min(self.max_delay)
    }
}

/// What a store keeps per [`AttemptKey`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginAttempts {
    /// Attempts counted since the key was last cleared or forgotten.
    pub count: u32,
    /// No attempt is allowed before this.
    pub not_before: Timestamp,
    /// From this time on the record decides nothing: a store may delete it, and treats it as
    /// absent meanwhile.
    pub expires_at: Timestamp,
}

/// The outcome of [`SlowDown::attempt`] and [`Store::count_login_attempt`](crate::Store::count_login_attempt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Counted: this is the key's record now. The password may be checked.
    Counted(LoginAttempts),
    /// Not counted (nothing changed): try again after this long.
    Refused {
        /// How long until an attempt is allowed.
        retry_after: Duration,
    },
}

/// What log-in attempts are counted under: the SHA-256 of an account's folded username, alone or
/// with a client address. Stores keep it as given and never see what it was made from.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttemptKey(pub [u8; 32]);

impl AttemptKey {
    /// The key of an account (by folded username), from all addresses.
    pub(crate) fn account(folded: &str) -> Self {
        Self::hash(&["account", folded])
    }

    /// The key of an account from one client address (as [`client_key`](crate::client_key) makes it).
    pub(crate) fn account_and_address(folded: &str, address: IpAddr) -> Self {
        Self::hash(&["account+address", folded, &address.to_string()])
    }

    fn hash(parts: &[&str]) -> Self {
        let mut digest = Sha256::new();
        for part in parts {
            // Length-prefixed, so that no two part lists hash the same input.
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part.as_bytes());
        }
        AttemptKey(digest.finalize().into())
    }
}

impl std::fmt::Debug for AttemptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AttemptKey({:02x}{:02x}..)", self.0[0], self.0[1])
    }
}

/// How log-ins are throttled; see the module docs. `LoginLimits::default()` is what
/// `PROTOCOL.md` documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginLimits {
    /// Per account and client address, in the store (shared by a cluster). Default: 5 free,
    /// then 1 s doubling up to 15 minutes; forgotten 15 minutes after the wait ends.
    pub per_account_and_address: SlowDown,
    /// Per account, from all addresses, in the store. Default: 50 free, then 1 s doubling up
    /// to 10 s; forgotten 15 minutes after the wait ends.
    pub per_account: SlowDown,
    /// Password checks one client address may start on this node at once (a burst). Default 30.
    pub address_burst: u32,
    /// ... after which it gets one more per this interval. Default 2 s.
    pub address_interval: Duration,
    /// Password checks of one client address in flight or waiting for a hashing slot on this
    /// node. Default 2.
    pub address_in_flight: usize,
}

impl Default for LoginLimits {
    fn default() -> Self {
        let quarter_hour = Duration::from_secs(15 * 60);
        LoginLimits {
            per_account_and_address: SlowDown {
                free_attempts: 5,
                first_delay: Duration::from_secs(1),
                max_delay: quarter_hour,
                forget_after: quarter_hour,
            },
            per_account: SlowDown {
                free_attempts: 50,
                first_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(10),
                forget_after: quarter_hour,
            },
            address_burst: 30,
            address_interval: Duration::from_secs(2),
            address_in_flight: 2,
        }
    }
}

/// How often expired attempt records are deleted.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);

/// The engine's log-in throttle: this node's admission, and when expired records were last
/// deleted.
pub(crate) struct LoginThrottle {
    pub(crate) admission: Admission,
    /// Milliseconds since the epoch of the last deletion of expired records (0: never).
    last_expiry: AtomicU64,
}

impl LoginThrottle {
    pub(crate) fn new(limits: &LoginLimits) -> Self {
        LoginThrottle {
            admission: Admission::new(limits.address_burst, limits.address_interval, limits.address_in_flight),
            last_expiry: AtomicU64::new(0),
        }
    }

    /// Whether it is this caller's turn to delete expired records (one caller a minute).
    fn expiry_due(&self, now: Timestamp) -> bool {
        let last = self.last_expiry.load(Ordering::Relaxed);
        now.0 >= last.saturating_add(EXPIRE_EVERY.as_millis() as u64)
            && self.last_expiry.compare_exchange(last, now.0, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }
}

impl Chat {
    /// Counts a log-in attempt for the account `folded` (from `address`, if known) against its
    /// slow-downs, before the password is checked. Returns the keys to clear if it is right.
    ///
    /// # Errors
    /// `too_many_attempts` with the wait; `unavailable`.
    pub(crate) async fn count_login_attempt(&self, folded: &str, address: Option<IpAddr>) -> Result<Vec<AttemptKey>> {
        let now = self.now();
        self.expire_login_attempts(now).await;
        let limits = &self.config().login;
        // The per-address key first: see the module docs.
        let keys = address
            .map(|address| (AttemptKey::account_and_address(folded, address), limits.per_account_and_address))
            .into_iter()
            .chain([(AttemptKey::account(folded), limits.per_account)]);
        let mut counted = Vec::with_capacity(2);
        for (key, rule) in keys {
            if let Attempt::Refused { retry_after } = self.store().count_login_attempt(&key, &rule, now).await? {
                return Err(too_many_attempts(retry_after));
            }
            counted.push(key);
        }
        Ok(counted)
    }

    /// Deletes expired attempt records if a minute has passed since the last time. A failure
    /// is logged, not the log-in's: the records stay until the next time.
    async fn expire_login_attempts(&self, now: Timestamp) {
        if self.throttle().expiry_due(now) {
            if let Err(error) = self.store().expire_login_attempts(now).await {
                tracing::warn!(%error, "could not delete expired log-in attempt records");
            }
        }
    }
}

/// The refusal of a log-in: `too_many_attempts`, with `wait` rounded up to whole seconds (what
/// `Retry-After` can say), at least one.
pub(crate) fn too_many_attempts(wait: Duration) -> Error {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Error::Limited { limit: Limit::LoginAttempts, retry_after: Some(Duration::from_secs(seconds.max(1))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1000;

    fn rule() -> SlowDown {
        SlowDown {
            free_attempts: 3,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
            forget_after: Duration::from_secs(60),
        }
    }

    fn counted(attempt: Attempt) -> LoginAttempts {
        match attempt {
            Attempt::Counted(record) => record,
            Attempt::Refused { retry_after } => panic!("refused for {retry_after:?}"),
        }
    }

    #[test]
    fn free_attempts_then_waits_that_double_up_to_the_cap() {
        let rule = rule();
        let mut now = Timestamp(1_000_000);
        let mut record = None;
        // The free attempts at once; the last one sets the first wait.
        for count in 1..=3 {
            let next = counted(rule.attempt(record, now));
            assert_eq!(next.count, count);
            record = Some(next);
        }
        assert_eq!(record.unwrap().not_before, now.plus(Duration::from_secs(1)));
        // Refused until the wait ends, exactly; a refusal changes nothing.
        let just_before = Timestamp(now.0 + SECOND - 1);
        assert_eq!(rule.attempt(record, just_before), Attempt::Refused { retry_after: Duration::from_millis(1) });
        for expected_wait in [2, 4, 5, 5] {
            now = record.unwrap().not_before;
            let next = counted(rule.attempt(record, now));
            assert_eq!(next.not_before, now.plus(Duration::from_secs(expected_wait)), "capped at 5 s");
            assert_eq!(next.expires_at, next.not_before.plus(Duration::from_secs(60)));
            record = Some(next);
        }
        assert_eq!(record.unwrap().count, 7);
    }

    #[test]
    fn an_expired_record_counts_as_none() {
        let rule = rule();
        let stale = LoginAttempts { count: 40, not_before: Timestamp(5), expires_at: Timestamp(10) };
        assert_eq!(counted(rule.attempt(Some(stale), Timestamp(10))).count, 1);
        assert_eq!(counted(rule.attempt(Some(stale), Timestamp(9))).count, 41);
        // A huge count only caps the wait, never overflows.
        let huge = LoginAttempts { count: u32::MAX, ..stale };
        let next = counted(rule.attempt(Some(huge), Timestamp(9)));
        assert_eq!((next.count, next.not_before), (u32::MAX, Timestamp(9 + 5 * SECOND)));
    }

    #[test]
    fn keys_differ_by_account_and_address_and_hide_both() {
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let keys = [
            AttemptKey::account("alice"),
            AttemptKey::account("bob"),
            AttemptKey::account_and_address("alice", a),
            AttemptKey::account_and_address("alice", b),
            AttemptKey::account_and_address("bob", a),
        ];
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
        assert_eq!(AttemptKey::account("alice"), AttemptKey::account("alice"));
        assert!(!format!("{:?}", keys[0]).contains("alice"));
    }

    #[test]
    fn waits_are_whole_seconds_rounded_up() {
        let wait = |millis| match too_many_attempts(Duration::from_millis(millis)) {
            Error::Limited { limit: Limit::LoginAttempts, retry_after: Some(wait) } => wait.as_secs(),
            other => panic!("{other:?}"),
        };
        assert_eq!([wait(0), wait(1), wait(1000), wait(1001)], [1, 1, 1, 2]);
    }

    #[test]
    fn expiry_is_due_once_a_minute() {
        let throttle = LoginThrottle::new(&LoginLimits::default());
        let start = Timestamp(10_000_000);
        assert!(throttle.expiry_due(start));
        assert!(!throttle.expiry_due(start));
        assert!(!throttle.expiry_due(start.plus(Duration::from_secs(59))));
        assert!(throttle.expiry_due(start.plus(EXPIRE_EVERY)));
    }
}
