//! Sign-up modes and invites: what the sign-up page asks (public), invites made, listed and
//! revoked by their makers (`/invites`), and every invite for administrators
//! (`/admin/invites`, routed from `admin`). The engine decides who may do what (see
//! kanect-core's `invites` module).

use super::request::{next_cursor, no_content, ok, path_id, read_json, Query};
use crate::error::{json_response, ApiError, Body};
use crate::incoming::RequestBody;
use crate::state::App;
use crate::wire::ToWire;
use hyper::{Request, Response, StatusCode};
use kanect_core::{Caller, InviteId, InviteScope, NewInvite};
use kanect_proto::rest;
use std::time::Duration;

type Reply = Result<Response<Body>, ApiError>;

/// `GET /auth/signup` (public): the sign-up mode, and whether users may invite.
pub(super) fn sign_up_info(app: &App) -> Reply {
    let config = app.chat.config();
    Ok(ok(&rest::SignUpInfo { mode: config.sign_up.to_wire(), users_may_invite: config.invites.users_may_invite }))
}

/// `POST /auth/invite` (public): whether an invite's token is usable now.
pub(crate) async fn status(app: &App, request: Request<RequestBody>) -> Reply {
    let form: rest::InviteToken = read_json(request, app.config.max_body_bytes).await?;
    let invite = app.chat.invite_status(&form.invite).await?;
    Ok(ok(&rest::InviteStatus { expires_at: invite.expires_at.to_wire(), uses_left: invite.uses_left }))
}

/// `POST /invites`: a new invite, with its token (shown this once).
pub(crate) async fn create(app: &App, caller: &Caller, request: Request<RequestBody>) -> Reply {
    let form: rest::NewInvite = read_json(request, app.config.max_body_bytes).await?;
    let new = NewInvite { uses: form.uses, expires_in: Duration::from_secs(form.expires_in_secs) };
    let created = app.chat.create_invite(caller, new).await?;
    let body = rest::CreatedInvite { invite: created.invite.to_wire(), token: created.token };
    Ok(json_response(StatusCode::CREATED, &body))
}

/// `GET /invites?before=&limit=` (the caller's) and `GET /admin/invites?before=&limit=`
/// (everyone's).
pub(super) async fn list<B>(app: &App, caller: &Caller, scope: InviteScope, request: &Request<B>) -> Reply {
    let query = Query::of(request);
    let limit = query.limit()?;
    let before: Option<InviteId> = query.parsed("before")?;
    let invites = app.chat.invites(caller, scope, before, limit).await?;
    let next = next_cursor(&invites, limit, |invite| invite.id.to_wire());
    Ok(ok(&rest::InvitePage { invites: invites.iter().map(ToWire::to_wire).collect(), next }))
}

/// `DELETE /invites/{id}` (its maker, or an administrator).
pub(super) async fn revoke(app: &App, caller: &Caller, id: &str) -> Reply {
    app.chat.revoke_invite(caller, path_id(id)?).await?;
    Ok(no_content())
}
