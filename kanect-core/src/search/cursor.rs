//! Where a page of hits ends: [`SearchKey`], and [`SearchCursor`], its opaque text form.

use super::SearchOrder;
use crate::id::{ConversationId, Seq};
use std::fmt;
use std::str::FromStr;

/// A hit's place in the order: hits come in descending key order (`rank`, then
/// `conversation`, then `seq`; the last two make every key unique).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SearchKey {
    /// Newest-first: the time sent, in milliseconds. By relevance: the backend's score, a
    /// non-negative `f32` as its bits (which keeps the order of non-negative floats).
    pub rank: u64,
    /// The message's conversation.
    pub conversation: ConversationId,
    /// The message's seq.
    pub seq: Seq,
}

impl SearchKey {
    /// The rank of a relevance score (negative and NaN scores rank as zero).
    pub fn score_rank(score: f32) -> u64 {
        if score.is_nan() || score <= 0.0 {
            return 0;
        }
        u64::from(score.to_bits())
    }

    /// The score of a relevance rank ([`SearchKey::score_rank`] undone; zero for a rank that
    /// is not one).
    pub fn rank_score(rank: u64) -> f32 {
        u32::try_from(rank).map(f32::from_bits).ok().filter(|s| s.is_finite() && *s >= 0.0).unwrap_or(0.0)
    }
}

/// Where the next page of a search starts: the order it was made for and the last hit's key.
/// Its text form (`Display` / `FromStr`) is what clients get and give back, as an opaque
/// string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SearchCursor {
    /// The order of the pages it continues.
    pub order: SearchOrder,
    /// The last hit of the page before.
    pub key: SearchKey,
}

/// A cursor that is not one this engine wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a search cursor")]
pub struct BadCursor;

impl fmt::Display for SearchCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order = match self.order {
            SearchOrder::Newest => 'n',
            SearchOrder::Relevance => 'r',
        };
        let conversation = self.key.conversation.as_uuid().simple();
        write!(f, "{order}1.{:x}.{conversation}.{:x}", self.key.rank, self.key.seq.0)
    }
}

impl FromStr for SearchCursor {
    type Err = BadCursor;

    fn from_str(text: &str) -> Result<Self, BadCursor> {
        let mut parts = text.split('.');
        let order = match parts.next() {
            Some("n1") => SearchOrder::Newest,
            Some("r1") => SearchOrder::Relevance,
            _ => return Err(BadCursor),
        };
        let (Some(rank), Some(conversation), Some(seq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(BadCursor);
        };
        let hex = |s: &str| match s.len() {
            1..=16 if s.bytes().all(|b| b.is_ascii_hexdigit()) => u64::from_str_radix(s, 16).map_err(|_| BadCursor),
            _ => Err(BadCursor),
        };
        if conversation.len() != 32 {
            return Err(BadCursor);
        }
        let conversation = ConversationId::from_str(conversation).map_err(|_| BadCursor)?;
        Ok(SearchCursor { order, key: SearchKey { rank: hex(rank)?, conversation, seq: Seq(hex(seq)?) } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        for order in [SearchOrder::Newest, SearchOrder::Relevance] {
            let key =
                SearchKey { rank: SearchKey::score_rank(3.25), conversation: ConversationId::new(), seq: Seq(77) };
            let cursor = SearchCursor { order, key };
            assert_eq!(cursor.to_string().parse::<SearchCursor>(), Ok(cursor));
        }
        let good = SearchCursor {
            order: SearchOrder::Newest,
            key: SearchKey { rank: u64::MAX, conversation: ConversationId::new(), seq: Seq(u64::MAX) },
        }
        .to_string();
        assert!(good.parse::<SearchCursor>().is_ok());
        for bad in [
            "",
            "n1",
            "x1.1.2.3",
            "n1.1.2",
            &format!("{good}.1"),
            "n1.zz.00000000000000000000000000000000.1",
            "n1.1.0000.1",
            "n1..00000000000000000000000000000000.1",
            "n1.11111111111111111.00000000000000000000000000000000.1",
            "n1.+1.00000000000000000000000000000000.1",
        ] {
            assert_eq!(bad.parse::<SearchCursor>(), Err(BadCursor), "{bad}");
        }
    }

    #[test]
    fn score_ranks_keep_the_order_of_scores() {
        let scores = [0.0f32, 1e-30, 0.5, 1.0, 2.5, 1e30];
        for pair in scores.windows(2) {
            assert!(SearchKey::score_rank(pair[0]) < SearchKey::score_rank(pair[1]));
            assert_eq!(SearchKey::rank_score(SearchKey::score_rank(pair[1])), pair[1]);
        }
        assert_eq!(SearchKey::score_rank(f32::NAN), 0);
        assert_eq!(SearchKey::score_rank(-1.0), 0);
        assert_eq!(SearchKey::rank_score(u64::MAX), 0.0);
    }
}
