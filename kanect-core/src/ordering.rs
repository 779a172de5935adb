//! Per-conversation ordering of "persist, then fan out".
//!
//! The store assigns seqs in order, but two concurrent sends into one conversation could fan
//! out in the other order, and a device would see seq 6 before seq 5. The engine therefore
//! holds a per-conversation lock from appending a message until it has been handed to every
//! local device queue: fan-out follows seq order, and a resume that reads history under the
//! same lock sees every message either fully routed or not yet written.
//!
//! Sends to *different* conversations never wait on each other, so the store's group commit
//! still batches them; sends into one conversation are serialised on its flush. Locks are
//! created on demand and dropped when no one holds or waits for them.

use crate::id::ConversationId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

#[derive(Default)]
pub(crate) struct ConversationLocks {
    locks: Mutex<HashMap<ConversationId, Arc<AsyncMutex<()>>>>,
}

/// Holds one conversation's lock; releasing it forgets the lock if no one else wants it.
pub(crate) struct OrderGuard<'a> {
    owner: &'a ConversationLocks,
    id: ConversationId,
    guard: Option<OwnedMutexGuard<()>>,
}

impl ConversationLocks {
    pub(crate) async fn lock(&self, id: ConversationId) -> OrderGuard<'_> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(id).or_default().clone()
        };
        let guard = lock.lock_owned().await;
        OrderGuard { owner: self, id, guard: Some(guard) }
    }
}

impl Drop for OrderGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut locks = self.owner.locks.lock().unwrap_or_else(|p| p.into_inner());
        // Only the map holds it: nobody is waiting.
        if locks.get(&self.id).is_some_and(|lock| Arc::strong_count(lock) == 1) {
            locks.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn locks_are_forgotten_when_free() {
        let locks = ConversationLocks::default();
        let id = ConversationId::new();
        {
            let _held = locks.lock(id).await;
            assert_eq!(locks.locks.lock().unwrap().len(), 1);
        }
        assert!(locks.locks.lock().unwrap().is_empty());
    }
}
