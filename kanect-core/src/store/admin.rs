//! [`AdminStore`]: what administration records and reads: the audit log and the counts.

use super::StoreResult;
use crate::id::AuditId;
use crate::model::{AuditEntry, StoreStats};
use async_trait::async_trait;

/// The audit log of administrative actions, and counts of everything stored.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Appends an audit entry.
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()>;

    /// A page of the audit log, newest first, before `before` if given.
    async fn audit_log(&self, before: Option<AuditId>, limit: usize) -> StoreResult<Vec<AuditEntry>>;

    /// Counts of users, conversations and messages.
    async fn stats(&self) -> StoreResult<StoreStats>;
}
