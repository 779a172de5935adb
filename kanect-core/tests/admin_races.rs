//! Admin actions racing with other changes to the same account, with the race's window open on
//! every run: a store wrapper runs the other change right after the action reads the account
//! (or right before it writes it). In a real deployment the window is a few microseconds
//! (another administrator, on this node or another; a device going offline).
//!
//! - An account deleted meanwhile: the action answers `user_not_found`, and announces and
//!   audits nothing.
//! - A change of another field meanwhile (a promotion during a disable, a disable during a
//!   promotion or during a device's last-seen update): both changes take effect. Whole-record
//!   writes lost one of them (the hardening issue's item 14).

mod support;

use async_trait::async_trait;
use kanect_core::backend::{StoreResult, UserQuery, UserStore, UserUpdate};
use kanect_core::{Chat, MemoryStore, Registration, Role, User, UserId};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use support::*;

/// What runs in the window: another change to the account.
type Change = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A memory store that runs a chosen change the first time one account is read (after the
/// read: the reader holds the record as it was) or written (before the write).
#[derive(Clone, Default)]
struct Interleaving {
    inner: Arc<MemoryStore>,
    armed: Arc<Mutex<Option<(UserId, Change)>>>,
}

impl Interleaving {
    /// Runs `change` in the window of the next action on account `id`.
    fn arm(&self, id: UserId, change: impl Future<Output = ()> + Send + 'static) {
        let change: Change = Box::new(move || Box::pin(change));
        *self.armed.lock().unwrap() = Some((id, change));
    }

    /// Deletes account `id` in the window of the next action on it, as if another
    /// administrator deleted it at that moment.
    fn doom(&self, id: UserId) {
        let inner = self.inner.clone();
        self.arm(id, async move {
            inner.delete_user(id).await.unwrap();
        });
    }

    /// Runs the armed change if it is `id`'s.
    async fn window(&self, id: UserId) {
        let change = self.armed.lock().unwrap().take_if(|(armed, _)| *armed == id).map(|(_, change)| change);
        if let Some(change) = change {
            change().await;
        }
    }

    async fn after_read(&self, found: Option<User>) -> StoreResult<Option<User>> {
        if let Some(user) = &found {
            self.window(user.id).await;
        }
        Ok(found)
    }
}

/// The account reads and writes open the window; every other call is handed on as it is.
#[async_trait]
impl UserStore for Interleaving {
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
    async fn update_user(&self, id: UserId, update: UserUpdate) -> StoreResult<Option<User>> {
        self.window(id).await;
        self.inner.update_user(id, update).await
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
    async fn users_by_email(&self, address: &str) -> StoreResult<Vec<User>> {
        self.inner.users_by_email(address).await
    }
}

kanect_core::delegate_store!(
    impl SessionStore, LoginAttemptStore, ConversationStore, MessageStore, AttachmentStore, AdminStore, InviteStore, AccountTokenStore,
    NotificationStore, SecretStore, Store for Interleaving => inner
);

/// An engine on an [`Interleaving`] store, its administrator, and bob, whose account the races
/// are about; a device of carol's, connected, to see what is announced.
struct Setup {
    chat: Chat,
    store: Interleaving,
    admin: kanect_core::Caller,
    bob: User,
    carols_device: kanect_core::Subscription,
}

async fn setup() -> Setup {
    let store = Interleaving::default();
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
    assert_eq!(setup.store.user(setup.bob.id).await.unwrap(), None, "not written back");
    nothing_happened(setup).await;
}

#[tokio::test]
async fn disabling_an_account_deleted_meanwhile_is_user_not_found() {
    let setup = setup().await;
    setup.store.doom(setup.bob.id);
    assert_eq!(code(setup.chat.set_disabled(&setup.admin, setup.bob.id, true).await), "user_not_found");
    assert_eq!(setup.store.user(setup.bob.id).await.unwrap(), None, "not written back");
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
    assert_eq!(setup.store.password_hash(setup.bob.id).await.unwrap(), None, "no hash left behind");
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

#[tokio::test]
async fn a_promotion_during_a_disable_is_kept() {
    let setup = setup().await;
    let (chat, admin, bob) = (setup.chat.clone(), setup.admin.clone(), setup.bob.id);
    setup.store.arm(bob, async move {
        chat.set_role(&admin, bob, Role::Admin).await.unwrap();
    });
    let disabled = setup.chat.set_disabled(&setup.admin, bob, true).await.unwrap();
    let stored = setup.store.user(bob).await.unwrap().unwrap();
    assert_eq!((stored.role, stored.disabled), (Role::Admin, true), "both changes stored");
    assert_eq!(disabled, stored, "the action answers the account as stored");
}

#[tokio::test]
async fn a_disable_during_a_promotion_is_kept() {
    let setup = setup().await;
    let (chat, admin, bob) = (setup.chat.clone(), setup.admin.clone(), setup.bob.id);
    setup.store.arm(bob, async move {
        chat.set_disabled(&admin, bob, true).await.unwrap();
    });
    let promoted = setup.chat.set_role(&setup.admin, bob, Role::Admin).await.unwrap();
    let stored = setup.store.user(bob).await.unwrap().unwrap();
    assert_eq!((stored.role, stored.disabled), (Role::Admin, true), "both changes stored");
    assert_eq!(promoted, stored, "the action answers the account as stored");
    assert_eq!(code(setup.chat.act_as(bob).await), "account_disabled");
}

#[tokio::test]
async fn a_disable_while_a_device_goes_offline_is_kept() {
    let setup = setup().await;
    let bob = setup.bob.id;
    let device = setup.chat.subscribe(&setup.chat.act_as(bob).await.unwrap()).await.unwrap();
    let (chat, admin) = (setup.chat.clone(), setup.admin.clone());
    setup.store.arm(bob, async move {
        chat.set_disabled(&admin, bob, true).await.unwrap();
    });
    // Its last device gone, bob's last-seen time is recorded (in a task `flush` waits for).
    drop(device);
    setup.chat.flush().await.unwrap();
    let stored = setup.store.user(bob).await.unwrap().unwrap();
    assert!(setup.store.armed.lock().unwrap().is_none(), "the disable ran in the window");
    assert!(stored.disabled, "still disabled");
    assert!(stored.last_seen.is_some(), "last seen recorded");
}
