//! [`SessionStore`] for [`MemoryStore`].

use super::MemoryStore;
use crate::id::UserId;
use crate::model::{Session, TokenHash};
use crate::store::{SessionStore, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl SessionStore for MemoryStore {
    async fn insert_session(&self, session: &Session) -> StoreResult<()> {
        self.lock().sessions.insert(session.token_hash, session.clone());
        Ok(())
    }

    async fn session(&self, token_hash: &TokenHash) -> StoreResult<Option<Session>> {
        Ok(self.lock().sessions.get(token_hash).cloned())
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> StoreResult<bool> {
        Ok(self.lock().sessions.remove(token_hash).is_some())
    }

    async fn delete_sessions_of(&self, user: UserId) -> StoreResult<u64> {
        let mut state = self.lock();
        let before = state.sessions.len();
        state.sessions.retain(|_, session| session.user != user);
        Ok((before - state.sessions.len()) as u64)
    }

    async fn sessions(&self, after: Option<TokenHash>, limit: usize) -> StoreResult<Vec<Session>> {
        let state = self.lock();
        let mut page: Vec<Session> = state
            .sessions
            .values()
            .filter(|session| after.is_none_or(|after| session.token_hash > after))
            .cloned()
            .collect();
        page.sort_unstable_by_key(|session| session.token_hash);
        page.truncate(limit);
        Ok(page)
    }
}
