//! The engine's side of search: [`Chat::search_messages`], which enforces membership and checks
//! every hit against the store, and the hand-over of changes to the index.

use super::{snippet, IndexQuery, SearchCursor, SearchOrder, SnippetPart, Terms};
use super::{SEARCH_PAGE_DEFAULT, SEARCH_PAGE_MAX};
use crate::chat::{Caller, Chat};
use crate::error::{Denied, Error, Invalid, Result};
use crate::id::{ConversationId, MessageId, Seq, UserId};
use crate::model::{Message, Timestamp};

/// A search, as [`Chat::search_messages`] takes it. `SearchRequest::new("lunch")` searches
/// everything the caller may read, newest first, a page of [`SEARCH_PAGE_DEFAULT`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SearchRequest {
    /// The query (see the `search` module docs for its language).
    pub text: String,
    /// Only this conversation (the caller's).
    pub conversation: Option<ConversationId>,
    /// Only messages from this user.
    pub sender: Option<UserId>,
    /// Only messages sent at or after this time.
    pub from: Option<Timestamp>,
    /// Only messages sent before this time.
    pub to: Option<Timestamp>,
    /// Newest first (default) or best match first.
    pub order: SearchOrder,
    /// The page after this one (from [`SearchResults::next_cursor`]).
    pub cursor: Option<SearchCursor>,
    /// Hits per page, 1 to [`SEARCH_PAGE_MAX`].
    pub limit: usize,
}

impl SearchRequest {
    /// A search for `text` with no filter, newest first.
    pub fn new(text: impl Into<String>) -> Self {
        SearchRequest {
            text: text.into(),
            conversation: None,
            sender: None,
            from: None,
            to: None,
            order: SearchOrder::Newest,
            cursor: None,
            limit: SEARCH_PAGE_DEFAULT,
        }
    }
}

/// A message found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SearchHit {
    /// The message.
    pub id: MessageId,
    /// Its conversation.
    pub conversation: ConversationId,
    /// Its seq there (to open the history at it).
    pub seq: Seq,
    /// Who sent it.
    pub sender: UserId,
    /// When.
    pub sent_at: Timestamp,
    /// The part of its body around the match, the matched words marked.
    pub snippet: Vec<SnippetPart>,
}

/// A page of hits.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SearchResults {
    /// In the order asked. A page may hold fewer than `limit` hits and still have a next one
    /// (hits the index had that the store no longer has are left out).
    pub hits: Vec<SearchHit>,
    /// Where the next page starts; None after the last.
    pub next_cursor: Option<SearchCursor>,
}

impl Chat {
    /// Searches the messages of the conversations the caller is a member of (now: a member
    /// who left no longer finds a conversation's messages). Deleted messages are never found,
    /// and an edited one only by its words now.
    ///
    /// # Errors
    /// `search_disabled` without a search index
    /// ([`ChatBuilder::search`](crate::ChatBuilder::search)); `empty` (field `q`) for a query
    /// without a word, `too_long` (field `q`) past [`super::QUERY_MAX_CHARS`] characters;
    /// `out_of_range` (field `limit`) outside 1 to [`SEARCH_PAGE_MAX`]; `malformed` (field
    /// `cursor`) for a cursor of the other order; `conversation_not_found` for a conversation
    /// filter the caller is not in; `unavailable`.
    pub async fn search_messages(&self, caller: &Caller, request: &SearchRequest) -> Result<SearchResults> {
        let index = self.search_index().ok_or(Error::Forbidden(Denied::SearchDisabled))?;
        let terms = Terms::parse(&request.text)?;
        if request.limit == 0 || request.limit > SEARCH_PAGE_MAX {
            return Err(Error::invalid("limit", Invalid::OutOfRange));
        }
        if request.cursor.is_some_and(|cursor| cursor.order != request.order) {
            return Err(Error::invalid("cursor", Invalid::Malformed));
        }
        let conversations = match request.conversation {
            Some(id) => vec![self.member_conversation(caller, id).await?.id],
            None => self.store().conversations_of(caller.user()).await?,
        };
        if conversations.is_empty() || request.from.zip(request.to).is_some_and(|(from, to)| from >= to) {
            return Ok(SearchResults::default());
        }
        let query = IndexQuery {
            terms,
            conversations,
            sender: request.sender,
            from: request.from,
            to: request.to,
            order: request.order,
            after: request.cursor.map(|cursor| cursor.key),
            limit: request.limit,
        };
        let page = index.search(&query).await?;
        let next_cursor = match page.more {
            true => page.hits.last().map(|hit| SearchCursor { order: request.order, key: hit.key }),
            false => None,
        };
        let mut hits = Vec::with_capacity(page.hits.len());
        for hit in page.hits {
            // The store is the truth: the index may be behind it (see the module docs).
            let Some(message) = self.store().message(hit.id).await? else { continue };
            if message.deleted || message.edited_at != hit.version {
                index.update(&message);
                continue;
            }
            if message.conversation != hit.key.conversation || !query.conversations.contains(&message.conversation) {
                continue;
            }
            hits.push(SearchHit {
                snippet: snippet(&message.body, &query.terms),
                id: message.id,
                conversation: message.conversation,
                seq: message.seq,
                sender: message.sender,
                sent_at: message.sent_at,
            });
        }
        Ok(SearchResults { hits, next_cursor })
    }

    /// Hands a stored change to the search index, if there is one. Never waits.
    pub(crate) fn index_message(&self, message: &Message) {
        if let Some(index) = self.search_index() {
            index.update(message);
        }
    }

    /// Waits until the search index has every change handed to it so far (tests, and
    /// [`Chat::flush`]). Does nothing without one.
    ///
    /// # Errors
    /// `unavailable` if the index cannot be written.
    pub async fn flush_search(&self) -> Result<()> {
        if let Some(index) = self.search_index() {
            index.flush().await?;
        }
        Ok(())
    }
}
