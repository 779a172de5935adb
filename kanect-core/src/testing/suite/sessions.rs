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
        last_used: None,
        user_agent: None,
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

/// Every session pages out in token hash order, strictly after the cursor.
pub async fn sessions_page_in_token_hash_order<S: Store>(store: Arc<S>) {
    let erin = user("erin");
    store.insert_user(&erin, "h").await.unwrap();
    let session = |byte| Session {
        token_hash: TokenHash([byte; 32]),
        user: erin.id,
        created_at: Timestamp(1),
        expires_at: Timestamp(2),
        last_used: Some(Timestamp(2)),
        user_agent: Some("curl/8".into()),
    };
    for byte in [9, 200, 3, 7] {
        store.insert_session(&session(byte)).await.unwrap();
    }
    let hashes = |page: Vec<Session>| page.iter().map(|s| s.token_hash.0[0]).collect::<Vec<_>>();
    assert_eq!(hashes(store.sessions(None, 2).await.unwrap()), [3, 7]);
    assert_eq!(hashes(store.sessions(Some(TokenHash([7; 32])), 2).await.unwrap()), [9, 200]);
    assert_eq!(hashes(store.sessions(Some(TokenHash([8; 32])), 10).await.unwrap()), [9, 200]);
    assert!(store.sessions(Some(TokenHash([200; 32])), 10).await.unwrap().is_empty());
    assert_eq!(store.sessions(None, 10).await.unwrap(), [3, 7, 9, 200].map(session));
}

/// A user's sessions are listed (and no one else's); a use is recorded on the session, keeping
/// its user agent when none is given; a session gone is not written back.
pub async fn sessions_list_per_user_and_record_their_use<S: Store>(store: Arc<S>) {
    let (hal, ivy) = (user("hal"), user("ivy"));
    store.insert_user(&hal, "h").await.unwrap();
    store.insert_user(&ivy, "h").await.unwrap();
    let session = |byte, user| Session {
        token_hash: TokenHash([byte; 32]),
        user,
        created_at: Timestamp(1),
        expires_at: Timestamp(99),
        last_used: None,
        user_agent: None,
    };
    for (byte, user) in [(4, hal.id), (5, ivy.id), (6, hal.id)] {
        store.insert_session(&session(byte, user)).await.unwrap();
    }
    let mut hals = store.sessions_of(hal.id).await.unwrap();
    hals.sort_by_key(|s| s.token_hash);
    assert_eq!(hals, [session(4, hal.id), session(6, hal.id)]);
    assert!(store.sessions_of(user("nobody").id).await.unwrap().is_empty());

    assert!(store.touch_session(&TokenHash([4; 32]), Timestamp(10), Some("Firefox/1")).await.unwrap());
    assert!(store.touch_session(&TokenHash([4; 32]), Timestamp(20), None).await.unwrap());
    let touched =
        Session { last_used: Some(Timestamp(20)), user_agent: Some("Firefox/1".into()), ..session(4, hal.id) };
    assert_eq!(store.session(&TokenHash([4; 32])).await.unwrap(), Some(touched.clone()));
    assert!(store.sessions_of(hal.id).await.unwrap().contains(&touched));

    assert!(store.delete_session(&TokenHash([4; 32])).await.unwrap());
    assert!(!store.touch_session(&TokenHash([4; 32]), Timestamp(30), Some("x")).await.unwrap());
    assert!(store.session(&TokenHash([4; 32])).await.unwrap().is_none());
    assert_eq!(store.sessions_of(hal.id).await.unwrap(), [session(6, hal.id)]);
}
