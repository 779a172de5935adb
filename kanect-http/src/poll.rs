//! Long-poll: the same event frames as the WebSocket, over plain HTTP, for clients that cannot
//! hold a socket.
//!
//! A poll session is a device held by the server between requests: `POST /poll` subscribes
//! (resuming from cursors) and returns a random session id; each `GET /poll/{id}?after=n`
//! returns the events numbered after `n`, waiting up to `poll_wait` for the first. Events stay
//! until a later poll's `after` passes them, so a lost response is simply asked for again.
//! Sessions not polled for `poll_idle` are swept away, which disconnects their device.

use crate::api::request::{no_content, read_optional_json, Query};
use crate::error::{json_response, raw_json_response, ApiError, Body};
use crate::state::App;
use crate::wire::{self, ToCore, ToWire};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use kanect_core::{Caller, Event, Subscription, UserId};
use kanect_proto::{NewPoll, PollCreated, PollEvents};
use rand::RngCore;
use std::collections::{HashMap, VecDeque};
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

/// `POST /api/v1/poll`.
pub(crate) async fn create(app: &App, caller: &Caller, request: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let form: NewPoll = read_optional_json(request, app.config.max_body_bytes).await?;
    let mut subscription = app.chat.subscribe(caller).await?;
    let resumed = subscription.resume(form.cursors.iter().map(|c| (c.conversation.to_core(), c.seq.to_core()))).await?;
    if !form.watch.is_empty() {
        subscription.watch_presence(form.watch.iter().map(ToCore::to_core).collect())?;
    }
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let ended = subscription.ended();
    let session = PollSession {
        user: caller.user(),
        last_polled: Mutex::new(Instant::now()),
        state: tokio::sync::Mutex::new(PollState {
            subscription: Some(subscription),
            pending: VecDeque::new(),
            last: 0,
        }),
    };
    app.polls.lock().insert(id.clone(), Arc::new(session));
    end_with_the_session(app, id.clone(), ended);
    let skipped = resumed.skipped.iter().map(ToWire::to_wire).collect();
    Ok(json_response(StatusCode::CREATED, &PollCreated { poll: id, after: 0, skipped }))
}

/// Drops the poll session as soon as its log-in session ends (logged out, disabled, ...), so
/// that its device goes at once rather than when the session would have been swept. (Its
/// client's next poll is refused anyway: it authenticates with the ended session.)
fn end_with_the_session(app: &App, id: String, ended: impl std::future::Future<Output = ()> + Send + 'static) {
    let polls = app.downgrade();
    tokio::spawn(async move {
        ended.await;
        if let Some(app) = polls.upgrade() {
            app.polls.lock().remove(&id);
        }
    });
}

/// `GET /api/v1/poll/{id}?after=&wait=`.
pub(crate) async fn poll<B>(
    app: &App,
    caller: &Caller,
    id: &str,
    request: &Request<B>,
) -> Result<Response<Body>, ApiError> {
    let query = Query::of(request);
    let after: u64 = query.parsed("after")?.unwrap_or(0);
    let max_wait = app.config.poll_wait;
    let wait = query.parsed::<u64>("wait")?.map_or(max_wait, |secs| Duration::from_secs(secs).min(max_wait));
    let session = app.polls.get(id, caller.user())?;
    let mut state = session.state.lock().await;
    touch(&session);
    state.pending.retain(|(n, _)| *n > after);
    if state.pending.is_empty() {
        if state.subscription.is_none() {
            app.polls.lock().remove(id);
            return Err(poll_not_found());
        }
        tokio::select! {
            _ = app.until_shutdown() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = state.take_events() => {}
        }
    }
    touch(&session);
    let batch = || state.pending.iter().take(POLL_BATCH);
    let next = batch().next_back().map_or(after, |(n, _)| *n);
    let body = PollEvents::encode_from_frames(batch().map(|(_, frame)| &**frame), next);
    Ok(raw_json_response(StatusCode::OK, body))
}

fn touch(session: &PollSession) {
    *session.last_polled.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
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

/// `DELETE /api/v1/poll/{id}`.
pub(crate) fn close(app: &App, caller: &Caller, id: &str) -> Result<Response<Body>, ApiError> {
    app.polls.get(id, caller.user())?;
    app.polls.lock().remove(id);
    Ok(no_content())
}
