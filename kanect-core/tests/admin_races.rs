//! An account deleted between an admin action's read and its write: the action answers
//! `user_not_found`, and announces and audits nothing. The window is a few microseconds in a
//! real deployment (another administrator's delete, on this node or another), so a store that
//! deletes the account right after handing it out opens it on every run.

mod support;

use async_trait::async_trait;
use kanect_core::{
    Appended, AuditEntry, AuditId, Chat, Conversation, ConversationId, HistoryPage, MemoryStore, Message, MessageId,
    NewMessage, Receipt, ReceiptKind, Registration, Role, Seq, Session, Store, StoreResult, StoreStats, TokenHash,
    User, UserId, UserQuery,
};
use std::sync::{Arc, Mutex};
use support::*;

/// A memory store that deletes one chosen account right after a read hands it out, as if
/// another administrator deleted it at that moment.
#[derive(Clone, Default)]
struct VanishingAccounts {
    inner: Arc<MemoryStore>,
    doomed: Arc<Mutex<Option<UserId>>>,
}

impl VanishingAccounts {
    fn doom(&self, id: UserId) {
        *self.doomed.lock().unwrap() = Some(id);
    }

    /// Deletes `found` if it is the doomed account; hands it out either way.
    async fn after_read(&self, found: Option<User>) -> StoreResult<Option<User>> {
        if let Some(user) = &found {
            let doomed = self.doomed.lock().unwrap().take_if(|id| *id == user.id).is_some();
            if doomed {
                self.inner.delete_user(user.id).await?;
            }
        }
        Ok(found)
    }
}

#[async_trait]
impl Store for VanishingAccounts {
    async fn insert_user(&self, user: &User, password_hash: &str) -> StoreResult<()> {
        self.inner.insert_user(user, password_hash).await
    }
    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        let found = self.inner.user(id).await?;
        self.after_read(found).await
    }
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let found = self.inner.user_by_username(username).await?;
        self.after_read(found).await
    }
    async fn update_user(&self, user: &User) -> StoreResult<bool> {
        self.inner.update_user(user).await
    }
    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        self.inner.delete_user(id).await
    }
    async fn password_hash(&self, id: UserId) -> StoreResult<Option<String>> {
        self.inner.password_hash(id).await
    }
    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<bool> {
        self.inner.set_password_hash(id, hash).await
    }
    async fn users(&self, query: &UserQuery) -> StoreResult<Vec<User>> {
        self.inner.users(query).await
    }
    async fn insert_session(&self, session: &Session) -> StoreResult<()> {
        self.inner.insert_session(session).await
    }
    async fn session(&self, token_hash: &TokenHash) -> StoreResult<Option<Session>> {
        self.inner.session(token_hash).await
    }
    async fn delete_session(&self, token_hash: &TokenHash) -> StoreResult<bool> {
        self.inner.delete_session(token_hash).await
    }
    async fn delete_sessions_of(&self, user: UserId) -> StoreResult<u64> {
        self.inner.delete_sessions_of(user).await
    }
    async fn insert_conversation(&self, conversation: &Conversation) -> StoreResult<bool> {
        self.inner.insert_conversation(conversation).await
    }
    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        self.inner.conversation(id).await
    }
    async fn add_member(&self, id: ConversationId, user: UserId) -> StoreResult<Option<Conversation>> {
        self.inner.add_member(id, user).await
    }
    async fn remove_member(&self, id: ConversationId, user: UserId) -> StoreResult<Option<Conversation>> {
        self.inner.remove_member(id, user).await
    }
    async fn set_conversation_details(
        &self,
        id: ConversationId,
        name: Option<String>,
        owner: Option<UserId>,
    ) -> StoreResult<Option<Conversation>> {
        self.inner.set_conversation_details(id, name, owner).await
    }
    async fn conversations_of(&self, user: UserId) -> StoreResult<Vec<ConversationId>> {
        self.inner.conversations_of(user).await
    }
    async fn conversations(&self, after: Option<ConversationId>, limit: usize) -> StoreResult<Vec<Conversation>> {
        self.inner.conversations(after, limit).await
    }
    async fn append_message(&self, message: NewMessage) -> StoreResult<Appended> {
        self.inner.append_message(message).await
    }
    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        self.inner.message(id).await
    }
    async fn replace_message(&self, message: &Message) -> StoreResult<bool> {
        self.inner.replace_message(message).await
    }
    async fn history(
        &self,
        conversation: ConversationId,
        page: HistoryPage,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        self.inner.history(conversation, page, limit).await
    }
    async fn last_seq(&self, conversation: ConversationId) -> StoreResult<Seq> {
        self.inner.last_seq(conversation).await
    }
    async fn advance_receipt(
        &self,
        conversation: ConversationId,
        user: UserId,
        kind: ReceiptKind,
        seq: Seq,
    ) -> StoreResult<Option<Receipt>> {
        self.inner.advance_receipt(conversation, user, kind, seq).await
    }
    async fn receipts(&self, conversation: ConversationId) -> StoreResult<Vec<Receipt>> {
        self.inner.receipts(conversation).await
    }
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        self.inner.append_audit(entry).await
    }
    async fn audit_log(&self, before: Option<AuditId>, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        self.inner.audit_log(before, limit).await
    }
    async fn stats(&self) -> StoreResult<StoreStats> {
        self.inner.stats().await
    }
    async fn flush(&self) -> StoreResult<()> {
        self.inner.flush().await
    }
}

/// An engine on a [`VanishingAccounts`] store, its administrator, and bob, whose account is
/// the one to vanish; a device of carol's, connected, to see what is announced.
struct Setup {
    chat: Chat,
    store: VanishingAccounts,
    admin: kanect_core::Caller,
    bob: User,
    carols_device: kanect_core::Subscription,
}

async fn setup() -> Setup {
    let store = VanishingAccounts::default();
    let chat = Chat::builder(store.clone()).config(fast_config()).build().await.unwrap();
    let (root, _) = chat.ensure_admin(Registration::new("root", "root password")).await.unwrap();
    let admin = chat.act_as(root.id).await.unwrap();
    let (bob, _) = user(&chat, "bob").await;
    let (_, carol) = user(&chat, "carol").await;
    let mut carols_device = chat.subscribe(&carol).await.unwrap();
    drain(&mut carols_device);
    Setup { chat, store, admin, bob, carols_device }
}

/// Nothing was announced to carol and nothing audited.
async fn nothing_happened(mut setup: Setup) {
    tokio::task::yield_now().await;
    assert_eq!(drain(&mut setup.carols_device), vec![], "nothing announced");
    assert_eq!(setup.chat.audit_log(&setup.admin, None, 10).await.unwrap(), vec![], "nothing audited");
}

#[tokio::test]
async fn a_role_change_of_an_account_deleted_meanwhile_is_user_not_found() {
    let setup = setup().await;
    setup.store.doom(setup.bob.id);
    assert_eq!(code(setup.chat.set_role(&setup.admin, setup.bob.id, Role::Admin).await), "user_not_found");
    assert_eq!(setup.chat.store().user(setup.bob.id).await.unwrap(), None, "not written back");
    nothing_happened(setup).await;
}

#[tokio::test]
async fn disabling_an_account_deleted_meanwhile_is_user_not_found() {
    let setup = setup().await;
    setup.store.doom(setup.bob.id);
    assert_eq!(code(setup.chat.set_disabled(&setup.admin, setup.bob.id, true).await), "user_not_found");
    assert_eq!(setup.chat.store().user(setup.bob.id).await.unwrap(), None, "not written back");
    nothing_happened(setup).await;
}

#[tokio::test]
async fn a_password_reset_of_an_account_deleted_meanwhile_is_user_not_found() {
    let setup = setup().await;
    setup.store.doom(setup.bob.id);
    assert_eq!(
        code(setup.chat.reset_password(&setup.admin, setup.bob.id, "a brand new password").await),
        "user_not_found"
    );
    assert_eq!(setup.chat.store().password_hash(setup.bob.id).await.unwrap(), None, "no hash left behind");
    nothing_happened(setup).await;
}

#[tokio::test]
async fn promoting_at_start_an_account_deleted_meanwhile_fails_instead_of_announcing_it() {
    let setup = setup().await;
    setup.store.doom(setup.bob.id);
    assert_eq!(code(setup.chat.ensure_admin(Registration::new("bob", "bob's new password")).await), "user_not_found");
    nothing_happened(setup).await;
}

#[tokio::test]
async fn deleting_an_account_another_administrator_deleted_meanwhile_is_user_not_found() {
    let setup = setup().await;
    setup.store.doom(setup.bob.id);
    assert_eq!(code(setup.chat.delete_user(&setup.admin, setup.bob.id).await), "user_not_found");
    nothing_happened(setup).await;
}
