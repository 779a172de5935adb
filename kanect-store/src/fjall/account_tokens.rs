//! [`AccountTokenStore`] for [`FjallStore`]: the shared record space (`kv::account_tokens`), each
//! write a job on the writer thread, acknowledged after its group sync.

use super::FjallStore;
use crate::kv::account_tokens;
use kanect_core::backend::{AccountTokenStore, StoreResult};
use kanect_core::{AccountToken, TokenHash, TokenPurpose, UserId};

#[async_trait::async_trait]
impl AccountTokenStore for FjallStore {
    async fn put_account_token(&self, token: &AccountToken) -> StoreResult<bool> {
        let token = token.clone();
        self.write(move |inner| account_tokens::put(inner, &token).map(|stored| (stored, stored))).await
    }

    async fn take_account_token(
        &self,
        purpose: TokenPurpose,
        token_hash: &TokenHash,
    ) -> StoreResult<Option<AccountToken>> {
        let token_hash = *token_hash;
        self.write(move |inner| {
            let token = account_tokens::take(inner, purpose, &token_hash)?;
            let taken = token.is_some();
            Ok((token, taken))
        })
        .await
    }

    async fn delete_account_tokens_of(&self, user: UserId, purpose: Option<TokenPurpose>) -> StoreResult<u64> {
        self.write(move |inner| account_tokens::delete_of(inner, user, purpose).map(|count| (count, count > 0))).await
    }

    async fn account_tokens(&self, after: Option<TokenHash>, limit: usize) -> StoreResult<Vec<AccountToken>> {
        self.with(|inner| account_tokens::page(inner, after, limit))
    }
}
