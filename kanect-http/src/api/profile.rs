//! The caller's own account: profile (`PATCH /me`), avatar (`PUT`/`DELETE /me/avatar`, and
//! everyone's `GET /users/{id}/avatar`), password, sessions, and deleting the account. The
//! rules are the engine's (its `profile` and `own_account` modules); here they meet HTTP.

use super::attachments::header;
use super::request::{no_content, ok, path_id, read_body, read_json, Query};
use crate::conditional::{none_match, not_modified};
use crate::error::{whole, ApiError, Body};
use crate::incoming::RequestBody;
use crate::state::App;
use crate::wire::ToWire;
use hyper::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG};
use hyper::{HeaderMap, Request, Response, StatusCode};
use kanect_core::validate::AVATAR_MAX_BYTES;
use kanect_core::{AttachmentId, Caller, Error, Limit, ProfileChange, SessionView, UserId};
use kanect_proto::rest;
use std::net::IpAddr;

type Reply = Result<Response<Body>, ApiError>;

/// `PATCH /me`: display name and/or status.
pub(crate) async fn update(app: &App, caller: &Caller, request: Request<RequestBody>) -> Reply {
    let form: rest::ProfileUpdate = read_json(request, app.config.max_body_bytes).await?;
    let change = ProfileChange { display_name: form.display_name, status: form.status };
    Ok(ok(&app.chat.update_profile(caller, change).await?.to_wire()))
}

/// `PUT /me/avatar`: the picture is the body, as it is (any content type: the bytes say what
/// it is). Read whole, up to the avatar limit: a larger one is `avatar_too_large`.
pub(crate) async fn set_avatar(app: &App, caller: &Caller, request: Request<RequestBody>) -> Reply {
    let too_large = || ApiError::from(Error::Limited { limit: Limit::AvatarSize, retry_after: None }).closing();
    let bytes = match read_body(request, AVATAR_MAX_BYTES).await {
        Err(error) if error.status == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
        other => other?,
    };
    Ok(ok(&app.chat.set_avatar(caller, bytes.to_vec()).await?.to_wire()))
}

/// `DELETE /me/avatar`.
pub(super) async fn remove_avatar(app: &App, caller: &Caller) -> Reply {
    Ok(ok(&app.chat.remove_avatar(caller).await?.to_wire()))
}

/// `GET /users/{id}/avatar?v={version}`. With the current version, cacheable for ever
/// (`immutable`: a new picture has a new version, so a new URL); without one, revalidated at
/// each use (a cheap `304` by its `ETag`). A stale version is `avatar_not_found`.
pub(crate) async fn avatar(app: &App, caller: &Caller, id: &str, request: &Request<RequestBody>) -> Reply {
    let id: UserId = path_id(id)?;
    let version: Option<AttachmentId> = Query::of(request).parsed("v")?;
    let image = app.chat.avatar(caller, id, version).await?;
    let etag = format!("\"{}\"", image.version);
    let caching = match version {
        Some(_) => "private, max-age=31536000, immutable",
        None => "private, no-cache",
    };
    let mut response = if none_match(request.headers(), &etag) {
        not_modified()
    } else {
        let length = image.bytes.len();
        let mut response = Response::new(whole(image.bytes));
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, header(image.content_type));
        headers.insert(CONTENT_LENGTH, length.into());
        headers.insert(CONTENT_SECURITY_POLICY, header("sandbox; default-src 'none'"));
        response
    };
    let headers: &mut HeaderMap = response.headers_mut();
    headers.insert(ETAG, header(&etag));
    headers.insert(CACHE_CONTROL, header(caching));
    Ok(response)
}

/// `POST /me/password` from a client at `client` (the log-in slow-downs are keyed by it).
pub(crate) async fn change_password(
    app: &App,
    caller: &Caller,
    request: Request<RequestBody>,
    client: IpAddr,
) -> Reply {
    let form: rest::PasswordChange = read_json(request, app.config.max_body_bytes).await?;
    let ended = app
        .chat
        .change_password(caller, &form.current_password, &form.new_password, form.end_other_sessions, Some(client))
        .await?;
    Ok(ok(&rest::PasswordChanged { ended_sessions: ended }))
}

/// `GET /me/sessions`.
pub(super) async fn sessions(app: &App, caller: &Caller) -> Reply {
    let sessions = app.chat.sessions(caller).await?.into_iter().map(session_info).collect();
    Ok(ok(&rest::SessionList { sessions }))
}

fn session_info(view: SessionView) -> rest::SessionInfo {
    let SessionView { id, created_at, last_used, expires_at, user_agent, current } = view;
    rest::SessionInfo {
        id,
        created_at: created_at.to_wire(),
        last_used: last_used.to_wire(),
        expires_at: expires_at.to_wire(),
        user_agent,
        current,
    }
}

/// `DELETE /me/sessions/{id}`.
pub(super) async fn end_session(app: &App, caller: &Caller, id: &str) -> Reply {
    app.chat.end_session(caller, id).await?;
    Ok(no_content())
}

/// `POST /me/delete` from a client at `client`; the browser's cookies are cleared.
pub(crate) async fn delete_account(app: &App, caller: &Caller, request: Request<RequestBody>, client: IpAddr) -> Reply {
    let form: rest::AccountDeletion = read_json(request, app.config.max_body_bytes).await?;
    app.chat.delete_account(caller, &form.password, Some(client)).await?;
    Ok(super::accounts::clearing_cookies(app, no_content()))
}
