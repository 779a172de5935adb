//! [`AdminStore`] for [`FjallStore`]: the audit log (`0x0d` keys, by time-ordered id) and the
//! counts.

use super::format::{self, decode};
use super::{FjallStore, Inner};
use crate::kv::keys;
use kanect_core::backend::{AdminStore, StoreResult, StoreStats};
use kanect_core::{AuditEntry, AuditId, Seq};

impl Inner {
    fn audit_log_now(&self, before: Option<AuditId>, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        let prefix = keys::all_audit();
        let decode_entry = |entry: StoreResult<(fjall::Slice, fjall::Slice)>| {
            let (key, value) = entry?;
            decode("audit entry", &key, &value)
        };
        match before {
            Some(before) => {
                self.entries_before(&prefix, keys::audit(before)).rev().take(limit).map(decode_entry).collect()
            }
            None => self.entries_with(&prefix).rev().take(limit).map(decode_entry).collect(),
        }
    }

    fn stats_now(&self) -> StoreResult<StoreStats> {
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
        while let Some((key, _)) = self.entries_after(&all, next).next().transpose()? {
            let (conversation, _) = keys::parse_message_key(&key)?;
            total = total.saturating_add(self.last_seq_now(conversation)?.0);
            // The conversation's last possible message key: the next entry is another's.
            next = keys::message(conversation, Seq(u64::MAX));
        }
        Ok(total)
    }
}

#[async_trait::async_trait]
impl AdminStore for FjallStore {
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let entry = entry.clone();
        self.write(move |inner| {
            let mut batch = inner.batch();
            batch.insert(&inner.data, keys::audit(entry.id), format::encode(&entry)?);
            inner.commit(batch).map(|()| ((), true))
        })
        .await
    }

    async fn audit_log(&self, before: Option<AuditId>, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        self.with(|inner| inner.audit_log_now(before, limit))
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        self.with(|inner| inner.stats_now())
    }
}
