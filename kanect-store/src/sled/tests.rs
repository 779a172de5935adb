//! Opening, format and corruption checks that need raw sled access to the files.

use super::*;
use kanect_core::testing::user;
use std::sync::Arc;

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
    assert!(matches!(SledStore::open(dir.path().join("a")), Err(StoreError::Backend(_))));
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
