//! [`SeqSet`]: the seqs of one conversation a device has, kept as disjoint ranges.
//!
//! A subscription hands each message out once; to know what it has handed (or what the device
//! said it has, through a resume cursor) it keeps a set of seqs. Almost always that set is one
//! range — `1..=cursor` from a resume, extended at the top by live messages and store loads —
//! so it is stored as ranges: a few bytes per conversation however many messages went by. A
//! second range appears only while something below is still missing (a live message handed
//! before the device resumed, a late message from before the device subscribed), and merges
//! back once the hole is filled.

use crate::id::Seq;
use std::collections::BTreeMap;

/// A set of seqs as disjoint, non-adjacent inclusive ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SeqSet {
    /// Start → end (inclusive) of each range.
    ranges: BTreeMap<u64, u64>,
}

impl SeqSet {
    /// Whether `seq` is in the set.
    pub(crate) fn contains(&self, seq: Seq) -> bool {
        self.covering(seq).is_some()
    }

    /// The end of the range holding `seq`, if any.
    pub(crate) fn covering(&self, seq: Seq) -> Option<Seq> {
        let (_, end) = self.ranges.range(..=seq.0).next_back()?;
        (*end >= seq.0).then_some(Seq(*end))
    }

    /// The start of the first range above `seq`, if any.
    pub(crate) fn next_start_after(&self, seq: Seq) -> Option<Seq> {
        self.ranges.range(seq.0.saturating_add(1)..).next().map(|(start, _)| Seq(*start))
    }

    /// The greatest seq in the set.
    pub(crate) fn max(&self) -> Option<Seq> {
        self.ranges.values().next_back().map(|end| Seq(*end))
    }

    /// Adds `seq`.
    pub(crate) fn insert(&mut self, seq: Seq) {
        self.insert_range(seq, seq);
    }

    /// Adds every seq from `start` to `end`, inclusive (nothing if `start > end`).
    pub(crate) fn insert_range(&mut self, start: Seq, end: Seq) {
        let (mut start, mut end) = (start.0, end.0);
        if start > end {
            return;
        }
        // Swallow every range that overlaps or touches [start, end].
        let touching: Vec<(u64, u64)> = self
            .ranges
            .range(..=end.saturating_add(1))
            .rev()
            .take_while(|(_, e)| e.saturating_add(1) >= start)
            .map(|(s, e)| (*s, *e))
            .collect();
        for (s, e) in touching {
            self.ranges.remove(&s);
            start = start.min(s);
            end = end.max(e);
        }
        self.ranges.insert(start, end);
    }

    /// How many ranges the set holds.
    #[cfg(test)]
    pub(crate) fn range_count(&self) -> usize {
        self.ranges.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn ranges_merge_when_they_touch() {
        let mut set = SeqSet::default();
        set.insert_range(Seq(1), Seq(10));
        set.insert(Seq(12));
        assert_eq!(set.range_count(), 2);
        assert!(!set.contains(Seq(11)));
        assert_eq!(set.covering(Seq(5)), Some(Seq(10)));
        assert_eq!(set.next_start_after(Seq(10)), Some(Seq(12)));
        set.insert(Seq(11));
        assert_eq!(set.range_count(), 1);
        assert_eq!(set.max(), Some(Seq(12)));
        set.insert_range(Seq(5), Seq(3)); // empty
        assert_eq!(set.range_count(), 1);
    }

    proptest! {
        #[test]
        fn behaves_as_a_set_of_seqs(ranges in prop::collection::vec((0u64..60, 0u64..8), 0..20)) {
            let mut set = SeqSet::default();
            let mut model = BTreeSet::new();
            for (start, len) in ranges {
                set.insert_range(Seq(start), Seq(start + len));
                model.extend(start..=start + len);
            }
            for seq in 0..80 {
                prop_assert_eq!(set.contains(Seq(seq)), model.contains(&seq), "seq {}", seq);
                let next = model.range(seq + 1..).find(|s| !model.contains(&(*s - 1)));
                prop_assert_eq!(set.next_start_after(Seq(seq)).map(|s| s.0), next.copied());
            }
            prop_assert_eq!(set.max().map(|s| s.0), model.last().copied());
            // Ranges never touch: their count is the number of runs in the model.
            let runs = model.iter().filter(|s| **s == 0 || !model.contains(&(**s - 1))).count();
            prop_assert_eq!(set.range_count(), runs);
        }
    }
}
