//! [`InviteStore`] for [`SledStore`]: the shared record space (`kv::invites`), each write
//! acknowledged after group commit.

use super::SledStore;
use crate::kv::invites;
use kanect_core::backend::{InviteStore, StoreResult};
use kanect_core::{Invite, InviteId, InviteRefused, Timestamp, TokenHash, UserId};

#[async_trait::async_trait]
impl InviteStore for SledStore {
    async fn insert_invite(&self, invite: &Invite) -> StoreResult<()> {
        self.write(|open| invites::insert(open, invite).map(|()| ((), true))).await
    }

    async fn invite(&self, id: InviteId) -> StoreResult<Option<Invite>> {
        self.with(|open| invites::get(open, id))
    }

    async fn invite_by_token(&self, token_hash: &TokenHash) -> StoreResult<Option<Invite>> {
        self.with(|open| invites::by_token(open, token_hash))
    }

    async fn redeem_invite(
        &self,
        token_hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<Result<Invite, InviteRefused>> {
        self.write(|open| invites::redeem(open, token_hash, now)).await
    }

    async fn restore_invite_use(&self, id: InviteId) -> StoreResult<bool> {
        self.write(|open| invites::restore_use(open, id).map(|restored| (restored, restored))).await
    }

    async fn delete_invite(&self, id: InviteId) -> StoreResult<bool> {
        self.write(|open| invites::delete(open, id).map(|deleted| (deleted, deleted))).await
    }

    async fn invites(
        &self,
        created_by: Option<UserId>,
        before: Option<InviteId>,
        limit: usize,
    ) -> StoreResult<Vec<Invite>> {
        self.with(|open| invites::page(open, created_by, before, limit))
    }
}
