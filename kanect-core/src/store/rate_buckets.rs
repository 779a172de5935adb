//! [`SharedRateBuckets`]: rate-limit buckets kept in a store that several nodes share, so that
//! a client spreading its requests over the nodes of a cluster gets the limit once, not once
//! per node.
//!
//! Only a store several nodes use at once offers them ([`Store::shared_rate_buckets`](super::Store::shared_rate_buckets)):
//! on a store of one process the engine keeps its buckets in memory, where a check costs no
//! round trip. The rule every backend applies is [`Grant::decide`], so that all of them count alike.

use super::StoreResult;
use crate::limits::Rate;
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// A bucket's key: a SHA-256 of the limit's name and what it is counted per (an account, a
/// client address, a username as typed), so that a store never holds the addresses or names.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BucketKey(pub [u8; 32]);

impl BucketKey {
    /// The key of `subject`'s bucket for the limit named `limit`.
    pub fn new(limit: &str, subject: &str) -> Self {
        let mut digest = Sha256::new();
        for part in [limit, subject] {
            // Length-prefixed, so that no two pairs hash the same input.
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part.as_bytes());
        }
        BucketKey(digest.finalize().into())
    }
}

impl std::fmt::Debug for BucketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BucketKey({:02x}{:02x}{:02x}{:02x}…)", self.0[0], self.0[1], self.0[2], self.0[3])
    }
}

/// What a bucket answers when asked for tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// This many tokens were taken: at least the number needed, at most the number wanted.
    Taken(u32),
    /// Fewer than needed are left: none were taken, and the needed ones are there after this
    /// wait.
    Wait(Duration),
}

impl Grant {
    /// Takes `need` to `want` tokens (`need ≤ want`, `1 ≤ need ≤ rate.burst()`) from a bucket
    /// whose state is `state` (None: never used), at `now` (microseconds since the Unix epoch),
    /// after putting back `returned` tokens taken earlier and not spent (never beyond a full
    /// bucket): the grant and the new state, or the wait and the state with only the tokens
    /// put back. GCRA, as the `governor` crate counts the engine's in-memory buckets: a full
    /// bucket holds `burst` tokens, and one comes back every `period / burst`.
    pub fn decide(
        rate: Rate,
        state: Option<ArrivalTime>,
        now: u64,
        returned: u32,
        need: u32,
        want: u32,
    ) -> (Grant, Option<ArrivalTime>) {
        let every = u64::try_from(rate.period().as_micros() / u128::from(rate.burst())).unwrap_or(u64::MAX).max(1);
        let full_at = state.map(|at| at.saturating_sub(every.saturating_mul(u64::from(returned))));
        let full_at = full_at.unwrap_or(now).max(now);
        // Tokens left: how many intervals fit between `full_at` and now plus a whole burst.
        let capacity = every.saturating_mul(u64::from(rate.burst()));
        let left = now.saturating_add(capacity).saturating_sub(full_at) / every;
        if left < u64::from(need) {
            let ready = full_at.saturating_add(every.saturating_mul(u64::from(need))).saturating_sub(capacity);
            let state = if returned > 0 { Some(full_at) } else { state };
            return (Grant::Wait(Duration::from_micros(ready.saturating_sub(now))), state);
        }
        let taken = u32::try_from(left.min(u64::from(want.max(need)))).unwrap_or(u32::MAX);
        (Grant::Taken(taken), Some(full_at.saturating_add(every.saturating_mul(u64::from(taken)))))
    }
}

/// One bucket's state: its theoretical arrival time (GCRA), in microseconds since the Unix
/// epoch. A bucket whose time is not after now is full, the same as a bucket never used.
pub type ArrivalTime = u64;

/// Rate-limit buckets that every node sharing the store draws from (see the module docs).
///
/// Like log-in attempt records, bucket states need not be durable when a call returns: losing
/// them in a crash only refills some buckets early.
#[async_trait]
pub trait SharedRateBuckets: Send + Sync {
    /// Puts back `returned` tokens taken earlier and not spent, then takes `need` to `want`
    /// tokens from `key`'s bucket under `rate`, as [`Grant::decide`] decides at
    /// the store's own clock (one clock for every node, whatever theirs say), in one atomic
    /// step: two calls at the same key, from any nodes, never both see the same state.
    /// `1 ≤ need ≤ want` and `need ≤ rate.burst()`.
    async fn take_tokens(&self, key: &BucketKey, rate: Rate, returned: u32, need: u32, want: u32)
        -> StoreResult<Grant>;

    /// Deletes the buckets that are full again (they decide nothing a missing one would not);
    /// returns how many.
    async fn forget_full_buckets(&self) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000;

    fn rate(text: &str) -> Rate {
        text.parse().unwrap()
    }

    #[test]
    fn a_fresh_bucket_gives_its_burst_then_one_per_interval() {
        let rate = rate("3/3s");
        let (mut state, now) = (None, 100 * SECOND);
        for _ in 0..3 {
            let (grant, next) = Grant::decide(rate, state, now, 0, 1, 1);
            assert_eq!(grant, Grant::Taken(1));
            state = next;
        }
        let (grant, after) = Grant::decide(rate, state, now, 0, 1, 1);
        assert_eq!(grant, Grant::Wait(Duration::from_secs(1)));
        assert_eq!(after, state, "a refusal changes nothing");
        assert_eq!(Grant::decide(rate, state, now + SECOND - 1, 0, 1, 1).0, Grant::Wait(Duration::from_micros(1)));
        assert_eq!(Grant::decide(rate, state, now + SECOND, 0, 1, 1).0, Grant::Taken(1));
    }

    #[test]
    fn a_grant_is_between_need_and_want_and_never_beyond_what_is_left() {
        let rate = rate("10/10s");
        let now = 50 * SECOND;
        let (grant, state) = Grant::decide(rate, None, now, 0, 2, 4);
        assert_eq!(grant, Grant::Taken(4), "as many as wanted while there are");
        let (grant, state) = Grant::decide(rate, state, now, 0, 1, 100);
        assert_eq!(grant, Grant::Taken(6), "no more than are left");
        let (grant, _) = Grant::decide(rate, state, now, 0, 3, 3);
        assert_eq!(grant, Grant::Wait(Duration::from_secs(3)), "three come back in three intervals");
    }

    #[test]
    fn tokens_given_back_are_taken_again_but_never_beyond_a_full_bucket() {
        let rate = rate("10/10s");
        let now = 50 * SECOND;
        let (_, state) = Grant::decide(rate, None, now, 0, 10, 10);
        let (grant, after) = Grant::decide(rate, state, now, 4, 5, 5);
        assert_eq!(grant, Grant::Wait(Duration::from_secs(1)), "four back, five needed");
        assert_eq!(after, Some(now + 6 * SECOND), "the four given back are kept though none were taken");
        assert_eq!(Grant::decide(rate, after, now, 0, 4, 4).0, Grant::Taken(4));
        let (grant, _) = Grant::decide(rate, Some(now + SECOND), now, 9, 10, 10);
        assert_eq!(grant, Grant::Taken(10), "a bucket one short, given back nine, is full, no more");
    }

    #[test]
    fn a_full_bucket_is_the_same_as_a_new_one() {
        let rate = rate("5/5s");
        let now = 1_000 * SECOND;
        let long_ago = Some(now - 60 * SECOND);
        assert_eq!(Grant::decide(rate, long_ago, now, 0, 5, 5), Grant::decide(rate, None, now, 0, 5, 5));
        assert_eq!(Grant::decide(rate, long_ago, now, 0, 5, 5).0, Grant::Taken(5));
    }

    #[test]
    fn keys_differ_by_limit_and_by_subject() {
        let key = BucketKey::new("sends", "someone");
        assert_eq!(key, BucketKey::new("sends", "someone"));
        assert_ne!(key, BucketKey::new("typing", "someone"));
        assert_ne!(key, BucketKey::new("sends", "someone else"));
        assert_ne!(BucketKey::new("ab", "c"), BucketKey::new("a", "bc"), "the parts are delimited");
    }
}
