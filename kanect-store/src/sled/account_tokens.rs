//! [`AccountTokenStore`] for [`SledStore`]: mailed single-use tokens by hash (`0x10` keys),
//! indexed by user (`0x11`), and the synchronous halves of their methods.
//!
//! Writes run under the `accounts` lock that user and session writes take too, and each is one
//! batch, so a token and its index entry never part, and a take (read, then remove) is atomic:
//! one process owns a sled store.

use super::format::{decode, encode};
use super::open::Open;
use super::SledStore;
use crate::kv::keys;
use kanect_core::backend::{AccountTokenStore, StoreResult};
use kanect_core::{AccountToken, StoreError, TokenHash, TokenPurpose, UserId};

impl Open {
    fn insert_account_token_now(&self, token: &AccountToken) -> StoreResult<()> {
        let mut batch = sled::Batch::default();
        batch.insert(keys::account_token(&token.token_hash), encode(token)?);
        batch.insert(keys::user_account_token(token.user, &token.token_hash), &[]);
        let _accounts = self.accounts();
        self.apply(batch)
    }

    fn take_account_token_now(&self, purpose: TokenPurpose, hash: &TokenHash) -> StoreResult<Option<AccountToken>> {
        let key = keys::account_token(hash);
        let _accounts = self.accounts();
        let Some(bytes) = self.get_raw(&key)? else { return Ok(None) };
        let token: AccountToken = decode("account token", &key, &bytes)?;
        if token.purpose != purpose {
            return Ok(None);
        }
        let mut batch = sled::Batch::default();
        batch.remove(key);
        batch.remove(keys::user_account_token(token.user, hash));
        self.apply(batch)?;
        Ok(Some(token))
    }

    fn delete_account_tokens_of_now(&self, user: UserId, purpose: Option<TokenPurpose>) -> StoreResult<u64> {
        let mut batch = sled::Batch::default();
        let _accounts = self.accounts();
        let count = self.remove_account_tokens_of(user, purpose, &mut batch)?;
        if count > 0 {
            self.apply(batch)?;
        }
        Ok(count)
    }

    /// Adds the removal of `user`'s tokens (of `purpose`, or all) and their index entries to
    /// `batch`; returns how many. Called under the accounts lock.
    pub(super) fn remove_account_tokens_of(
        &self,
        user: UserId,
        purpose: Option<TokenPurpose>,
        batch: &mut sled::Batch,
    ) -> StoreResult<u64> {
        let prefix = keys::user_account_tokens(user);
        let mut count = 0;
        for index in self.keys_with(&prefix) {
            let index = index?;
            let hash = index
                .get(prefix.len()..)
                .and_then(|hash| <[u8; 32]>::try_from(hash).ok())
                .ok_or_else(|| StoreError::Corrupt(format!("account token index key of {} bytes", index.len())))?;
            let key = keys::account_token(&TokenHash(hash));
            if let Some(purpose) = purpose {
                let token: Option<AccountToken> = self.get("account token", &key)?;
                if token.is_some_and(|token| token.purpose != purpose) {
                    continue;
                }
            }
            batch.remove(key);
            batch.remove(index);
            count += 1;
        }
        Ok(count)
    }

    fn account_tokens_now(&self, after: Option<TokenHash>, limit: usize) -> StoreResult<Vec<AccountToken>> {
        let prefix = keys::all_account_tokens();
        let start = after.map_or_else(|| prefix.clone(), |hash| keys::account_token(&hash));
        self.entries_after(&prefix, start)
            .take(limit)
            .map(|entry| {
                let (key, value) = entry?;
                decode("account token", &key, &value)
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl AccountTokenStore for SledStore {
    async fn insert_account_token(&self, token: &AccountToken) -> StoreResult<()> {
        self.write(|open| open.insert_account_token_now(token).map(|()| ((), true))).await
    }

    async fn take_account_token(
        &self,
        purpose: TokenPurpose,
        token_hash: &TokenHash,
    ) -> StoreResult<Option<AccountToken>> {
        self.write(|open| {
            let token = open.take_account_token_now(purpose, token_hash)?;
            let taken = token.is_some();
            Ok((token, taken))
        })
        .await
    }

    async fn delete_account_tokens_of(&self, user: UserId, purpose: Option<TokenPurpose>) -> StoreResult<u64> {
        self.write(|open| open.delete_account_tokens_of_now(user, purpose).map(|count| (count, count > 0))).await
    }

    async fn account_tokens(&self, after: Option<TokenHash>, limit: usize) -> StoreResult<Vec<AccountToken>> {
        self.with(|open| open.account_tokens_now(after, limit))
    }
}
