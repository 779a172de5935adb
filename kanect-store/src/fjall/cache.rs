//! Write-through caches of the records the engine reads on nearly every command: accounts (a
//! command checks that its caller's account is still enabled) and conversations (a send checks
//! that its sender is a member).
//!
//! Why: read from fjall, each is a point lookup through the memtable and the tables' filters
//! and block index, and a JSON decode. Profiled under the load generator's `pairs` workload
//! (the server pinned to one core), the two lookups took ~14% of the server's CPU
//! (benches/README.md, "FjallStore").
//!
//! Why a cache here is never stale: this process is the directory's only writer (fjall locks
//! it), and every write of these records runs on the writer thread, which tells the cache
//! after its commit ([`RecordCache::written`]). A reader that misses reads fjall and fills the
//! cache only if no write of that kind was reported since it began ([`RecordCache::read`]): a
//! read that raced with a write might have seen the value before it, so it is not kept.
//!
//! The caches are bounded by weight ([`CAPACITY`] each, a record weighing about one unit per
//! 256 bytes: [`Weigh`]), so that large groups' member lists cannot make one grow without
//! bound; a full cache is emptied and fills again with what is read next, which keeps the hot
//! records without any bookkeeping per read.

use kanect_core::backend::StoreResult;
use kanect_core::{Conversation, User};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The weight a cache holds at most: 50,000 accounts or small conversations, ~13 MB of
/// records (a large group weighs more: see [`Weigh`]).
pub(super) const CAPACITY: usize = 50_000;

/// A record's weight in a cache: about one unit per 256 bytes it holds.
pub(super) trait Weigh {
    fn weight(&self) -> usize;
}

impl Weigh for User {
    fn weight(&self) -> usize {
        1
    }
}

impl Weigh for Conversation {
    /// Its member list: 16 bytes a member.
    fn weight(&self) -> usize {
        1 + self.members.len() / 16
    }
}

/// One kind of record, by id.
pub(super) struct RecordCache<K, V> {
    state: Mutex<State<K, V>>,
}

struct State<K, V> {
    records: HashMap<K, V>,
    /// The records' total weight.
    weight: usize,
    /// Writes reported so far: a read that began before one of them does not fill the cache.
    writes: u64,
}

impl<K: Hash + Eq + Copy, V: Clone + Weigh> RecordCache<K, V> {
    pub(super) fn new() -> Self {
        RecordCache { state: Mutex::new(State { records: HashMap::new(), weight: 0, writes: 0 }) }
    }

    fn state(&self) -> MutexGuard<'_, State<K, V>> {
        // Every update is an insert, a removal or a clear, none of which leaves it half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The record `key`: from the cache, or else from `read` (fjall), kept if no write was
    /// reported meanwhile. An absent record is not cached.
    pub(super) fn read(&self, key: K, read: impl FnOnce() -> StoreResult<Option<V>>) -> StoreResult<Option<V>> {
        let writes = {
            let state = self.state();
            if let Some(record) = state.records.get(&key) {
                return Ok(Some(record.clone()));
            }
            state.writes
        };
        let record = read()?;
        if let Some(record) = &record {
            let mut state = self.state();
            if state.writes == writes {
                state.keep(key, record.clone());
            }
        }
        Ok(record)
    }

    /// Reports a committed write of `key`: its new record, or None if it was deleted.
    pub(super) fn written(&self, key: K, record: Option<V>) {
        let mut state = self.state();
        state.writes += 1;
        match record {
            Some(record) => state.keep(key, record),
            None => state.forget(&key),
        }
    }
}

impl<K: Hash + Eq, V: Weigh> State<K, V> {
    fn keep(&mut self, key: K, record: V) {
        self.forget(&key);
        let weight = record.weight();
        if self.weight + weight > CAPACITY {
            self.records.clear();
            self.weight = 0;
        }
        // A record heavier than the whole cache is not kept.
        if weight <= CAPACITY {
            self.weight += weight;
            self.records.insert(key, record);
        }
    }

    fn forget(&mut self, key: &K) {
        if let Some(record) = self.records.remove(key) {
            self.weight -= record.weight();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Weigh for &str {
        fn weight(&self) -> usize {
            1
        }
    }

    impl Weigh for usize {
        fn weight(&self) -> usize {
            1
        }
    }

    /// A record of the weight it says.
    #[derive(Clone, Debug, PartialEq)]
    struct Heavy(usize);

    impl Weigh for Heavy {
        fn weight(&self) -> usize {
            self.0
        }
    }

    #[test]
    fn a_read_that_began_before_a_write_is_not_kept() {
        let cache = RecordCache::<u32, &str>::new();
        // The read sees the old value, and a write is reported before it returns.
        let read = cache.read(1, || {
            cache.written(2, Some("other"));
            Ok(Some("old"))
        });
        assert_eq!(read.unwrap(), Some("old"));
        assert_eq!(cache.read(1, || Ok(Some("from the store"))).unwrap(), Some("from the store"));
        // That read began after every write: kept.
        assert_eq!(cache.read(1, || panic!("not read again")).unwrap(), Some("from the store"));
    }

    #[test]
    fn writes_replace_and_remove_records() {
        let cache = RecordCache::<u32, &str>::new();
        cache.read(1, || Ok(Some("v1"))).unwrap();
        cache.written(1, Some("v2"));
        assert_eq!(cache.read(1, || panic!("cached")).unwrap(), Some("v2"));
        cache.written(1, None);
        assert_eq!(cache.read(1, || Ok(None)).unwrap(), None);
        assert_eq!(cache.read(1, || Ok(None)).unwrap(), None, "absent records are not cached");
    }

    #[test]
    fn a_full_cache_starts_again_and_stays_bounded() {
        let cache = RecordCache::<usize, usize>::new();
        for key in 0..CAPACITY {
            cache.written(key, Some(key));
        }
        assert_eq!(cache.read(0, || panic!("cached")).unwrap(), Some(0));
        cache.written(CAPACITY, Some(CAPACITY));
        assert_eq!(cache.state().records.len(), 1);
        assert_eq!(cache.read(0, || Ok(Some(7))).unwrap(), Some(7), "read again after the clear");
        assert_eq!(cache.read(CAPACITY, || panic!("kept")).unwrap(), Some(CAPACITY));
    }

    #[test]
    fn the_bound_is_on_weight_and_a_record_heavier_than_the_cache_is_not_kept() {
        let cache = RecordCache::<u32, Heavy>::new();
        cache.written(1, Some(Heavy(CAPACITY / 2)));
        cache.written(1, Some(Heavy(CAPACITY / 2))); // a replacement: its weight counted once
        cache.written(2, Some(Heavy(CAPACITY / 2)));
        assert_eq!(cache.state().records.len(), 2);
        assert_eq!(cache.state().weight, CAPACITY);
        cache.written(3, Some(Heavy(1))); // past the bound: emptied first
        let (records, weight) = {
            let state = cache.state();
            (state.records.len(), state.weight)
        };
        assert_eq!((records, weight), (1, 1));
        cache.written(4, Some(Heavy(CAPACITY + 1)));
        assert_eq!(cache.read(4, || Ok(Some(Heavy(7)))).unwrap(), Some(Heavy(7)), "not kept");
        cache.written(3, None);
        assert_eq!(cache.state().weight, 7, "what is left: the record read last");
    }

    #[test]
    fn a_conversation_weighs_its_member_list() {
        let mut conversation = kanect_core::testing::group(&[]);
        conversation.members = (0..10_000).map(|_| kanect_core::UserId::new()).collect();
        assert_eq!(conversation.weight(), 1 + 625);
    }
}
