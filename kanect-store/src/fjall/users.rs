//! [`UserStore`] for [`FjallStore`]: users and password hashes.
//!
//! Each write runs under the `accounts` mutex (which sessions share, so that a user's deletion
//! takes every session of theirs along), checks, commits one batch, which also moves the user's
//! address index entry (`kv::email_index`), and then waits for the group sync.

use super::format::{self, encode};
use super::{FjallStore, Inner};
use crate::kv::{email_index, keys};
use kanect_core::backend::{matches_search, StoreResult, UserQuery, UserStore, UserUpdate};
use kanect_core::{Conflict, StoreError, User, UserId};

impl Inner {
    fn insert_user_now(&self, user: &User, password_hash: &str) -> StoreResult<()> {
        let username = keys::username(&User::fold(&user.username));
        let record = encode(user)?;
        let _accounts = self.accounts();
        if self.get_raw(&username)?.is_some() || self.get_raw(&keys::user(user.id))?.is_some() {
            return Err(StoreError::Conflict(Conflict::UsernameTaken));
        }
        let mut batch = self.batch();
        batch.insert(&self.data, keys::user(user.id), record);
        batch.insert(&self.data, username, user.id.to_bytes());
        batch.insert(&self.data, keys::password(user.id), password_hash.as_bytes());
        email_index::reindex(self, &mut batch, None, Some(user));
        self.commit(batch)?;
        self.users.written(user.id, Some(user.clone()));
        Ok(())
    }

    fn user_now(&self, id: UserId) -> StoreResult<Option<User>> {
        self.users.read(id, || self.get("user", &keys::user(id)))
    }

    fn user_by_username_now(&self, username: &str) -> StoreResult<Option<User>> {
        let key = keys::username(&User::fold(username));
        let Some(id) = self.get_raw(&key)? else { return Ok(None) };
        let id = UserId::from_bytes(keys::id_at(&id, 0)?);
        self.user_now(id)
    }

    /// Changes one field under the accounts mutex, so that a concurrent change of another
    /// field (also under it) is read, not overwritten.
    fn update_user_now(&self, id: UserId, update: UserUpdate) -> StoreResult<Option<User>> {
        let _accounts = self.accounts();
        let Some(before) = self.user_now(id)? else { return Ok(None) };
        let mut user = before.clone();
        update.apply(&mut user);
        let mut batch = self.batch();
        batch.insert(&self.data, keys::user(id), encode(&user)?);
        email_index::reindex(self, &mut batch, Some(&before), Some(&user));
        self.commit(batch)?;
        self.users.written(id, Some(user.clone()));
        Ok(Some(user))
    }

    fn delete_user_now(&self, id: UserId) -> StoreResult<bool> {
        let _accounts = self.accounts();
        let Some(user) = self.user_now(id)? else { return Ok(false) };
        let mut batch = self.batch();
        batch.remove(&self.data, keys::user(id));
        batch.remove(&self.data, keys::username(&User::fold(&user.username)));
        batch.remove(&self.data, keys::password(id));
        email_index::reindex(self, &mut batch, Some(&user), None);
        crate::kv::sessions::remove_of(self, id, &mut batch)?;
        crate::kv::account_tokens::remove_of(self, id, None, &mut batch)?;
        self.commit(batch)?;
        self.users.written(id, None);
        Ok(true)
    }

    fn set_password_hash_now(&self, id: UserId, hash: &str) -> StoreResult<bool> {
        let _accounts = self.accounts();
        if self.get_raw(&keys::user(id))?.is_none() {
            return Ok(false);
        }
        let mut batch = self.batch();
        batch.insert(&self.data, keys::password(id), hash.as_bytes());
        self.commit(batch)?;
        Ok(true)
    }

    fn users_now(&self, query: &UserQuery) -> StoreResult<Vec<User>> {
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
            let Some(user) = self.user_now(id)? else { continue };
            if query.search.as_deref().is_none_or(|needle| matches_search(&user, needle)) {
                users.push(user);
            }
        }
        Ok(users)
    }
}

#[async_trait::async_trait]
impl UserStore for FjallStore {
    async fn insert_user(&self, user: &User, password_hash: &str) -> StoreResult<()> {
        let (user, password_hash) = (user.clone(), password_hash.to_owned());
        self.write(move |inner| inner.insert_user_now(&user, &password_hash).map(|()| ((), true))).await
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.with(|inner| inner.user_now(id))
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        self.with(|inner| inner.user_by_username_now(username))
    }

    async fn update_user(&self, id: UserId, update: UserUpdate) -> StoreResult<Option<User>> {
        self.write(move |inner| {
            inner.update_user_now(id, update).map(|updated| {
                let changed = updated.is_some();
                (updated, changed)
            })
        })
        .await
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        self.write(move |inner| inner.delete_user_now(id).map(|deleted| (deleted, deleted))).await
    }

    async fn password_hash(&self, id: UserId) -> StoreResult<Option<String>> {
        let key = keys::password(id);
        self.with(|inner| {
            inner.get_raw(&key)?.map(|bytes| format::decode_text("password hash", &key, &bytes)).transpose()
        })
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<bool> {
        let hash = hash.to_owned();
        self.write(move |inner| inner.set_password_hash_now(id, &hash).map(|set| (set, set))).await
    }

    async fn users(&self, query: &UserQuery) -> StoreResult<Vec<User>> {
        self.with(|inner| inner.users_now(query))
    }

    async fn users_by_email(&self, address: &str) -> StoreResult<Vec<User>> {
        self.with(|inner| email_index::users_by_email(inner, address, |id| inner.user_now(id)))
    }
}
