//! Conformance cases of [`ConversationStore`](crate::backend::ConversationStore).

use crate::error::{Conflict, StoreError};
use crate::id::{ConversationId, UserId};
use crate::model::ConversationKind;
use crate::store::Store;
use crate::testing::group;
use std::sync::Arc;

/// Inserting an existing conversation id changes nothing; memberships are indexed.
pub async fn conversations_insert_once_and_index_members<S: Store>(store: Arc<S>) {
    let (a, b) = (UserId::new(), UserId::new());
    let mut direct = group(&[a, b]);
    direct.kind = ConversationKind::Direct;
    direct.id = ConversationId::direct(a, b);
    direct.name = None;
    direct.owner = None;
    assert!(store.insert_conversation(&direct).await.unwrap());
    let mut again = direct.clone();
    again.members = vec![a];
    assert!(!store.insert_conversation(&again).await.unwrap());
    assert_eq!(store.conversation(direct.id).await.unwrap(), Some(direct.clone()));
    assert_eq!(store.conversations_of(a).await.unwrap(), vec![direct.id]);
    assert_eq!(store.conversations_of(b).await.unwrap(), vec![direct.id]);
    assert!(store.conversation(ConversationId::new()).await.unwrap().is_none());
    let other = group(&[a]);
    store.insert_conversation(&other).await.unwrap();
    let all = store.conversations(None, 10).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].id < all[1].id);
    let after = store.conversations(Some(all[0].id), 10).await.unwrap();
    assert_eq!(after, vec![all[1].clone()]);
}

/// add/remove member keep the member list sorted and the index in step.
pub async fn memberships_change_atomically<S: Store>(store: Arc<S>) {
    let (a, b, c) = (UserId::new(), UserId::new(), UserId::new());
    let conversation = group(&[a, b]);
    store.insert_conversation(&conversation).await.unwrap();
    let added = store.add_member(conversation.id, c).await.unwrap().unwrap();
    let mut expected = vec![a, b, c];
    expected.sort();
    assert_eq!(added.members, expected);
    assert!(matches!(store.add_member(conversation.id, c).await, Err(StoreError::Conflict(Conflict::AlreadyMember))));
    assert_eq!(store.conversations_of(c).await.unwrap(), vec![conversation.id]);
    let removed = store.remove_member(conversation.id, a).await.unwrap().unwrap();
    assert!(!removed.has_member(a));
    assert!(store.conversations_of(a).await.unwrap().is_empty());
    assert!(store.add_member(ConversationId::new(), a).await.unwrap().is_none());
    assert!(store.remove_member(ConversationId::new(), a).await.unwrap().is_none());
    let renamed =
        store.set_conversation_details(conversation.id, Some("renamed".into()), Some(c)).await.unwrap().unwrap();
    assert_eq!((renamed.name.as_deref(), renamed.owner), (Some("renamed"), Some(c)));
    assert_eq!(store.conversation(conversation.id).await.unwrap(), Some(renamed));
}
