//! Departures under way: devices that went away and whose users' last-seen is still being
//! recorded and their going offline announced, so that [`Chat::flush`] can wait for them.

use crate::chat::Chat;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Notify;

/// Counts the departures under way. A count, not a set of task handles: the tasks stay
/// detached, so a flush that is given up (a timeout around it) cancels none of them, and
/// concurrent flushes all wait for all of them.
#[derive(Default)]
pub(super) struct Departures {
    under_way: AtomicUsize,
    ended: Notify,
}

impl Departures {
    /// Returns once no departure is under way.
    pub(super) async fn finished(&self) {
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if self.under_way.load(Ordering::Acquire) == 0 {
                return;
            }
            ended.await;
        }
    }
}

/// One departure under way: counted from `begin` until dropped, whether its task finished or
/// was dropped unrun (a runtime shutting down).
pub(super) struct Departure(Chat);

impl Departure {
    pub(super) fn begin(chat: Chat) -> Departure {
        chat.presence_state().departures.under_way.fetch_add(1, Ordering::AcqRel);
        Departure(chat)
    }

    /// The engine the departure is recorded in.
    pub(super) fn chat(&self) -> &Chat {
        &self.0
    }
}

impl Drop for Departure {
    fn drop(&mut self) {
        let departures = &self.0.presence_state().departures;
        if departures.under_way.fetch_sub(1, Ordering::AcqRel) == 1 {
            departures.ended.notify_waiters();
        }
    }
}
