//! [`MemorySearchIndex`]: a search index in memory, a scan over every message: for tests and
//! for small engines on [`MemoryStore`](crate::MemoryStore), with which it starts empty and is
//! lost on exit alike.

use super::{tokens, Conjunction, IndexHit, IndexPage, IndexQuery, SearchIndex, SearchKey, SearchOrder};
use crate::error::StoreError;
use crate::id::{ConversationId, MessageId, Seq, UserId};
use crate::model::{Message, Timestamp};
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// A search index in memory. Changes apply at once ([`SearchIndex::update`] takes a short
/// lock), so [`SearchIndex::flush`] has nothing to wait for.
#[derive(Debug, Default)]
pub struct MemorySearchIndex {
    messages: Mutex<HashMap<MessageId, Entry>>,
}

/// What is kept of a message.
#[derive(Debug)]
struct Entry {
    conversation: ConversationId,
    seq: Seq,
    sender: UserId,
    sent_at: Timestamp,
    version: Option<Timestamp>,
    tokens: Vec<String>,
}

impl MemorySearchIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }
}

fn contains(tokens: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && tokens.windows(phrase.len()).any(|window| window == phrase)
}

fn matches(tokens: &[String], conjunction: &Conjunction) -> bool {
    conjunction.all.iter().all(|p| contains(tokens, p)) && !conjunction.none.iter().any(|p| contains(tokens, p))
}

/// Occurrences of the query's words over the square root of the message's length.
fn score(tokens: &[String], words: &HashSet<&str>) -> f32 {
    let found = tokens.iter().filter(|t| words.contains(t.as_str())).count();
    found as f32 / (tokens.len() as f32).sqrt().max(1.0)
}

#[async_trait]
impl SearchIndex for MemorySearchIndex {
    fn update(&self, message: &Message) {
        let entry = Entry {
            conversation: message.conversation,
            seq: message.seq,
            sender: message.sender,
            sent_at: message.sent_at,
            version: message.edited_at,
            tokens: if message.deleted { Vec::new() } else { tokens(&message.body) },
        };
        self.messages.lock().unwrap_or_else(|e| e.into_inner()).insert(message.id, entry);
    }

    async fn search(&self, query: &IndexQuery) -> Result<IndexPage, StoreError> {
        let conversations: HashSet<ConversationId> = query.conversations.iter().copied().collect();
        let words: HashSet<&str> = query.terms.highlighted().collect();
        let messages = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        let mut hits: Vec<IndexHit> = messages
            .iter()
            .filter(|(_, e)| conversations.contains(&e.conversation))
            .filter(|(_, e)| query.sender.is_none_or(|s| s == e.sender))
            .filter(|(_, e)| {
                query.from.is_none_or(|from| e.sent_at >= from) && query.to.is_none_or(|to| e.sent_at < to)
            })
            .filter(|(_, e)| query.terms.any.iter().any(|c| matches(&e.tokens, c)))
            .map(|(id, e)| {
                let rank = match query.order {
                    SearchOrder::Newest => e.sent_at.0,
                    SearchOrder::Relevance => SearchKey::score_rank(score(&e.tokens, &words)),
                };
                IndexHit {
                    id: *id,
                    key: SearchKey { rank, conversation: e.conversation, seq: e.seq },
                    version: e.version,
                }
            })
            .filter(|hit| query.after.is_none_or(|after| hit.key < after))
            .collect();
        drop(messages);
        hits.sort_by_key(|hit| std::cmp::Reverse(hit.key));
        let more = hits.len() > query.limit;
        hits.truncate(query.limit);
        Ok(IndexPage { hits, more })
    }

    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
