//! [`AccountTokenStore`] for [`SledStore`]: the shared record space (`kv::account_tokens`), each
//! write acknowledged after group commit.

use super::SledStore;
use crate::kv::account_tokens;
use kanect_core::backend::{AccountTokenStore, StoreResult};
use kanect_core::{AccountToken, TokenHash, TokenPurpose, UserId};

#[async_trait::async_trait]
impl AccountTokenStore for SledStore {
    async fn put_account_token(&self, token: &AccountToken) -> StoreResult<bool> {
        self.write(|open| account_tokens::put(open, token).map(|stored| (stored, stored))).await
    }

    async fn take_account_token(
        &self,
        purpose: TokenPurpose,
        token_hash: &TokenHash,
    ) -> StoreResult<Option<AccountToken>> {
        self.write(|open| {
            let token = account_tokens::take(open, purpose, token_hash)?;
            let taken = token.is_some();
            Ok((token, taken))
        })
        .await
    }

    async fn delete_account_tokens_of(&self, user: UserId, purpose: Option<TokenPurpose>) -> StoreResult<u64> {
        self.write(|open| account_tokens::delete_of(open, user, purpose).map(|count| (count, count > 0))).await
    }

    async fn account_tokens(&self, after: Option<TokenHash>, limit: usize) -> StoreResult<Vec<AccountToken>> {
        self.with(|open| account_tokens::page(open, after, limit))
    }
}
