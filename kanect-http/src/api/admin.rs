//! The admin API under `/api/v1/admin/`: a thin mapping onto the engine's administrative
//! methods, which enforce the role themselves (re-reading it on every call).

use super::request::{next_cursor, no_content, ok, path_id, read_json, Query};
use crate::error::{ApiError, Body};
use crate::state::App;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use kanect_core::{AuditId, Caller, ConversationId, Role, UserId};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Disabled {
    disabled: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetRole {
    role: Role,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Password {
    password: String,
}

type Reply = Result<Response<Body>, ApiError>;

/// Serves `/api/v1/admin/<path>` for an authenticated caller.
pub(super) async fn route(app: &App, caller: &Caller, request: Request<Incoming>, path: &[&str]) -> Reply {
    let chat = &app.chat;
    let limit = app.config.max_body_bytes;
    let query = Query::of(&request);
    match (request.method().clone(), path) {
        (Method::GET, ["users"]) => {
            let page = query.limit()?;
            let users = chat.admin_users(caller, query.text("search"), query.text("after"), page).await?;
            let next = next_cursor(&users, page, |u| u.user.username.clone());
            Ok(ok(&json!({"users": users, "next": next})))
        }
        (Method::GET, ["users", id]) => Ok(ok(&chat.admin_user(caller, path_id(id)?).await?)),
        (Method::PUT, ["users", id, "disabled"]) => {
            let id: UserId = path_id(id)?;
            let form: Disabled = read_json(request, limit).await?;
            Ok(ok(&chat.set_disabled(caller, id, form.disabled).await?))
        }
        (Method::PUT, ["users", id, "role"]) => {
            let id: UserId = path_id(id)?;
            let form: SetRole = read_json(request, limit).await?;
            Ok(ok(&chat.set_role(caller, id, form.role).await?))
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
            let next = next_cursor(&conversations, page, |c| c.id);
            Ok(ok(&json!({"conversations": conversations, "next": next})))
        }
        (Method::GET, ["conversations", id, "messages"]) => {
            let messages = chat.admin_history(caller, path_id(id)?, query.history_page()?, query.limit()?).await?;
            Ok(ok(&json!({"messages": messages})))
        }
        (Method::DELETE, ["messages", id]) => Ok(ok(&chat.admin_delete_message(caller, path_id(id)?).await?)),
        (Method::GET, ["stats"]) => Ok(ok(&chat.server_stats(caller).await?)),
        (Method::GET, ["audit"]) => {
            let page = query.limit()?;
            let before: Option<AuditId> = query.parsed("before")?;
            let entries = chat.audit_log(caller, before, page).await?;
            let next = next_cursor(&entries, page, |e| e.id);
            Ok(ok(&json!({"entries": entries, "next": next})))
        }
        _ => Err(ApiError::not_found()),
    }
}
