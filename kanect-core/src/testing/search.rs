//! The search conformance suite: what every [`SearchIndex`] must do beside its store, written
//! once and run through the engine (membership, the check against the store and the snippets
//! are the engine's; matching, filters, order and paging the index's).
//!
//! ```no_run
//! use kanect_core::search::MemorySearchIndex;
//! use kanect_core::testing::search::SearchFixture;
//! kanect_core::search_conformance!(async {
//!     SearchFixture::new(kanect_core::MemoryStore::new(), MemorySearchIndex::new())
//! });
//! # fn main() {}
//! ```

use crate::search::{SearchCursor, SearchIndex, SearchOrder, SearchRequest, SearchResults, QUERY_MAX_CHARS};
use crate::search::{SnippetPart, SEARCH_PAGE_MAX};
use crate::{Caller, Chat, ChatConfig, Conversation, ConversationId, Message, PasswordCost, RateLimits, Registration};
use crate::{Store, UserId};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// Generates one `#[tokio::test]` per search conformance case; `$make` is a future of a fresh
/// [`SearchFixture`] (an empty store and its index), evaluated once per test. Attributes before
/// it go on every test.
#[macro_export]
macro_rules! search_conformance {
    (@attrs [$($attrs:tt)*] #[$attr:meta] $($rest:tt)*) => {
        $crate::search_conformance!(@attrs [$($attrs)* #[$attr]] $($rest)*);
    };
    (@attrs [$(#[$attr:meta])*] $make:expr $(,)?) => {
        mod search_conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::search_conformance!(@cases [$(#[$attr])*] $make;
                finds_by_word_phrase_and_exclusion,
                finds_nothing_outside_membership,
                filters_by_conversation_sender_and_date,
                orders_newest_first_and_by_relevance,
                pages_with_a_cursor_without_duplicates_or_gaps,
                edits_update_the_index,
                deleted_messages_are_never_found,
                limits_hold_at_the_limit_and_past_it,
                unicode_text_is_found,
                punctuation_only_queries_are_refused);
        }
    };
    (@cases $attrs:tt $make:expr; $($case:ident),+) => {
        $($crate::search_conformance!(@case $attrs $make; $case);)+
    };
    (@case [$(#[$attr:meta])*] $make:expr; $case:ident) => {
        $(#[$attr])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            $crate::testing::search::$case($make.await).await;
        }
    };
    ($($input:tt)*) => {
        $crate::search_conformance!(@attrs [] $($input)*);
    };
}

/// A store and the index kept beside it, both fresh.
#[derive(Clone)]
pub struct SearchFixture {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Its index.
    pub index: Arc<dyn SearchIndex>,
}

impl std::fmt::Debug for SearchFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchFixture").finish_non_exhaustive()
    }
}

impl SearchFixture {
    /// A fixture of `store` and `index`.
    pub fn new(store: impl Store, index: impl SearchIndex) -> Self {
        SearchFixture { store: Arc::new(store), index: Arc::new(index) }
    }
}

/// An engine on the fixture, three users (alice, bob, carol), a direct conversation of alice
/// and bob, and a group of all three.
struct World {
    chat: Chat,
    alice: Caller,
    bob: Caller,
    carol: Caller,
    direct: Conversation,
    group: Conversation,
}

impl World {
    async fn new(fixture: SearchFixture) -> World {
        let config = ChatConfig {
            password_cost: PasswordCost::INSECURE_FAST,
            rate_limits: RateLimits::UNLIMITED,
            ..Default::default()
        };
        let chat =
            Chat::builder_shared(fixture.store).search_shared(fixture.index).config(config).build().await.unwrap();
        let mut callers = Vec::new();
        for name in ["alice", "bob", "carol"] {
            let user = chat.register(Registration::new(name, format!("{name}-secret-pw"))).await.unwrap();
            callers.push(chat.act_as(user.id).await.unwrap());
        }
        let [alice, bob, carol] = <[Caller; 3]>::try_from(callers).unwrap();
        let direct = chat.open_direct(&alice, bob.user()).await.unwrap();
        let group = chat.create_group(&alice, "team", &[bob.user(), carol.user()]).await.unwrap();
        World { chat, alice, bob, carol, direct, group }
    }

    async fn send(&self, caller: &Caller, conversation: &Conversation, body: &str) -> Message {
        let client_id = format!("c-{}", uuid::Uuid::new_v4());
        self.chat.send(caller, conversation.id, &client_id, body).await.unwrap()
    }

    /// Sends, then waits a few milliseconds so that the next message is sent at a later time.
    async fn send_apart(&self, caller: &Caller, conversation: &Conversation, body: &str) -> Message {
        let message = self.send(caller, conversation, body).await;
        tokio::time::sleep(Duration::from_millis(3)).await;
        message
    }

    async fn search(&self, caller: &Caller, request: SearchRequest) -> SearchResults {
        self.chat.flush_search().await.unwrap();
        self.chat.search_messages(caller, &request).await.unwrap()
    }

    /// The ids found for `text` (one page of the most).
    async fn ids(&self, caller: &Caller, text: &str) -> Vec<crate::MessageId> {
        let mut request = SearchRequest::new(text);
        request.limit = SEARCH_PAGE_MAX;
        self.search(caller, request).await.hits.iter().map(|hit| hit.id).collect()
    }

    async fn error(&self, caller: &Caller, request: SearchRequest) -> (&'static str, crate::Error) {
        self.chat.flush_search().await.unwrap();
        let error = self.chat.search_messages(caller, &request).await.unwrap_err();
        (error.code(), error)
    }
}

fn text(parts: &[SnippetPart]) -> String {
    parts.iter().map(|p| if p.hit { format!("[{}]", p.text) } else { p.text.clone() }).collect()
}

fn field(error: &crate::Error) -> &'static str {
    match error {
        crate::Error::Invalid { field, .. } => field,
        _ => "",
    }
}

/// Words, case-insensitively; phrases in order; exclusions; `or`; each hit with its place and a
/// snippet that marks the matched words.
pub async fn finds_by_word_phrase_and_exclusion(fixture: SearchFixture) {
    let w = World::new(fixture).await;
    let lunch = w.send(&w.alice, &w.direct, "We had lunch at noon").await;
    let pizza = w.send(&w.bob, &w.direct, "Pizza tonight?").await;
    w.send(&w.bob, &w.direct, "nothing to see").await;
    let found = w.search(&w.bob, SearchRequest::new("LUNCH")).await;
    assert_eq!(found.hits.len(), 1);
    let hit = &found.hits[0];
    assert_eq!((hit.id, hit.conversation, hit.seq), (lunch.id, w.direct.id, lunch.seq));
    assert_eq!((hit.sender, hit.sent_at), (w.alice.user(), lunch.sent_at));
    assert_eq!(text(&hit.snippet), "We had [lunch] at noon");
    assert_eq!(found.next_cursor, None);
    assert_eq!(w.ids(&w.alice, "lunch noon").await, [lunch.id], "all words");
    assert_eq!(w.ids(&w.alice, "lunch midnight").await, [], "all words, not any");
    assert_eq!(w.ids(&w.alice, "\"lunch at\"").await, [lunch.id], "a phrase");
    assert_eq!(w.ids(&w.alice, "\"at lunch\"").await, [], "a phrase is in order");
    assert_eq!(w.ids(&w.alice, "lunch -noon").await, [], "an exclusion");
    assert_eq!(w.ids(&w.alice, "lunch -pizza").await, [lunch.id]);
    let either: HashSet<_> = w.ids(&w.alice, "lunch or pizza").await.into_iter().collect();
    assert_eq!(either, HashSet::from([lunch.id, pizza.id]), "or");
    assert_eq!(w.ids(&w.alice, "lunc").await, [], "words, not prefixes");
}

/// Only the caller's conversations are searched: an outsider finds nothing, a conversation
/// filter outside them is `conversation_not_found`, and a member who leaves stops finding it.
pub async fn finds_nothing_outside_membership(fixture: SearchFixture) {
    let w = World::new(fixture).await;
    let private = w.send(&w.alice, &w.direct, "secret plans").await;
    let shared = w.send(&w.alice, &w.group, "secret party").await;
    assert_eq!(w.ids(&w.carol, "secret").await, [shared.id]);
    let mut request = SearchRequest::new("secret");
    request.conversation = Some(w.direct.id);
    let (code, _) = w.error(&w.carol, request.clone()).await;
    assert_eq!(code, "conversation_not_found");
    request.conversation = Some(ConversationId::new());
    assert_eq!(w.error(&w.carol, request).await.0, "conversation_not_found");
    assert_eq!(w.ids(&w.bob, "secret").await.len(), 2);
    w.chat.remove_member(&w.alice, w.group.id, w.carol.user()).await.unwrap();
    assert_eq!(w.ids(&w.carol, "secret").await, [], "a removed member");
    w.chat.leave(&w.bob, w.group.id).await.unwrap();
    assert_eq!(w.ids(&w.bob, "secret").await, [private.id], "a member who left");
}

/// The conversation, sender and date filters, alone and together.
pub async fn filters_by_conversation_sender_and_date(fixture: SearchFixture) {
    let w = World::new(fixture).await;
    let first = w.send_apart(&w.alice, &w.direct, "report one").await;
    let second = w.send_apart(&w.bob, &w.group, "report two").await;
    let third = w.send_apart(&w.alice, &w.group, "report three").await;
    let fourth = w.send_apart(&w.carol, &w.group, "report four").await;
    let ids = |r: SearchResults| r.hits.iter().map(|h| h.id).collect::<Vec<_>>();

    let mut request = SearchRequest::new("report");
    request.conversation = Some(w.group.id);
    assert_eq!(ids(w.search(&w.alice, request.clone()).await), [fourth.id, third.id, second.id]);
    request.sender = Some(w.alice.user());
    assert_eq!(ids(w.search(&w.alice, request.clone()).await), [third.id]);
    request.conversation = None;
    assert_eq!(ids(w.search(&w.alice, request.clone()).await), [third.id, first.id]);
    request.sender = Some(UserId::new());
    assert_eq!(ids(w.search(&w.alice, request).await), []);

    let mut request = SearchRequest::new("report");
    request.from = Some(second.sent_at);
    request.to = Some(fourth.sent_at);
    assert_eq!(ids(w.search(&w.alice, request.clone()).await), [third.id, second.id], "from inclusive, to exclusive");
    request.to = None;
    assert_eq!(ids(w.search(&w.alice, request.clone()).await), [fourth.id, third.id, second.id]);
    request.from = None;
    request.to = Some(second.sent_at);
    assert_eq!(ids(w.search(&w.alice, request.clone()).await), [first.id]);
    request.from = Some(fourth.sent_at);
    assert_eq!(ids(w.search(&w.alice, request).await), [], "an empty range");
}

/// Newest first by default; by relevance the message with more of the words first.
pub async fn orders_newest_first_and_by_relevance(fixture: SearchFixture) {
    let w = World::new(fixture).await;
    let rich = w.send_apart(&w.alice, &w.group, "coffee coffee coffee").await;
    let poor =
        w.send_apart(&w.bob, &w.group, "a long message that mentions coffee once among very many other words").await;
    let newest = w.send_apart(&w.carol, &w.group, "tea then coffee maybe, or tea").await;
    assert_eq!(w.ids(&w.alice, "coffee").await, [newest.id, poor.id, rich.id]);
    let mut request = SearchRequest::new("coffee");
    request.order = SearchOrder::Relevance;
    let found = w.search(&w.alice, request).await;
    assert_eq!(found.hits.first().map(|h| h.id), Some(rich.id), "the best match first");
    assert_eq!(found.hits.len(), 3);
}

/// Pages by cursor, newest first and by relevance: every match once, none skipped, also when
/// messages arrive between pages; a cursor of the other order is `malformed`.
pub async fn pages_with_a_cursor_without_duplicates_or_gaps(fixture: SearchFixture) {
    let w = World::new(fixture).await;
    let mut sent = Vec::new();
    for i in 0..23 {
        let conversation = if i % 2 == 0 { &w.direct } else { &w.group };
        let body = format!("page marker {i} {}", "filler ".repeat(i % 5));
        sent.push(w.send(&w.alice, conversation, &body).await);
    }
    // Newest first: by the time sent, then conversation and seq (messages sent in one
    // millisecond).
    sent.sort_by_key(|m| std::cmp::Reverse((m.sent_at, m.conversation, m.seq)));
    let sent: Vec<_> = sent.into_iter().map(|m| m.id).collect();
    for order in [SearchOrder::Newest, SearchOrder::Relevance] {
        let mut seen = Vec::new();
        let mut cursor: Option<SearchCursor> = None;
        let mut pages = 0;
        loop {
            let mut request = SearchRequest::new("marker");
            request.order = order;
            request.limit = 10;
            request.cursor = cursor;
            let page = w.search(&w.alice, request).await;
            assert!(page.hits.len() <= 10);
            seen.extend(page.hits.iter().map(|h| h.id));
            pages += 1;
            if order == SearchOrder::Newest && pages == 1 {
                // Arrives between pages: newer than every cursor, so not in the pages that follow.
                w.send(&w.bob, &w.direct, "late marker").await;
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
            assert!(pages < 10, "paging ends");
        }
        let unique: HashSet<_> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "{order:?}: no duplicates");
        assert!(sent.iter().all(|id| unique.contains(id)), "{order:?}: no gaps");
        if order == SearchOrder::Newest {
            assert_eq!(seen.len(), 23);
            assert_eq!(seen, sent, "newest first, the same order on every page");
        }
    }
    let mut request = SearchRequest::new("marker");
    request.limit = 5;
    let cursor = w.search(&w.alice, request.clone()).await.next_cursor.expect("more than 5");
    request.order = SearchOrder::Relevance;
    request.cursor = Some(cursor);
    let (code, error) = w.error(&w.alice, request).await;
    assert_eq!((code, field(&error)), ("malformed", "cursor"));
}

/// An edited message is found by its new words and no longer by its old ones.
pub async fn edits_update_the_index(fixture: SearchFixture) {
    let w = World::new(fixture).await;
    let message = w.send(&w.alice, &w.group, "meet at the station").await;
    assert_eq!(w.ids(&w.bob, "station").await, [message.id]);
    w.chat.edit(&w.alice, message.id, "meet at the harbour").await.unwrap();
    assert_eq!(w.ids(&w.bob, "station").await, [], "the old word");
    assert_eq!(w.ids(&w.bob, "harbour").await, [message.id], "the new word");
    let found = w.search(&w.bob, SearchRequest::new("harbour")).await;
    assert_eq!(text(&found.hits[0].snippet), "meet at the [harbour]");
}

/// A deleted message is never found, by its sender's delete or an administrator's.
pub async fn deleted_messages_are_never_found(fixture: SearchFixture) {
    let w = World::new(fixture).await;
    let kept = w.send(&w.alice, &w.group, "quarterly numbers").await;
    let gone = w.send(&w.alice, &w.group, "quarterly secrets").await;
    let also_gone = w.send(&w.bob, &w.direct, "quarterly draft").await;
    assert_eq!(w.ids(&w.bob, "quarterly").await.len(), 3);
    w.chat.delete(&w.alice, gone.id).await.unwrap();
    w.chat.delete(&w.bob, also_gone.id).await.unwrap();
    assert_eq!(w.ids(&w.bob, "quarterly").await, [kept.id]);
    assert_eq!(w.ids(&w.bob, "secrets").await, []);
    assert_eq!(w.ids(&w.alice, "draft").await, []);
}

/// The query's length and the page size, at their limits and one past them.
pub async fn limits_hold_at_the_limit_and_past_it(fixture: SearchFixture) {
    let w = World::new(fixture).await;
    for i in 0..(SEARCH_PAGE_MAX + 1) {
        w.send(&w.alice, &w.group, &format!("bulk {i}")).await;
    }
    // Every word must match: `zz` is in no message.
    let at_limit = format!("bulk{}", " zz".repeat((QUERY_MAX_CHARS - 4) / 3));
    assert_eq!(at_limit.chars().count(), QUERY_MAX_CHARS);
    assert!(w.search(&w.alice, SearchRequest::new(at_limit.clone())).await.hits.is_empty());
    let (code, error) = w.error(&w.alice, SearchRequest::new(format!("{at_limit}x"))).await;
    assert_eq!((code, field(&error)), ("too_long", "q"));

    let mut request = SearchRequest::new("bulk");
    request.limit = SEARCH_PAGE_MAX;
    let page = w.search(&w.alice, request.clone()).await;
    assert_eq!(page.hits.len(), SEARCH_PAGE_MAX);
    assert!(page.next_cursor.is_some());
    for limit in [0, SEARCH_PAGE_MAX + 1] {
        request.limit = limit;
        let (code, error) = w.error(&w.alice, request.clone()).await;
        assert_eq!((code, field(&error)), ("out_of_range", "limit"), "limit {limit}");
    }
}

/// Accents, other scripts and emoji around words.
pub async fn unicode_text_is_found(fixture: SearchFixture) {
    let w = World::new(fixture).await;
    let german = w.send(&w.alice, &w.group, "Grüße aus München!").await;
    let mixed = w.send(&w.bob, &w.group, "😀 café au lait à 東京").await;
    assert_eq!(w.ids(&w.carol, "münchen").await, [german.id]);
    assert_eq!(w.ids(&w.carol, "grüße").await, [german.id]);
    assert_eq!(w.ids(&w.carol, "café").await, [mixed.id]);
    assert_eq!(w.ids(&w.carol, "東京").await, [mixed.id]);
    assert_eq!(w.ids(&w.carol, "cafe").await, [], "no accent folding");
    let found = w.search(&w.carol, SearchRequest::new("lait")).await;
    assert_eq!(text(&found.hits[0].snippet), "😀 café au [lait] à 東京");
}

/// A query with no word in it is `empty` (field `q`), whatever operators it has.
pub async fn punctuation_only_queries_are_refused(fixture: SearchFixture) {
    let w = World::new(fixture).await;
    w.send(&w.alice, &w.group, "!!! ??? -- \"\" or").await;
    for query in ["!!!", "???", "-", "\"\"", "or", "- or -", "-word", "&|!():*", "   "] {
        let (code, error) = w.error(&w.alice, SearchRequest::new(query)).await;
        assert_eq!((code, field(&error)), ("empty", "q"), "{query:?}");
    }
}
