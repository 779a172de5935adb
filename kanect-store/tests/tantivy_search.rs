//! [`TantivyIndex`] beside a [`FjallStore`]: the core's search conformance suite, and the index
//! catching up with the store after a crash, a stale copy of its directory, its deletion, or a
//! full queue.
#![cfg(all(feature = "tantivy", feature = "fjall"))]

use kanect_core::search::{SearchIndex, SearchRequest};
use kanect_core::testing::search::SearchFixture;
use kanect_core::{Caller, Chat, ChatConfig, ConversationId, MessageId, PasswordCost, RateLimits, Registration};
use kanect_store::{FjallStore, TantivyConfig, TantivyIndex};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A directory that outlives the test's handles (left to the system's temporary directory).
fn directory() -> PathBuf {
    tempfile::tempdir().unwrap().keep()
}

kanect_core::search_conformance!(async {
    let dir = directory();
    SearchFixture::new(FjallStore::open(dir.join("data")).unwrap(), TantivyIndex::open(dir.join("search")).unwrap())
});

fn config() -> ChatConfig {
    ChatConfig { password_cost: PasswordCost::INSECURE_FAST, rate_limits: RateLimits::UNLIMITED, ..Default::default() }
}

/// An engine on the store and an index opened at `search`; the index's handle is returned too.
async fn engine(store: Arc<FjallStore>, search: &Path, index_config: TantivyConfig) -> (Chat, Arc<TantivyIndex>) {
    let index = Arc::new(TantivyIndex::open_with(search, index_config).unwrap());
    let chat = Chat::builder_shared(store).search_shared(index.clone()).config(config()).build().await.unwrap();
    (chat, index)
}

/// Every id found for `text` by `caller`, all pages.
async fn found(chat: &Chat, caller: &Caller, text: &str) -> HashSet<MessageId> {
    let mut ids = HashSet::new();
    let mut request = SearchRequest::new(text);
    request.limit = 50;
    loop {
        let page = chat.search_messages(caller, &request).await.unwrap();
        ids.extend(page.hits.iter().map(|h| h.id));
        match page.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => return ids,
        }
    }
}

struct Story {
    alice: Caller,
    conversation: ConversationId,
    /// Messages with the word `alpha` that are not deleted.
    alive: HashSet<MessageId>,
    /// Messages edited from `alpha` to `omega`.
    edited: HashSet<MessageId>,
}

/// alice and bob, 30 messages with `alpha`, some deleted and some edited.
async fn story(chat: &Chat) -> Story {
    let alice = chat.register(Registration::new("alice", "alice-secret-pw")).await.unwrap();
    let bob = chat.register(Registration::new("bob", "bob-secret-pw")).await.unwrap();
    let alice = chat.act_as(alice.id).await.unwrap();
    let conversation = chat.open_direct(&alice, bob.id).await.unwrap().id;
    let (mut alive, mut edited) = (HashSet::new(), HashSet::new());
    for i in 0..30 {
        let message = chat.send(&alice, conversation, &format!("c{i}"), &format!("alpha number {i}")).await.unwrap();
        alive.insert(message.id);
    }
    more(
        chat,
        &Story { alice: alice.clone(), conversation, alive: alive.clone(), edited: HashSet::new() },
        0,
        &mut alive,
        &mut edited,
    )
    .await;
    Story { alice, conversation, alive, edited }
}

/// Deletes `round`'s two messages and edits two more, and sends five new ones.
async fn more(
    chat: &Chat,
    story: &Story,
    round: usize,
    alive: &mut HashSet<MessageId>,
    edited: &mut HashSet<MessageId>,
) {
    let mut ids: Vec<MessageId> = story.alive.iter().copied().filter(|id| alive.contains(id)).collect();
    ids.sort();
    for id in ids.iter().take(2) {
        chat.delete(&story.alice, *id).await.unwrap();
        alive.remove(id);
    }
    for id in ids.iter().skip(2).take(2) {
        chat.edit(&story.alice, *id, "omega now").await.unwrap();
        alive.remove(id);
        edited.insert(*id);
    }
    for i in 0..5 {
        let client = format!("more-{round}-{i}");
        let message = chat.send(&story.alice, story.conversation, &client, "alpha again").await.unwrap();
        alive.insert(message.id);
    }
}

/// Waits for the index to catch up, then checks that it finds exactly what the store has.
async fn check(chat: &Chat, index: &TantivyIndex, story: &Story) {
    index.caught_up().await.unwrap();
    assert_eq!(found(chat, &story.alice, "alpha").await, story.alive, "every alpha message, none deleted or edited");
    assert_eq!(found(chat, &story.alice, "omega").await, story.edited, "every edited message by its new word");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_the_commit_loses_no_hit_and_ghosts_none() {
    let dir = directory();
    let store = Arc::new(FjallStore::open(dir.join("data")).unwrap());
    let (chat, index) = engine(store.clone(), &dir.join("search"), TantivyConfig::default()).await;
    let mut story = story(&chat).await;
    chat.flush_search().await.unwrap();
    // Changes after the last commit, then a crash: the index never commits them.
    let (mut alive, mut edited) = (story.alive.clone(), story.edited.clone());
    more(&chat, &story, 1, &mut alive, &mut edited).await;
    (story.alive, story.edited) = (alive, edited);
    index.abandon();
    drop(chat);
    drop(index);

    let (chat, index) = engine(store, &dir.join("search"), TantivyConfig::default()).await;
    check(&chat, &index, &story).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_copy_of_the_index_catches_up() {
    let dir = directory();
    let store = Arc::new(FjallStore::open(dir.join("data")).unwrap());
    let (chat, index) = engine(store.clone(), &dir.join("search"), TantivyConfig::default()).await;
    let mut story = story(&chat).await;
    chat.flush_search().await.unwrap();
    copy_dir(&dir.join("search"), &dir.join("stale"));
    let (mut alive, mut edited) = (story.alive.clone(), story.edited.clone());
    more(&chat, &story, 1, &mut alive, &mut edited).await;
    (story.alive, story.edited) = (alive, edited);
    index.close();
    drop(chat);
    drop(index);
    // The directory as it was before the last changes (as a restored backup would be).
    std::fs::remove_dir_all(dir.join("search")).unwrap();
    std::fs::rename(dir.join("stale"), dir.join("search")).unwrap();

    let (chat, index) = engine(store, &dir.join("search"), TantivyConfig::default()).await;
    check(&chat, &index, &story).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_foreign_index_is_rebuilt_from_the_store() {
    let dir = directory();
    let store = Arc::new(FjallStore::open(dir.join("data")).unwrap());
    let (chat, index) = engine(store.clone(), &dir.join("search"), TantivyConfig::default()).await;
    let story = story(&chat).await;
    index.close();
    drop(chat);
    drop(index);
    std::fs::remove_dir_all(dir.join("search")).unwrap();
    let (chat, index) = engine(store.clone(), &dir.join("search"), TantivyConfig::default()).await;
    check(&chat, &index, &story).await;
    index.close();
    drop(chat);
    drop(index);
    // Not a tantivy index at all.
    std::fs::remove_dir_all(dir.join("search")).unwrap();
    std::fs::create_dir_all(dir.join("search")).unwrap();
    std::fs::write(dir.join("search/meta.json"), b"{not json").unwrap();
    let (chat, index) = engine(store, &dir.join("search"), TantivyConfig::default()).await;
    check(&chat, &index, &story).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_no_change_for_good() {
    let dir = directory();
    let store = Arc::new(FjallStore::open(dir.join("data")).unwrap());
    let tiny = TantivyConfig { queue: 1, ..TantivyConfig::default() };
    let (chat, index) = engine(store, &dir.join("search"), tiny).await;
    let story = story(&chat).await;
    check(&chat, &index, &story).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_close_is_reopened_without_a_full_pass_and_keeps_everything() {
    let dir = directory();
    let store = Arc::new(FjallStore::open(dir.join("data")).unwrap());
    let (chat, index) = engine(store.clone(), &dir.join("search"), TantivyConfig::default()).await;
    let story = story(&chat).await;
    drop(chat);
    drop(index); // the last handle: a clean close
    let (chat, index) = engine(store, &dir.join("search"), TantivyConfig::default()).await;
    check(&chat, &index, &story).await;
    let found = index.search(&probe(story.conversation)).await.unwrap();
    assert!(!found.hits.is_empty());
}

fn probe(conversation: ConversationId) -> kanect_core::search::IndexQuery {
    kanect_core::search::IndexQuery {
        terms: kanect_core::search::Terms::parse("alpha").unwrap(),
        conversations: vec![conversation],
        sender: None,
        from: None,
        to: None,
        order: kanect_core::search::SearchOrder::Newest,
        after: None,
        limit: 10,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}
