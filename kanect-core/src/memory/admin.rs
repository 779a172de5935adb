//! [`AdminStore`] for [`MemoryStore`]: the audit log, ordered by id, and counts.

use super::MemoryStore;
use crate::id::AuditId;
use crate::model::{AuditEntry, StoreStats};
use crate::store::{AdminStore, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl AdminStore for MemoryStore {
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        self.lock().audit.insert(entry.id, entry.clone());
        Ok(())
    }

    async fn audit_log(&self, before: Option<AuditId>, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        let state = self.lock();
        let upper = match before {
            Some(id) => std::ops::Bound::Excluded(id),
            None => std::ops::Bound::Unbounded,
        };
        Ok(state.audit.range((std::ops::Bound::Unbounded, upper)).rev().take(limit).map(|(_, e)| e.clone()).collect())
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        let state = self.lock();
        Ok(StoreStats {
            users: state.users.len() as u64,
            conversations: state.conversations.len() as u64,
            messages: state.messages.values().map(|list| list.len() as u64).sum(),
        })
    }
}
