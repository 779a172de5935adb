//! Log-in throttling: slow-downs, not lock-outs (OWASP Authentication Cheat Sheet, "Account
//! Lockout"; the exponential back-off the OWASP testing guide cites from AWS Cognito).
//!
//! A hard lock after N failures per username made every visible username a lever: anyone could
//! lock its owner out, renewably. And a check-then-count throttle let 40 concurrent guesses all
//! through before the first failure was counted. Log-ins now pass three gates, cheapest first:
//!
//! 1. **This node's per-address admission** (module `admission`), before anything else: a budget
//!    of password hashes per client address (a burst, then one per interval) and a cap on the
//!    address's hashes in flight or waiting for a hashing slot. Public sign-ups pass it too
//!    ([`Chat::register_from`](crate::Chat::register_from)): their hash costs what a log-in's
//!    check costs and waits in the same queue (refused, a sign-up is `rate_limited`, a log-in
//!    `too_many_attempts`). It protects the node's CPU and the hashing
//!    queue, which all of them share: a flood from one address can hold at most a couple of
//!    places in that queue, so other people's log-ins are not made to wait behind it. Per node
//!    on purpose: it guards the node's own resources, refuses without a store round trip, and
//!    the guesses an address may make at any one account are bounded by the shared slow-downs
//!    below, however many nodes it spreads its requests over.
//! 2. **Slow-downs per account and client address**, shared by every node through the store:
//!    after [`SlowDown::free_attempts`] (default 5) attempts, each further attempt must wait,
//!    1 s doubling up to 15 minutes. An attacker's failures slow down the attacker's own address
//!    only; the account's owner, from their address, is not affected.
//! 3. **Slow-downs per account**, from all addresses together: a much higher threshold (50) and
//!    short waits (1 s doubling up to 10 s), against guessing spread over many addresses.
//!
//! # One attempt, all keys at once
//!
//! An attempt is counted **before** its password is checked, at all of its keys (the account's
//! and, with an address, the account-and-address one) in one atomic step in the store
//! ([`LoginAttemptStore::count_login_attempt`](crate::backend::LoginAttemptStore::count_login_attempt):
//! read the records, decide by [`Attempt::decide`], write, also atomic across nodes). So concurrent attempts each see the
//! ones before them, and no more than the allowance ever reach the hash. The decision is **all
//! or nothing**: if every key allows the attempt it is counted at every key; if any refuses, it
//! is counted at none, and the wait is the longest of the refusing keys'. A refused attempt
//! changes nothing, so hammering a refused key does not lengthen anyone's wait.
//!
//! Counting the keys one after the other, in either order, gives up one of two properties:
//!
//! - per-address key first: an attempt the account-wide key then refuses has already raised the
//!   per-address count. An attacker who keeps the account-wide key in its wait (a guess as each
//!   wait ends, from ever new addresses or IPv6 /64s) then makes every retry of the owner raise
//!   the owner's own count, until the owner waits minutes at their own address;
//! - account-wide key first: an attempt its per-address key then refuses has used up part of the
//!   account-wide allowance: one address, hammering, drains it for everyone.
//!
//! All or nothing keeps both. The account-wide count grows only by attempts that their address
//! also allowed, so one address adds at most its own allowance (5 at once, then one after each
//! wait of 1 s, 2 s, 4 s, ...: 14 in the first 15 minutes, well under 50). And a per-address
//! count grows only by attempts that reached the password check, never by retries refused
//! while the account-wide key waited. So the owner, from their own address and unless they
//! fail 5 times themselves, is refused only by the account-wide key, each time for at most its
//! longest wait (10 s): seconds, never minutes. What an attacker with a handful of addresses can
//! still do is keep that key in its wait, a guess every 10 s, and so make the owner wait up to
//! 10 s at a time; that is the price of bounding guesses spread over many addresses at all.
//!
//! A right password clears every key of the attempt, so the counts are of failures since the
//! last success; a wrong one leaves its counts in place.
//!
//! # Keys and records
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
//!
//! This module holds the rules and the node's throttle state, and knows nothing of the engine
//! handle: the engine holds a `LoginThrottle`, and its log-in (module `accounts`) applies it.

use crate::admission::Admission;
use crate::error::{Error, Limit};
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
    /// Decides an attempt at one key at `now` against `current` (the key's stored record, if
    /// any): `Ok` with the record to store if it may be counted, `Err` with how long to wait if
    /// not. A record expired at `now` counts as none.
    fn next(&self, current: Option<LoginAttempts>, now: Timestamp) -> std::result::Result<LoginAttempts, Duration> {
        let current = current.filter(|record| record.expires_at > now);
        if let Some(record) = current.filter(|record| record.not_before > now) {
            return Err(Duration::from_millis(record.not_before.0 - now.0));
        }
        let count = current.map_or(0, |record| record.count).saturating_add(1);
        let free = self.free_attempts.max(1);
        let not_before = if count >= free { now.plus(self.delay(count - free)) } else { now };
        Ok(LoginAttempts { count, not_before, expires_at: not_before.plus(self.forget_after) })
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

/// The outcome of one log-in attempt at all of its keys ([`Attempt::decide`],
/// [`LoginAttemptStore::count_login_attempt`](crate::backend::LoginAttemptStore::count_login_attempt)):
/// counted at every key, or at none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Counted at every key: these are their records now, in the order the keys were given.
    /// The password may be checked.
    Counted(Vec<LoginAttempts>),
    /// Counted at no key (nothing changed): try again after this long.
    Refused {
        /// How long until every key allows an attempt (as far as is known now): the longest
        /// wait of the keys that refused.
        retry_after: Duration,
    },
}

impl Attempt {
    /// Decides one attempt at `now` at several keys together, from each key's rule and stored
    /// record (if any, expired or not): the rule every store applies, between reading the
    /// records and writing the new ones, as one atomic step. Counted if every rule allows an
    /// attempt (the new records to store, in order), else refused with the longest wait; see
    /// the module docs for why all or nothing. A record expired at `now` counts as none.
    pub fn decide(keys: impl IntoIterator<Item = (SlowDown, Option<LoginAttempts>)>, now: Timestamp) -> Attempt {
        let mut counted = Vec::new();
        let mut longest_wait = None;
        for (rule, current) in keys {
            match rule.next(current, now) {
                Ok(record) => counted.push(record),
                Err(wait) => longest_wait = longest_wait.max(Some(wait)),
            }
        }
        match longest_wait {
            Some(retry_after) => Attempt::Refused { retry_after },
            None => Attempt::Counted(counted),
        }
    }
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

/// How log-ins are throttled, and how many password hashes (log-ins and public sign-ups) one
/// address may have this node run; see the module docs. `LoginLimits::default()` is what
/// `PROTOCOL.md` documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginLimits {
    /// Per account and client address, in the store (shared by a cluster). Default: 5 free,
    /// then 1 s doubling up to 15 minutes; forgotten 15 minutes after the wait ends.
    pub per_account_and_address: SlowDown,
    /// Per account, from all addresses, in the store. Default: 50 free, then 1 s doubling up
    /// to 10 s; forgotten 15 minutes after the wait ends.
    pub per_account: SlowDown,
    /// Password hashes (log-ins' checks and public sign-ups', together) one client address may
    /// start on this node at once (a burst). Default 30.
    pub address_burst: u32,
    /// ... after which it gets one more per this interval. Default 2 s.
    pub address_interval: Duration,
    /// Password hashes (log-ins' and public sign-ups') of one client address in flight or
    /// waiting for a hashing slot on this node. Default 2.
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

impl LoginLimits {
    /// These limits without this node's per-address admission to password hashing (no budget,
    /// no cap in flight); the slow-downs stay. For load tests, which sign up hundreds of users
    /// from one address, many at once.
    pub fn without_address_admission(self) -> Self {
        LoginLimits { address_burst: u32::MAX, address_in_flight: usize::MAX, ..self }
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
    pub(crate) fn expiry_due(&self, now: Timestamp) -> bool {
        let last = self.last_expiry.load(Ordering::Relaxed);
        now.0 >= last.saturating_add(EXPIRE_EVERY.as_millis() as u64)
            && self.last_expiry.compare_exchange(last, now.0, Ordering::Relaxed, Ordering::Relaxed).is_ok()
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

    fn counted(attempt: std::result::Result<LoginAttempts, Duration>) -> LoginAttempts {
        attempt.unwrap_or_else(|wait| panic!("refused for {wait:?}"))
    }

    #[test]
    fn free_attempts_then_waits_that_double_up_to_the_cap() {
        let rule = rule();
        let mut now = Timestamp(1_000_000);
        let mut record = None;
        // The free attempts at once; the last one sets the first wait.
        for count in 1..=3 {
            let next = counted(rule.next(record, now));
            assert_eq!(next.count, count);
            record = Some(next);
        }
        assert_eq!(record.unwrap().not_before, now.plus(Duration::from_secs(1)));
        // Refused until the wait ends, exactly; a refusal changes nothing.
        let just_before = Timestamp(now.0 + SECOND - 1);
        assert_eq!(rule.next(record, just_before), Err(Duration::from_millis(1)));
        for expected_wait in [2, 4, 5, 5] {
            now = record.unwrap().not_before;
            let next = counted(rule.next(record, now));
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
        assert_eq!(counted(rule.next(Some(stale), Timestamp(10))).count, 1);
        assert_eq!(counted(rule.next(Some(stale), Timestamp(9))).count, 41);
        // A huge count only caps the wait, never overflows.
        let huge = LoginAttempts { count: u32::MAX, ..stale };
        let next = counted(rule.next(Some(huge), Timestamp(9)));
        assert_eq!((next.count, next.not_before), (u32::MAX, Timestamp(9 + 5 * SECOND)));
    }

    #[test]
    fn an_attempt_is_counted_at_every_key_or_at_none_with_the_longest_wait() {
        let (short, long) = (rule(), SlowDown { max_delay: Duration::from_secs(60), ..rule() });
        let now = Timestamp(1_000_000);
        let fresh = LoginAttempts { count: 1, not_before: now, expires_at: now.plus(Duration::from_secs(60)) };
        let waiting = |seconds| LoginAttempts { count: 9, not_before: now.plus(Duration::from_secs(seconds)), ..fresh };
        // Every key allows it: counted at each, the records in the keys' order.
        let both = Attempt::decide([(short, None), (long, Some(fresh))], now);
        assert_eq!(both, Attempt::Counted(vec![counted(short.next(None, now)), counted(long.next(Some(fresh), now))]));
        // One key refuses: counted at none, whichever key it is.
        for keys in [[(short, None), (long, Some(waiting(2)))], [(long, Some(waiting(2))), (short, None)]] {
            assert_eq!(Attempt::decide(keys, now), Attempt::Refused { retry_after: Duration::from_secs(2) });
        }
        // Several refuse: the longest wait.
        let two = Attempt::decide([(short, Some(waiting(3))), (long, Some(waiting(40)))], now);
        assert_eq!(two, Attempt::Refused { retry_after: Duration::from_secs(40) });
        assert_eq!(Attempt::decide([], now), Attempt::Counted(vec![]));
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
