//! [`AccountTokenStore`] for [`PgStore`]: `kanect_account_tokens`, one statement per method.
//! A take is a `DELETE ... RETURNING`: of concurrent takes on any nodes, one gets the row. A put
//! is an upsert on the unique (user, purpose) index: of concurrent puts, the row ends up the
//! newest's, and no moment has two.

use super::rows::{self, account_token_columns};
use super::sql::{execute, limit, query, query_opt, Params};
use super::PgStore;
use async_trait::async_trait;
use kanect_core::backend::{AccountTokenStore, StoreResult};
use kanect_core::{AccountToken, TokenHash, TokenPurpose, UserId};

#[async_trait]
impl AccountTokenStore for PgStore {
    async fn put_account_token(&self, token: &AccountToken) -> StoreResult<bool> {
        let sql = "INSERT INTO kanect_account_tokens (token_hash, purpose, user_id, address, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, purpose) DO UPDATE SET \
                   token_hash = EXCLUDED.token_hash, address = EXCLUDED.address, created_at = EXCLUDED.created_at, \
                   expires_at = EXCLUDED.expires_at WHERE kanect_account_tokens.created_at <= EXCLUDED.created_at";
        let client = self.client().await?;
        let params: Params<'_> = &[
            &&token.token_hash.0[..],
            &rows::purpose_text(token.purpose),
            token.user.as_uuid(),
            &token.address,
            &rows::signed(token.created_at.0, "created_at")?,
            &rows::signed(token.expires_at.0, "expires_at")?,
        ];
        // One row inserted or replaced; none if the stored token is newer.
        Ok(execute(&client, sql, params).await? == 1)
    }

    async fn take_account_token(
        &self,
        purpose: TokenPurpose,
        token_hash: &TokenHash,
    ) -> StoreResult<Option<AccountToken>> {
        let sql = concat!(
            "DELETE FROM kanect_account_tokens WHERE token_hash = $1 AND purpose = $2 RETURNING ",
            account_token_columns!()
        );
        let client = self.client().await?;
        let row = query_opt(&client, sql, &[&&token_hash.0[..], &rows::purpose_text(purpose)]).await?;
        row.as_ref().map(rows::account_token).transpose()
    }

    async fn delete_account_tokens_of(&self, user: UserId, purpose: Option<TokenPurpose>) -> StoreResult<u64> {
        let sql = "DELETE FROM kanect_account_tokens WHERE user_id = $1 AND ($2::text IS NULL OR purpose = $2)";
        let client = self.client().await?;
        execute(&client, sql, &[user.as_uuid(), &purpose.map(rows::purpose_text)]).await
    }

    async fn account_tokens(&self, after: Option<TokenHash>, count: usize) -> StoreResult<Vec<AccountToken>> {
        // bytea compares as unsigned bytes, the order of `TokenHash`
        let sql = concat!(
            "SELECT ",
            account_token_columns!(),
            " FROM kanect_account_tokens WHERE ($1::bytea IS NULL OR token_hash > $1) ORDER BY token_hash LIMIT $2"
        );
        let client = self.client().await?;
        let after = after.as_ref().map(|hash| &hash.0[..]);
        query(&client, sql, &[&after, &limit(count)]).await?.iter().map(rows::account_token).collect()
    }
}
