//! This node's per-address admission to password hashing: the first gate of a log-in (see the
//! `throttle` module for all three), and of a public sign-up.
//!
//! Two limits per client address, kept in memory on this node:
//!
//! - a **budget**: a burst of hashes, then one per interval (a token bucket, kept as the
//!   "theoretical arrival time" of GCRA: one instant per address, no timer). It is spent
//!   before anything else happens, so a flood from one address costs this node a map look-up
//!   per request, not a store round trip or a hash;
//! - a cap on the address's hashes **in flight** (counted from admission to the answer, so
//!   also while waiting for one of the hasher's slots). Every log-in and sign-up waits for
//!   those slots in one queue; with the cap, one address holds at most a couple of places in
//!   it, and other people's log-ins are not made to wait behind its flood.
//!
//! Log-ins ([`Chat::login_from`](crate::Chat::login_from)) and public sign-ups
//! ([`Chat::register_from`](crate::Chat::register_from), [`Chat::sign_up`](crate::Chat::sign_up))
//! take both from the same entry: a sign-up's hash costs the node what a log-in's check costs
//! and waits in the same queue, so an address's hashes are bounded whatever they are for (the
//! sign-up rate limit, which may be off, bounds accounts, not hashes). Each caller turns a
//! refusal into its own error: `too_many_attempts` for a log-in, `rate_limited` for a sign-up.
//!
//! A hand-written bucket rather than `governor`'s keyed limiter: the in-flight count lives in
//! the same entry, refusals need the exact wait for `Retry-After`, and tokio's clock makes the
//! limits testable with paused time. Entries are deleted once their bucket is full again and
//! nothing is in flight, by a sweep whenever the map has doubled since the last one (amortised
//! constant time per admission, memory bounded by the addresses seen within one refill time).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// Sweeps start once this many addresses are tracked.
const SWEEP_FROM: usize = 4096;

/// How long a client refused for having too many hashes in flight is told to wait: a hash
/// takes a fraction of it, and `Retry-After` says whole seconds.
const IN_FLIGHT_RETRY: Duration = Duration::from_secs(1);

/// Admission for one node's password hashes, per client address.
pub(crate) struct Admission {
    burst: u32,
    interval: Duration,
    in_flight_max: usize,
    state: Mutex<State>,
}

struct State {
    addresses: HashMap<IpAddr, Entry>,
    /// Sweep when the map reaches this size.
    sweep_at: usize,
}

struct Entry {
    /// When the bucket is full again (GCRA's theoretical arrival time): each admission moves
    /// it one interval later; admission is allowed while it is at most `burst - 1` intervals
    /// ahead of now.
    full_at: Instant,
    /// Hashes admitted and not yet answered.
    in_flight: usize,
}

impl Admission {
    pub(crate) fn new(burst: u32, interval: Duration, in_flight_max: usize) -> Self {
        let state = State { addresses: HashMap::new(), sweep_at: SWEEP_FROM };
        Admission { burst: burst.max(1), interval, in_flight_max: in_flight_max.max(1), state: Mutex::new(state) }
    }

    /// Admits one password hash (a log-in's check or a sign-up's) from `address`, or refuses
    /// it with how long to wait (and then takes nothing from the budget). The hash counts as
    /// in flight until the returned ticket is dropped.
    pub(crate) fn admit(&self, address: IpAddr) -> Result<Ticket<'_>, Duration> {
        let now = Instant::now();
        let mut state = self.lock();
        state.sweep(now);
        let entry = state.addresses.entry(address).or_insert(Entry { full_at: now, in_flight: 0 });
        if entry.in_flight >= self.in_flight_max {
            return Err(IN_FLIGHT_RETRY);
        }
        let full_at = entry.full_at.max(now) + self.interval;
        let slack = self.interval * self.burst;
        if full_at > now + slack {
            return Err((full_at - slack) - now);
        }
        entry.full_at = full_at;
        entry.in_flight += 1;
        Ok(Ticket { admission: self, address })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change to the map is a single insert, remove or field update: a panic cannot
        // leave it half-changed.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Deletes idle entries (bucket full, nothing in flight) if the map has grown enough.
    fn sweep(&mut self, now: Instant) {
        if self.addresses.len() < self.sweep_at {
            return;
        }
        self.addresses.retain(|_, entry| entry.in_flight > 0 || entry.full_at > now);
        self.sweep_at = (self.addresses.len() * 2).max(SWEEP_FROM);
    }
}

/// One admitted password hash, in flight until dropped.
#[must_use = "the check is in flight while the ticket is held"]
pub(crate) struct Ticket<'a> {
    admission: &'a Admission,
    address: IpAddr,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if let Some(entry) = self.admission.lock().addresses.get_mut(&self.address) {
            entry.in_flight = entry.in_flight.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    fn retry_after(result: Result<Ticket<'_>, Duration>) -> Duration {
        result.err().expect("admitted")
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_one_per_interval_per_address() {
        let admission = Admission::new(3, Duration::from_secs(2), 10);
        for _ in 0..3 {
            drop(admission.admit(ip(1)).unwrap());
        }
        assert_eq!(retry_after(admission.admit(ip(1))), Duration::from_secs(2));
        drop(admission.admit(ip(2)).expect("another address has its own budget"));
        tokio::time::advance(Duration::from_millis(1999)).await;
        assert_eq!(retry_after(admission.admit(ip(1))), Duration::from_millis(1));
        tokio::time::advance(Duration::from_millis(1)).await;
        drop(admission.admit(ip(1)).expect("one more after an interval"));
        assert!(admission.admit(ip(1)).is_err(), "and only one");
        tokio::time::advance(Duration::from_secs(6)).await;
        for _ in 0..3 {
            drop(admission.admit(ip(1)).expect("a full burst again once refilled"));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn checks_in_flight_are_capped_per_address() {
        let admission = Admission::new(100, Duration::from_millis(1), 2);
        let first = admission.admit(ip(1)).unwrap();
        let second = admission.admit(ip(1)).unwrap();
        assert_eq!(retry_after(admission.admit(ip(1))), IN_FLIGHT_RETRY);
        let other = admission.admit(ip(2)).expect("other addresses are not held up");
        drop(first);
        let third = admission.admit(ip(1)).expect("a slot freed");
        drop((second, third, other));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_addresses_are_swept_and_busy_ones_kept() {
        let admission = Admission::new(1, Duration::from_secs(1), 1);
        let busy = admission.admit(ip(0)).unwrap();
        for n in 1..SWEEP_FROM {
            drop(admission.admit(IpAddr::from((n as u32).to_be_bytes())).unwrap());
        }
        assert_eq!(admission.lock().addresses.len(), SWEEP_FROM);
        tokio::time::advance(Duration::from_secs(1)).await;
        drop(admission.admit(ip(9)).unwrap());
        assert_eq!(admission.lock().addresses.len(), 2, "the busy address and the new one");
        assert_eq!(retry_after(admission.admit(ip(0))), IN_FLIGHT_RETRY, "its count survived the sweep");
        drop(busy);
    }
}
