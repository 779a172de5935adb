//! Conformance cases of [`Store`]'s own methods: `flush` and `health`.

use crate::store::{Store, StoreHealth};
use crate::testing::{group, new_message, user};
use std::sync::Arc;

/// A store whose writes and reads work reports [`StoreHealth::Ok`], before and after them.
pub async fn a_working_store_reports_itself_healthy<S: Store>(store: Arc<S>) {
    assert_eq!(store.health().await, StoreHealth::Ok);
    let a = user("frank");
    store.insert_user(&a, "h").await.unwrap();
    let conversation = group(&[a.id]);
    store.insert_conversation(&conversation).await.unwrap();
    store.append_message(new_message(conversation.id, a.id, "c1", "x")).await.unwrap();
    store.flush().await.unwrap();
    assert_eq!(store.health().await, StoreHealth::Ok);
}
