//! [`AdminStore`] for [`PgStore`]: `kanect_audit`, and the counts.

use super::rows::{self, audit_columns};
use super::sql::{execute, limit, query, query_one, Params};
use super::PgStore;
use async_trait::async_trait;
use kanect_core::backend::{AdminStore, StoreResult, StoreStats};
use kanect_core::{AuditEntry, AuditId, StoreError};

#[async_trait]
impl AdminStore for PgStore {
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let sql = "INSERT INTO kanect_audit (id, at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)";
        let client = self.client().await?;
        let params: Params<'_> = &[
            entry.id.as_uuid(),
            &rows::signed(entry.at.0, "at")?,
            entry.actor.as_uuid(),
            &entry.action,
            &entry.target,
            &entry.detail,
        ];
        execute(&client, sql, params).await.map(drop)
    }

    async fn audit_log(&self, before: Option<AuditId>, count: usize) -> StoreResult<Vec<AuditEntry>> {
        let sql = concat!(
            "SELECT ",
            audit_columns!(),
            " FROM kanect_audit WHERE ($1::uuid IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"
        );
        let client = self.client().await?;
        let before = before.map(|id| *id.as_uuid());
        query(&client, sql, &[&before, &limit(count)]).await?.iter().map(rows::audit).collect()
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        // Seqs are gap-free and messages are never removed (deletion blanks them), so the sum of
        // last seqs counts messages without scanning the message table.
        let sql = "SELECT (SELECT count(*) FROM kanect_users), (SELECT count(*) FROM kanect_conversations), \
                   (SELECT COALESCE(SUM(last_seq), 0)::bigint FROM kanect_conversation_seqs)";
        let client = self.client().await?;
        let row = query_one(&client, sql, &[]).await?;
        let count = |index: usize, what: &str| -> StoreResult<u64> {
            rows::unsigned(row.try_get(index).map_err(|error| StoreError::Corrupt(format!("{what}: {error}")))?, what)
        };
        Ok(StoreStats {
            users: count(0, "users")?,
            conversations: count(1, "conversations")?,
            messages: count(2, "messages")?,
        })
    }
}
