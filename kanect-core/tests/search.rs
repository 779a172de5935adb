//! Message search on the memory backends: the search conformance suite on
//! [`MemorySearchIndex`], and what the engine guarantees whatever the index holds.

mod support;

use kanect_core::backend::MessageStore;
use kanect_core::search::{MemorySearchIndex, SearchIndex, SearchRequest};
use kanect_core::testing::search::SearchFixture;
use kanect_core::{Chat, MemoryStore};
use std::sync::Arc;
use support::{unlimited_config, user};

kanect_core::search_conformance!(async { SearchFixture::new(MemoryStore::new(), MemorySearchIndex::new()) });

/// An engine whose index is never told of changes made past it (as one that is behind).
async fn engine() -> (Chat, Arc<MemoryStore>, Arc<MemorySearchIndex>) {
    let store = Arc::new(MemoryStore::new());
    let index = Arc::new(MemorySearchIndex::new());
    let chat = Chat::builder_shared(store.clone())
        .search_shared(index.clone())
        .config(unlimited_config())
        .build()
        .await
        .unwrap();
    (chat, store, index)
}

#[tokio::test]
async fn without_an_index_search_is_disabled() {
    let chat = Chat::builder(MemoryStore::new()).config(unlimited_config()).build().await.unwrap();
    let (_, alice) = user(&chat, "alice").await;
    let error = chat.search_messages(&alice, &SearchRequest::new("hello")).await.unwrap_err();
    assert_eq!(error.code(), "search_disabled");
    assert!(error.is_forbidden());
}

#[tokio::test]
async fn hits_are_checked_against_the_store_when_the_index_is_behind() {
    let (chat, store, index) = engine().await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob, _) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob.id).await.unwrap();
    let deleted = chat.send(&alice, direct.id, "c1", "apples and pears").await.unwrap();
    let edited = chat.send(&alice, direct.id, "c2", "apples and plums").await.unwrap();
    // Changed in the store only: the index still holds the old versions.
    let mut gone = deleted.clone();
    gone.deleted = true;
    gone.body.clear();
    gone.edited_at = Some(kanect_core::Timestamp(deleted.sent_at.0 + 1));
    assert!(store.replace_message(&gone).await.unwrap());
    let mut changed = edited.clone();
    changed.body = "cherries".into();
    changed.edited_at = Some(kanect_core::Timestamp(edited.sent_at.0 + 1));
    assert!(store.replace_message(&changed).await.unwrap());

    let found = chat.search_messages(&alice, &SearchRequest::new("apples")).await.unwrap();
    assert!(found.hits.is_empty(), "neither the deleted nor the edited message: {found:?}");
    // The engine handed the index the stored versions: it has caught up.
    index.flush().await.unwrap();
    let found = chat.search_messages(&alice, &SearchRequest::new("cherries")).await.unwrap();
    assert_eq!(found.hits.iter().map(|h| h.id).collect::<Vec<_>>(), [edited.id]);
}

#[tokio::test]
async fn a_user_in_no_conversation_finds_nothing() {
    let (chat, _, _) = engine().await;
    let (_, alice) = user(&chat, "alice").await;
    let found = chat.search_messages(&alice, &SearchRequest::new("anything")).await.unwrap();
    assert!(found.hits.is_empty() && found.next_cursor.is_none());
}
