//! [`SessionStore`] for [`SledStore`]: the shared record space (`kv::sessions`), each write
//! acknowledged after group commit.

use super::SledStore;
use crate::kv::sessions;
use kanect_core::backend::{Session, SessionStore, StoreResult};
use kanect_core::{Timestamp, TokenHash, UserId};

#[async_trait::async_trait]
impl SessionStore for SledStore {
    async fn insert_session(&self, session: &Session) -> StoreResult<()> {
        self.write(|open| sessions::insert(open, session).map(|()| ((), true))).await
    }

    async fn session(&self, token_hash: &TokenHash) -> StoreResult<Option<Session>> {
        self.with(|open| sessions::get(open, token_hash))
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> StoreResult<bool> {
        self.write(|open| sessions::delete(open, token_hash).map(|deleted| (deleted, deleted))).await
    }

    async fn sessions_of(&self, user: UserId) -> StoreResult<Vec<Session>> {
        self.with(|open| sessions::of_user(open, user))
    }

    async fn touch_session(
        &self,
        token_hash: &TokenHash,
        at: Timestamp,
        user_agent: Option<&str>,
    ) -> StoreResult<bool> {
        self.write(|open| sessions::touch(open, token_hash, at, user_agent).map(|touched| (touched, touched))).await
    }

    async fn delete_sessions_of(&self, user: UserId) -> StoreResult<u64> {
        self.write(|open| sessions::delete_of(open, user).map(|count| (count, count > 0))).await
    }

    async fn sessions(&self, after: Option<TokenHash>, limit: usize) -> StoreResult<Vec<Session>> {
        self.with(|open| sessions::page(open, after, limit))
    }
}
