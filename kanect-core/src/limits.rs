//! Rate limits: how often one account may send, say it is typing, create groups and add members
//! to groups, and have mail sent; how often one client address may sign up and ask for
//! password resets.
//!
//! Without them one account could store and fan out thousands of messages a second, or put
//! another user into a thousand groups in seconds; and one address could make accounts without
//! end to multiply both. They are the engine's, configured in [`RateLimits`]
//! (`ChatConfig::rate_limits`), so an application that embeds Kanect gets them as the server
//! does; a refusal is [`Error::Limited`] with `retry_after`, which the HTTP adapter answers
//! with `429 rate_limited` and `Retry-After`.
//!
//! Decisions:
//! - **A token bucket per key** ([`Rate`]: `burst` actions at once, refilled evenly over
//!   `period`), as the `governor` crate implements it (GCRA: one timestamp per key, no timer).
//!   People chat in bursts, so the defaults allow generous bursts and hold back only a sustained
//!   flood (see [`RateLimits::default`]).
//! - **What counts:** every attempt that passed the checks that cost nothing (input
//!   validation) is counted before the store is touched, whether it then succeeds or not: a
//!   flood of requests that fail on the store (not a member, unknown user) is held back as well,
//!   and nothing past the limit reaches the store. A resend with a known client id counts too:
//!   the engine cannot tell it is one before reading the store.
//! - **Group members** count one addition each, whether added at creation or later (the
//!   creator does not count). A group created with more members than
//!   `member_additions.burst` can never pass: refused with `retry_after: None`.
//! - **Where the buckets are kept.** On a store of one process, in this node's memory: a check
//!   costs no round trip. On a store several nodes share ([`Store::shared_rate_buckets`]:
//!   PostgreSQL), in the store, by its clock, so that a client spreading its requests over the
//!   nodes of a cluster gets each limit once, not once per node (a log-in's slow-downs are
//!   shared the same way, in the `throttle` module). So that a send is not a store round trip
//!   more, a node takes a tenth of a hot limit's burst ahead of need ([`Leases`]: sends 10,
//!   typing 1) and spends it itself: all nodes together pass at most the bucket's allowance plus
//!   what each holds ahead, and what one holds when its client moves to another is held back
//!   from the others until that node's lease runs out (2 s for sends). The other limits ask the
//!   store every time. When the store cannot be reached, a limited action fails `unavailable`.
//! - **Client addresses** count per IPv4 address and per IPv6 /64: one IPv6 subscriber usually
//!   holds a whole /64 and could otherwise sign up from a fresh address every time. An
//!   IPv4-mapped IPv6 address counts as the IPv4 address.
//! - **Memory:** a key whose bucket is full again is indistinguishable from one never seen, so
//!   every [`FORGET_EVERY`] such keys are dropped: the maps hold only the accounts and
//!   addresses active within their last `period`.
//! - **The clock is tokio's** ([`tokio::time::Instant`]), so tests drive the limits with
//!   `tokio::time::pause()` and `advance` instead of sleeping.

use crate::backend::{BucketKey, Grant, Store};
use crate::client_key::client_key;
use crate::error::{Error, Limit, Result, StoreError};
use crate::id::UserId;
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DashMapStateStore;
use governor::{InsufficientCapacity, Quota, RateLimiter};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

/// How often keys whose bucket is full again are forgotten.
pub(crate) const FORGET_EVERY: Duration = Duration::from_secs(60);

/// A rate: up to `burst` actions at once, and `burst` per `period` sustained (the bucket
/// refills one action every `period / burst`).
///
/// Written as `BURST/PERIOD`, e.g. `100/20s` (100 at once, then 5 a second), with the period in
/// `ms`, `s`, `m`, `h` or `d`:
///
/// ```
/// use kanect_core::Rate;
/// use std::time::Duration;
/// let rate: Rate = "100/20s".parse()?;
/// assert_eq!(rate, Rate::new(100, Duration::from_secs(20)).unwrap());
/// assert_eq!(rate.to_string(), "100/20s");
/// # Ok::<_, kanect_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    burst: NonZeroU32,
    period: Duration,
}

impl Rate {
    /// `burst` at once and per `period`; None if either is zero.
    pub const fn new(burst: u32, period: Duration) -> Option<Rate> {
        match NonZeroU32::new(burst) {
            Some(burst) if !period.is_zero() => Some(Rate { burst, period }),
            _ => None,
        }
    }

    /// How many actions may come at once.
    pub fn burst(&self) -> u32 {
        self.burst.get()
    }

    /// The time in which a whole burst is refilled.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The governor quota: `burst` cells, one replenished every `period / burst` (at least a
    /// nanosecond).
    fn quota(&self) -> Quota {
        let every = (self.period / self.burst.get()).max(Duration::from_nanos(1));
        Quota::with_period(every).unwrap_or_else(|| Quota::per_second(self.burst)).allow_burst(self.burst)
    }
}

/// Period units, largest first (the first that divides a period evenly is how it is written).
const UNITS: [(&str, u64); 5] = [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)];

impl FromStr for Rate {
    type Err = Error;

    /// `BURST/PERIOD`, e.g. `100/20s`, `10/50m`, `20/1h`, `5/500ms`.
    ///
    /// # Errors
    /// `malformed` (field `rate`) for anything else, or a zero burst or period.
    fn from_str(text: &str) -> Result<Rate> {
        let malformed = || Error::invalid("rate", crate::error::Invalid::Malformed);
        let (burst, period) = text.trim().split_once('/').ok_or_else(malformed)?;
        let burst: u32 = burst.trim().parse().map_err(|_| malformed())?;
        let period = period.trim();
        let digits = period.find(|c: char| !c.is_ascii_digit()).ok_or_else(malformed)?;
        let (count, unit) = period.split_at(digits);
        let count: u64 = count.parse().map_err(|_| malformed())?;
        let (_, millis) = UNITS.iter().find(|(name, _)| *name == unit).ok_or_else(malformed)?;
        let millis = count.checked_mul(*millis).ok_or_else(malformed)?;
        Rate::new(burst, Duration::from_millis(millis)).ok_or_else(malformed)
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let millis = self.period.as_millis();
        match UNITS.iter().find(|(_, unit)| millis.is_multiple_of(u128::from(*unit))) {
            Some((name, unit)) if millis > 0 => write!(f, "{}/{}{name}", self.burst, millis / u128::from(*unit)),
            // Not a whole number of milliseconds: readable, though not `FromStr`'s form.
            _ => write!(f, "{}/{:?}", self.burst, self.period),
        }
    }
}

/// The engine's rate limits (`ChatConfig::rate_limits`); None turns one off. See the
/// `limits` module docs for what counts and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Sends and edits per account (all its devices, REST and WebSocket). Default `100/20s`: a
    /// burst of 100 (a queue of messages written offline goes out at once), then 5 a second,
    /// more than anyone types.
    pub sends: Option<Rate>,
    /// Typing signals per account. Default `10/5s`: the web app sends one every 3 s at most
    /// per conversation.
    pub typing: Option<Rate>,
    /// Groups created or renamed per account. Default `10/50m`: 10 at once, then one every 5
    /// minutes.
    pub group_creations: Option<Rate>,
    /// Users added to groups per account, at creation or later. Default `1000/1h`: a group of
    /// 1,000 at once, then one every 3.6 s.
    pub member_additions: Option<Rate>,
    /// Sign-ups per client address ([`Chat::register_from`](crate::Chat::register_from); an
    /// application's own [`Chat::register`](crate::Chat::register) is not limited). Default
    /// `20/1h`: an office behind one address signs up 20 people at once, then one every 3
    /// minutes.
    pub sign_ups_per_address: Option<Rate>,
    /// Verification mails per account asked for again ([`Chat::resend_verification`](crate::Chat::resend_verification)).
    /// Default `3/1h`.
    pub verification_mails: Option<Rate>,
    /// Password resets asked for one account, by address or username as typed (folded)
    /// ([`Chat::request_password_reset`](crate::Chat::request_password_reset)). Default `3/1h`.
    pub resets_per_account: Option<Rate>,
    /// Password resets asked for from one client address. Default `10/1h`.
    pub resets_per_client: Option<Rate>,
}

impl RateLimits {
    /// No limit at all: for load tests and benchmarks, or an application that limits its users
    /// itself.
    pub const UNLIMITED: RateLimits = RateLimits {
        sends: None,
        typing: None,
        group_creations: None,
        member_additions: None,
        sign_ups_per_address: None,
        verification_mails: None,
        resets_per_account: None,
        resets_per_client: None,
    };

    /// Every limit at the same `rate` (`None`: none), e.g. to try each at a small burst.
    pub fn all(rate: Option<Rate>) -> RateLimits {
        RateLimits {
            sends: rate,
            typing: rate,
            group_creations: rate,
            member_additions: rate,
            sign_ups_per_address: rate,
            verification_mails: rate,
            resets_per_account: rate,
            resets_per_client: rate,
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        let rate = |burst, seconds| Rate::new(burst, Duration::from_secs(seconds));
        RateLimits {
            sends: rate(100, 20),
            typing: rate(10, 5),
            group_creations: rate(10, 50 * 60),
            member_additions: rate(1000, 3600),
            sign_ups_per_address: rate(20, 3600),
            verification_mails: rate(3, 3600),
            resets_per_account: rate(3, 3600),
            resets_per_client: rate(10, 3600),
        }
    }
}

/// The engine's clock for the limits: tokio's, which tests can pause and advance.
#[derive(Clone, Debug)]
struct TokioClock {
    origin: tokio::time::Instant,
}

impl Clock for TokioClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.origin.elapsed())
    }
}

type Keyed<K> = RateLimiter<K, DashMapStateStore<K>, TokioClock, NoOpMiddleware<Nanos>>;

/// One limit's buckets, one per key, or nothing when that limit is off.
struct Buckets<K: Hash + Eq + Clone> {
    limit: Limit,
    /// The limit's name in the store's bucket keys.
    name: &'static str,
    kept: Kept<K>,
}

/// Where a limit's buckets are kept.
enum Kept<K: Hash + Eq + Clone> {
    /// The limit is off.
    Off,
    /// In this node's memory: the store is one process's.
    Local(Keyed<K>),
    /// In the store every node shares, drawn on through this node's leases.
    Shared(Leases<K>),
}

impl<K: Hash + Eq + Clone + std::fmt::Display> Buckets<K> {
    fn new(
        limit: Limit,
        name: &'static str,
        rate: Option<Rate>,
        clock: &TokioClock,
        store: Option<&Arc<dyn Store>>,
    ) -> Self {
        let kept = match (rate, store) {
            (None, _) => Kept::Off,
            (Some(rate), None) => Kept::Local(RateLimiter::dashmap_with_clock(rate.quota(), clock.clone())),
            (Some(rate), Some(store)) => Kept::Shared(Leases::new(rate, store.clone())),
        };
        Buckets { limit, name, kept }
    }

    /// Takes `n` actions from `key`'s bucket, or none if they do not all fit now.
    async fn take(&self, key: &K, n: usize, clock: &TokioClock) -> Result<()> {
        let Some(n) = NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX)) else { return Ok(()) };
        let limited = |retry_after| Err(Error::Limited { limit: self.limit, retry_after });
        match &self.kept {
            Kept::Off => Ok(()),
            Kept::Local(limiter) => match limiter.check_key_n(key, n) {
                Ok(Ok(())) => Ok(()),
                Ok(Err(not_until)) => limited(Some(not_until.wait_time_from(clock.now()))),
                Err(InsufficientCapacity(_)) => limited(None),
            },
            Kept::Shared(leases) => match leases.take(self.name, key, n.get()).await? {
                Taken::Yes => Ok(()),
                Taken::After(wait) => limited(wait),
            },
        }
    }

    fn forget_idle(&self) {
        match &self.kept {
            Kept::Off => {}
            Kept::Local(limiter) => {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
            Kept::Shared(leases) => leases.forget_spent(),
        }
    }
}

/// A node's leases on shared buckets: for a hot limit (one action back at least every second:
/// sends, typing), a tenth of the burst taken from the store's bucket ahead of need, so that a
/// busy key costs one store round trip per [`Leases::extra`] + 1 actions, not one per action.
///
/// Tokens taken ahead were counted in the shared bucket, so they are never spent twice; a node
/// gives back the ones it holds for a key with its next take from the store for that key (also
/// when the lease has run out), so a key used slowly loses none. A lease runs out once its
/// tokens would have come back (two seconds for sends), so tokens taken early are not spent
/// long after on top of a refilled bucket: all nodes together pass at most the bucket's
/// allowance plus what each holds ahead.
struct Leases<K: Hash + Eq + Clone> {
    rate: Rate,
    store: Arc<dyn Store>,
    /// The tokens this node holds ahead, per key.
    held: Mutex<HashMap<K, Lease>>,
}

/// Tokens a node holds on one key's shared bucket.
#[derive(Clone, Copy)]
struct Lease {
    /// Taken from the shared bucket, not yet spent.
    tokens: u32,
    /// From this moment on they are not spent here, only given back.
    until: tokio::time::Instant,
}

/// Whether an action was counted in a shared bucket.
enum Taken {
    Yes,
    /// Not now: after this wait, or never (more at once than the bucket holds).
    After(Option<Duration>),
}

impl<K: Hash + Eq + Clone + std::fmt::Display> Leases<K> {
    fn new(rate: Rate, store: Arc<dyn Store>) -> Self {
        Leases { rate, store, held: Mutex::default() }
    }

    /// The time one token takes to come back.
    fn interval(&self) -> Duration {
        self.rate.period() / self.rate.burst()
    }

    /// The tokens taken beyond an action's own from the store at once: a tenth of the burst
    /// for a hot limit, so that what a node holds when its client moves to another holds back
    /// little of the bucket; none for the others, which are rare enough to ask every time.
    fn extra(&self) -> u32 {
        if self.interval() <= Duration::from_secs(1) {
            self.rate.burst() / 10
        } else {
            0
        }
    }

    async fn take(&self, name: &str, key: &K, n: u32) -> Result<Taken> {
        if n > self.rate.burst() {
            return Ok(Taken::After(None));
        }
        let now = tokio::time::Instant::now();
        let returned = {
            let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            match held.get_mut(key) {
                Some(lease) if lease.until > now && lease.tokens >= n => {
                    lease.tokens -= n;
                    return Ok(Taken::Yes);
                }
                // Too few, or run out: given back with this take.
                Some(_) => held.remove(key).map_or(0, |lease| lease.tokens),
                None => 0,
            }
        };
        // Checked when the limits were made; a store whose answer changed is a failing one.
        let buckets = self.store.shared_rate_buckets().ok_or_else(|| {
            Error::Unavailable(StoreError::Backend("the store no longer offers shared rate buckets".into()))
        })?;
        let want = n.saturating_add(self.extra()).min(self.rate.burst());
        let key_in_store = BucketKey::new(name, &key.to_string());
        match buckets.take_tokens(&key_in_store, self.rate, returned, n, want).await? {
            Grant::Taken(tokens) => {
                self.lease(key, tokens.saturating_sub(n), now);
                Ok(Taken::Yes)
            }
            Grant::Wait(wait) => Ok(Taken::After(Some(wait))),
        }
    }

    /// Keeps `tokens` more for `key`, taken at `taken_at`, for as long as they take to come
    /// back. A lease another take left meanwhile is added to, unless it has run out (its
    /// tokens are then dropped: they were taken long enough ago to be back in the bucket).
    fn lease(&self, key: &K, tokens: u32, taken_at: tokio::time::Instant) {
        if tokens == 0 {
            return;
        }
        let until = taken_at + self.interval() * tokens;
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let lease = held.entry(key.clone()).or_insert(Lease { tokens: 0, until });
        if lease.until <= tokio::time::Instant::now() {
            *lease = Lease { tokens: 0, until };
        }
        lease.tokens = lease.tokens.saturating_add(tokens);
        lease.until = lease.until.max(until);
    }

    /// Drops the leases spent or run out (a key idle since: its tokens are back in the
    /// bucket by now).
    fn forget_spent(&self) {
        let now = tokio::time::Instant::now();
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.retain(|_, lease| lease.tokens > 0 && lease.until > now);
        held.shrink_to_fit();
    }
}

/// The engine's buckets, one set per kind of action.
pub(crate) struct Limits {
    clock: TokioClock,
    /// The store's shared buckets are used (see the module docs).
    store: Option<Arc<dyn Store>>,
    sends: Buckets<UserId>,
    typing: Buckets<UserId>,
    group_creations: Buckets<UserId>,
    member_additions: Buckets<UserId>,
    sign_ups: Buckets<IpAddr>,
    verification_mails: Buckets<UserId>,
    /// Keyed by what the request named, folded: the limit holds whether or not it exists.
    resets_per_account: Buckets<String>,
    resets_per_client: Buckets<IpAddr>,
}

impl Limits {
    /// The buckets for `config`, in `store` if it offers buckets every node shares
    /// ([`Store::shared_rate_buckets`]), in memory if not. Call inside a tokio runtime (the
    /// clock is tokio's).
    pub(crate) fn new(config: &RateLimits, store: &Arc<dyn Store>) -> Self {
        let clock = TokioClock { origin: tokio::time::Instant::now() };
        let store = store.shared_rate_buckets().is_some().then(|| store.clone());
        let shared = store.as_ref();
        Limits {
            sends: Buckets::new(Limit::Sends, "sends", config.sends, &clock, shared),
            typing: Buckets::new(Limit::Typing, "typing", config.typing, &clock, shared),
            group_creations: Buckets::new(
                Limit::GroupCreations,
                "group_creations",
                config.group_creations,
                &clock,
                shared,
            ),
            member_additions: Buckets::new(
                Limit::MemberAdditions,
                "member_additions",
                config.member_additions,
                &clock,
                shared,
            ),
            sign_ups: Buckets::new(Limit::SignUps, "sign_ups", config.sign_ups_per_address, &clock, shared),
            verification_mails: Buckets::new(
                Limit::VerificationMails,
                "verification_mails",
                config.verification_mails,
                &clock,
                shared,
            ),
            resets_per_account: Buckets::new(
                Limit::PasswordResets,
                "resets_per_account",
                config.resets_per_account,
                &clock,
                shared,
            ),
            resets_per_client: Buckets::new(
                Limit::PasswordResets,
                "resets_per_client",
                config.resets_per_client,
                &clock,
                shared,
            ),
            store,
            clock,
        }
    }

    /// One send by `user`.
    pub(crate) async fn send(&self, user: UserId) -> Result<()> {
        self.sends.take(&user, 1, &self.clock).await
    }

    /// One typing signal by `user`.
    pub(crate) async fn typing(&self, user: UserId) -> Result<()> {
        self.typing.take(&user, 1, &self.clock).await
    }

    /// One group created by `user`.
    pub(crate) async fn group_creation(&self, user: UserId) -> Result<()> {
        self.group_creations.take(&user, 1, &self.clock).await
    }

    /// `count` users added to groups by `user`.
    pub(crate) async fn member_additions(&self, user: UserId, count: usize) -> Result<()> {
        self.member_additions.take(&user, count, &self.clock).await
    }

    /// One sign-up from `client`.
    pub(crate) async fn sign_up(&self, client: IpAddr) -> Result<()> {
        self.sign_ups.take(&client_key(client), 1, &self.clock).await
    }

    /// One verification mail asked for by `user`.
    pub(crate) async fn verification_mail(&self, user: UserId) -> Result<()> {
        self.verification_mails.take(&user, 1, &self.clock).await
    }

    /// One password reset asked for `account` (as named, folded) from `client` (if known):
    /// the client's bucket first, so that one client flooding many accounts is stopped
    /// before it drains their buckets.
    pub(crate) async fn password_reset(&self, account: &str, client: Option<IpAddr>) -> Result<()> {
        if let Some(client) = client {
            self.resets_per_client.take(&client_key(client), 1, &self.clock).await?;
        }
        self.resets_per_account.take(&account.to_string(), 1, &self.clock).await
    }

    /// Drops the keys whose buckets are full again, here and in the shared store (see the
    /// module docs).
    async fn forget_idle(&self) {
        self.sends.forget_idle();
        self.typing.forget_idle();
        self.group_creations.forget_idle();
        self.member_additions.forget_idle();
        self.sign_ups.forget_idle();
        self.verification_mails.forget_idle();
        self.resets_per_account.forget_idle();
        self.resets_per_client.forget_idle();
        if let Some(buckets) = self.store.as_ref().and_then(|store| store.shared_rate_buckets()) {
            if let Err(error) = buckets.forget_full_buckets().await {
                tracing::warn!(%error, "could not delete the full rate-limit buckets; trying again in a minute");
            }
        }
    }
}

/// Every [`FORGET_EVERY`], forgets idle keys; ends with the engine.
pub(crate) async fn forget_idle_keys(limits: Weak<Limits>) {
    let mut ticker = tokio::time::interval(FORGET_EVERY);
    ticker.tick().await; // the first tick is immediate
    loop {
        ticker.tick().await;
        let Some(limits) = limits.upgrade() else { return };
        limits.forget_idle().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::SharedRateBuckets;

    /// The limits of an engine on a store of one process: kept in memory.
    fn local(config: &RateLimits) -> Limits {
        let store: Arc<dyn Store> = Arc::new(crate::MemoryStore::default());
        Limits::new(config, &store)
    }

    fn limits(rate: &str) -> Limits {
        local(&RateLimits::all(Some(rate.parse().unwrap())))
    }

    #[test]
    fn rates_parse_and_print() {
        for text in ["100/20s", "10/50m", "20/1h", "5/500ms", "1/2d"] {
            assert_eq!(text.parse::<Rate>().unwrap().to_string(), text);
        }
        assert_eq!("3/60s".parse::<Rate>().unwrap().to_string(), "3/1m");
        for bad in ["", "100", "0/1s", "1/0s", "1/s", "x/1s", "1/1 parsec", "1/99999999999999999999d"] {
            assert_eq!(bad.parse::<Rate>().unwrap_err().code(), "malformed", "{bad:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_bucket_passes_its_burst_then_one_per_interval() {
        let limits = limits("3/3s");
        let user = UserId::new();
        for _ in 0..3 {
            limits.send(user).await.unwrap();
        }
        let Err(Error::Limited { limit: Limit::Sends, retry_after: Some(wait) }) = limits.send(user).await else {
            panic!("the fourth send in a burst of 3 is refused");
        };
        assert_eq!(wait, Duration::from_secs(1));
        limits.send(UserId::new()).await.expect("another account has its own bucket");
        limits.typing(user).await.expect("typing has its own bucket");
        tokio::time::advance(wait - Duration::from_millis(1)).await;
        assert!(limits.send(user).await.is_err(), "not a moment before");
        tokio::time::advance(Duration::from_millis(1)).await;
        limits.send(user).await.expect("one more after the interval");
        assert!(limits.send(user).await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_passes_whole_or_not_at_all() {
        let limits = limits("10/10s");
        let user = UserId::new();
        limits.member_additions(user, 8).await.unwrap();
        assert!(matches!(limits.member_additions(user, 3).await, Err(Error::Limited { retry_after: Some(_), .. })));
        limits.member_additions(user, 2).await.expect("the refused batch took nothing");
        limits.member_additions(user, 0).await.expect("nothing to add is never refused");
        let never = limits.member_additions(UserId::new(), 11).await;
        assert!(matches!(never, Err(Error::Limited { limit: Limit::MemberAdditions, retry_after: None })));
    }

    #[tokio::test(start_paused = true)]
    async fn addresses_count_per_ipv4_address_and_ipv6_64() {
        let limits = limits("1/1h");
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        limits.sign_up(ip("192.0.2.1")).await.unwrap();
        assert!(limits.sign_up(ip("::ffff:192.0.2.1")).await.is_err(), "the same IPv4 client");
        limits.sign_up(ip("192.0.2.2")).await.unwrap();
        limits.sign_up(ip("2001:db8:1:2::1")).await.unwrap();
        assert!(limits.sign_up(ip("2001:db8:1:2:ffff::9")).await.is_err(), "the same /64");
        limits.sign_up(ip("2001:db8:1:3::1")).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn idle_keys_are_forgotten_once_their_bucket_is_full() {
        let limits = limits("2/2s");
        let (busy, idle) = (UserId::new(), UserId::new());
        limits.send(idle).await.unwrap();
        tokio::time::advance(Duration::from_secs(2)).await;
        limits.send(busy).await.unwrap();
        limits.forget_idle().await;
        let Kept::Local(sends) = &limits.sends.kept else { panic!("kept in memory") };
        assert_eq!(sends.len(), 1, "only the key still refilling is kept");
    }

    /// A store that offers shared buckets, kept in memory by tokio's clock (so that tests can
    /// pause it), and counts the takes that reach it: the leases' arithmetic, without a
    /// database.
    struct SharedInMemory {
        inner: crate::MemoryStore,
        origin: tokio::time::Instant,
        buckets: Mutex<HashMap<BucketKey, u64>>,
        takes: std::sync::atomic::AtomicUsize,
    }

    crate::delegate_store!(
        impl UserStore, SessionStore, LoginAttemptStore, ConversationStore, MessageStore, AttachmentStore,
            AdminStore, InviteStore, AccountTokenStore, NotificationStore, SecretStore for SharedInMemory => inner
    );

    #[async_trait::async_trait]
    impl Store for SharedInMemory {
        async fn flush(&self) -> crate::backend::StoreResult<()> {
            Ok(())
        }

        fn shared_rate_buckets(&self) -> Option<&dyn SharedRateBuckets> {
            Some(self)
        }
    }

    #[async_trait::async_trait]
    impl SharedRateBuckets for SharedInMemory {
        async fn take_tokens(
            &self,
            key: &BucketKey,
            rate: Rate,
            returned: u32,
            need: u32,
            want: u32,
        ) -> crate::backend::StoreResult<Grant> {
            self.takes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let now = 1_000_000_000 + self.origin.elapsed().as_micros() as u64;
            let mut buckets = self.buckets.lock().unwrap();
            let (grant, next) = Grant::decide(rate, buckets.get(key).copied(), now, returned, need, want);
            if let Some(next) = next {
                buckets.insert(*key, next);
            }
            Ok(grant)
        }

        async fn forget_full_buckets(&self) -> crate::backend::StoreResult<u64> {
            Ok(0)
        }
    }

    /// `nodes` engines' limits on one shared store, sends limited to `sends`.
    fn sharing(nodes: usize, sends: &str) -> (Vec<Limits>, Arc<SharedInMemory>) {
        let store = Arc::new(SharedInMemory {
            inner: crate::MemoryStore::default(),
            origin: tokio::time::Instant::now(),
            buckets: Mutex::default(),
            takes: Default::default(),
        });
        let config = RateLimits { sends: Some(sends.parse().unwrap()), ..RateLimits::UNLIMITED };
        let shared: Arc<dyn Store> = store.clone();
        ((0..nodes).map(|_| Limits::new(&config, &shared)).collect(), store)
    }

    /// How many of `count` sends by `user` pass, taken in turn through `nodes`.
    async fn passed(nodes: &[Limits], user: UserId, count: usize) -> usize {
        let mut passed = 0;
        for n in 0..count {
            match nodes[n % nodes.len()].send(user).await {
                Ok(()) => passed += 1,
                Err(Error::Limited { limit: Limit::Sends, retry_after: Some(_) }) => {}
                Err(other) => panic!("{other:?}"),
            }
        }
        passed
    }

    #[tokio::test(start_paused = true)]
    async fn a_hot_limit_takes_a_tenth_ahead_so_the_store_is_asked_once_in_eleven_sends() {
        let (nodes, store) = sharing(1, "100/20s");
        assert_eq!(passed(&nodes, UserId::new(), 22).await, 22);
        assert_eq!(store.takes.load(std::sync::atomic::Ordering::Relaxed), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn nodes_sharing_buckets_pass_the_burst_once_and_spend_every_token_taken_ahead() {
        let (nodes, _) = sharing(3, "100/20s");
        assert_eq!(passed(&nodes, UserId::new(), 150).await, 100);
        // One comes back every 200 ms, whichever node asks.
        tokio::time::advance(Duration::from_millis(1000)).await;
        assert_eq!(passed(&nodes, UserId::new(), 150).await, 100, "another account");
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_a_lease_held_past_its_end_go_back_to_the_bucket_not_to_the_next_lease() {
        let (nodes, _) = sharing(2, "100/20s");
        let user = UserId::new();
        // One send every 2.05 s on node 0: each finds its lease (10 tokens, 2 s) run out.
        for _ in 0..200 {
            assert_eq!(passed(&nodes[..1], user, 1).await, 1);
            tokio::time::advance(Duration::from_millis(2050)).await;
            let Kept::Shared(leases) = &nodes[0].sends.kept else { panic!("shared") };
            let held = leases.held.lock().unwrap().get(&user).map_or(0, |lease| lease.tokens);
            assert!(held <= 10, "never more than one lease's worth held: {held}");
        }
        // Slow use took nothing from the bucket for good: node 1 gets nearly all of it at once
        // (node 0 holds its last ten until it gives them back).
        let burst = passed(&nodes[1..], user, 150).await;
        assert!((89..=100).contains(&burst), "{burst}");
    }

    #[tokio::test]
    async fn unlimited_passes_everything() {
        let limits = local(&RateLimits::UNLIMITED);
        let user = UserId::new();
        for _ in 0..10_000 {
            limits.send(user).await.unwrap();
        }
        limits.member_additions(user, usize::MAX).await.unwrap();
    }
}
