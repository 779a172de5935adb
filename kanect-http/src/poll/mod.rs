//! Long-poll: the same event frames as the WebSocket, over plain HTTP, for clients that cannot
//! hold a socket. This module is the endpoints; the sessions they serve live in [`sessions`],
//! which the server's state holds.
//!
//! A poll session is a device held by the server between requests: `POST /poll` subscribes
//! (resuming from cursors) and returns a random session id; each `GET /poll/{id}?after=n`
//! returns the events numbered after `n`, waiting up to `poll_wait` for the first. Events stay
//! until a later poll's `after` passes them, so a lost response is simply asked for again.
//! Sessions not polled for `poll_idle` are swept away, which disconnects their device.

pub(crate) mod sessions;

use crate::api::request::{no_content, read_optional_json, Query};
use crate::error::{json_response, raw_json_response, ApiError, Body};
use crate::incoming::RequestBody;
use crate::state::App;
use crate::wire::{ToCore, ToWire};
use hyper::{Request, Response, StatusCode};
use kanect_core::Caller;
use kanect_proto::{NewPoll, PollCreated};
use std::time::Duration;

/// `POST /api/v1/poll`.
pub(crate) async fn create(
    app: &App,
    caller: &Caller,
    request: Request<RequestBody>,
) -> Result<Response<Body>, ApiError> {
    let form: NewPoll = read_optional_json(request, app.config.max_body_bytes).await?;
    let mut subscription = app.chat.subscribe(caller).await?;
    let resumed = subscription.resume(form.cursors.iter().map(|c| (c.conversation.to_core(), c.seq.to_core()))).await?;
    if !form.watch.is_empty() {
        subscription.watch_presence(form.watch.iter().map(ToCore::to_core).collect())?;
    }
    let ended = subscription.ended();
    let id = app.polls.open(caller.user(), subscription);
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
            app.polls.remove(&id);
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
    let body = app.polls.poll(id, caller.user(), after, wait, app.until_shutdown()).await?;
    Ok(raw_json_response(StatusCode::OK, body))
}

/// `DELETE /api/v1/poll/{id}`.
pub(crate) fn close(app: &App, caller: &Caller, id: &str) -> Result<Response<Body>, ApiError> {
    app.polls.close(id, caller.user())?;
    Ok(no_content())
}
