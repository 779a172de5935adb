//! Users, password hashes and sessions: the synchronous halves of the account methods.
//!
//! Each write runs under the `accounts` lock, checks, and applies one batch; the async
//! [`Store`](kanect_core::Store) methods then wait for group commit.

use super::format::{decode, encode};
use super::keys;
use super::open::Open;
use kanect_core::{
    matches_search, Conflict, Session, StoreError, StoreResult, TokenHash, User, UserId, UserQuery, UserUpdate,
};

impl Open {
    pub(super) fn insert_user_now(&self, user: &User, password_hash: &str) -> StoreResult<()> {
        let username = keys::username(&User::fold(&user.username));
        let record = encode(user)?;
        let _accounts = self.accounts();
        if self.get_raw(&username)?.is_some() || self.get_raw(&keys::user(user.id))?.is_some() {
            return Err(StoreError::Conflict(Conflict::UsernameTaken));
        }
        let mut batch = sled::Batch::default();
        batch.insert(keys::user(user.id), record);
        batch.insert(username, &user.id.to_bytes());
        batch.insert(keys::password(user.id), password_hash.as_bytes());
        self.apply(batch)
    }

    pub(super) fn user_by_username_now(&self, username: &str) -> StoreResult<Option<User>> {
        let key = keys::username(&User::fold(username));
        let Some(id) = self.get_raw(&key)? else { return Ok(None) };
        let id = UserId::from_bytes(keys::id_at(&id, 0)?);
        self.get("user", &keys::user(id))
    }

    /// Changes one field under the accounts lock, so that a concurrent change of another field
    /// (also under it) is read, not overwritten.
    pub(super) fn update_user_now(&self, id: UserId, update: UserUpdate) -> StoreResult<Option<User>> {
        let key = keys::user(id);
        let _accounts = self.accounts();
        let Some(mut user) = self.get::<User>("user", &key)? else { return Ok(None) };
        update.apply(&mut user);
        self.insert(&key, encode(&user)?)?;
        Ok(Some(user))
    }

    pub(super) fn delete_user_now(&self, id: UserId) -> StoreResult<bool> {
        let key = keys::user(id);
        let _accounts = self.accounts();
        let Some(user) = self.get::<User>("user", &key)? else { return Ok(false) };
        let mut batch = sled::Batch::default();
        batch.remove(key);
        batch.remove(keys::username(&User::fold(&user.username)));
        batch.remove(keys::password(id));
        self.remove_sessions_of(id, &mut batch)?;
        self.apply(batch)?;
        Ok(true)
    }

    pub(super) fn set_password_hash_now(&self, id: UserId, hash: &str) -> StoreResult<bool> {
        let _accounts = self.accounts();
        if self.get_raw(&keys::user(id))?.is_none() {
            return Ok(false);
        }
        self.insert(&keys::password(id), hash.as_bytes().to_vec())?;
        Ok(true)
    }

    pub(super) fn users_now(&self, query: &UserQuery) -> StoreResult<Vec<User>> {
        let prefix = keys::all_usernames();
        let start = match &query.after {
            Some(after) => keys::username(after),
            // Excluding the bare prefix byte skips nothing: every username key is longer.
            None => prefix.clone(),
        };
        let mut users = Vec::new();
        for entry in self.entries_after(&prefix, start) {
            if users.len() >= query.limit {
                break;
            }
            let (_, id) = entry?;
            let id = UserId::from_bytes(keys::id_at(&id, 0)?);
            // Absent only if the user was deleted since the scan read its username.
            let Some(user) = self.get::<User>("user", &keys::user(id))? else { continue };
            if query.search.as_deref().is_none_or(|needle| matches_search(&user, needle)) {
                users.push(user);
            }
        }
        Ok(users)
    }

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

    pub(super) fn delete_sessions_of_now(&self, user: UserId) -> StoreResult<u64> {
        let mut batch = sled::Batch::default();
        let _accounts = self.accounts();
        let count = self.remove_sessions_of(user, &mut batch)?;
        if count > 0 {
            self.apply(batch)?;
        }
        Ok(count)
    }

    /// Adds the removal of every session of `user` (and its index entry) to `batch`.
    fn remove_sessions_of(&self, user: UserId, batch: &mut sled::Batch) -> StoreResult<u64> {
        let prefix = keys::user_sessions(user);
        let mut count = 0;
        for key in self.keys_with(&prefix) {
            let key = key?;
            let hash = key
                .get(prefix.len()..)
                .and_then(|hash| <[u8; 32]>::try_from(hash).ok())
                .ok_or_else(|| StoreError::Corrupt(format!("session index key of {} bytes", key.len())))?;
            batch.remove(keys::session(&TokenHash(hash)));
            batch.remove(key);
            count += 1;
        }
        Ok(count)
    }
}
