//! [`AdminStore`] for [`SledStore`]: the audit log (`0x0d` keys, by time-ordered id) and the
//! counts, and the synchronous halves of their methods.

use super::format::{self, decode};
use super::open::Open;
use super::SledStore;
use crate::kv::keys;
use kanect_core::backend::{AdminStore, StoreResult, StoreStats};
use kanect_core::{AuditEntry, AuditId, Seq};

impl Open {
    pub(super) fn audit_log_now(&self, before: Option<AuditId>, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        let prefix = keys::all_audit();
        let decode_entry = |entry: StoreResult<(sled::IVec, sled::IVec)>| {
            let (key, value) = entry?;
            decode("audit entry", &key, &value)
        };
        let newest_first = match before {
            Some(before) => self.entries(self.db.range(prefix..keys::audit(before))).rev(),
            None => self.entries(self.db.scan_prefix(prefix)).rev(),
        };
        newest_first.take(limit).map(decode_entry).collect()
    }

    pub(super) fn stats_now(&self) -> StoreResult<StoreStats> {
        let count = |prefix: Vec<u8>| self.keys_with(&prefix).try_fold(0u64, |n, key| key.map(|_| n + 1));
        Ok(StoreStats {
            users: count(keys::all_users())?,
            conversations: count(keys::all_conversations())?,
            messages: self.message_count()?,
        })
    }

    /// Seqs are gap-free and messages are never removed: the last seqs sum to the count. One
    /// seek per conversation with messages, hopping from each to the next.
    fn message_count(&self) -> StoreResult<u64> {
        let all = keys::all_messages();
        let mut next = all.clone();
        let mut total = 0u64;
        while let Some(key) = self.entries_after(&all, next).next().transpose()? {
            let (conversation, _) = keys::parse_message_key(&key.0)?;
            total = total.saturating_add(self.last_seq_now(conversation)?.0);
            // The conversation's last possible message key: the next entry is another's.
            next = keys::message(conversation, Seq(u64::MAX));
        }
        Ok(total)
    }
}

#[async_trait::async_trait]
impl AdminStore for SledStore {
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        self.write(|open| open.insert(&keys::audit(entry.id), format::encode(entry)?).map(|()| ((), true))).await
    }

    async fn audit_log(&self, before: Option<AuditId>, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        self.with(|open| open.audit_log_now(before, limit))
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        self.with(|open| open.stats_now())
    }
}
