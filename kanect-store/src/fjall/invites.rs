//! [`InviteStore`] for [`FjallStore`]: the shared record space (`kv::invites`), each write
//! a job on the writer thread, acknowledged after its group sync.

use super::FjallStore;
use crate::kv::invites;
use kanect_core::backend::{InviteStore, StoreResult};
use kanect_core::{Invite, InviteId, InviteRefused, Timestamp, TokenHash, UserId};

#[async_trait::async_trait]
impl InviteStore for FjallStore {
    async fn insert_invite(&self, invite: &Invite) -> StoreResult<()> {
        let invite = invite.clone();
        self.write(move |inner| invites::insert(inner, &invite).map(|()| ((), true))).await
    }

    async fn invite(&self, id: InviteId) -> StoreResult<Option<Invite>> {
        self.with(|inner| invites::get(inner, id))
    }

    async fn invite_by_token(&self, token_hash: &TokenHash) -> StoreResult<Option<Invite>> {
        self.with(|inner| invites::by_token(inner, token_hash))
    }

    async fn redeem_invite(
        &self,
        token_hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<Result<Invite, InviteRefused>> {
        let token_hash = *token_hash;
        self.write(move |inner| invites::redeem(inner, &token_hash, now)).await
    }

    async fn restore_invite_use(&self, id: InviteId) -> StoreResult<bool> {
        self.write(move |inner| invites::restore_use(inner, id).map(|restored| (restored, restored))).await
    }

    async fn delete_invite(&self, id: InviteId) -> StoreResult<bool> {
        self.write(move |inner| invites::delete(inner, id).map(|deleted| (deleted, deleted))).await
    }

    async fn invites(
        &self,
        created_by: Option<UserId>,
        before: Option<InviteId>,
        limit: usize,
    ) -> StoreResult<Vec<Invite>> {
        self.with(|inner| invites::page(inner, created_by, before, limit))
    }
}
