//! Conversations and messages over REST: the list (in pages), open direct, create and manage
//! groups, history pages, and send / edit / delete / receipts / typing for clients without a
//! socket.

use super::request::{no_content, ok, path_id, path_text, read_json, Query};
use crate::error::{json_response, ApiError, Body};
use crate::incoming::RequestBody;
use crate::state::App;
use crate::wire::{ToCore, ToWire};
use hyper::{Request, Response, StatusCode};
use kanect_core::{Caller, ConversationCursor, ConversationId, MessageId, Outgoing, Seq};
use kanect_proto::rest;
use kanect_proto::rest::{Edit, Mark, NewGroup, Rename, Send, UserRef};

type Reply = Result<Response<Body>, ApiError>;

/// `GET /conversations?after=&limit=`: a page, and where the next one starts.
pub(super) async fn list<B>(app: &App, caller: &Caller, request: &Request<B>) -> Reply {
    let query = Query::of(request);
    let after = query.text("after").map(str::parse::<ConversationCursor>).transpose()?;
    let page = app.chat.conversations(caller, after, query.limit()?).await?;
    let conversations = page.conversations.iter().map(ToWire::to_wire).collect();
    Ok(ok(&rest::ConversationPage { conversations, next: page.next.map(|next| next.to_string()) }))
}

/// `POST /conversations/direct`.
pub(crate) async fn open_direct(app: &App, caller: &Caller, request: Request<RequestBody>) -> Reply {
    let form: UserRef = read_json(request, app.config.max_body_bytes).await?;
    Ok(ok(&app.chat.open_direct(caller, form.user.to_core()).await?.to_wire()))
}

/// `POST /conversations`.
pub(crate) async fn create_group(app: &App, caller: &Caller, request: Request<RequestBody>) -> Reply {
    let form: NewGroup = read_json(request, app.config.max_body_bytes).await?;
    let members: Vec<_> = form.members.into_iter().map(|id| id.to_core()).collect();
    let group = app.chat.create_group(caller, &form.name, &members).await?;
    Ok(json_response(StatusCode::CREATED, &group.to_wire()))
}

/// `GET /conversations/{id}`.
pub(super) async fn get(app: &App, caller: &Caller, id: &str) -> Reply {
    Ok(ok(&app.chat.conversation(caller, path_id(id)?).await?.to_wire()))
}

/// `PATCH /conversations/{id}`.
pub(crate) async fn rename(app: &App, caller: &Caller, id: &str, request: Request<RequestBody>) -> Reply {
    let id: ConversationId = path_id(id)?;
    let form: Rename = read_json(request, app.config.max_body_bytes).await?;
    Ok(ok(&app.chat.rename_group(caller, id, &form.name).await?.to_wire()))
}

/// `POST /conversations/{id}/members`.
pub(crate) async fn add_member(app: &App, caller: &Caller, id: &str, request: Request<RequestBody>) -> Reply {
    let id: ConversationId = path_id(id)?;
    let form: UserRef = read_json(request, app.config.max_body_bytes).await?;
    Ok(ok(&app.chat.add_member(caller, id, form.user.to_core()).await?.to_wire()))
}

/// `DELETE /conversations/{id}/members/{user}`.
pub(super) async fn remove_member(app: &App, caller: &Caller, id: &str, user: &str) -> Reply {
    Ok(ok(&(app.chat.remove_member(caller, path_id(id)?, path_id(user)?).await?).to_wire()))
}

/// `POST /conversations/{id}/leave`.
pub(super) async fn leave(app: &App, caller: &Caller, id: &str) -> Reply {
    Ok(ok(&app.chat.leave(caller, path_id(id)?).await?.to_wire()))
}

/// `GET /conversations/{id}/messages?before=|after=&limit=`.
pub(super) async fn history<B>(app: &App, caller: &Caller, id: &str, request: &Request<B>) -> Reply {
    let query = Query::of(request);
    let messages = app.chat.history(caller, path_id(id)?, query.history_page()?, query.limit()?).await?;
    Ok(ok(&rest::MessagePage { messages: messages.iter().map(ToWire::to_wire).collect() }))
}

/// `POST /conversations/{id}/messages`.
pub(crate) async fn send(app: &App, caller: &Caller, id: &str, request: Request<RequestBody>) -> Reply {
    let id: ConversationId = path_id(id)?;
    let form: Send = read_json(request, app.config.max_body_bytes).await?;
    let attachments: Vec<_> = form.attachments.iter().map(ToCore::to_core).collect();
    let reply_to = form.reply_to.map(|seq| seq.to_core());
    let outgoing = Outgoing { client_id: &form.client_id, body: &form.body, attachments: &attachments, reply_to };
    Ok(ok(&app.chat.send_message(caller, id, outgoing).await?.to_wire()))
}

/// `PUT /messages/{id}/reactions/{emoji}` (`add`) and `DELETE` of the same.
pub(super) async fn react(app: &App, caller: &Caller, id: &str, emoji: &str, add: bool) -> Reply {
    let id: MessageId = path_id(id)?;
    let emoji = path_text(emoji, "emoji")?;
    Ok(ok(&app.chat.react(caller, id, &emoji, add).await?.to_wire()))
}

/// `PATCH /messages/{id}`.
pub(crate) async fn edit(app: &App, caller: &Caller, id: &str, request: Request<RequestBody>) -> Reply {
    let id: MessageId = path_id(id)?;
    let form: Edit = read_json(request, app.config.max_body_bytes).await?;
    Ok(ok(&app.chat.edit(caller, id, &form.body).await?.to_wire()))
}

/// `DELETE /messages/{id}`.
pub(super) async fn delete(app: &App, caller: &Caller, id: &str) -> Reply {
    Ok(ok(&app.chat.delete(caller, path_id(id)?).await?.to_wire()))
}

/// `POST /conversations/{id}/receipts`.
pub(crate) async fn receipt(app: &App, caller: &Caller, id: &str, request: Request<RequestBody>) -> Reply {
    let id: ConversationId = path_id(id)?;
    let form: Mark = read_json(request, app.config.max_body_bytes).await?;
    let kind = form.kind.to_core();
    let receipt = app.chat.mark(caller, id, kind, Seq(form.seq.0)).await?;
    Ok(ok(&rest::Marked { receipt: receipt.as_ref().map(ToWire::to_wire) }))
}

/// `POST /conversations/{id}/typing`.
pub(super) async fn typing(app: &App, caller: &Caller, id: &str) -> Reply {
    app.chat.typing(caller, path_id(id)?).await?;
    Ok(no_content())
}
