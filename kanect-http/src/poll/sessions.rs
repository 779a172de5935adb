//! The registry of long-poll sessions, [`Polls`], and each session's buffer of numbered event
//! frames.
//!
//! [`crate::state::App`] holds the registry, and the endpoints beside it (the parent module)
//! need `App`; so the registry needs neither: it knows sessions, subscriptions and frames, not
//! requests or the server's state. The endpoints parse a request and call one method here.

use crate::error::ApiError;
use crate::wire;
use hyper::StatusCode;
use kanect_core::{Event, Subscription, UserId};
use kanect_proto::PollEvents;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most events in one response.
const POLL_BATCH: usize = 100;

/// The live poll sessions, by id.
#[derive(Default)]
pub(crate) struct Polls {
    sessions: Mutex<HashMap<String, Arc<PollSession>>>,
}

struct PollSession {
    user: UserId,
    last_polled: Mutex<Instant>,
    /// Held for the whole of one poll: one poll at a time per session.
    state: tokio::sync::Mutex<PollState>,
}

struct PollState {
    /// None once the stream ended (session over); pending events are still handed out.
    subscription: Option<Subscription>,
    /// Numbered frames not yet passed by a client's `after`.
    pending: VecDeque<(u64, Arc<str>)>,
    /// Number of the newest event taken from the subscription.
    last: u64,
}

impl Polls {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<PollSession>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, id: &str, user: UserId) -> Result<Arc<PollSession>, ApiError> {
        self.lock().get(id).filter(|s| s.user == user).cloned().ok_or_else(poll_not_found)
    }

    /// Opens a session of `user`'s on `subscription`, and returns its id (random, so that it
    /// cannot be guessed).
    pub(crate) fn open(&self, user: UserId, subscription: Subscription) -> String {
        let mut bytes = [0u8; 16];
        rand::fill(&mut bytes);
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let session = PollSession {
            user,
            last_polled: Mutex::new(Instant::now()),
            state: tokio::sync::Mutex::new(PollState {
                subscription: Some(subscription),
                pending: VecDeque::new(),
                last: 0,
            }),
        };
        self.lock().insert(id.clone(), Arc::new(session));
        id
    }

    /// One poll of `user`'s session `id`: the response body with the events numbered after
    /// `after`, waiting up to `wait` for the first (less if `shutdown` resolves first). Events
    /// up to `after` are dropped, as the client has them.
    ///
    /// # Errors
    /// `404 poll_not_found` if there is no such session of `user`'s, or if it has ended and
    /// every event was handed out (the session is dropped then).
    pub(crate) async fn poll(
        &self,
        id: &str,
        user: UserId,
        after: u64,
        wait: Duration,
        shutdown: impl Future<Output = ()>,
    ) -> Result<String, ApiError> {
        let session = self.get(id, user)?;
        let mut state = session.state.lock().await;
        session.touch();
        state.pending.retain(|(n, _)| *n > after);
        if state.pending.is_empty() {
            if state.subscription.is_none() {
                self.lock().remove(id);
                return Err(poll_not_found());
            }
            tokio::select! {
                _ = shutdown => {}
                _ = tokio::time::sleep(wait) => {}
                _ = state.take_events() => {}
            }
        }
        session.touch();
        let batch = || state.pending.iter().take(POLL_BATCH);
        let next = batch().next_back().map_or(after, |(n, _)| *n);
        Ok(PollEvents::encode_from_frames(batch().map(|(_, frame)| &**frame), next))
    }

    /// Closes `user`'s session `id`.
    ///
    /// # Errors
    /// `404 poll_not_found` if there is no such session of `user`'s.
    pub(crate) fn close(&self, id: &str, user: UserId) -> Result<(), ApiError> {
        self.get(id, user)?;
        self.remove(id);
        Ok(())
    }

    /// Drops session `id`, whoever's it is (its log-in session ended).
    pub(crate) fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Drops sessions idle for longer than `idle` (and not being polled right now).
    pub(crate) fn sweep(&self, idle: Duration) {
        self.lock().retain(|_, session| {
            let idle_for = session.last_polled.lock().unwrap_or_else(|p| p.into_inner()).elapsed();
            idle_for < idle || session.state.try_lock().is_err()
        });
    }

    /// Drops every session (at shutdown).
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }
}

fn poll_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "poll_not_found", "no such poll session (expired?): create a new one")
}

impl PollSession {
    fn touch(&self) {
        *self.last_polled.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }
}

impl PollState {
    /// Waits for one event, then takes everything else ready (up to a batch).
    async fn take_events(&mut self) {
        let Some(subscription) = self.subscription.as_mut() else { return };
        let mut next = subscription.next().await;
        let mut taken = 0;
        while let Some(delivery) = next.take() {
            let frame = wire::delivery_text(&delivery);
            if !frame.is_empty() {
                self.last += 1;
                self.pending.push_back((self.last, frame));
            }
            taken += 1;
            if matches!(delivery.event(), Event::SessionEnded { .. }) {
                self.subscription = None;
                return;
            }
            if taken >= POLL_BATCH {
                return;
            }
            next = self.subscription.as_mut().and_then(|s| s.try_next().into_ready());
        }
        if next.is_none() && taken == 0 {
            // The stream ended without a session_ended event (engine gone).
            self.subscription = None;
        }
    }
}
