//! Message search: full-text search over the messages of the conversations a caller is in.
//!
//! A search index is derived data: the [`Store`] holds the truth, an index may
//! be behind it or lose its last changes in a crash, and it is rebuilt from the store. So it
//! is not part of the store but a trait of its own, [`SearchIndex`], plugged into the engine
//! as blob stores are ([`ChatBuilder::search`](crate::ChatBuilder::search)); without one,
//! [`Chat::search_messages`](crate::Chat::search_messages) fails with `search_disabled`.
//!
//! # Who does what
//!
//! - **The engine** validates the request, computes the caller's conversations (the one
//!   named by the `conversation` filter, which must be the caller's, or all of them) and
//!   passes that set to the index as a filter: membership is the engine's, never the index's.
//!   It hands every change to the index as it happens (a message stored, edited, deleted),
//!   without waiting ([`SearchIndex::update`]), and it checks every hit against the store
//!   before returning it: a message that is gone or deleted is dropped, and so is one whose
//!   stored version (`edited_at`) is not the one the index matched (the index is behind: it
//!   is handed the stored message again). That check is what makes "a deleted message is
//!   never found" and "an edited message is not found by its old words" hold even while an
//!   index catches up. Snippets are cut by the engine from the stored body ([`snippet`]),
//!   so every backend highlights alike.
//! - **An index** finds the messages that match the parsed query ([`Terms`]) within the
//!   filters, in the order asked, after a cursor, and keeps up with the store by itself
//!   (catching up at start, [`SearchIndex::start`]).
//!
//! # Query language
//!
//! A subset of PostgreSQL's `websearch_to_tsquery`, so that every backend reads a query the
//! same way: words (all must appear), `"quoted phrases"` (words next to each other, in
//! order), `-word` or `-"phrase"` (must not appear), and `or` between groups of those. Words
//! are what [`tokens`] makes of text: runs of letters and digits, lower-cased; no stemming and
//! no stop words (chat is multilingual). A query with no word to look for (only punctuation
//! or operators) is refused as `empty` (field `q`), never a panic or a match of everything.
//!
//! # Order and paging
//!
//! Hits come in descending [`SearchKey`] order: the rank first (the time sent, newest first,
//! or the backend's relevance score, best first), then conversation and seq, which make every
//! key unique. A cursor is the key of the last hit of a page, and the next page is the hits
//! strictly below it: no duplicates and no gaps while the index does not change, and for
//! newest-first also while it does (a new message ranks above every cursor). Relevance scores
//! may shift as messages are added (they depend on how common a word is), so a relevance page
//! after a change may repeat or miss a hit near its edge.
//!
//! # Layout
//! - `query` — [`Terms`]: the parsed query, and [`tokens`].
//! - `cursor` — [`SearchKey`], [`SearchCursor`] (its opaque text form).
//! - `snippet` — [`snippet`]: the part of a body around its first match, as text segments.
//! - `engine` — [`Chat::search_messages`](crate::Chat::search_messages) and the hand-over of
//!   changes.
//! - `memory` — [`MemorySearchIndex`], for tests and [`MemoryStore`](crate::MemoryStore).

mod cursor;
mod engine;
mod memory;
mod query;
mod snippet;

pub use cursor::{BadCursor, SearchCursor, SearchKey};
pub use engine::{SearchHit, SearchRequest, SearchResults};
pub use memory::MemorySearchIndex;
pub use query::{tokens, Conjunction, Terms, TOKEN_MAX_BYTES};
pub use snippet::{snippet, SnippetPart, SNIPPET_CHARS};

use crate::error::StoreError;
use crate::id::{ConversationId, MessageId, UserId};
use crate::model::{Message, Timestamp};
use crate::store::Store;
use async_trait::async_trait;
use std::sync::Arc;

/// A query: at most this many characters (Unicode scalar values).
pub const QUERY_MAX_CHARS: usize = 256;
/// A page of hits: at most this many.
pub const SEARCH_PAGE_MAX: usize = 50;
/// A page of hits when the request does not say.
pub const SEARCH_PAGE_DEFAULT: usize = 20;

/// How hits are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SearchOrder {
    /// The newest message first (by the time it was sent).
    #[default]
    Newest,
    /// The best match first (the index's relevance score).
    Relevance,
}

impl SearchOrder {
    /// The name on the wire: `newest` or `relevance`.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchOrder::Newest => "newest",
            SearchOrder::Relevance => "relevance",
        }
    }

    /// The order named `name` on the wire.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "newest" => Some(SearchOrder::Newest),
            "relevance" => Some(SearchOrder::Relevance),
            _ => None,
        }
    }
}

/// What the engine asks an index: the parsed query within its filters.
#[derive(Clone, Debug)]
pub struct IndexQuery {
    /// What to match.
    pub terms: Terms,
    /// The conversations to look in: the caller's (the engine's membership filter). Never
    /// empty (the engine answers an empty set itself).
    pub conversations: Vec<ConversationId>,
    /// Only messages from this sender.
    pub sender: Option<UserId>,
    /// Only messages sent at or after this time.
    pub from: Option<Timestamp>,
    /// Only messages sent before this time.
    pub to: Option<Timestamp>,
    /// The order of the hits.
    pub order: SearchOrder,
    /// Only hits whose key is strictly below this one (the previous page's last).
    pub after: Option<SearchKey>,
    /// At most this many hits (1 to [`SEARCH_PAGE_MAX`]).
    pub limit: usize,
}

/// A message an index found: where it is, and which version of it matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexHit {
    /// The message.
    pub id: MessageId,
    /// Its place in the order (conversation and seq included).
    pub key: SearchKey,
    /// The `edited_at` of the version the index holds: the engine drops the hit if the stored
    /// message has another (the index is behind), so an old version's words never find it.
    pub version: Option<Timestamp>,
}

/// A page of hits from an index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexPage {
    /// At most `limit` hits, in descending key order.
    pub hits: Vec<IndexHit>,
    /// Whether hits beyond these match too.
    pub more: bool,
}

/// A full-text index of messages, kept beside a [`Store`] (see the module docs).
///
/// # Contract
/// - [`update`](SearchIndex::update) never waits: it hands the change on (a bounded queue) and
///   returns. A change it cannot take is not lost for good: the index notices and catches up
///   from the store.
/// - [`search`](SearchIndex::search) matches [`Terms`] as [`tokens`] splits text, within every
///   filter of the [`IndexQuery`], and returns hits in descending [`SearchKey`] order strictly
///   below `after`. A deleted message's words must not match (its body is empty).
/// - After [`flush`](SearchIndex::flush) returns, every change handed before it is found.
/// - An index that persists catches up with the store when started ([`SearchIndex::start`]):
///   messages it misses are added, and after an unclean stop, edits and deletions it may have
///   lost are applied; without blocking the start or the sends.
///
/// Every backend runs the conformance suite `kanect_core::testing::search` (feature
/// `testing`).
#[async_trait]
pub trait SearchIndex: Send + Sync + 'static {
    /// The message, as now stored, replaces whatever the index has of it (a deleted one
    /// matches nothing from now on). Returns at once.
    fn update(&self, message: &Message);

    /// The hits of `query`.
    ///
    /// # Errors
    /// [`StoreError`] when the index cannot be read.
    async fn search(&self, query: &IndexQuery) -> Result<IndexPage, StoreError>;

    /// Waits until every change handed so far is searchable (and, for an index that persists,
    /// durable).
    ///
    /// # Errors
    /// [`StoreError`] when the index cannot be written.
    async fn flush(&self) -> Result<(), StoreError>;

    /// Called once by [`ChatBuilder::build`](crate::ChatBuilder::build) with the engine's
    /// store: an index that may be behind it starts catching up (in the background). The
    /// default does nothing.
    fn start(&self, store: Arc<dyn Store>) {
        let _ = store;
    }
}
