//! Opening, format and corruption checks that need raw sled access to the files.

use super::*;
use crate::kv::email_index::upgrade_test::Accounts;
use crate::kv::keys;
use journal::Journal;
use kanect_core::backend::{
    AdminStore, Appended, Attempt, AttemptKey, ConversationStore, LoginAttemptStore, MessageStore, NewMessage,
    UserStore,
};
use kanect_core::testing::user;
use kanect_core::{ConversationId, HistoryPage, MessageId, Seq, UserId};
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Waker};

fn new_message(conversation: ConversationId, sender: UserId, client_id: &str) -> NewMessage {
    kanect_core::testing::new_message(conversation, sender, client_id, "hello")
}

/// Writes `key = value` straight into the sled files of a closed store.
fn poke(path: &Path, key: &[u8], value: &[u8]) {
    let db = sled::open(path).unwrap();
    db.insert(key, value).unwrap();
    db.flush().unwrap();
}

#[test]
fn open_works_outside_a_runtime_and_reopens_after_drop() {
    let dir = tempfile::tempdir().unwrap();
    drop(SledStore::open(dir.path()).unwrap());
    drop(SledStore::open(dir.path()).unwrap());
}

#[cfg(feature = "fjall")]
#[test]
fn a_fjall_directory_is_refused_naming_both_engines_and_the_migration() {
    let dir = tempfile::tempdir().unwrap();
    drop(crate::FjallStore::open(dir.path()).unwrap());
    let error = SledStore::open(dir.path()).unwrap_err();
    assert!(
        matches!(&error, StoreError::Format(m) if m.contains("fjall") && m.contains("sled") && m.contains("export")),
        "{error:?}"
    );
    assert!(!dir.path().join("conf").exists(), "sled wrote nothing beside fjall's files");
}

#[test]
fn a_newer_or_garbled_format_version_is_a_format_error() {
    let dir = tempfile::tempdir().unwrap();
    drop(SledStore::open(dir.path()).unwrap());
    poke(dir.path(), keys::FORMAT, &(format::FORMAT_VERSION + 1).to_be_bytes());
    assert!(matches!(SledStore::open(dir.path()), Err(StoreError::Format(_))));
    poke(dir.path(), keys::FORMAT, b"garbage");
    assert!(matches!(SledStore::open(dir.path()), Err(StoreError::Format(_))));
    poke(dir.path(), keys::FORMAT, &format::FORMAT_VERSION.to_be_bytes());
    assert!(SledStore::open(dir.path()).is_ok());
}

#[test]
fn a_database_of_another_application_is_a_format_error() {
    let dir = tempfile::tempdir().unwrap();
    poke(dir.path(), b"not kanect", b"data");
    assert!(matches!(SledStore::open(dir.path()), Err(StoreError::Format(_))));
}

#[test]
fn locked_unusable_and_damaged_directories_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path().join("a")).unwrap();
    // A directory in use is told apart from other failures by its kind, not its text.
    let Err(StoreError::Backend(held)) = SledStore::open(dir.path().join("a")) else { panic!("opened twice") };
    let kind = held.downcast_ref::<std::io::Error>().map(std::io::Error::kind);
    assert_eq!(kind, Some(std::io::ErrorKind::ResourceBusy), "{held}");
    drop(store);

    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    assert!(SledStore::open(&file).is_err());

    let damaged = dir.path().join("damaged");
    std::fs::create_dir(&damaged).unwrap();
    std::fs::write(damaged.join("conf"), b"\xff\xfe not a sled config").unwrap();
    std::fs::write(damaged.join("db"), vec![0xa5; 4096]).unwrap();
    assert!(SledStore::open(&damaged).is_err());
}

/// A store of format 7 (before the address index) is upgraded at open with the index built
/// from its user records: a reset by address finds its accounts, and their changes keep it.
#[tokio::test]
async fn a_version_7_store_gets_its_address_index_built_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let accounts = Accounts::new();
    accounts.insert(&SledStore::open(dir.path()).unwrap()).await;
    // What format 7 wrote: the same records, no index, version 7.
    let db = sled::open(dir.path()).unwrap();
    let index: Vec<_> = db.scan_prefix([0x14]).keys().map(Result::unwrap).collect();
    assert_eq!(index.len(), 3, "an entry per user with an address");
    for key in index {
        db.remove(key).unwrap();
    }
    db.insert(keys::FORMAT, &7u32.to_be_bytes()).unwrap();
    db.flush().unwrap();
    drop(db);

    accounts.assert_found(&SledStore::open(dir.path()).unwrap()).await;
    let db = sled::open(dir.path()).unwrap();
    assert_eq!(db.get(keys::FORMAT).unwrap().unwrap().as_ref(), format::FORMAT_VERSION.to_be_bytes());
}

#[tokio::test]
async fn undecodable_records_read_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let alice = user("alice");
    let conversation = ConversationId::new();
    let message = {
        let store = SledStore::open(dir.path()).unwrap();
        store.insert_user(&alice, "hash").await.unwrap();
        store.append_message(new_message(conversation, alice.id, "c1")).await.unwrap().message().clone()
    };
    poke(dir.path(), &keys::user(alice.id), b"{\"id\": 12");
    poke(dir.path(), &keys::message(conversation, message.seq), b"\x00\x01garbage");
    // A message key that is not conversation ++ seq.
    poke(dir.path(), &[keys::messages(ConversationId::from_bytes([1; 16])), vec![7; 3]].concat(), b"");

    let store = SledStore::open(dir.path()).unwrap();
    assert!(matches!(store.user(alice.id).await, Err(StoreError::Corrupt(_))));
    assert!(matches!(store.user_by_username("alice").await, Err(StoreError::Corrupt(_))));
    assert!(matches!(store.message(message.id).await, Err(StoreError::Corrupt(_))));
    assert!(matches!(store.history(conversation, HistoryPage::Latest, 10).await, Err(StoreError::Corrupt(_))));
    assert!(matches!(store.last_seq(ConversationId::from_bytes([1; 16])).await, Err(StoreError::Corrupt(_))));
    assert!(matches!(store.stats().await, Err(StoreError::Corrupt(_))));
    // A resend of the damaged message is an error too, never a second copy.
    let resend = store.append_message(new_message(conversation, alice.id, "c1")).await;
    assert!(matches!(resend, Err(StoreError::Corrupt(_))));
    assert_eq!(store.last_seq(conversation).await.unwrap(), Seq(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_went_through_a_flush() {
    let store = SledStore::temporary().unwrap();
    let conversation = ConversationId::new();
    let sender = UserId::new();
    for i in 0..10 {
        store.append_message(new_message(conversation, sender, &format!("c{i}"))).await.unwrap();
        let stats = store.group_commit_stats();
        assert!(stats.writes > i, "write {i} returned before a flush acknowledged it: {stats:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_resends_of_one_client_id_store_one_message() {
    let store = Arc::new(SledStore::temporary().unwrap());
    let conversation = ConversationId::new();
    let sender = UserId::new();
    for round in 0..20 {
        let client_id = format!("c{round}");
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (store, client_id) = (store.clone(), client_id.clone());
                tokio::spawn(async move { store.append_message(new_message(conversation, sender, &client_id)).await })
            })
            .collect();
        let mut created = Vec::new();
        let mut seqs = Vec::new();
        for task in tasks {
            let appended = task.await.unwrap().unwrap();
            seqs.push(appended.message().seq);
            if let Appended::Created(message) = appended {
                created.push(message);
            }
        }
        assert_eq!(created.len(), 1, "round {round}: one new message, the rest duplicates");
        assert!(seqs.iter().all(|seq| *seq == Seq(round + 1)), "round {round}: {seqs:?}");
    }
    assert_eq!(store.last_seq(conversation).await.unwrap(), Seq(20));
}

#[tokio::test]
async fn a_send_whose_caller_stops_waiting_is_stored_and_its_pending_entry_goes() {
    let store = SledStore::temporary().unwrap();
    let (conversation, sender) = (ConversationId::new(), UserId::new());
    // Exactly one poll submits an append; then its caller goes away. The commit thread may
    // answer within that poll, so try until one is left waiting (bounded).
    let mut cancelled = None;
    for n in 0..100 {
        let new = new_message(conversation, sender, &format!("c{n}"));
        let mut append = std::pin::pin!(store.append_message(new.clone()));
        if append.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending() {
            cancelled = Some(new);
            break;
        }
    }
    let new = cancelled.expect("an append still waiting for its group after one poll");
    store.flush().await.unwrap();
    let stored = store.message(new.id()).await.unwrap().expect("the cancelled send is stored");
    // The stripe's next append drops every applied entry: only its own is left.
    let next = store.append_message(new_message(conversation, sender, "next")).await.unwrap();
    assert_eq!(pending(&store), 1);
    assert!(next.message().seq > stored.seq);
    // A resend still finds the cancelled send, in sled now.
    assert!(matches!(store.append_message(new).await.unwrap(), Appended::Duplicate(original) if original == stored));
}

/// Submitted messages the stripes still hold.
fn pending(store: &SledStore) -> usize {
    store.with(|open| Ok(open.pending_len())).unwrap()
}

#[tokio::test]
async fn message_count_hops_over_every_conversation_and_seqs_resume_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let sender = UserId::new();
    // The lowest and highest conversation ids bound the hop from one conversation to the next.
    let conversations =
        [ConversationId::from_bytes([0; 16]), ConversationId::new(), ConversationId::from_bytes([0xff; 16])];
    {
        let store = SledStore::open(dir.path()).unwrap();
        for (n, conversation) in conversations.iter().enumerate() {
            for i in 0..=n {
                store.append_message(new_message(*conversation, sender, &format!("c{i}"))).await.unwrap();
            }
        }
        assert_eq!(store.stats().await.unwrap().messages, 6);
    }
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.stats().await.unwrap().messages, 6);
    let last = conversations[2];
    assert_eq!(store.last_seq(last).await.unwrap(), Seq(3));
    let appended = store.append_message(new_message(last, sender, "after reopen")).await.unwrap();
    assert!(matches!(appended, Appended::Created(ref message) if message.seq == Seq(4)));
    assert_eq!(store.history(last, HistoryPage::Latest, 10).await.unwrap().len(), 4);
}

/// Writes a journal file holding `records` (each the writes of one group) into the closed
/// store at `path`, then `tail` (bytes of a torn record, say), as a crash would leave it.
///
/// The file is made in a scratch directory and moved into place: a store that is open makes its
/// next journal file ahead under a fixed temporary name, which a second journal writing into the
/// same directory would race for.
fn leave_journal(path: &Path, records: &[Vec<journal::Write>], tail: &[u8]) {
    let scratch = tempfile::tempdir().unwrap();
    let mut journal = Journal::create(scratch.path(), 7, journal::Options::NO_SYNC).unwrap();
    for writes in records {
        journal.append(writes).unwrap();
    }
    let file = journal::file_name(scratch.path(), journal.number());
    drop(journal);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(tail);
    let dir = journal::dir(path);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(journal::file_name(&dir, 7), bytes).unwrap();
}

#[tokio::test]
async fn journaled_appends_missing_from_sled_are_replayed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let conversation = ConversationId::new();
    let sender = UserId::new();
    let first = {
        let store = SledStore::open(dir.path()).unwrap();
        store.append_message(new_message(conversation, sender, "c1")).await.unwrap().message().clone()
    };
    // A crash after the journal sync of seqs 2 and 3, before sled had them, and in the
    // middle of writing the next group.
    let second = new_message(conversation, sender, "c2").with_seq(Seq(2));
    let third = new_message(conversation, sender, "c3").with_seq(Seq(3));
    let records = [messages::append_writes(&second).unwrap(), messages::append_writes(&third).unwrap()];
    leave_journal(dir.path(), &records, &[40, 0, 0, 0, 1, 2, 3]);

    let store = SledStore::open(dir.path()).unwrap();
    let history = store.history(conversation, HistoryPage::Latest, 10).await.unwrap();
    assert_eq!(history, vec![first, second.clone(), third]);
    assert_eq!(store.message(second.id).await.unwrap(), Some(second.clone()));
    // The replayed index finds resends, and seqs continue after the replayed ones.
    assert!(matches!(store.append_message(new_message(conversation, sender, "c2")).await.unwrap(),
        Appended::Duplicate(ref original) if *original == second));
    assert_eq!(store.append_message(new_message(conversation, sender, "c4")).await.unwrap().message().seq, Seq(4));
    // What was replayed is in sled now: its file is gone, and after a clean close so are this
    // run's (the one in use, checkpointed, and the one made ahead of it, unused).
    assert!(journal::numbers(&journal::dir(dir.path())).unwrap().iter().all(|&number| number > 7));
    drop(store);
    assert_eq!(std::fs::read_dir(journal::dir(dir.path())).unwrap().count(), 0);
}

#[tokio::test]
async fn once_the_id_scan_is_complete_new_ids_skip_the_lookup_and_every_stored_id_is_still_found() {
    let dir = tempfile::tempdir().unwrap();
    let conversation = ConversationId::new();
    let sender = UserId::new();
    let stored = {
        let store = SledStore::open(dir.path()).unwrap();
        let mut stored = Vec::new();
        for n in 0..3 {
            stored.push(store.append_message(new_message(conversation, sender, &format!("c{n}"))).await.unwrap());
        }
        stored
    };
    // And one that only the journal holds, replayed at the next open.
    let replayed = new_message(conversation, sender, "c3").with_seq(Seq(4));
    leave_journal(dir.path(), &[messages::append_writes(&replayed).unwrap()], &[]);

    let store = SledStore::open(dir.path()).unwrap();
    store.shared.open.write().as_mut().unwrap()._id_scan.finish();
    let may_contain = |id: MessageId| store.with(|open| Ok(open.ids.may_contain(&id.to_bytes()))).unwrap();
    let fresh = new_message(conversation, sender, "c4");
    assert!(!may_contain(fresh.id()), "the filter rules a new id out");
    for original in stored.iter().map(Appended::message).chain([&replayed]) {
        assert!(may_contain(original.id));
        let resend = new_message(conversation, sender, &original.client_id);
        assert!(matches!(store.append_message(resend).await.unwrap(), Appended::Duplicate(ref m) if m == original));
    }
    let created = store.append_message(fresh.clone()).await.unwrap().message().clone();
    assert_eq!(created.seq, Seq(5));
    assert!(matches!(store.append_message(fresh).await.unwrap(), Appended::Duplicate(m) if m == created));
}

#[tokio::test]
async fn replay_does_not_undo_a_later_edit() {
    let dir = tempfile::tempdir().unwrap();
    let conversation = ConversationId::new();
    let original = {
        let store = SledStore::open(dir.path()).unwrap();
        let message = store.append_message(new_message(conversation, UserId::new(), "c1")).await.unwrap();
        let original = message.message().clone();
        let mut edited = original.clone();
        edited.body = "edited".into();
        assert!(store.replace_message(&edited).await.unwrap());
        original
    };
    // The append's record was never checkpointed away (a crash before the checkpoint).
    leave_journal(dir.path(), &[messages::append_writes(&original).unwrap()], &[]);
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.message(original.id).await.unwrap().unwrap().body, "edited");
}

#[test]
fn a_journal_file_that_is_not_a_journal_is_a_format_error() {
    let dir = tempfile::tempdir().unwrap();
    drop(SledStore::open(dir.path()).unwrap());
    let file = journal::dir(dir.path()).join("00000000000000000009.log");
    // A crash right after creating a file leaves part of its magic: an empty journal.
    std::fs::write(&file, b"KNJ").unwrap();
    drop(SledStore::open(dir.path()).unwrap());
    std::fs::write(&file, b"not a journal at all").unwrap();
    assert!(matches!(SledStore::open(dir.path()), Err(StoreError::Format(_))));
}

#[test]
fn temporary_stores_delete_their_journal_directory() {
    let store = SledStore::temporary().unwrap();
    let dir = store.temporary.as_ref().unwrap().path().to_path_buf();
    assert!(dir.exists());
    drop(store);
    assert!(!dir.exists());
}

#[tokio::test]
async fn a_send_checked_against_a_record_not_yet_durable_also_waits_for_its_flush() {
    let store = SledStore::temporary().unwrap();
    let (alice, bob) = (UserId::new(), UserId::new());
    let conversation = kanect_core::testing::group(&[alice]);
    store.insert_conversation(&conversation).await.unwrap();
    let id = conversation.id;
    // Bob's membership is in sled; its writer has not had its flush (or stopped waiting).
    store.with(|open| open.add_member_now(id, bob)).unwrap();
    let waits = |client_id: &str| match store.with(|open| open.append_now(new_message(id, bob, client_id))).unwrap() {
        messages::Append::Submitted { after_flush, .. } | messages::Append::Duplicate { after_flush, .. } => {
            after_flush
        }
    };
    let needed = waits("c1").expect("an append into a conversation whose record is not yet durable waits for a flush");
    assert_eq!(waits("c1"), Some(needed), "and so does the answer to its resend, for the same flush");
    let before = store.group_commit_stats().flushes;
    store.append_message(new_message(id, bob, "c2")).await.unwrap();
    assert!(store.group_commit_stats().flushes >= before + 2, "a journal sync and a sled flush");
    // That flush made the membership durable: appends no longer wait for one.
    assert_eq!(waits("c3"), None);
}

#[tokio::test]
async fn login_attempts_live_in_their_own_tree_and_survive_a_clean_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let rule = kanect_core::LoginLimits::default().per_account;
    let key = AttemptKey([7; 32]);
    let now = kanect_core::Timestamp(1_700_000_000_000);
    let store = SledStore::open(dir.path()).unwrap();
    store.count_login_attempt(&[(key, rule)], now).await.unwrap();
    let default_tree_is_meta =
        store.with(|open| Ok(open.db.iter().keys().all(|key| keys::is_meta(&key.unwrap())))).unwrap();
    assert!(default_tree_is_meta, "nothing in the default tree");
    drop(store);
    // Format version 4 stores gain the tree without a version change (see `keys`).
    let store = SledStore::open(dir.path()).unwrap();
    let again = store.count_login_attempt(&[(key, rule)], now).await.unwrap();
    assert!(matches!(&again, Attempt::Counted(records) if records[0].count == 2), "{again:?}");
}

/// Waits (bounded) for the store to report `health`.
async fn until_health(store: &SledStore, health: StoreHealth) {
    for _ in 0..1000 {
        if store.health().await == health {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the store never became {health}: it is {}", store.health().await);
}

/// A failure ends the open database: writes are refused (direct ones before they apply
/// anything) and health says failed until the recovery thread has reopened the directory, by
/// itself. The reopen replays the journal: an append whose record was synced but which sled
/// never got (what a full disk does; `tests/disk_full.rs` makes a real one) is then at its
/// seq, its resend returns it, and the next append follows it; also after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_store_reopens_by_itself_and_keeps_exactly_what_was_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let (conversation, sender) = (ConversationId::new(), UserId::new());
    let first = store.append_message(new_message(conversation, sender, "c1")).await.unwrap().message().clone();
    // A group journaled and synced, then the failure before sled had it.
    let journaled = new_message(conversation, sender, "c2").with_seq(Seq(2));
    leave_journal(dir.path(), &[messages::append_writes(&journaled).unwrap()], &[]);
    let failure = commit::FlushError::new("sled insert", "no space left on device");
    store
        .with(|open| {
            open.commit.fail(failure);
            Ok(())
        })
        .unwrap();

    assert_eq!(store.health().await, StoreHealth::Failed);
    assert!(matches!(store.insert_user(&user("alice"), "h").await, Err(StoreError::Backend(_))));
    let refused = store.append_message(new_message(conversation, sender, "c3")).await;
    assert!(matches!(refused, Err(StoreError::Backend(_))), "{refused:?}");
    assert!(store.user_by_username("alice").await.unwrap().is_none(), "a refused direct write applies nothing");

    until_health(&store, StoreHealth::Ok).await;
    assert_eq!(store.history(conversation, HistoryPage::Latest, 10).await.unwrap(), [first, journaled.clone()]);
    let resent = store.append_message(new_message(conversation, sender, "c2")).await.unwrap();
    assert!(matches!(resent, Appended::Duplicate(ref original) if *original == journaled), "{resent:?}");
    let third = store.append_message(new_message(conversation, sender, "c3")).await.unwrap();
    assert!(matches!(third, Appended::Created(ref message) if message.seq == Seq(3)), "{third:?}");
    store.insert_user(&user("alice"), "h").await.unwrap();
    drop(store);

    let store = SledStore::open(dir.path()).unwrap();
    let seqs: Vec<(String, Seq)> = store
        .history(conversation, HistoryPage::Latest, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|message| (message.client_id, message.seq))
        .collect();
    assert_eq!(seqs, [("c1".into(), Seq(1)), ("c2".into(), Seq(2)), ("c3".into(), Seq(3))]);
}

/// While the failed database is being replaced, calls fail at once rather than wait.
#[tokio::test]
async fn calls_while_the_database_is_being_replaced_fail_at_once() {
    let store = SledStore::temporary().unwrap();
    let open = store.shared.open.write().take().expect("open");
    assert!(matches!(store.user(UserId::new()).await, Err(StoreError::Backend(_))));
    assert!(matches!(store.insert_user(&user("bob"), "h").await, Err(StoreError::Backend(_))));
    assert_eq!(store.group_commit_stats(), GroupCommitStats::default());
    *store.shared.open.write() = Some(open);
    store.insert_user(&user("bob"), "h").await.unwrap();
}
