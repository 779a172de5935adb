//! Departures under way: devices that went away and whose users' last-seen is still being
//! recorded and their going offline announced, so that [`Chat::flush`](crate::Chat::flush) can
//! wait for them.
//!
//! Only a count, with no engine handle in it: a departure's task holds the engine, its
//! [`Departure`] holds the count. So the engine's presence state ([`super::state`]), which keeps
//! the count, needs nothing from the engine that holds it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// Counts the departures under way. A count, not a set of task handles: the tasks stay
/// detached, so a flush that is given up (a timeout around it) cancels none of them, and
/// concurrent flushes all wait for all of them.
#[derive(Default)]
pub(super) struct Departures(Arc<Count>);

/// Shared by [`Departures`] and each [`Departure`], which may outlive a borrow of it (it moves
/// into its task).
#[derive(Default)]
struct Count {
    under_way: AtomicUsize,
    ended: Notify,
}

impl Departures {
    /// Counts a departure under way until the returned [`Departure`] is dropped.
    pub(super) fn begin(&self) -> Departure {
        self.0.under_way.fetch_add(1, Ordering::AcqRel);
        Departure(Arc::clone(&self.0))
    }

    /// Returns once no departure is under way.
    pub(super) async fn finished(&self) {
        loop {
            let ended = self.0.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if self.0.under_way.load(Ordering::Acquire) == 0 {
                return;
            }
            ended.await;
        }
    }
}

/// One departure under way: counted from [`Departures::begin`] until dropped, whether its task
/// finished or was dropped unrun (a runtime shutting down).
pub(super) struct Departure(Arc<Count>);

impl Drop for Departure {
    fn drop(&mut self) {
        if self.0.under_way.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.ended.notify_waiters();
        }
    }
}
