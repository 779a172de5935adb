//! [`InviteStore`] for [`MemoryStore`]: invites by id (ordered, for paging) and a token-hash
//! index; the store's one lock makes a redemption atomic.

use super::MemoryStore;
use crate::error::InviteRefused;
use crate::id::{InviteId, UserId};
use crate::model::{Timestamp, TokenHash};
use crate::store::{redeem, restore_use, Invite, InviteStore, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl InviteStore for MemoryStore {
    async fn insert_invite(&self, invite: &Invite) -> StoreResult<()> {
        let mut state = self.lock();
        if let Some(old) = state.invites.insert(invite.id, invite.clone()) {
            state.invite_tokens.remove(&old.token_hash);
        }
        state.invite_tokens.insert(invite.token_hash, invite.id);
        Ok(())
    }

    async fn invite(&self, id: InviteId) -> StoreResult<Option<Invite>> {
        Ok(self.lock().invites.get(&id).cloned())
    }

    async fn invite_by_token(&self, token_hash: &TokenHash) -> StoreResult<Option<Invite>> {
        let state = self.lock();
        Ok(state.invite_tokens.get(token_hash).and_then(|id| state.invites.get(id)).cloned())
    }

    async fn redeem_invite(
        &self,
        token_hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<Result<Invite, InviteRefused>> {
        let mut state = self.lock();
        let stored = state.invite_tokens.get(token_hash).and_then(|id| state.invites.get(id)).cloned();
        let redeemed = redeem(stored, now);
        if let Ok(invite) = &redeemed {
            state.invites.insert(invite.id, invite.clone());
        }
        Ok(redeemed)
    }

    async fn restore_invite_use(&self, id: InviteId) -> StoreResult<bool> {
        Ok(self.lock().invites.get_mut(&id).map(restore_use).is_some())
    }

    async fn delete_invite(&self, id: InviteId) -> StoreResult<bool> {
        let mut state = self.lock();
        let Some(invite) = state.invites.remove(&id) else { return Ok(false) };
        state.invite_tokens.remove(&invite.token_hash);
        Ok(true)
    }

    async fn invites(
        &self,
        created_by: Option<UserId>,
        before: Option<InviteId>,
        limit: usize,
    ) -> StoreResult<Vec<Invite>> {
        let state = self.lock();
        let upper = before.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        Ok(state
            .invites
            .range((std::ops::Bound::Unbounded, upper))
            .rev()
            .map(|(_, invite)| invite)
            .filter(|invite| created_by.is_none_or(|creator| invite.created_by == creator))
            .take(limit)
            .cloned()
            .collect())
    }
}
