//! Conformance cases of [`AccountTokenStore`](crate::backend::AccountTokenStore).

use crate::model::{AccountToken, Timestamp, TokenHash, TokenPurpose};
use crate::store::Store;
use crate::testing::user;
use crate::UserId;
use std::sync::Arc;

fn token(byte: u8, purpose: TokenPurpose, user: UserId) -> AccountToken {
    AccountToken {
        token_hash: TokenHash([byte; 32]),
        purpose,
        user,
        address: "dave@example.com".into(),
        created_at: Timestamp(1),
        expires_at: Timestamp(99),
    }
}

/// A token is taken once, and only for its own purpose.
pub async fn account_tokens_are_taken_once_by_purpose<S: Store>(store: Arc<S>) {
    let dave = user("dave");
    store.insert_user(&dave, "h").await.unwrap();
    let verify = token(1, TokenPurpose::Verify, dave.id);
    store.insert_account_token(&verify).await.unwrap();
    let hash = verify.token_hash;
    assert_eq!(store.take_account_token(TokenPurpose::Reset, &hash).await.unwrap(), None, "not a reset token");
    assert_eq!(store.take_account_token(TokenPurpose::Verify, &hash).await.unwrap(), Some(verify));
    assert_eq!(store.take_account_token(TokenPurpose::Verify, &hash).await.unwrap(), None, "single use");
    let unknown = TokenHash([7; 32]);
    assert_eq!(store.take_account_token(TokenPurpose::Verify, &unknown).await.unwrap(), None);
}

/// A user's tokens are deleted by purpose or all at once; every token pages out in hash order.
pub async fn account_tokens_are_deleted_per_user_and_page_in_hash_order<S: Store>(store: Arc<S>) {
    let (dave, erin) = (user("dave"), user("erin"));
    store.insert_user(&dave, "h").await.unwrap();
    store.insert_user(&erin, "h").await.unwrap();
    let tokens = [
        token(9, TokenPurpose::Verify, dave.id),
        token(200, TokenPurpose::Reset, dave.id),
        token(3, TokenPurpose::Reset, dave.id),
        token(7, TokenPurpose::Verify, erin.id),
    ];
    for token in &tokens {
        store.insert_account_token(token).await.unwrap();
    }
    let bytes = |page: Vec<AccountToken>| page.iter().map(|t| t.token_hash.0[0]).collect::<Vec<_>>();
    assert_eq!(bytes(store.account_tokens(None, 2).await.unwrap()), [3, 7]);
    assert_eq!(bytes(store.account_tokens(Some(TokenHash([7; 32])), 2).await.unwrap()), [9, 200]);
    assert_eq!(store.account_tokens(None, 10).await.unwrap()[2], tokens[0]);
    assert_eq!(store.delete_account_tokens_of(dave.id, Some(TokenPurpose::Reset)).await.unwrap(), 2);
    assert_eq!(bytes(store.account_tokens(None, 10).await.unwrap()), [7, 9]);
    assert_eq!(store.delete_account_tokens_of(dave.id, None).await.unwrap(), 1);
    assert_eq!(bytes(store.account_tokens(None, 10).await.unwrap()), [7]);
    let hash = TokenHash([9; 32]);
    assert_eq!(store.take_account_token(TokenPurpose::Verify, &hash).await.unwrap(), None);
}

/// Of many concurrent takes of one token, exactly one gets it.
pub async fn concurrent_takes_of_a_token_have_one_winner<S: Store>(store: Arc<S>) {
    let dave = user("dave");
    store.insert_user(&dave, "h").await.unwrap();
    let reset = token(5, TokenPurpose::Reset, dave.id);
    store.insert_account_token(&reset).await.unwrap();
    let takes: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.take_account_token(TokenPurpose::Reset, &TokenHash([5; 32])).await })
        })
        .collect();
    let mut winners = 0;
    for take in takes {
        if take.await.unwrap().unwrap().is_some() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}
