//! Conformance cases of [`SessionStore`](crate::backend::SessionStore).

use crate::model::{Session, Timestamp, TokenHash};
use crate::store::Store;
use crate::testing::user;
use std::sync::Arc;

/// Sessions are stored, found by hash, and removed one by one or per user.
pub async fn sessions_round_trip<S: Store>(store: Arc<S>) {
    let dave = user("dave");
    store.insert_user(&dave, "h").await.unwrap();
    let session = |byte| Session {
        token_hash: TokenHash([byte; 32]),
        user: dave.id,
        created_at: Timestamp(1),
        expires_at: Timestamp(99),
    };
    for byte in 1..=3 {
        store.insert_session(&session(byte)).await.unwrap();
    }
    assert_eq!(store.session(&TokenHash([2; 32])).await.unwrap(), Some(session(2)));
    assert!(store.delete_session(&TokenHash([2; 32])).await.unwrap());
    assert!(!store.delete_session(&TokenHash([2; 32])).await.unwrap());
    assert!(store.session(&TokenHash([2; 32])).await.unwrap().is_none());
    assert_eq!(store.delete_sessions_of(dave.id).await.unwrap(), 2);
    assert!(store.session(&TokenHash([1; 32])).await.unwrap().is_none());
}
