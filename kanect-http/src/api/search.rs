//! `GET /api/v1/search/messages`: message search (see PROTOCOL.md, "Search"). REST only: a
//! search is a request and its answer, for socket and long-poll clients alike (with the same
//! credentials).

use super::request::{ok, Query};
use crate::error::{ApiError, Body};
use crate::state::App;
use crate::wire::ToWire;
use hyper::{Request, Response};
use kanect_core::search::{SearchCursor, SearchOrder, SEARCH_PAGE_DEFAULT};
use kanect_core::{Caller, ConversationId, SearchRequest, Timestamp, UserId};
use kanect_proto::rest::{SearchHit, SearchPage, SnippetPart};
use std::str::FromStr;

/// `GET /search/messages?q=&conversation=&sender=&from=&to=&order=&cursor=&limit=`.
pub(super) async fn messages<B>(app: &App, caller: &Caller, request: &Request<B>) -> Result<Response<Body>, ApiError> {
    let search = read(&Query::of(request))?;
    let results = app.chat.search_messages(caller, &search).await?;
    let hits = results
        .hits
        .iter()
        .map(|hit| SearchHit {
            conversation: hit.conversation.to_wire(),
            seq: hit.seq.to_wire(),
            id: hit.id.to_wire(),
            sender: hit.sender.to_wire(),
            sent_at: hit.sent_at.to_wire(),
            snippet: hit.snippet.iter().map(|part| SnippetPart { text: part.text.clone(), hit: part.hit }).collect(),
        })
        .collect();
    Ok(ok(&SearchPage { hits, next_cursor: results.next_cursor.map(|cursor| cursor.to_string()) }))
}

/// The request's parameters as the engine's [`SearchRequest`] (the engine checks the query and
/// the limit; the adapter what only it parses).
fn read(query: &Query) -> Result<SearchRequest, ApiError> {
    let mut search = SearchRequest::new(query.text("q").unwrap_or(""));
    search.conversation = id::<ConversationId>(query, "conversation")?;
    search.sender = id::<UserId>(query, "sender")?;
    search.from = query.parsed::<u64>("from")?.map(Timestamp);
    search.to = query.parsed::<u64>("to")?.map(Timestamp);
    if let Some(order) = query.text("order") {
        search.order = SearchOrder::from_name(order)
            .ok_or_else(|| ApiError::bad_input("invalid_value", "order", "order is newest or relevance"))?;
    }
    if let Some(cursor) = query.text("cursor") {
        let cursor = SearchCursor::from_str(cursor)
            .ok()
            .filter(|cursor| cursor.order == search.order)
            .ok_or_else(|| ApiError::bad_input("invalid_value", "cursor", "not a cursor of this search's order"))?;
        search.cursor = Some(cursor);
    }
    search.limit = query.parsed::<usize>("limit")?.unwrap_or(SEARCH_PAGE_DEFAULT);
    Ok(search)
}

/// An id parameter; `malformed` naming it if it is not one.
fn id<T: FromStr>(query: &Query, name: &str) -> Result<Option<T>, ApiError> {
    query
        .text(name)
        .map(|text| text.parse().map_err(|_| ApiError::bad_input("malformed", name, format!("{text:?} is not an id"))))
        .transpose()
}
