//! Unit tests of what the conformance suite cannot see: the format check at open, the refusal
//! of a sled directory, group sync, the id filter's part in appends, the session pages, and
//! what a recovery's reopen keeps.

use super::{format, FjallStore};
use crate::kv::email_index::upgrade_test::Accounts;
use crate::kv::keys;
use kanect_core::backend::{Appended, MessageStore, NewMessage, Store, UserStore};
use kanect_core::{ConversationId, Message, Seq};
use kanect_core::{StoreError, StoreHealth, Timestamp, UserId};

/// The store's data keyspace (a handle on the database: drop it before a reopen).
fn data(store: &FjallStore) -> fjall::Keyspace {
    store.with(|inner| Ok(inner.data.clone())).unwrap()
}

#[test]
fn a_fresh_store_gets_the_current_version_and_keeps_it_across_reopens() {
    let store = FjallStore::temporary().unwrap();
    let version = data(&store).get(keys::FORMAT).unwrap().unwrap();
    assert_eq!(version.as_ref(), format::FORMAT_VERSION.to_be_bytes());
    let store = store.reopen().unwrap();
    assert_eq!(data(&store).get(keys::FORMAT).unwrap().unwrap().as_ref(), format::FORMAT_VERSION.to_be_bytes());
}

#[test]
fn other_versions_and_foreign_data_are_format_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = FjallStore::open(dir.path()).unwrap();
    data(&store).insert(keys::FORMAT, (format::FORMAT_VERSION + 1).to_be_bytes()).unwrap();
    drop(store);
    let error = FjallStore::open(dir.path()).unwrap_err();
    let newer = format!("version {}", format::FORMAT_VERSION + 1);
    assert!(matches!(&error, StoreError::Format(m) if m.contains(&newer)), "{error:?}");

    let foreign = tempfile::tempdir().unwrap();
    let store = FjallStore::open(foreign.path()).unwrap();
    data(&store).remove(keys::FORMAT).unwrap();
    data(&store).insert(b"someone else's key".as_slice(), b"value".as_slice()).unwrap();
    assert!(matches!(format::check_version(&data(&store)), Err(StoreError::Format(_))));
}

#[tokio::test]
async fn a_version_1_store_is_upgraded_in_place_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = FjallStore::open(dir.path()).unwrap();
    let (conversation, sender) = (ConversationId::new(), UserId::new());
    let stored = store.append_message(new_message(conversation, sender, "c1")).await.unwrap().message().clone();
    data(&store).insert(keys::FORMAT, 1u32.to_be_bytes()).unwrap();
    store.flush().await.unwrap();
    let store = store.reopen().unwrap();
    assert_eq!(data(&store).get(keys::FORMAT).unwrap().unwrap().as_ref(), format::FORMAT_VERSION.to_be_bytes());
    assert_eq!(store.message(stored.id).await.unwrap(), Some(stored));
    // Version 0 was never written: not an upgrade, a store of unknown origin.
    data(&store).insert(keys::FORMAT, 0u32.to_be_bytes()).unwrap();
    store.flush().await.unwrap();
    assert!(matches!(store.reopen(), Err(StoreError::Format(m)) if m.contains("version 0")));
}

/// A store of format 4 (before the address index) is upgraded at open with the index built
/// from its user records: a reset by address finds its accounts, and their changes keep it.
#[tokio::test]
async fn a_version_4_store_gets_its_address_index_built_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = FjallStore::open(dir.path()).unwrap();
    let accounts = Accounts::new();
    accounts.insert(&store).await;
    // What format 4 wrote: the same records, no index, version 4.
    let keyspace = data(&store);
    let index: Vec<_> = keyspace.prefix([0x14]).map(|entry| entry.key().unwrap()).collect();
    assert_eq!(index.len(), 3, "an entry per user with an address");
    for key in index {
        keyspace.remove(key).unwrap();
    }
    keyspace.insert(keys::FORMAT, 4u32.to_be_bytes()).unwrap();
    drop(keyspace);
    store.flush().await.unwrap();
    assert!(store.users_by_email("alice@example.com").await.unwrap().is_empty(), "no index, no lookup");

    let store = store.reopen().unwrap();
    assert_eq!(data(&store).get(keys::FORMAT).unwrap().unwrap().as_ref(), format::FORMAT_VERSION.to_be_bytes());
    accounts.assert_found(&store).await;
}

#[cfg(feature = "sled")]
#[test]
fn a_sled_directory_is_refused_naming_both_engines_and_the_migration() {
    let dir = tempfile::tempdir().unwrap();
    drop(crate::SledStore::open(dir.path()).unwrap());
    let error = FjallStore::open(dir.path()).unwrap_err();
    assert!(
        matches!(&error, StoreError::Format(m) if m.contains("sled") && m.contains("fjall") && m.contains("export")),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_journal_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let store = FjallStore::open(dir.path()).unwrap();
    let sender = UserId::new();
    let appends = (0..512).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            let new = NewMessage {
                conversation: ConversationId::new(),
                sender,
                body: format!("message {i}"),
                client_id: format!("c{i}"),
                sent_at: Timestamp(i),
                attachments: Vec::new(),
                reply_to: None,
                mentions: Vec::new(),
                event: None,
            };
            store.append_message(new).await.unwrap();
        })
    });
    for append in appends.collect::<Vec<_>>() {
        append.await.unwrap();
    }
    let stats = store.group_sync_stats();
    assert!(stats.acknowledged >= 512 && stats.syncs < stats.acknowledged, "{stats:?}");
}

fn new_message(conversation: ConversationId, sender: UserId, client_id: &str) -> NewMessage {
    kanect_core::testing::new_message(conversation, sender, client_id, "hello")
}

/// Waits until `store`'s id scan has ended.
fn finish_id_scan(store: &FjallStore) {
    store
        .with(|inner| {
            inner._id_scan.finish();
            Ok(())
        })
        .unwrap();
}

/// Puts `store`'s id filter back as it was at open (incomplete: rules nothing out).
fn reset_id_filter(store: &FjallStore) {
    store
        .with(|inner| {
            inner.ids.reset();
            Ok(())
        })
        .unwrap();
}

/// Whether `store`'s id filter may hold `id` (true for every id until its scan is complete).
fn filter_may_contain(store: &FjallStore, new: &NewMessage) -> bool {
    store.with(|inner| Ok(inner.ids.may_contain(&new.id().to_bytes()))).unwrap()
}

/// Asserts that a resend of `original` returns it and stores nothing.
async fn assert_resend_returns(store: &FjallStore, original: &Message) {
    let resend = new_message(original.conversation, original.sender, &original.client_id);
    let appended = store.append_message(resend).await.unwrap();
    assert!(matches!(&appended, Appended::Duplicate(m) if m == original), "{appended:?}");
}

/// Three messages stored in one conversation of `store`.
async fn append_three(store: &FjallStore) -> Vec<Message> {
    let (conversation, sender) = (ConversationId::new(), UserId::new());
    let mut stored = Vec::new();
    for n in 0..3 {
        let new = new_message(conversation, sender, &format!("c{n}"));
        stored.push(store.append_message(new).await.unwrap().message().clone());
    }
    stored
}

#[tokio::test]
async fn after_a_reopen_the_scan_adds_every_stored_id_and_a_resend_returns_its_original() {
    let store = FjallStore::temporary().unwrap();
    let stored = append_three(&store).await;
    let store = store.reopen().unwrap();
    finish_id_scan(&store);
    let (conversation, sender) = (stored[0].conversation, stored[0].sender);
    let fresh = new_message(conversation, sender, "c3");
    assert!(!filter_may_contain(&store, &fresh), "the scan is complete: a new id is ruled out");
    for original in &stored {
        assert!(filter_may_contain(&store, &new_message(conversation, sender, &original.client_id)));
        assert_resend_returns(&store, original).await;
    }
    let created = store.append_message(fresh).await.unwrap().message().clone();
    assert_eq!(created.seq, Seq(4));
    assert_resend_returns(&store, &created).await;
}

#[tokio::test]
async fn before_the_scan_is_complete_every_append_reads_so_a_resend_returns_its_original() {
    let store = FjallStore::temporary().unwrap();
    let stored = append_three(&store).await;
    let store = store.reopen().unwrap();
    // The filter as at open, before the scan has added anything; and no scan left to fill it.
    finish_id_scan(&store);
    reset_id_filter(&store);
    let (conversation, sender) = (stored[0].conversation, stored[0].sender);
    let fresh = new_message(conversation, sender, "c3");
    assert!(filter_may_contain(&store, &fresh), "an incomplete filter rules nothing out");
    for original in &stored {
        assert_resend_returns(&store, original).await;
    }
    let created = store.append_message(fresh).await.unwrap().message().clone();
    assert_eq!(created.seq, Seq(4));
    assert_resend_returns(&store, &created).await;
    assert_eq!(store.last_seq(conversation).await.unwrap(), Seq(4), "no resend was stored");
}

/// Plants an id index entry for `new` that points at no message, behind the filter's back:
/// an append of `new` that reads the index fails on it.
fn plant_dangling_index_entry(store: &FjallStore, new: &NewMessage) {
    let nowhere = keys::location(new.conversation, Seq(99));
    data(store).insert(keys::message_index(new.id()), nowhere).unwrap();
}

#[tokio::test]
async fn once_the_scan_is_complete_a_new_message_does_not_read_the_id_index() {
    let store = FjallStore::temporary().unwrap();
    finish_id_scan(&store);
    let (conversation, sender) = (ConversationId::new(), UserId::new());
    let unread = new_message(conversation, sender, "c1");
    plant_dangling_index_entry(&store, &unread);
    let appended = store.append_message(unread).await.unwrap();
    assert!(matches!(&appended, Appended::Created(m) if m.seq == Seq(1)), "{appended:?}");

    // The same plant under an append that reads (an incomplete filter) is what fails.
    reset_id_filter(&store);
    let read = new_message(conversation, sender, "c2");
    plant_dangling_index_entry(&store, &read);
    let error = store.append_message(read).await.unwrap_err();
    assert!(matches!(&error, StoreError::Corrupt(m) if m.contains("missing")), "{error:?}");
}

/// What a failed open may hold in memory and the directory not: a write committed whose sync
/// failed. A recovery's reopen must keep none of it (see `recovery`).
#[tokio::test]
async fn a_reopen_after_a_failure_keeps_nothing_the_failed_open_held_in_memory() {
    let store = FjallStore::temporary().unwrap();
    let alice = kanect_core::testing::user("alice");
    store.insert_user(&alice, "hash").await.unwrap();
    let conversation = ConversationId::new();
    let new = |n: u64| NewMessage {
        conversation,
        sender: alice.id,
        body: format!("message {n}"),
        client_id: format!("c{n}"),
        sent_at: Timestamp(n),
        attachments: Vec::new(),
        reply_to: None,
        mentions: Vec::new(),
        event: None,
    };
    store.append_message(new(1)).await.unwrap();
    // As if a rename and five appends were committed and their sync then failed: in the
    // caches and the stripe's last seq, and not in the directory.
    store
        .with(|inner| {
            let renamed = kanect_core::User { display_name: Some("lost".into()), ..alice.clone() };
            inner.users.written(alice.id, Some(renamed));
            inner.stripe(conversation).insert(conversation, Seq(6));
            Ok(())
        })
        .unwrap();
    assert_eq!(store.user(alice.id).await.unwrap().unwrap().display_name.as_deref(), Some("lost"));

    // The recovery thread's reopen, called directly: raising the alarm would start a second.
    super::recovery::reopen(&store.shared).unwrap();
    assert_eq!(store.health().await, StoreHealth::Ok);
    assert_eq!(store.user(alice.id).await.unwrap().unwrap(), alice, "the cache was read afresh");
    let appended = store.append_message(new(2)).await.unwrap();
    assert_eq!(appended.message().seq, Seq(2), "the last seq was read afresh");
}

#[test]
fn fjall_gets_three_workers_even_where_one_cpu_is_available() {
    // On a thread of its own, pinned to one CPU: `available_parallelism` reads its affinity.
    std::thread::spawn(|| {
        let mut one = rustix::thread::CpuSet::new();
        one.set(rustix::thread::sched_getcpu());
        rustix::thread::sched_setaffinity(None, &one).unwrap();
        assert_eq!(std::thread::available_parallelism().unwrap().get(), 1, "the pin took");
        assert_eq!(super::worker_threads(), super::MIN_WORKER_THREADS);
    })
    .join()
    .unwrap();
}
