//! [`PgSearchIndex`]: message search with PostgreSQL's own full-text search, for a cluster
//! (no search service beside the database).
//!
//! The words are a generated `tsvector` column of `kanect_messages` (migration 5, the `simple`
//! configuration: lower-cased, no stemming) with a GIN index, so they are written by the same
//! statement as the body: this index is never behind the store, and
//! [`SearchIndex::update`] and [`SearchIndex::flush`] have nothing to do. A query is the user's
//! text through `websearch_to_tsquery('simple', ...)` (the engine has checked that it has a
//! word: see the core's query language, a subset of this one), within the engine's filters;
//! newest first by `(sent_at, conversation, seq)`, or by `ts_rank` (as the key's rank: the
//! `real` as its bits), both paged by row comparison with the cursor's key.

use super::sql::{limit, query};
use super::{rows, PgStore};
use deadpool_postgres::Pool;
use kanect_core::search::{IndexHit, IndexPage, IndexQuery, SearchIndex, SearchKey, SearchOrder};
use kanect_core::{ConversationId, Message, MessageId, Seq, StoreError, Timestamp};
use uuid::Uuid;

/// The filters both orders share: `$1` query text, `$2` conversations, `$3` sender, `$4`/`$5`
/// the date range.
macro_rules! matching {
    () => {
        " FROM kanect_messages m, websearch_to_tsquery('simple', $1) q \
          WHERE m.search @@ q AND NOT m.deleted AND m.conversation = ANY($2) \
          AND ($3::uuid IS NULL OR m.sender = $3) \
          AND ($4::bigint IS NULL OR m.sent_at >= $4) AND ($5::bigint IS NULL OR m.sent_at < $5)"
    };
}

/// Newest first; `$6`..`$8` the cursor's key, `$9` the limit.
const NEWEST: &str = concat!(
    "SELECT m.id, m.conversation, m.seq, m.edited_at, m.sent_at",
    matching!(),
    " AND ($6::bigint IS NULL OR (m.sent_at, m.conversation, m.seq) < ($6, $7::uuid, $8::bigint)) \
      ORDER BY m.sent_at DESC, m.conversation DESC, m.seq DESC LIMIT $9"
);

/// Best match first; as [`NEWEST`], the cursor's rank a `real`.
const RELEVANCE: &str = concat!(
    "SELECT id, conversation, seq, edited_at, rank FROM (SELECT m.id, m.conversation, m.seq, m.edited_at, \
     ts_rank(m.search, q) AS rank",
    matching!(),
    ") hits WHERE ($6::real IS NULL OR (rank, conversation, seq) < ($6, $7::uuid, $8::bigint)) \
      ORDER BY rank DESC, conversation DESC, seq DESC LIMIT $9"
);

/// Message search in a [`PgStore`]'s database (see the module docs).
#[derive(Clone)]
pub struct PgSearchIndex {
    pool: Pool,
}

impl std::fmt::Debug for PgSearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSearchIndex").finish_non_exhaustive()
    }
}

impl PgStore {
    /// A [`SearchIndex`] over this store's messages, sharing its connection pool. Its column
    /// and index come with the store's migrations.
    pub fn search_index(&self) -> PgSearchIndex {
        PgSearchIndex { pool: self.pool().clone() }
    }
}

#[async_trait::async_trait]
impl SearchIndex for PgSearchIndex {
    fn update(&self, _message: &Message) {
        // The database rewrote the words with the body.
    }

    async fn search(&self, request: &IndexQuery) -> Result<IndexPage, StoreError> {
        let client = self.pool.get().await.map_err(StoreError::backend)?;
        let conversations: Vec<Uuid> = request.conversations.iter().map(|c| *c.as_uuid()).collect();
        let sender = request.sender.map(|s| *s.as_uuid());
        let from = request.from.map(|t| rows::clamped(t.0));
        let to = request.to.map(|t| rows::clamped(t.0));
        let after_conversation = request.after.map(|key| *key.conversation.as_uuid());
        let after_seq = request.after.map(|key| rows::clamped(key.seq.0));
        let fetch = limit(request.limit + 1);
        let text = request_text(request);
        let found = match request.order {
            SearchOrder::Newest => {
                let after_rank = request.after.map(|key| rows::clamped(key.rank));
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 9] =
                    [&text, &conversations, &sender, &from, &to, &after_rank, &after_conversation, &after_seq, &fetch];
                query(&client, NEWEST, &params).await?
            }
            SearchOrder::Relevance => {
                let after_rank = request.after.map(|key| SearchKey::rank_score(key.rank));
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 9] =
                    [&text, &conversations, &sender, &from, &to, &after_rank, &after_conversation, &after_seq, &fetch];
                query(&client, RELEVANCE, &params).await?
            }
        };
        let mut hits = Vec::with_capacity(found.len());
        for row in &found {
            let get = |error: tokio_postgres::Error| StoreError::Corrupt(format!("search row: {error}"));
            let id: Uuid = row.try_get(0).map_err(get)?;
            let conversation: Uuid = row.try_get(1).map_err(get)?;
            let seq: i64 = row.try_get(2).map_err(get)?;
            let edited_at: Option<i64> = row.try_get(3).map_err(get)?;
            let rank = match request.order {
                SearchOrder::Newest => row.try_get::<_, i64>(4).map_err(get)?.max(0) as u64,
                SearchOrder::Relevance => SearchKey::score_rank(row.try_get::<_, f32>(4).map_err(get)?),
            };
            hits.push(IndexHit {
                id: MessageId::from(id),
                key: SearchKey { rank, conversation: ConversationId::from(conversation), seq: Seq(seq.max(0) as u64) },
                version: edited_at.map(|t| Timestamp(t.max(0) as u64)),
            });
        }
        let more = hits.len() > request.limit;
        hits.truncate(request.limit);
        Ok(IndexPage { hits, more })
    }

    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The text for `websearch_to_tsquery`: the conjunctions the engine parsed, written back in its
/// syntax (phrases quoted, exclusions with `-`, `or` between), so that PostgreSQL reads exactly
/// the words the engine checked and highlights.
fn request_text(request: &IndexQuery) -> String {
    let phrase = |words: &Vec<String>| format!("\"{}\"", words.join(" "));
    request
        .terms
        .any
        .iter()
        .map(|conjunction| {
            let all = conjunction.all.iter().map(phrase);
            let none = conjunction.none.iter().map(|words| format!("-{}", phrase(words)));
            all.chain(none).collect::<Vec<_>>().join(" ")
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kanect_core::search::Terms;

    #[test]
    fn the_parsed_query_is_written_back_in_websearch_syntax() {
        let query = IndexQuery {
            terms: Terms::parse(r#"Lunch "at noon" -pizza or Dinner e-mail"#).unwrap(),
            conversations: vec![],
            sender: None,
            from: None,
            to: None,
            order: SearchOrder::Newest,
            after: None,
            limit: 1,
        };
        assert_eq!(request_text(&query), r#""lunch" "at noon" -"pizza" or "dinner" "e mail""#);
    }
}
