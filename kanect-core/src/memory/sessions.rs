//! [`SessionStore`] for [`MemoryStore`].

use super::MemoryStore;
use crate::id::UserId;
use crate::model::{Session, Timestamp, TokenHash};
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

    async fn sessions_of(&self, user: UserId) -> StoreResult<Vec<Session>> {
        Ok(self.lock().sessions.values().filter(|session| session.user == user).cloned().collect())
    }

    async fn touch_session(
        &self,
        token_hash: &TokenHash,
        at: Timestamp,
        user_agent: Option<&str>,
    ) -> StoreResult<bool> {
        let mut state = self.lock();
        let Some(session) = state.sessions.get_mut(token_hash) else { return Ok(false) };
        session.last_used = Some(at);
        if let Some(agent) = user_agent {
            session.user_agent = Some(agent.to_owned());
        }
        Ok(true)
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
