//! The answer to `GET /api/v1/search/messages`: a page of hits, each with a snippet as text
//! segments (never HTML: a client renders each segment as text, a `hit` one highlighted).
//! Named from [`rest`](crate::rest), beside the other REST bodies: `rest::SearchPage`.

use crate::ids::{ConversationId, MessageId, Seq, Timestamp, UserId};
use serde::{Deserialize, Serialize};

/// A page of search hits, in the order asked (newest first, or best match first).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SearchPage {
    /// The hits; a page may hold fewer than `limit` and still have a next one.
    pub hits: Vec<SearchHit>,
    /// Give it back as `cursor` for the next page; `null` after the last. Opaque.
    pub next_cursor: Option<String>,
}

/// A message found.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SearchHit {
    /// The message's conversation.
    pub conversation: ConversationId,
    /// Its seq there: open the history at it (`?before=` / `?after=`).
    pub seq: Seq,
    /// The message.
    pub id: MessageId,
    /// Who sent it.
    pub sender: UserId,
    /// When.
    pub sent_at: Timestamp,
    /// The part of the body around the match, in segments.
    pub snippet: Vec<SnippetPart>,
}

/// A piece of a snippet: text, and whether it is a word the query matched.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SnippetPart {
    /// Text from the body (an ellipsis `…` where it was cut). Render it as text.
    pub text: String,
    /// A matched word (absent: false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hit: bool,
}
