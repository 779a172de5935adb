//! Conformance cases of [`AccountTokenStore`](crate::backend::AccountTokenStore).

use crate::model::{AccountToken, Timestamp, TokenHash, TokenPurpose};
use crate::store::Store;
use crate::testing::user;
use crate::UserId;
use std::sync::Arc;

fn token(byte: u8, purpose: TokenPurpose, user: UserId) -> AccountToken {
    made_at(byte, purpose, user, 1)
}

fn made_at(byte: u8, purpose: TokenPurpose, user: UserId, created_at: u64) -> AccountToken {
    AccountToken {
        token_hash: TokenHash([byte; 32]),
        purpose,
        user,
        address: "dave@example.com".into(),
        created_at: Timestamp(created_at),
        expires_at: Timestamp(99),
    }
}

/// The hashes' first bytes of every stored token, in hash order.
async fn stored<S: Store>(store: &S) -> Vec<u8> {
    store.account_tokens(None, 100).await.unwrap().iter().map(|token| token.token_hash.0[0]).collect()
}

/// A token is taken once, and only for its own purpose.
pub async fn account_tokens_are_taken_once_by_purpose<S: Store>(store: Arc<S>) {
    let dave = user("dave");
    store.insert_user(&dave, "h").await.unwrap();
    let verify = token(1, TokenPurpose::Verify, dave.id);
    assert!(store.put_account_token(&verify).await.unwrap());
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
        token(3, TokenPurpose::Unsubscribe, dave.id),
        token(7, TokenPurpose::Verify, erin.id),
    ];
    for token in &tokens {
        assert!(store.put_account_token(token).await.unwrap());
    }
    let bytes = |page: Vec<AccountToken>| page.iter().map(|t| t.token_hash.0[0]).collect::<Vec<_>>();
    assert_eq!(bytes(store.account_tokens(None, 2).await.unwrap()), [3, 7]);
    assert_eq!(bytes(store.account_tokens(Some(TokenHash([7; 32])), 2).await.unwrap()), [9, 200]);
    assert_eq!(store.account_tokens(None, 10).await.unwrap()[2], tokens[0]);
    assert_eq!(store.delete_account_tokens_of(dave.id, Some(TokenPurpose::Reset)).await.unwrap(), 1);
    assert_eq!(bytes(store.account_tokens(None, 10).await.unwrap()), [3, 7, 9]);
    assert_eq!(store.delete_account_tokens_of(dave.id, None).await.unwrap(), 2);
    assert_eq!(bytes(store.account_tokens(None, 10).await.unwrap()), [7]);
    let hash = TokenHash([9; 32]);
    assert_eq!(store.take_account_token(TokenPurpose::Verify, &hash).await.unwrap(), None);
}

/// Of many concurrent takes of one token, exactly one gets it.
pub async fn concurrent_takes_of_a_token_have_one_winner<S: Store>(store: Arc<S>) {
    let dave = user("dave");
    store.insert_user(&dave, "h").await.unwrap();
    let reset = token(5, TokenPurpose::Reset, dave.id);
    assert!(store.put_account_token(&reset).await.unwrap());
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

/// A user keeps one token per purpose, the newest: a put replaces the older one of its purpose
/// (and no other purpose's or user's), an older one put back is dropped, and of equal ages the
/// last put wins.
pub async fn a_put_replaces_the_users_token_of_its_purpose<S: Store>(store: Arc<S>) {
    let (dave, erin) = (user("dave"), user("erin"));
    store.insert_user(&dave, "h").await.unwrap();
    store.insert_user(&erin, "h").await.unwrap();
    assert!(store.put_account_token(&made_at(1, TokenPurpose::Reset, dave.id, 10)).await.unwrap());
    assert!(store.put_account_token(&made_at(2, TokenPurpose::Verify, dave.id, 10)).await.unwrap());
    assert!(store.put_account_token(&made_at(3, TokenPurpose::Reset, erin.id, 10)).await.unwrap());
    let newer = made_at(4, TokenPurpose::Reset, dave.id, 20);
    assert!(store.put_account_token(&newer).await.unwrap());
    assert_eq!(stored(&*store).await, [2, 3, 4], "dave's older reset token is gone, nothing else");
    let older = made_at(1, TokenPurpose::Reset, dave.id, 10);
    assert!(!store.put_account_token(&older).await.unwrap(), "an older token given back is dropped");
    assert_eq!(stored(&*store).await, [2, 3, 4]);
    assert!(store.put_account_token(&made_at(5, TokenPurpose::Reset, dave.id, 20)).await.unwrap());
    assert_eq!(stored(&*store).await, [2, 3, 5], "of equal ages, the last put wins");
    assert!(store.put_account_token(&made_at(5, TokenPurpose::Reset, dave.id, 20)).await.unwrap());
    assert_eq!(stored(&*store).await, [2, 3, 5], "a token put again stays, once");
    assert_eq!(store.take_account_token(TokenPurpose::Reset, &TokenHash([4; 32])).await.unwrap(), None);
    assert!(store.take_account_token(TokenPurpose::Reset, &TokenHash([5; 32])).await.unwrap().is_some());
}

/// Of many concurrent puts of one user's tokens of one purpose, exactly one stays.
pub async fn concurrent_puts_leave_one_token<S: Store>(store: Arc<S>) {
    let dave = user("dave");
    store.insert_user(&dave, "h").await.unwrap();
    let puts: Vec<_> = (1..=8)
        .map(|byte| {
            let store = store.clone();
            let token = made_at(byte, TokenPurpose::Reset, dave.id, 10);
            tokio::spawn(async move { store.put_account_token(&token).await })
        })
        .collect();
    for put in puts {
        assert!(put.await.unwrap().unwrap(), "equal ages: every put is stored, replacing the one before");
    }
    let left = stored(&*store).await;
    assert_eq!(left.len(), 1, "{left:?}");
    let mut working = 0;
    for byte in 1..=8 {
        if store.take_account_token(TokenPurpose::Reset, &TokenHash([byte; 32])).await.unwrap().is_some() {
            working += 1;
        }
    }
    assert_eq!(working, 1);
}
