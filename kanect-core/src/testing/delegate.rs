//! [`delegate_store!`](crate::delegate_store): a wrapper store's impls of the store traits,
//! every call handed on to the store inside, so that a test wrapper
//! ([`FaultyStore`](super::FaultyStore), or one of a test's own) writes out only the methods
//! it changes.
//!
//! The macro holds a table of every store trait's methods; a new domain trait adds its entry
//! here (a wrapper that misses one does not compile, so the table cannot fall behind).

/// Implements store traits for a wrapper by handing every call on to one of its fields: any
/// value whose methods include the trait's, such as an `Arc<MemoryStore>` or an
/// `Arc<dyn Store>`.
///
/// ```
/// use kanect_core::backend::StoreResult;
/// use kanect_core::{Chat, MemoryStore};
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// /// A store that counts the calls made to it.
/// #[derive(Default)]
/// struct Counted {
///     inner: MemoryStore,
///     calls: AtomicUsize,
/// }
///
/// impl Counted {
///     async fn count(&self, _method: &'static str) -> StoreResult<()> {
///         self.calls.fetch_add(1, Ordering::Relaxed);
///         Ok(())
///     }
/// }
///
/// // Each method calls `self.count("insert_user").await?` (and so on), then hands the call on
/// // to `self.inner`; `health` is handed on unchecked. Without `, before count`, each method
/// // only hands the call on.
/// kanect_core::delegate_store!(
///     impl UserStore, SessionStore, LoginAttemptStore, ConversationStore, MessageStore, AttachmentStore,
///         AdminStore, InviteStore, AccountTokenStore, NotificationStore, SecretStore, Store for Counted => inner,
///         before count
/// );
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let chat = Chat::builder(Counted::default()).build().await?;
/// # Ok::<_, kanect_core::Error>(())
/// # }).unwrap();
/// ```
///
/// The traits are named as in [`crate::backend`]: `UserStore`, `SessionStore`,
/// `LoginAttemptStore`, `ConversationStore`, `MessageStore`, `AttachmentStore`, `AdminStore`,
/// `InviteStore`, `AccountTokenStore`, `NotificationStore`, `SecretStore` and `Store` (its
/// own `flush`, `health` and `shared_rate_buckets`).
#[macro_export]
macro_rules! delegate_store {
    (impl $($trait:ident),+ for $wrapper:ty => $field:ident) => {
        $($crate::delegate_store!(@methods $trait ($trait, $wrapper, $field, []));)+
    };
    (impl $($trait:ident),+ for $wrapper:ty => $field:ident, before $check:ident) => {
        $($crate::delegate_store!(@methods $trait ($trait, $wrapper, $field, [$check]));)+
    };

    // The table: every trait's methods, with their arguments and what they return.
    (@methods UserStore $args:tt) => {
        $crate::delegate_store!(@impl $args
            insert_user(user: &$crate::User, password_hash: &str) -> ();
            user(id: $crate::UserId) -> Option<$crate::User>;
            user_by_username(username: &str) -> Option<$crate::User>;
            update_user(id: $crate::UserId, update: $crate::backend::UserUpdate) -> Option<$crate::User>;
            delete_user(id: $crate::UserId) -> bool;
            password_hash(id: $crate::UserId) -> Option<String>;
            set_password_hash(id: $crate::UserId, hash: &str) -> bool;
            users(query: &$crate::backend::UserQuery) -> Vec<$crate::User>;
            users_by_email(address: &str) -> Vec<$crate::User>;
        );
    };
    (@methods SessionStore $args:tt) => {
        $crate::delegate_store!(@impl $args
            insert_session(session: &$crate::backend::Session) -> ();
            session(token_hash: &$crate::TokenHash) -> Option<$crate::backend::Session>;
            delete_session(token_hash: &$crate::TokenHash) -> bool;
            sessions_of(user: $crate::UserId) -> Vec<$crate::backend::Session>;
            touch_session(token_hash: &$crate::TokenHash, at: $crate::Timestamp, user_agent: Option<&str>) -> bool;
            delete_sessions_of(user: $crate::UserId) -> u64;
            sessions(after: Option<$crate::TokenHash>, limit: usize) -> Vec<$crate::backend::Session>;
        );
    };
    (@methods LoginAttemptStore $args:tt) => {
        $crate::delegate_store!(@impl $args
            count_login_attempt(
                keys: &[($crate::backend::AttemptKey, $crate::SlowDown)],
                now: $crate::Timestamp
            ) -> $crate::backend::Attempt;
            clear_login_attempts(key: &$crate::backend::AttemptKey) -> ();
            expire_login_attempts(now: $crate::Timestamp) -> u64;
        );
    };
    (@methods ConversationStore $args:tt) => {
        $crate::delegate_store!(@impl $args
            insert_conversation(conversation: &$crate::Conversation) -> bool;
            conversation(id: $crate::ConversationId) -> Option<$crate::Conversation>;
            add_member(id: $crate::ConversationId, user: $crate::UserId) -> Option<$crate::Conversation>;
            remove_member(id: $crate::ConversationId, user: $crate::UserId) -> Option<$crate::Conversation>;
            set_conversation_details(
                id: $crate::ConversationId,
                name: Option<String>,
                owner: Option<$crate::UserId>
            ) -> Option<$crate::Conversation>;
            conversations_of(user: $crate::UserId) -> Vec<$crate::ConversationId>;
            conversations(after: Option<$crate::ConversationId>, limit: usize) -> Vec<$crate::Conversation>;
        );
    };
    (@methods MessageStore $args:tt) => {
        $crate::delegate_store!(@impl $args
            append_message(message: $crate::backend::NewMessage) -> $crate::backend::Appended;
            append_member_message(message: $crate::backend::NewMessage) -> Option<$crate::backend::Appended>;
            message(id: $crate::MessageId) -> Option<$crate::Message>;
            replace_message(message: &$crate::Message) -> bool;
            react(conversation: $crate::ConversationId, seq: $crate::Seq, id: $crate::MessageId,
                change: &$crate::ReactionChange) -> $crate::Reacted;
            history(conversation: $crate::ConversationId, page: $crate::HistoryPage, limit: usize)
                -> Vec<$crate::Message>;
            last_seq(conversation: $crate::ConversationId) -> $crate::Seq;
            advance_receipt(
                conversation: $crate::ConversationId,
                user: $crate::UserId,
                kind: $crate::ReceiptKind,
                seq: $crate::Seq
            ) -> Option<$crate::Receipt>;
            receipts(conversation: $crate::ConversationId) -> Vec<$crate::Receipt>;
        );
    };
    (@methods AttachmentStore $args:tt) => {
        $crate::delegate_store!(@impl $args
            insert_attachment(attachment: &$crate::Attachment) -> ();
            attachment(id: $crate::AttachmentId) -> Option<$crate::Attachment>;
            claim_attachments(ids: &[$crate::AttachmentId], owner: $crate::UserId, message: $crate::MessageRef, fresh_since: $crate::Timestamp)
                -> Result<Vec<$crate::Attachment>, $crate::backend::ClaimRefused>;
            delete_attachment(id: $crate::AttachmentId) -> bool;
            attachment_usage(owner: $crate::UserId) -> u64;
            attachments_after(after: Option<$crate::AttachmentId>, limit: usize) -> Vec<$crate::Attachment>;
        );
    };
    (@methods AccountTokenStore $args:tt) => {
        $crate::delegate_store!(@impl $args
            put_account_token(token: &$crate::AccountToken) -> bool;
            take_account_token(purpose: $crate::TokenPurpose, token_hash: &$crate::TokenHash)
                -> Option<$crate::AccountToken>;
            delete_account_tokens_of(user: $crate::UserId, purpose: Option<$crate::TokenPurpose>) -> u64;
            account_tokens(after: Option<$crate::TokenHash>, limit: usize) -> Vec<$crate::AccountToken>;
        );
    };
    (@methods AdminStore $args:tt) => {
        $crate::delegate_store!(@impl $args
            append_audit(entry: &$crate::AuditEntry) -> ();
            audit_log(before: Option<$crate::AuditId>, limit: usize) -> Vec<$crate::AuditEntry>;
            stats() -> $crate::backend::StoreStats;
        );
    };
    (@methods InviteStore $args:tt) => {
        $crate::delegate_store!(@impl $args
            insert_invite(invite: &$crate::Invite) -> ();
            invite(id: $crate::InviteId) -> Option<$crate::Invite>;
            invite_by_token(token_hash: &$crate::TokenHash) -> Option<$crate::Invite>;
            redeem_invite(token_hash: &$crate::TokenHash, now: $crate::Timestamp)
                -> Result<$crate::Invite, $crate::InviteRefused>;
            restore_invite_use(id: $crate::InviteId) -> bool;
            delete_invite(id: $crate::InviteId) -> bool;
            invites(created_by: Option<$crate::UserId>, before: Option<$crate::InviteId>, limit: usize)
                -> Vec<$crate::Invite>;
        );
    };
    (@methods NotificationStore $args:tt) => {
        $crate::delegate_store!(@impl $args
            notification_settings(user: $crate::UserId) -> Option<$crate::NotificationSettings>;
            put_notification_settings(user: $crate::UserId, settings: &$crate::NotificationSettings) -> ();
            insert_push_subscription(subscription: &$crate::PushSubscription) -> ();
            push_subscriptions_of(user: $crate::UserId) -> Vec<$crate::PushSubscription>;
            delete_push_subscription(user: $crate::UserId, endpoint: &str) -> bool;
            delete_notifications_of(user: $crate::UserId) -> ();
        );
    };
    (@methods SecretStore $args:tt) => {
        $crate::delegate_store!(@impl $args
            server_secret(name: &str) -> Option<Vec<u8>>;
            init_server_secret(name: &str, value: &[u8]) -> Vec<u8>;
            server_secrets() -> Vec<(String, Vec<u8>)>;
        );
    };
    // `health` answers without a `Result`, and `shared_rate_buckets` is not a call to the
    // store, so both are handed on without the check.
    (@methods Store ($trait:ident, $wrapper:ty, $field:ident, $before:tt)) => {
        #[$crate::testing::async_trait]
        impl $crate::backend::Store for $wrapper {
            async fn flush(&self) -> $crate::backend::StoreResult<()> {
                // The trait's methods are callable on an `Arc<dyn Store>` without it, not on others.
                #[allow(unused_imports)]
                use $crate::backend::Store as _;
                $crate::delegate_store!(@before self $before flush);
                self.$field.flush().await
            }

            async fn health(&self) -> $crate::StoreHealth {
                #[allow(unused_imports)]
                use $crate::backend::Store as _;
                self.$field.health().await
            }

            fn shared_rate_buckets(&self) -> Option<&dyn $crate::backend::SharedRateBuckets> {
                #[allow(unused_imports)]
                use $crate::backend::Store as _;
                self.$field.shared_rate_buckets()
            }
        }
    };

    // One impl from a table entry (the whole impl comes out of the macro so that
    // `async_trait` sees the methods themselves).
    (@impl ($trait:ident, $wrapper:ty, $field:ident, $before:tt)
        $($name:ident($($arg:ident: $ty:ty),* $(,)?) -> $out:ty;)*) => {
        #[$crate::testing::async_trait]
        impl $crate::backend::$trait for $wrapper {
            $(
                async fn $name(&self, $($arg: $ty),*) -> $crate::backend::StoreResult<$out> {
                    // The trait's methods are callable on an `Arc<dyn Store>` without it, not on others.
                    #[allow(unused_imports)]
                    use $crate::backend::$trait as _;
                    $crate::delegate_store!(@before self $before $name);
                    self.$field.$name($($arg),*).await
                }
            )*
        }
    };
    (@before $self:ident [] $name:ident) => {};
    (@before $self:ident [$check:ident] $name:ident) => {
        $self.$check(stringify!($name)).await?;
    };
}
