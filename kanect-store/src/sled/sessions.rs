//! [`SessionStore`] for [`SledStore`]: sessions by token hash (`0x04` keys), indexed by user
//! (`0x05`), and the synchronous halves of their methods.
//!
//! Writes run under the `accounts` lock that user writes take too (see `users`), and each is
//! one batch, so a session and its index entry never part.

use super::format::{decode, encode};
use super::open::Open;
use super::SledStore;
use crate::kv::keys;
use kanect_core::backend::{Session, SessionStore, StoreResult};
use kanect_core::{StoreError, Timestamp, TokenHash, UserId};

impl Open {
    pub(super) fn insert_session_now(&self, session: &Session) -> StoreResult<()> {
        let mut batch = sled::Batch::default();
        batch.insert(keys::session(&session.token_hash), encode(session)?);
        batch.insert(keys::user_session(session.user, &session.token_hash), &[]);
        let _accounts = self.accounts();
        self.apply(batch)
    }

    pub(super) fn delete_session_now(&self, token_hash: &TokenHash) -> StoreResult<bool> {
        let key = keys::session(token_hash);
        let _accounts = self.accounts();
        let Some(bytes) = self.get_raw(&key)? else { return Ok(false) };
        let session: Session = decode("session", &key, &bytes)?;
        let mut batch = sled::Batch::default();
        batch.remove(key);
        batch.remove(keys::user_session(session.user, token_hash));
        self.apply(batch)?;
        Ok(true)
    }

    /// Every session of `user`, through the user index.
    pub(super) fn sessions_of_now(&self, user: UserId) -> StoreResult<Vec<Session>> {
        let prefix = keys::user_sessions(user);
        let mut sessions = Vec::new();
        for key in self.keys_with(&prefix) {
            let hash = session_hash(&prefix, &key?)?;
            if let Some(session) = self.get("session", &keys::session(&hash))? {
                sessions.push(session);
            }
        }
        Ok(sessions)
    }

    /// Records a use, under the accounts lock so that a delete in between is seen (and a
    /// deleted session is not written back).
    pub(super) fn touch_session_now(
        &self,
        token_hash: &TokenHash,
        at: Timestamp,
        user_agent: Option<&str>,
    ) -> StoreResult<bool> {
        let key = keys::session(token_hash);
        let _accounts = self.accounts();
        let Some(mut session) = self.get::<Session>("session", &key)? else { return Ok(false) };
        session.last_used = Some(at);
        if let Some(agent) = user_agent {
            session.user_agent = Some(agent.to_owned());
        }
        self.insert(&key, encode(&session)?)?;
        Ok(true)
    }

    pub(super) fn delete_sessions_of_now(&self, user: UserId) -> StoreResult<u64> {
        let mut batch = sled::Batch::default();
        let _accounts = self.accounts();
        let count = self.remove_sessions_of(user, &mut batch)?;
        if count > 0 {
            self.apply(batch)?;
        }
        Ok(count)
    }

    pub(super) fn sessions_now(&self, after: Option<TokenHash>, limit: usize) -> StoreResult<Vec<Session>> {
        let prefix = keys::all_sessions();
        let start = after.map_or_else(|| prefix.clone(), |hash| keys::session(&hash));
        self.entries_after(&prefix, start)
            .take(limit)
            .map(|entry| {
                let (key, value) = entry?;
                decode("session", &key, &value)
            })
            .collect()
    }

    /// Adds the removal of every session of `user` (and its index entry) to `batch`.
    pub(super) fn remove_sessions_of(&self, user: UserId, batch: &mut sled::Batch) -> StoreResult<u64> {
        let prefix = keys::user_sessions(user);
        let mut count = 0;
        for key in self.keys_with(&prefix) {
            let key = key?;
            let hash = session_hash(&prefix, &key)?;
            batch.remove(keys::session(&hash));
            batch.remove(key);
            count += 1;
        }
        Ok(count)
    }
}

/// The token hash a user index key (under `prefix`) names.
fn session_hash(prefix: &[u8], key: &[u8]) -> StoreResult<TokenHash> {
    key.get(prefix.len()..)
        .and_then(|hash| <[u8; 32]>::try_from(hash).ok())
        .map(TokenHash)
        .ok_or_else(|| StoreError::Corrupt(format!("session index key of {} bytes", key.len())))
}

#[async_trait::async_trait]
impl SessionStore for SledStore {
    async fn insert_session(&self, session: &Session) -> StoreResult<()> {
        self.write(|open| open.insert_session_now(session).map(|()| ((), true))).await
    }

    async fn session(&self, token_hash: &TokenHash) -> StoreResult<Option<Session>> {
        self.with(|open| open.get("session", &keys::session(token_hash)))
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> StoreResult<bool> {
        self.write(|open| open.delete_session_now(token_hash).map(|deleted| (deleted, deleted))).await
    }

    async fn sessions_of(&self, user: UserId) -> StoreResult<Vec<Session>> {
        self.with(|open| open.sessions_of_now(user))
    }

    async fn touch_session(
        &self,
        token_hash: &TokenHash,
        at: Timestamp,
        user_agent: Option<&str>,
    ) -> StoreResult<bool> {
        self.write(|open| open.touch_session_now(token_hash, at, user_agent).map(|touched| (touched, touched))).await
    }

    async fn delete_sessions_of(&self, user: UserId) -> StoreResult<u64> {
        self.write(|open| open.delete_sessions_of_now(user).map(|count| (count, count > 0))).await
    }

    async fn sessions(&self, after: Option<TokenHash>, limit: usize) -> StoreResult<Vec<Session>> {
        self.with(|open| open.sessions_now(after, limit))
    }
}
