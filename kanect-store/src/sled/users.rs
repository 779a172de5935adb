//! [`UserStore`] for [`SledStore`]: users and password hashes, and the synchronous halves of
//! their methods.
//!
//! Each write runs under the `accounts` lock (which sessions share, so that a user's deletion
//! takes every session of theirs along), checks, and applies one batch, which also moves the
//! user's address index entry (`kv::email_index`); the async methods then wait for group commit.

use super::format::{self, encode};
use super::open::Open;
use super::SledStore;
use crate::kv::{email_index, keys};
use kanect_core::backend::{matches_search, StoreResult, UserQuery, UserStore, UserUpdate};
use kanect_core::{Conflict, StoreError, User, UserId};

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
        email_index::reindex(self, &mut batch, None, Some(user));
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
        let Some(before) = self.get::<User>("user", &key)? else { return Ok(None) };
        let mut user = before.clone();
        update.apply(&mut user);
        let mut batch = sled::Batch::default();
        batch.insert(key, encode(&user)?);
        email_index::reindex(self, &mut batch, Some(&before), Some(&user));
        self.apply(batch)?;
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
        email_index::reindex(self, &mut batch, Some(&user), None);
        crate::kv::sessions::remove_of(self, id, &mut batch)?;
        crate::kv::account_tokens::remove_of(self, id, None, &mut batch)?;
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
}

#[async_trait::async_trait]
impl UserStore for SledStore {
    async fn insert_user(&self, user: &User, password_hash: &str) -> StoreResult<()> {
        self.write(|open| open.insert_user_now(user, password_hash).map(|()| ((), true))).await
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.with(|open| open.get("user", &keys::user(id)))
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        self.with(|open| open.user_by_username_now(username))
    }

    async fn update_user(&self, id: UserId, update: UserUpdate) -> StoreResult<Option<User>> {
        self.write(|open| {
            open.update_user_now(id, update).map(|updated| {
                let changed = updated.is_some();
                (updated, changed)
            })
        })
        .await
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        self.write(|open| open.delete_user_now(id).map(|deleted| (deleted, deleted))).await
    }

    async fn password_hash(&self, id: UserId) -> StoreResult<Option<String>> {
        let key = keys::password(id);
        self.with(|open| {
            open.get_raw(&key)?.map(|bytes| format::decode_text("password hash", &key, &bytes)).transpose()
        })
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<bool> {
        self.write(|open| open.set_password_hash_now(id, hash).map(|set| (set, set))).await
    }

    async fn users(&self, query: &UserQuery) -> StoreResult<Vec<User>> {
        self.with(|open| open.users_now(query))
    }

    async fn users_by_email(&self, address: &str) -> StoreResult<Vec<User>> {
        self.with(|open| email_index::users_by_email(open, address, |id| open.get("user", &keys::user(id))))
    }
}
