//! `GET /api/v1/me/export`: the caller's data as one JSON document, streamed — the
//! [`kanect_core::Chat::my_messages`] pages written as they are read, so memory stays flat
//! however many messages there are (one page, [`kanect_core::validate::PAGE_MAX`] messages, at
//! a time; no limit on the total). See PROTOCOL.md ("Exporting your data") for the format.
//!
//! A task writes the document into a small bounded channel that the response body reads: a
//! client that reads slowly makes the task wait, and one that goes away (the body dropped)
//! ends it at its next write. An error after the `200` head cuts the body off (no final
//! chunk), so a client never takes a partial document for a whole one; it is logged.

use crate::error::{ApiError, Body, BoxError};
use crate::state::App;
use crate::wire::ToWire;
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use hyper::Response;
use kanect_core::{Caller, Chat, Seq, Timestamp};
use tokio::sync::mpsc;

/// Chunks written ahead of the client: each is a page of messages at most.
const CHUNKS_AHEAD: usize = 4;

/// The document's `format` and `version`.
const FORMAT: &str = "kanect-my-data";
const VERSION: u32 = 1;

type Chunk = Result<Bytes, BoxError>;

/// Serves `GET /api/v1/me/export`.
pub(super) async fn export(app: &App, caller: &Caller) -> Result<Response<Body>, ApiError> {
    // Read before the head goes out, so that a failure here is still an error response.
    let me = app.chat.me(caller).await?;
    let conversations = app.chat.my_conversation_ids(caller).await?;
    let (tx, rx) = mpsc::channel::<Chunk>(CHUNKS_AHEAD);
    let (chat, caller) = (app.chat.clone(), caller.clone());
    tokio::spawn(async move {
        let head = format!(
            "{{\"format\":\"{FORMAT}\",\"version\":{VERSION},\"exported_at\":{},\"profile\":{},\"conversations\":[",
            Timestamp::now().0,
            json(&me.to_wire())
        );
        if let Err(error) = write(&chat, &caller, &tx, head, conversations).await {
            tracing::warn!(%error, "an export of a user's data was cut off");
            let _ = tx.send(Err(error)).await;
        }
    });
    let frames =
        futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|chunk| (chunk.map(Frame::data), rx)) },
        );
    let mut response = Response::new(BodyExt::boxed_unsync(StreamBody::new(frames)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"kanect-my-data.json\""));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(response)
}

/// Writes the document after its `head`: each conversation, then each page of its messages.
async fn write(
    chat: &Chat,
    caller: &Caller,
    tx: &mpsc::Sender<Chunk>,
    head: String,
    conversations: Vec<kanect_core::ConversationId>,
) -> Result<(), BoxError> {
    send(tx, head).await?;
    let mut first = true;
    for id in conversations {
        let conversation = match chat.my_conversation(caller, id).await {
            Ok(conversation) => conversation,
            // Left (or deleted) since the list was read: no longer the caller's to export.
            Err(error) if error.is_not_found() => continue,
            Err(error) => return Err(error.into()),
        };
        let comma = if first { "" } else { "," };
        first = false;
        send(tx, format!("{comma}{{\"conversation\":{},\"messages\":[", json(&conversation.to_wire()))).await?;
        let (mut after, mut first_message) = (Seq(0), true);
        loop {
            let page = match chat.my_messages(caller, id, after).await {
                Ok(page) => page,
                Err(error) if error.is_not_found() => break,
                Err(error) => return Err(error.into()),
            };
            let mut text = String::new();
            for message in &page.messages {
                if !first_message {
                    text.push(',');
                }
                first_message = false;
                text.push_str(&json(&message.to_wire()));
            }
            if !text.is_empty() {
                send(tx, text).await?;
            }
            match page.next {
                Some(next) => after = next,
                None => break,
            }
        }
        send(tx, "]}".to_owned()).await?;
    }
    send(tx, "]}\n".to_owned()).await
}

/// Hands a chunk to the response body; fails once the client is gone.
async fn send(tx: &mpsc::Sender<Chunk>, text: String) -> Result<(), BoxError> {
    tx.send(Ok(Bytes::from(text))).await.map_err(|_| BoxError::from("the client went away"))
}

/// A wire record as JSON (it always encodes: plain data).
fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}
