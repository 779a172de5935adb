//! [`AccountTokenStore`] for [`MemoryStore`].

use super::MemoryStore;
use crate::id::UserId;
use crate::model::{AccountToken, TokenHash, TokenPurpose};
use crate::store::{AccountTokenStore, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl AccountTokenStore for MemoryStore {
    async fn put_account_token(&self, token: &AccountToken) -> StoreResult<bool> {
        let mut state = self.lock();
        let same = |other: &AccountToken| {
            other.user == token.user && other.purpose == token.purpose && other.token_hash != token.token_hash
        };
        if state.account_tokens.values().any(|other| same(other) && other.created_at > token.created_at) {
            return Ok(false);
        }
        state.account_tokens.retain(|_, other| !same(other));
        state.account_tokens.insert(token.token_hash, token.clone());
        Ok(true)
    }

    async fn take_account_token(
        &self,
        purpose: TokenPurpose,
        token_hash: &TokenHash,
    ) -> StoreResult<Option<AccountToken>> {
        let mut state = self.lock();
        if state.account_tokens.get(token_hash).is_none_or(|token| token.purpose != purpose) {
            return Ok(None);
        }
        Ok(state.account_tokens.remove(token_hash))
    }

    async fn delete_account_tokens_of(&self, user: UserId, purpose: Option<TokenPurpose>) -> StoreResult<u64> {
        let mut state = self.lock();
        let before = state.account_tokens.len();
        state
            .account_tokens
            .retain(|_, token| token.user != user || purpose.is_some_and(|purpose| token.purpose != purpose));
        Ok((before - state.account_tokens.len()) as u64)
    }

    async fn account_tokens(&self, after: Option<TokenHash>, limit: usize) -> StoreResult<Vec<AccountToken>> {
        let state = self.lock();
        let range = match after {
            Some(after) => state.account_tokens.range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
            None => state.account_tokens.range(..),
        };
        Ok(range.take(limit).map(|(_, token)| token.clone()).collect())
    }
}
