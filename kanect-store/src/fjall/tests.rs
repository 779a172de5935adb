//! Unit tests of what the conformance suite cannot see: the format check at open, the refusal
//! of a sled directory, the session pages, and what a recovery's reopen keeps.

use super::{format, FjallStore};
use crate::kv::keys;
use kanect_core::backend::{MessageStore, NewMessage, Store, UserStore};
use kanect_core::ConversationId;
use kanect_core::{Seq, StoreError, StoreHealth, Timestamp, UserId};

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
    assert!(matches!(&error, StoreError::Format(m) if m.contains("version 2")), "{error:?}");

    let foreign = tempfile::tempdir().unwrap();
    let store = FjallStore::open(foreign.path()).unwrap();
    data(&store).remove(keys::FORMAT).unwrap();
    data(&store).insert(b"someone else's key".as_slice(), b"value".as_slice()).unwrap();
    assert!(matches!(format::check_version(&data(&store)), Err(StoreError::Format(_))));
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
