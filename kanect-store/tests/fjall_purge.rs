//! Deletion deletes, on FjallStore: a deleted (or edited) message's old body, and a deleted
//! attachment record's file name, is in the store's files before the purge and in none of them
//! after it, read byte by byte. Each test first
//! asserts the marker *is* on disk, so a search that cannot find it would fail there.

#![cfg(feature = "fjall")]

use kanect_core::backend::{Appended, AttachmentStore, MessageStore, Store};
use kanect_core::testing::{attachment, new_message};
use kanect_core::{ConversationId, HistoryPage, Message, Timestamp, UserId};
use kanect_store::FjallStore;
use std::path::Path;

/// Messages of other traffic around the marker, so that there are several memtables, tables
/// and (before the purge) journal batches.
const TRAFFIC: usize = 300;

/// A unique marker of letters no other record contains (the traffic is lower case, ids are
/// random bytes), with no 4-byte sequence twice: LZ4, which fjall uses for the tables of its
/// deeper levels, then has nothing to match inside it and copies it verbatim, so a byte search
/// finds every copy.
fn marker(tag: &str) -> String {
    let letters: Vec<char> = "GHIJKLMNOPQRSTUVWXYZ".chars().collect();
    loop {
        let bytes = uuid::Uuid::new_v4().into_bytes().into_iter().chain(uuid::Uuid::new_v4().into_bytes());
        let text: String = bytes.map(|byte| letters[usize::from(byte) % letters.len()]).collect();
        let grams: Vec<&str> = (0..=text.len() - 4).map(|at| &text[at..at + 4]).collect();
        let distinct: std::collections::HashSet<&&str> = grams.iter().collect();
        if distinct.len() == grams.len() {
            return format!("{tag}{text}");
        }
    }
}

/// Two markers as [`marker`] makes them that share no 4-byte sequence either, tags included:
/// they may land in one block, and LZ4 would then write the second's shared sequence as a
/// reference to the first, so a byte search would miss it. ("DELETED" and "EDITED" end alike:
/// when their random parts began with the same letter, the edited marker was missed about one
/// run in ten.)
fn two_markers(first: &str, second: &str) -> (String, String) {
    let grams = |text: &str| -> std::collections::HashSet<String> {
        (0..=text.len() - 4).map(|at| text[at..at + 4].to_string()).collect()
    };
    loop {
        let (a, b) = (marker(first), marker(second));
        if grams(&a).is_disjoint(&grams(&b)) {
            return (a, b);
        }
    }
}

/// Every file under `dir` that contains `needle`, by name.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                // fjall deletes files as it compacts: one gone since the listing holds nothing.
                let bytes = match std::fs::read(entry.path()) {
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                    read => read.unwrap(),
                };
                if bytes.windows(needle.len()).any(|window| window == needle.as_bytes()) {
                    found.push(entry.path().display().to_string());
                }
            }
        }
    }
    found
}

async fn send(
    store: &FjallStore,
    conversation: ConversationId,
    sender: UserId,
    client_id: &str,
    body: &str,
) -> Message {
    match store.append_message(new_message(conversation, sender, client_id, body)).await.unwrap() {
        Appended::Created(message) => message,
        Appended::Duplicate(message) => panic!("{client_id} was stored already: {message:?}"),
    }
}

/// Traffic before and after the marker, with a purge in between so that the marker's table is
/// not the only one.
async fn traffic(store: &FjallStore, conversation: ConversationId, sender: UserId, round: &str) {
    for n in 0..TRAFFIC {
        send(store, conversation, sender, &format!("{round}-{n}"), &format!("ordinary text number {n}")).await;
    }
}

/// A store with a deleted marker message and an edited one (whose old text is the second
/// marker), both durable and both still on disk. Returns the markers and the two messages.
async fn store_with_garbage(store: &FjallStore, dir: &Path) -> (String, String, Message, Message) {
    let (deleted_marker, edited_marker) = two_markers("DELETED", "EDITED");
    let (conversation, sender) = (ConversationId::new(), UserId::new());
    traffic(store, conversation, sender, "before").await;
    store.purge().await.unwrap(); // the traffic in a table of its own
    let mut deleted = send(store, conversation, sender, "deleted", &deleted_marker).await;
    let mut edited = send(store, conversation, sender, "edited", &edited_marker).await;
    traffic(store, conversation, sender, "between").await;
    store.purge().await.unwrap(); // the markers in tables too, not just the journal
    traffic(store, conversation, sender, "after").await;
    for marker in [&deleted_marker, &edited_marker] {
        let files = files_containing(dir, marker);
        assert!(files.iter().any(|file| file.ends_with(".jnl")), "{marker} is not in the journal: {files:?}");
        assert!(files.iter().any(|file| !file.ends_with(".jnl")), "{marker} is not in a table: {files:?}");
    }

    deleted.body.clear();
    deleted.deleted = true;
    edited.body = "the new text".into();
    edited.edited_at = Some(Timestamp(edited.sent_at.0 + 1));
    assert!(store.replace_message(&deleted).await.unwrap());
    assert!(store.replace_message(&edited).await.unwrap());
    store.flush().await.unwrap();
    // The replace alone removes nothing: the old bodies are still in the files.
    assert!(!files_containing(dir, &deleted_marker).is_empty());
    assert!(!files_containing(dir, &edited_marker).is_empty());
    (deleted_marker, edited_marker, deleted, edited)
}

/// What the store answers for `deleted` and `edited`, and the traffic, is what was written.
async fn assert_contents(store: &FjallStore, deleted: &Message, edited: &Message) {
    assert_eq!(store.message(deleted.id).await.unwrap().as_ref(), Some(deleted));
    assert_eq!(store.message(edited.id).await.unwrap().as_ref(), Some(edited));
    let all = store.history(deleted.conversation, HistoryPage::Latest, 10 * TRAFFIC).await.unwrap();
    assert_eq!(all.len(), 3 * TRAFFIC + 2);
    assert!(all.windows(2).all(|pair| pair[0].seq.0 + 1 == pair[1].seq.0));
}

#[tokio::test]
async fn a_purge_takes_old_bodies_out_of_every_table_and_a_close_out_of_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let store = FjallStore::open(&path).unwrap();
    let (deleted_marker, edited_marker, deleted, edited) = store_with_garbage(&store, &path).await;

    store.purge().await.unwrap();
    // Out of every table; fjall's active journal keeps them until it is sealed or closed.
    for marker in [&deleted_marker, &edited_marker] {
        let left: Vec<String> = files_containing(&path, marker);
        assert!(left.iter().all(|file| file.ends_with(".jnl")), "{marker} left in {left:?}");
    }
    assert_contents(&store, &deleted, &edited).await;

    let store = store.reopen().unwrap();
    assert_eq!(files_containing(&path, &deleted_marker), Vec::<String>::new());
    assert_eq!(files_containing(&path, &edited_marker), Vec::<String>::new());
    assert_contents(&store, &deleted, &edited).await;

    // The store works on after its journals were emptied: new writes win over old ones.
    let mut again = edited.clone();
    again.body = "a third text".into();
    assert!(store.replace_message(&again).await.unwrap());
    let store = store.reopen().unwrap();
    assert_eq!(store.message(again.id).await.unwrap(), Some(again));
}

#[tokio::test]
async fn a_clean_close_alone_takes_old_bodies_out_of_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let store = FjallStore::open(&path).unwrap();
    let (deleted_marker, edited_marker, deleted, edited) = store_with_garbage(&store, &path).await;

    drop(store);
    assert_eq!(files_containing(&path, &deleted_marker), Vec::<String>::new());
    assert_eq!(files_containing(&path, &edited_marker), Vec::<String>::new());
    let store = FjallStore::open(&path).unwrap();
    assert_contents(&store, &deleted, &edited).await;
}

#[tokio::test]
async fn a_deleted_attachment_records_file_name_leaves_every_file_at_a_clean_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let store = FjallStore::open(&path).unwrap();
    let name_marker = marker("NAME");
    let (conversation, sender) = (ConversationId::new(), UserId::new());
    let mut record = attachment(sender, 10);
    record.meta.name = format!("{name_marker}.pdf");
    store.insert_attachment(&record).await.unwrap();
    traffic(&store, conversation, sender, "between").await;
    store.purge().await.unwrap(); // the record in a table too, not just the journal
    traffic(&store, conversation, sender, "after").await;
    let files = files_containing(&path, &name_marker);
    assert!(files.iter().any(|file| !file.ends_with(".jnl")), "the name is not in a table: {files:?}");

    assert!(store.delete_attachment(record.meta.id).await.unwrap());
    store.flush().await.unwrap();
    assert!(!files_containing(&path, &name_marker).is_empty(), "the deletion alone removes nothing");
    // No purge asked for: the deletion marked the store, so its close purges before it empties
    // the journals (without the mark, the close would flush only, and older tables would keep
    // the name).
    drop(store);
    assert_eq!(files_containing(&path, &name_marker), Vec::<String>::new());
    let store = FjallStore::open(&path).unwrap();
    assert_eq!(store.attachment(record.meta.id).await.unwrap(), None);
    assert_eq!(store.attachment_usage(sender).await.unwrap(), 0);
}
