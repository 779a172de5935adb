//! A search on tantivy: the core's parsed query as tantivy queries, the engine's filters as
//! queries that do not score, and the hits ranked by their [`SearchKey`] below the cursor.

use super::Fields;
use kanect_core::search::{Conjunction, IndexHit, IndexPage, IndexQuery, SearchKey, SearchOrder};
use kanect_core::{ConversationId, MessageId, Seq, StoreError, Timestamp};
use std::ops::Bound;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, PhraseQuery, Query, RangeQuery, TermQuery, TermSetQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, Score, Searcher, SegmentReader, Term};

/// A hit's place while ranking: None for one at or above the cursor (ranked last and dropped).
type Rank = Option<(u64, u128, u64)>;

/// Runs `query` (blocking: on tokio's blocking threads).
pub(super) fn search(searcher: &Searcher, fields: Fields, query: &IndexQuery) -> Result<IndexPage, StoreError> {
    let tantivy_query = build(fields, query);
    let order = query.order;
    let after: Rank = query.after.map(|key| (key.rank, key.conversation.as_uuid().as_u128(), key.seq.0));
    let collector = TopDocs::with_limit(query.limit + 1).tweak_score(move |segment: &SegmentReader| {
        let fast = segment.fast_fields();
        let column = |name: &str| fast.u64(name).ok().map(|c| c.first_or_default_col(0));
        let (sent_at, hi, lo, seq) =
            (column("sent_at"), column("conversation_hi"), column("conversation_lo"), column("seq"));
        move |doc: DocId, score: Score| -> Rank {
            let (Some(sent_at), Some(hi), Some(lo), Some(seq)) = (&sent_at, &hi, &lo, &seq) else { return None };
            let rank = match order {
                SearchOrder::Newest => sent_at.get_val(doc),
                SearchOrder::Relevance => SearchKey::score_rank(score),
            };
            let key = (rank, (u128::from(hi.get_val(doc)) << 64) | u128::from(lo.get_val(doc)), seq.get_val(doc));
            match after {
                Some(after) if key >= after => None,
                _ => Some(key),
            }
        }
    });
    let found = searcher.search(&*tantivy_query, &collector).map_err(StoreError::backend)?;
    let mut hits = Vec::with_capacity(found.len());
    for (rank, address) in found {
        let Some((rank, conversation, seq)) = rank else { continue };
        let fast = searcher.segment_reader(address.segment_ord).fast_fields();
        let value = |name: &str| -> Result<u64, StoreError> {
            let column = fast.u64(name).map_err(StoreError::backend)?;
            Ok(column.first(address.doc_id).unwrap_or(0))
        };
        let id = (u128::from(value("id_hi")?) << 64) | u128::from(value("id_lo")?);
        let version = value("version")?;
        hits.push(IndexHit {
            id: MessageId::from_bytes(id.to_be_bytes()),
            key: SearchKey {
                rank,
                conversation: ConversationId::from_bytes(conversation.to_be_bytes()),
                seq: Seq(seq),
            },
            version: (version != 0).then_some(Timestamp(version)),
        });
    }
    let more = hits.len() > query.limit;
    hits.truncate(query.limit);
    Ok(IndexPage { hits, more })
}

/// The whole query: the words (scored), and the filters (not).
fn build(fields: Fields, query: &IndexQuery) -> Box<dyn Query> {
    let words: Vec<(Occur, Box<dyn Query>)> =
        query.terms.any.iter().map(|conjunction| (Occur::Should, conjunction_query(fields, conjunction))).collect();
    let mut all: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(BooleanQuery::new(words)))];
    let conversations = query.conversations.iter().map(|c| Term::from_field_text(fields.conversation, &c.to_string()));
    all.push((Occur::Must, unscored(TermSetQuery::new(conversations))));
    if let Some(sender) = query.sender {
        let term = Term::from_field_text(fields.sender, &sender.to_string());
        all.push((Occur::Must, unscored(TermQuery::new(term, IndexRecordOption::Basic))));
    }
    if query.from.is_some() || query.to.is_some() {
        let from = query.from.map_or(Bound::Unbounded, |t| Bound::Included(Term::from_field_u64(fields.sent_at, t.0)));
        let to = query.to.map_or(Bound::Unbounded, |t| Bound::Excluded(Term::from_field_u64(fields.sent_at, t.0)));
        all.push((Occur::Must, unscored(RangeQuery::new(from, to))));
    }
    Box::new(BooleanQuery::new(all))
}

fn unscored(query: impl Query) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(Box::new(query), 0.0))
}

/// Every phrase of `conjunction` present, none of its excluded ones.
fn conjunction_query(fields: Fields, conjunction: &Conjunction) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> =
        conjunction.all.iter().map(|phrase| (Occur::Must, phrase_query(fields, phrase))).collect();
    clauses.extend(conjunction.none.iter().map(|phrase| (Occur::MustNot, phrase_query(fields, phrase))));
    Box::new(BooleanQuery::new(clauses))
}

/// A word (a phrase of one) or a phrase.
fn phrase_query(fields: Fields, phrase: &[String]) -> Box<dyn Query> {
    let terms: Vec<Term> = phrase.iter().map(|word| Term::from_field_text(fields.body, word)).collect();
    match <[Term; 1]>::try_from(terms) {
        Ok([term]) => Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
        Err(terms) => Box::new(PhraseQuery::new(terms)),
    }
}
