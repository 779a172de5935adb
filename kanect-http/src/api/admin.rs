//! The admin API under `/api/v1/admin/`: a thin mapping onto the engine's administrative
//! methods, which enforce the role themselves (re-reading it on every call).

use super::request::{next_cursor, no_content, ok, path_id, read_json, Query};
use crate::error::{json_response, ApiError, Body};
use crate::incoming::RequestBody;
use crate::state::App;
use crate::wire::{ToCore, ToWire};
use hyper::{Method, Request, Response, StatusCode};
use kanect_core::{AuditId, Caller, ConversationId, InviteScope, Registration, UserEdit, UserId};
use kanect_proto::rest;
use kanect_proto::rest::{Disabled, NewUser, Password, SetRole};

type Reply = Result<Response<Body>, ApiError>;

/// Serves `/api/v1/admin/<path>` for an authenticated caller.
pub(crate) async fn route(app: &App, caller: &Caller, request: Request<RequestBody>, path: &[&str]) -> Reply {
    let chat = &app.chat;
    let limit = app.config.max_body_bytes;
    let query = Query::of(&request);
    match (request.method().clone(), path) {
        (Method::GET, ["users"]) => {
            let page = query.limit()?;
            let users = chat.admin_users(caller, query.text("search"), query.text("after"), page).await?;
            let next = next_cursor(&users, page, |u| u.user.username.clone());
            Ok(ok(&rest::AdminUserPage { users: users.iter().map(ToWire::to_wire).collect(), next }))
        }
        (Method::POST, ["users"]) => {
            let form: NewUser = read_json(request, limit).await?;
            let registration = Registration {
                username: form.username,
                password: form.password,
                email: form.email,
                display_name: form.display_name,
                invite: None,
            };
            let user = chat.admin_create_user(caller, registration, form.role.to_core()).await?;
            Ok(json_response(StatusCode::CREATED, &user.to_wire()))
        }
        (Method::GET, ["users", id]) => Ok(ok(&chat.admin_user(caller, path_id(id)?).await?.to_wire())),
        (Method::PATCH, ["users", id]) => {
            let id: UserId = path_id(id)?;
            let form: rest::UserEdit = read_json(request, limit).await?;
            let edit = UserEdit { display_name: form.display_name, email: form.email };
            Ok(ok(&chat.admin_edit_user(caller, id, edit).await?.to_wire()))
        }
        (Method::PUT, ["users", id, "disabled"]) => {
            let id: UserId = path_id(id)?;
            let form: Disabled = read_json(request, limit).await?;
            Ok(ok(&chat.set_disabled(caller, id, form.disabled).await?.to_wire()))
        }
        (Method::PUT, ["users", id, "role"]) => {
            let id: UserId = path_id(id)?;
            let form: SetRole = read_json(request, limit).await?;
            Ok(ok(&chat.set_role(caller, id, form.role.to_core()).await?.to_wire()))
        }
        (Method::POST, ["users", id, "password"]) => {
            let id: UserId = path_id(id)?;
            let form: Password = read_json(request, limit).await?;
            chat.reset_password(caller, id, &form.password).await?;
            Ok(no_content())
        }
        (Method::DELETE, ["users", id]) => {
            chat.delete_user(caller, path_id(id)?).await?;
            Ok(no_content())
        }
        (Method::GET, ["conversations"]) => {
            let page = query.limit()?;
            let after: Option<ConversationId> = query.parsed("after")?;
            let conversations = chat.admin_conversations(caller, after, page).await?;
            let next = next_cursor(&conversations, page, |c| c.id.to_wire());
            let conversations = conversations.iter().map(ToWire::to_wire).collect();
            Ok(ok(&rest::AdminConversationPage { conversations, next }))
        }
        (Method::GET, ["conversations", id, "messages"]) => {
            let messages = chat.admin_history(caller, path_id(id)?, query.history_page()?, query.limit()?).await?;
            Ok(ok(&rest::MessagePage { messages: messages.iter().map(ToWire::to_wire).collect() }))
        }
        (Method::DELETE, ["messages", id]) => Ok(ok(&chat.admin_delete_message(caller, path_id(id)?).await?.to_wire())),
        (Method::GET, ["export"]) => super::export::serve(app, caller).await,
        (Method::GET, ["stats"]) => Ok(ok(&chat.server_stats(caller).await?.to_wire())),
        (Method::GET, ["invites"]) => super::invites::list(app, caller, InviteScope::All, &request).await,
        (Method::GET, ["audit"]) => {
            let page = query.limit()?;
            let before: Option<AuditId> = query.parsed("before")?;
            let entries = chat.audit_log(caller, before, page).await?;
            let next = next_cursor(&entries, page, |e| e.id.to_wire());
            Ok(ok(&rest::AuditPage { entries: entries.iter().map(ToWire::to_wire).collect(), next }))
        }
        _ => Err(ApiError::not_found()),
    }
}
