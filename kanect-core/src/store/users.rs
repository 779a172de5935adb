//! [`UserStore`]: user accounts and their password hashes.

use super::StoreResult;
use crate::id::{AttachmentId, UserId};
use crate::model::{Role, Timestamp, User};
use async_trait::async_trait;

/// User accounts and their credentials.
///
/// Usernames are unique case-insensitively ([`User::fold`]). The password hash is kept apart
/// from the [`User`] record, so that a record can be handed out freely.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Adds a user with its password hash.
    ///
    /// # Errors
    /// [`StoreError::Conflict`](crate::StoreError::Conflict) with `UsernameTaken` if the folded
    /// username exists.
    async fn insert_user(&self, user: &User, password_hash: &str) -> StoreResult<()>;

    /// A user by id.
    async fn user(&self, id: UserId) -> StoreResult<Option<User>>;

    /// A user by username, case-insensitively.
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;

    /// Changes one field of a user's record, atomically, leaving the others as they are now
    /// (not as the caller last read them: concurrent changes of other fields all take effect).
    /// Returns the record as this change left it, or None if there is no such user.
    async fn update_user(&self, id: UserId, update: UserUpdate) -> StoreResult<Option<User>>;

    /// Removes a user, their credentials, their sessions (those of
    /// [`SessionStore`](super::SessionStore)) and their account tokens (those of
    /// [`AccountTokenStore`](super::AccountTokenStore)): a deleted account keeps no way in. Returns false
    /// if absent. Messages and memberships are the engine's business.
    async fn delete_user(&self, id: UserId) -> StoreResult<bool>;

    /// The user's argon2 PHC hash string.
    async fn password_hash(&self, id: UserId) -> StoreResult<Option<String>>;

    /// Replaces the user's password hash. Returns false if there is no such user.
    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<bool>;

    /// A page of users.
    async fn users(&self, query: &UserQuery) -> StoreResult<Vec<User>>;

    /// Every user whose address is `address` once both are folded ([`User::fold_email`]), in
    /// id order: addresses are not unique. Read through an index kept in the same write as
    /// the user's record, never by reading the user list.
    async fn users_by_email(&self, address: &str) -> StoreResult<Vec<User>>;
}

/// A page of the user list, ordered by folded username.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct UserQuery {
    /// Only users whose folded username or lower-cased display name contains this
    /// (lower-case) text.
    pub search: Option<String>,
    /// Only users whose folded username sorts after this one (the previous page's last).
    pub after: Option<String>,
    /// At most this many.
    pub limit: usize,
}

/// One field of a user's record to change with [`UserStore::update_user`].
///
/// A field at a time, never a whole record written back: two administrators disabling and
/// promoting an account at once, or a disable racing with a device's last-seen update, must both
/// take effect, on one node or several.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum UserUpdate {
    /// The account's role.
    Role(Role),
    /// Whether the account is disabled.
    Disabled(bool),
    /// When the user was last seen online.
    LastSeen(Timestamp),
    /// The display name (validated), or none.
    DisplayName(Option<String>),
    /// A new address (or none): unverified, whatever the old one was.
    Email(Option<String>),
    /// The address is verified, if it is still this one (a verification link mailed to an
    /// address the account has since left verifies nothing).
    EmailVerified(String),
    /// Whether missed-message digests are off.
    DigestsOff(bool),
    /// When the last digest was mailed.
    DigestedAt(Timestamp),
    /// The user's status text (None: none).
    Status(Option<String>),
    /// The user's avatar (None: removed).
    Avatar(Option<AttachmentId>),
}

impl UserUpdate {
    /// Applies the change to a record: the rule every backend follows.
    pub fn apply(self, user: &mut User) {
        match self {
            UserUpdate::Role(role) => user.role = role,
            UserUpdate::Disabled(disabled) => user.disabled = disabled,
            UserUpdate::LastSeen(at) => user.last_seen = Some(at),
            UserUpdate::DisplayName(name) => user.display_name = name,
            UserUpdate::Email(email) => {
                user.email = email;
                user.email_verified = false;
            }
            UserUpdate::EmailVerified(address) => {
                if user.email.as_deref() == Some(address.as_str()) {
                    user.email_verified = true;
                }
            }
            UserUpdate::DigestsOff(off) => user.digests_off = off,
            UserUpdate::DigestedAt(at) => user.digested_at = Some(at),
            UserUpdate::Status(status) => user.status = status,
            UserUpdate::Avatar(avatar) => user.avatar = avatar,
        }
    }
}

/// Whether a user matches a (lower-case) search text: the rule every backend follows.
pub fn matches_search(user: &User, needle: &str) -> bool {
    User::fold(&user.username).contains(needle)
        || user.display_name.as_deref().is_some_and(|name| name.to_lowercase().contains(needle))
}
