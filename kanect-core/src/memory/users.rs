//! [`UserStore`] for [`MemoryStore`]: users by id, and an ordered index of folded usernames.
//! The lookup by address filters the records: they are all in memory, and an index beside
//! them would be one more map to keep right for no gain at this store's sizes.

use super::MemoryStore;
use crate::error::{Conflict, StoreError};
use crate::id::UserId;
use crate::model::User;
use crate::store::{matches_search, StoreResult, UserQuery, UserStore, UserUpdate};
use async_trait::async_trait;

#[async_trait]
impl UserStore for MemoryStore {
    async fn insert_user(&self, user: &User, password_hash: &str) -> StoreResult<()> {
        let mut state = self.lock();
        let folded = User::fold(&user.username);
        if state.usernames.contains_key(&folded) || state.users.contains_key(&user.id) {
            return Err(StoreError::Conflict(Conflict::UsernameTaken));
        }
        state.usernames.insert(folded, user.id);
        state.passwords.insert(user.id, password_hash.to_string());
        state.users.insert(user.id, user.clone());
        Ok(())
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        Ok(self.lock().users.get(&id).cloned())
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let state = self.lock();
        Ok(state.usernames.get(&User::fold(username)).and_then(|id| state.users.get(id)).cloned())
    }

    async fn update_user(&self, id: UserId, update: UserUpdate) -> StoreResult<Option<User>> {
        let mut state = self.lock();
        Ok(state.users.get_mut(&id).map(|user| {
            update.apply(user);
            user.clone()
        }))
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        let mut state = self.lock();
        let Some(user) = state.users.remove(&id) else { return Ok(false) };
        state.usernames.remove(&User::fold(&user.username));
        state.passwords.remove(&id);
        state.sessions.retain(|_, session| session.user != id);
        state.account_tokens.retain(|_, token| token.user != id);
        Ok(true)
    }

    async fn password_hash(&self, id: UserId) -> StoreResult<Option<String>> {
        Ok(self.lock().passwords.get(&id).cloned())
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<bool> {
        let mut state = self.lock();
        if !state.users.contains_key(&id) {
            return Ok(false);
        }
        state.passwords.insert(id, hash.to_string());
        Ok(true)
    }

    async fn users(&self, query: &UserQuery) -> StoreResult<Vec<User>> {
        let state = self.lock();
        let start = match &query.after {
            Some(after) => std::ops::Bound::Excluded(after.clone()),
            None => std::ops::Bound::Unbounded,
        };
        Ok(state
            .usernames
            .range((start, std::ops::Bound::Unbounded))
            .filter_map(|(_, id)| state.users.get(id))
            .filter(|user| query.search.as_deref().is_none_or(|needle| matches_search(user, needle)))
            .take(query.limit)
            .cloned()
            .collect())
    }

    async fn users_by_email(&self, address: &str) -> StoreResult<Vec<User>> {
        let folded = User::fold_email(address);
        let state = self.lock();
        let mut found: Vec<User> = state
            .users
            .values()
            .filter(|user| user.email.as_deref().is_some_and(|email| User::fold_email(email) == folded))
            .cloned()
            .collect();
        found.sort_by_key(|user| user.id);
        Ok(found)
    }
}
