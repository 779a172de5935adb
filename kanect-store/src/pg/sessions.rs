//! [`SessionStore`] for [`PgStore`]: `kanect_sessions`, one statement per method.

use super::rows::{self, session_columns};
use super::sql::{execute, limit, query, query_opt, Params};
use super::PgStore;
use async_trait::async_trait;
use kanect_core::backend::{Session, SessionStore, StoreResult};
use kanect_core::{Timestamp, TokenHash, UserId};

#[async_trait]
impl SessionStore for PgStore {
    async fn insert_session(&self, session: &Session) -> StoreResult<()> {
        let sql = "INSERT INTO kanect_sessions (token_hash, user_id, created_at, expires_at, last_used, user_agent) \
                   VALUES ($1, $2, $3, $4, $5, $6) \
                   ON CONFLICT (token_hash) DO UPDATE SET user_id = EXCLUDED.user_id, \
                   created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, \
                   last_used = EXCLUDED.last_used, user_agent = EXCLUDED.user_agent";
        let client = self.client().await?;
        let params: Params<'_> = &[
            &&session.token_hash.0[..],
            session.user.as_uuid(),
            &rows::signed(session.created_at.0, "created_at")?,
            &rows::signed(session.expires_at.0, "expires_at")?,
            &session.last_used.map(|at| rows::signed(at.0, "last_used")).transpose()?,
            &session.user_agent,
        ];
        execute(&client, sql, params).await.map(drop)
    }

    async fn session(&self, token_hash: &TokenHash) -> StoreResult<Option<Session>> {
        let sql = concat!("SELECT ", session_columns!(), " FROM kanect_sessions WHERE token_hash = $1");
        let client = self.client().await?;
        query_opt(&client, sql, &[&&token_hash.0[..]]).await?.as_ref().map(rows::session).transpose()
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> StoreResult<bool> {
        let client = self.client().await?;
        let sql = "DELETE FROM kanect_sessions WHERE token_hash = $1";
        Ok(execute(&client, sql, &[&&token_hash.0[..]]).await? > 0)
    }

    async fn sessions_of(&self, user: UserId) -> StoreResult<Vec<Session>> {
        let sql = concat!("SELECT ", session_columns!(), " FROM kanect_sessions WHERE user_id = $1");
        let client = self.client().await?;
        query(&client, sql, &[user.as_uuid()]).await?.iter().map(rows::session).collect()
    }

    async fn touch_session(
        &self,
        token_hash: &TokenHash,
        at: Timestamp,
        user_agent: Option<&str>,
    ) -> StoreResult<bool> {
        // One statement: a session deleted meanwhile stays deleted (no row to update).
        let sql = "UPDATE kanect_sessions SET last_used = $2, user_agent = COALESCE($3, user_agent) \
                   WHERE token_hash = $1";
        let client = self.client().await?;
        let params: Params<'_> = &[&&token_hash.0[..], &rows::signed(at.0, "last_used")?, &user_agent];
        Ok(execute(&client, sql, params).await? > 0)
    }

    async fn delete_sessions_of(&self, user: UserId) -> StoreResult<u64> {
        let client = self.client().await?;
        execute(&client, "DELETE FROM kanect_sessions WHERE user_id = $1", &[user.as_uuid()]).await
    }

    async fn sessions(&self, after: Option<TokenHash>, count: usize) -> StoreResult<Vec<Session>> {
        // bytea compares as unsigned bytes, the order of `TokenHash`
        let sql = concat!(
            "SELECT ",
            session_columns!(),
            " FROM kanect_sessions WHERE ($1::bytea IS NULL OR token_hash > $1) ORDER BY token_hash LIMIT $2"
        );
        let client = self.client().await?;
        let after = after.as_ref().map(|hash| &hash.0[..]);
        query(&client, sql, &[&after, &limit(count)]).await?.iter().map(rows::session).collect()
    }
}
