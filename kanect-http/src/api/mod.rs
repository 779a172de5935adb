//! The REST API under `/api/v1/`: one dispatch table mapping method and path to a handler.
//!
//! Public endpoints (sign-up, its mode, an invite's check, log-in, what a mailed link does) and the WebSocket upgrade
//! (which authenticates and checks
//! Origin itself) come first; everything else authenticates once here — the embedding
//! application's user, or a bearer token or cookie, with the CSRF check for cookie sessions
//! changing state (see [`crate::auth`]) — before dispatching.

pub(crate) mod accounts;
pub(crate) mod admin;
pub(crate) mod attachments;
pub(crate) mod conversations;
pub(crate) mod email;
pub(crate) mod export;
pub(crate) mod invites;
pub(crate) mod my_data;
pub(crate) mod notifications;
pub(crate) mod profile;
pub(crate) mod request;
pub(crate) mod search;

use crate::auth;
use crate::error::{ApiError, Body};
use crate::incoming::Connection;
use crate::incoming::RequestBody;
use crate::state::App;
use hyper::{Method, Request, Response};

/// Serves `/api/v1/<path>`.
pub(crate) async fn route(
    app: &App,
    request: Request<RequestBody>,
    path: &[&str],
    connection: Connection,
) -> Result<Response<Body>, ApiError> {
    let method = request.method().clone();
    match (&method, path) {
        (&Method::POST, ["auth", "signup"]) => {
            let client = crate::client::address(connection.peer, request.headers(), &app.config.trusted_proxies);
            return accounts::signup(app, request, client).await;
        }
        (&Method::POST, ["auth", "login"]) => {
            let client = crate::client::address(connection.peer, request.headers(), &app.config.trusted_proxies);
            return accounts::login(app, request, client).await;
        }
        (&Method::GET, ["auth", "signup"]) => return invites::sign_up_info(app),
        (&Method::POST, ["auth", "invite"]) => return invites::status(app, request).await,
        (&Method::POST, ["auth", "reset"]) => {
            let client = crate::client::address(connection.peer, request.headers(), &app.config.trusted_proxies);
            return email::reset_request(app, request, client).await;
        }
        (&Method::POST, ["auth", "reset", "confirm"]) => return email::reset_confirm(app, request).await,
        (&Method::GET, ["email"]) => return Ok(email::features(app)),
        (&Method::POST, ["email", "verify"]) => return email::verify(app, request).await,
        (&Method::GET, ["email", "unsubscribe"]) => return email::unsubscribe_page(&request),
        (&Method::POST, ["email", "unsubscribe"]) => return email::unsubscribe(app, &request).await,
        (&Method::GET, ["ws"]) => return crate::ws::upgrade(app, request, connection).await,
        _ => {}
    }
    let caller = auth::authenticate(app, &request).await?;
    let caller = &caller;
    match (&method, path) {
        (&Method::POST, ["auth", "logout"]) => accounts::logout(app, caller).await,
        (&Method::POST, ["auth", "logout-all"]) => accounts::logout_all(app, caller).await,
        (&Method::GET, ["me"]) => accounts::me(app, caller).await,
        (&Method::PUT, ["me", "email"]) => email::change(app, caller, request).await,
        (&Method::PUT, ["me", "email", "digests"]) => email::digests(app, caller, request).await,
        (&Method::POST, ["email", "verify", "resend"]) => email::resend(app, caller).await,
        (&Method::PATCH, ["me"]) => profile::update(app, caller, request).await,
        (&Method::PUT, ["me", "avatar"]) => profile::set_avatar(app, caller, request).await,
        (&Method::DELETE, ["me", "avatar"]) => profile::remove_avatar(app, caller).await,
        (&Method::POST, ["me", "password"]) => {
            let client = crate::client::address(connection.peer, request.headers(), &app.config.trusted_proxies);
            profile::change_password(app, caller, request, client).await
        }
        (&Method::GET, ["me", "sessions"]) => profile::sessions(app, caller).await,
        (&Method::GET, ["me", "export"]) => my_data::export(app, caller).await,
        (&Method::DELETE, ["me", "sessions", id]) => profile::end_session(app, caller, id).await,
        (&Method::POST, ["me", "delete"]) => {
            let client = crate::client::address(connection.peer, request.headers(), &app.config.trusted_proxies);
            profile::delete_account(app, caller, request, client).await
        }
        (&Method::GET, ["users"]) => accounts::users(app, caller, &request).await,
        (&Method::GET, ["users", id]) => accounts::user(app, caller, id).await,
        (&Method::GET, ["users", id, "avatar"]) => profile::avatar(app, caller, id, &request).await,

        (&Method::GET, ["conversations"]) => conversations::list(app, caller, &request).await,
        (&Method::POST, ["conversations"]) => conversations::create_group(app, caller, request).await,
        (&Method::POST, ["conversations", "direct"]) => conversations::open_direct(app, caller, request).await,
        (&Method::GET, ["conversations", id]) => conversations::get(app, caller, id).await,
        (&Method::PATCH, ["conversations", id]) => conversations::rename(app, caller, id, request).await,
        (&Method::POST, ["conversations", id, "members"]) => conversations::add_member(app, caller, id, request).await,
        (&Method::DELETE, ["conversations", id, "members", user]) => {
            conversations::remove_member(app, caller, id, user).await
        }
        (&Method::POST, ["conversations", id, "leave"]) => conversations::leave(app, caller, id).await,
        (&Method::GET, ["conversations", id, "messages"]) => conversations::history(app, caller, id, &request).await,
        (&Method::POST, ["conversations", id, "messages"]) => conversations::send(app, caller, id, request).await,
        (&Method::POST, ["conversations", id, "receipts"]) => conversations::receipt(app, caller, id, request).await,
        (&Method::POST, ["conversations", id, "typing"]) => conversations::typing(app, caller, id).await,
        (&Method::PATCH, ["messages", id]) => conversations::edit(app, caller, id, request).await,
        (&Method::DELETE, ["messages", id]) => conversations::delete(app, caller, id).await,
        (&Method::PUT, ["messages", id, "reactions", emoji]) => {
            conversations::react(app, caller, id, emoji, true).await
        }
        (&Method::DELETE, ["messages", id, "reactions", emoji]) => {
            conversations::react(app, caller, id, emoji, false).await
        }

        (&Method::GET, ["notifications"]) => notifications::settings(app, caller).await,
        (&Method::PUT, ["notifications", "do-not-disturb"]) => {
            notifications::set_do_not_disturb(app, caller, request).await
        }
        (&Method::PUT, ["conversations", id, "notifications"]) => {
            notifications::set_level(app, caller, id, request).await
        }
        (&Method::GET, ["push", "key"]) => notifications::push_key(app),
        (&Method::POST, ["push", "subscriptions"]) => notifications::subscribe(app, caller, request).await,
        (&Method::DELETE, ["push", "subscriptions"]) => notifications::unsubscribe(app, caller, request).await,

        (&Method::POST, ["attachments"]) => attachments::upload(app, caller, request).await,
        (&Method::GET, ["attachments", id]) => {
            attachments::download(app, caller, id, kanect_core::AttachmentPart::File, &request).await
        }
        (&Method::GET, ["attachments", id, "thumbnail"]) => {
            attachments::download(app, caller, id, kanect_core::AttachmentPart::Thumbnail, &request).await
        }

        (&Method::GET, ["invites"]) => invites::list(app, caller, kanect_core::InviteScope::Mine, &request).await,
        (&Method::POST, ["invites"]) => invites::create(app, caller, request).await,
        (&Method::DELETE, ["invites", id]) => invites::revoke(app, caller, id).await,

        (&Method::GET, ["search", "messages"]) => search::messages(app, caller, &request).await,

        (&Method::POST, ["poll"]) => crate::poll::create(app, caller, request).await,
        (&Method::GET, ["poll", id]) => crate::poll::poll(app, caller, id, &request).await,
        (&Method::DELETE, ["poll", id]) => crate::poll::close(app, caller, id),

        (_, ["admin", rest @ ..]) => admin::route(app, caller, request, rest).await,
        _ => Err(ApiError::not_found()),
    }
}
