//! [`Alarm`]: a store's health, and the signal that a failure raises for its recovery thread.
//!
//! A leaf of its own because both ends of a failure hold it: the code that writes (sled's group
//! commit and open database, fjall's writer and commits) raises it from below when a write
//! fails, and the store's handle and its recovery thread (`kv::recovery`), above them, read it
//! and wait on it. Kept here, it lets those lower modules raise the alarm without knowing the
//! thread that answers it. Either engine uses it alike (see `sled::recovery` and
//! `fjall::recovery` for why a failure ends the whole open database).

use kanect_core::StoreHealth;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Where the store is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The open database takes writes.
    Running,
    /// A write failed; the database waits to be replaced.
    Failed,
    /// The database is being replaced.
    Recovering,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// The store is being dropped: the recovery thread stops.
    closing: bool,
}

/// The store's condition, and the signal that wakes its recovery thread. Shared by the store,
/// what writes for it, and the recovery thread.
#[derive(Debug)]
pub(crate) struct Alarm {
    state: Mutex<State>,
    changed: Condvar,
}

impl Default for Alarm {
    fn default() -> Self {
        Alarm { state: Mutex::new(State { phase: Phase::Running, closing: false }), changed: Condvar::new() }
    }
}

impl Alarm {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section is one assignment: a panic cannot leave it half done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A write failed: the open database must be replaced. Ignored while a reopen is under
    /// way: only the database being replaced can raise it then.
    pub(crate) fn raise(&self) {
        let mut state = self.lock();
        if state.phase == Phase::Running {
            state.phase = Phase::Failed;
            self.changed.notify_all();
        }
    }

    /// The store's health as [`Store::health`](kanect_core::Store::health) reports it.
    pub(crate) fn health(&self) -> StoreHealth {
        match self.lock().phase {
            Phase::Running => StoreHealth::Ok,
            Phase::Failed => StoreHealth::Failed,
            Phase::Recovering => StoreHealth::Recovering,
        }
    }

    pub(crate) fn set(&self, phase: Phase) {
        self.lock().phase = phase;
    }

    /// Waits until the alarm is raised (true) or the store closes (false).
    pub(crate) fn wait_for_failure(&self) -> bool {
        let state = self.lock();
        let state = self
            .changed
            .wait_while(state, |state| state.phase == Phase::Running && !state.closing)
            .unwrap_or_else(PoisonError::into_inner);
        !state.closing
    }

    /// Waits `delay`, or less if the store closes; false if it does.
    pub(crate) fn sleep(&self, delay: Duration) -> bool {
        let state = self.lock();
        let (state, _) = self
            .changed
            .wait_timeout_while(state, delay, |state| !state.closing)
            .unwrap_or_else(PoisonError::into_inner);
        !state.closing
    }

    pub(crate) fn close(&self) {
        self.lock().closing = true;
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alarm_is_raised_once_while_running_and_reset_by_recovery() {
        let alarm = Alarm::default();
        assert_eq!(alarm.health(), StoreHealth::Ok);
        alarm.raise();
        alarm.raise();
        assert_eq!(alarm.health(), StoreHealth::Failed);
        assert!(alarm.wait_for_failure(), "a raised alarm is waited for at once");
        alarm.set(Phase::Recovering);
        alarm.raise();
        assert_eq!(alarm.health(), StoreHealth::Recovering, "the database being replaced raises nothing");
        alarm.set(Phase::Running);
        assert_eq!(alarm.health(), StoreHealth::Ok);
        alarm.close();
        assert!(!alarm.wait_for_failure() && !alarm.sleep(Duration::from_secs(60)), "closing ends every wait");
    }
}
