//! The bodies of the REST API (`/api/v1/...`), the admin API (`/api/v1/admin/...`) and
//! `GET /health`, each named after what it is for, request bodies first.
//!
//! Request bodies refuse fields they do not know (`deny_unknown_fields`): a client's typo must
//! be an error (`unknown_field`), not a setting silently left out. Response bodies ignore
//! fields they do not know, so a newer server's additions do not break an older client.
//! Endpoints that answer with a bare record or view (`GET /me` → [`User`], a send →
//! [`Message`]) have no type of their own here.
//!
//! They live in this module rather than at the crate's root because some names are short verbs
//! (`Send`, `Edit`) that would be ambiguous there, beside the WebSocket commands of the same
//! names: `rest::Send` says which one it is.

use crate::ids::{AttachmentId, AuditId, ConversationId, Seq, Timestamp, UserId};
use crate::records::{Conversation, Message, Receipt, ReceiptKind, Role, User};
use crate::views::{AdminUserView, ConversationView, UserView};
use serde::{Deserialize, Serialize};
use std::fmt;

pub use crate::invites::{
    CreatedInvite, Invite, InvitePage, InviteStatus, InviteToken, NewInvite, NewUser, SignUpInfo, SignUpMode, UserEdit,
};
pub use crate::search::{SearchHit, SearchPage, SnippetPart};

// ---- Requests ----

/// `POST /auth/signup`: a new account, logged in at once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    /// 3–32 of `A-Z a-z 0-9 _ . -`, unique case-insensitively.
    pub username: String,
    /// 8–256 characters, and not a weak one.
    pub password: String,
    /// A contact address, shown only to its owner and administrators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The name to show instead of the username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// An invite's token (from its link): needed when the server's sign-up mode is `invite`,
    /// ignored otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<String>,
}

/// `POST /auth/login`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogIn {
    /// Matched case-insensitively.
    pub username: String,
    /// The account's password.
    pub password: String,
}

/// Names one user: `POST /conversations/direct` (whom to talk to) and
/// `POST /conversations/{id}/members` (whom to add).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRef {
    /// The user.
    pub user: UserId,
}

/// `POST /conversations`: a new group, owned by the caller.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    /// The group's name.
    pub name: String,
    /// Who else is in it (the caller always is); none if left out.
    #[serde(default)]
    pub members: Vec<UserId>,
}

/// `PATCH /conversations/{id}`: a group's new name.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    /// The new name.
    pub name: String,
}

/// `POST /conversations/{id}/messages`: a message to store and deliver.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Send {
    /// The sender's idempotency key: a resend with the same one returns the original.
    pub client_id: String,
    /// The text (may be empty with attachments).
    pub body: String,
    /// Files uploaded by the sender (`POST /attachments`) to carry, in order: at most 10.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentId>,
    /// The seq of the message of the same conversation this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Seq>,
}

/// `PATCH /messages/{id}`: a message's new text.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    /// The new text.
    pub body: String,
}

/// `POST /conversations/{id}/receipts`: moves the caller's delivered or read mark forward.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mark {
    /// Which mark.
    pub kind: ReceiptKind,
    /// Up to which message.
    pub seq: Seq,
}

/// `PUT /admin/users/{id}/disabled`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disabled {
    /// `true` disables the account (ending its sessions), `false` enables it again.
    pub disabled: bool,
}

/// `PUT /admin/users/{id}/role`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRole {
    /// The new role.
    pub role: Role,
}

/// `POST /admin/users/{id}/password`: a new password set by an administrator.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Password {
    /// The new password (the same rules as at sign-up).
    pub password: String,
}

/// `POST /email/verify`: the token of a verification link (`#/verify/<token>`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    /// The token, as the link carries it.
    pub token: String,
}

/// `PUT /me/email`: a new address (or none), confirmed by the current password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeEmail {
    /// The account's password now.
    pub current_password: String,
    /// The new address; null or empty removes it.
    #[serde(default)]
    pub email: Option<String>,
}

/// `PUT /me/email/digests`: missed-message digests on or off.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Digests {
    /// True: mail a digest when messages wait unread; false: never.
    pub on: bool,
}

/// `POST /auth/reset`: a password-reset link, please, for this account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The account's e-mail address, or its username.
    pub account: String,
}

/// `POST /auth/reset/confirm`: a new password, with the token of a reset link.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    /// The token, as the link (`#/reset/<token>`) carries it.
    pub token: String,
    /// The new password (the same rules as at sign-up).
    pub password: String,
}

/// `PATCH /me`: the caller's own profile; a field left out stays, an empty text clears it.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// The name to show instead of the username, up to 64 characters (`""`: the username).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A short status text, up to 100 characters, an emoji being text too (`""`: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// `POST /me/password`: a new password, given the current one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password now (a wrong one is `wrong_password`, counted as a log-in attempt).
    pub current_password: String,
    /// The new password (the same rules as at sign-up).
    pub new_password: String,
    /// End every other session of the account too (their sockets and polls at once).
    #[serde(default)]
    pub end_other_sessions: bool,
}

/// `POST /me/delete`: deletes the caller's account, confirmed by its password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountDeletion {
    /// The account's password.
    pub password: String,
}

// ---- Responses ----

/// `GET /email`: what this server does by e-mail, for a client to show what it can (no
/// session needed).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct MailFeatures {
    /// Whether the server can mail at all: without it there is no verification, password
    /// reset or digest.
    pub enabled: bool,
    /// Whether addresses are verified, and whether chatting waits for it.
    pub verification: Verification,
}

/// Whether sign-up addresses are verified.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    /// Never.
    Off,
    /// A link is mailed; an unverified account chats all the same.
    Optional,
    /// A link is mailed; an unverified account may not send or start conversations
    /// (`email_unverified`) until it verifies.
    Required,
}

/// The answer to `POST /me/password`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PasswordChanged {
    /// How many other sessions were ended (0 unless `end_other_sessions`).
    pub ended_sessions: u64,
}

/// One of the caller's sessions (a device), in `GET /me/sessions`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SessionInfo {
    /// What `DELETE /me/sessions/{id}` takes: 32 hex digits (not the token, nor its hash).
    pub id: String,
    /// When it was made (the log-in).
    pub created_at: Timestamp,
    /// When it was last used, to the minute; `null` if not known.
    pub last_used: Option<Timestamp>,
    /// When it expires.
    pub expires_at: Timestamp,
    /// The browser or app, as its user agent says (cut at 256 bytes); `null` if not known.
    pub user_agent: Option<String>,
    /// Whether this is the session making the request.
    pub current: bool,
}

/// `GET /me/sessions`: the caller's sessions, most recently used first.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SessionList {
    /// The sessions.
    pub sessions: Vec<SessionInfo>,
}

/// The answer to `POST /auth/signup` and `POST /auth/login` (which also set the browser's
/// cookies).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedIn {
    /// The session token (64 hex characters): `Authorization: Bearer <token>`.
    pub token: String,
    /// The session's CSRF token, for a browser using the cookie session.
    pub csrf_token: String,
    /// When the session ends.
    pub expires_at: Timestamp,
    /// The account, `email` included.
    pub user: User,
}

/// The answer to `POST /auth/logout-all`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LoggedOut {
    /// How many sessions were ended.
    pub sessions: u64,
}

/// `GET /users`: a page of users ordered by username.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct UserPage {
    /// The users.
    pub users: Vec<UserView>,
    /// The `after` of the next page (the last username here); `null` on the last page.
    pub next: Option<String>,
}

/// `GET /conversations`: a page of the caller's conversations, most recently active first.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ConversationPage {
    /// The conversations.
    pub conversations: Vec<ConversationView>,
    /// The `after` of the next page, an opaque position in the order; `null` on the last page.
    pub next: Option<String>,
}

/// `GET /conversations/{id}/messages` and `GET /admin/conversations/{id}/messages`: a page of
/// history, oldest first.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct MessagePage {
    /// The messages.
    pub messages: Vec<Message>,
}

/// The answer to `POST /conversations/{id}/receipts`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Marked {
    /// The caller's marks after the move; `null` if the mark was already there (marks only
    /// move forward).
    pub receipt: Option<Receipt>,
}

/// `GET /admin/users`: a page of every user, disabled ones too, ordered by username.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AdminUserPage {
    /// The users.
    pub users: Vec<AdminUserView>,
    /// The `after` of the next page; `null` on the last page.
    pub next: Option<String>,
}

/// `GET /admin/conversations`: a page of every conversation, by id.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AdminConversationPage {
    /// The conversations.
    pub conversations: Vec<Conversation>,
    /// The `after` of the next page (the last id here); `null` on the last page.
    pub next: Option<ConversationId>,
}

/// `GET /admin/stats`: counts for the dashboard.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ServerStats {
    /// Accounts.
    pub users: u64,
    /// Users online, on any node as this one knows.
    pub online_users: u64,
    /// Conversations, direct and group.
    pub conversations: u64,
    /// Messages, deleted ones included.
    pub messages: u64,
    /// Devices connected to the node that answered.
    pub connections: u64,
}

/// One administrative action in the audit log.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Time-ordered: the log pages by it.
    pub id: AuditId,
    /// When.
    pub at: Timestamp,
    /// Who acted: an administrator; for an invite's entries its maker (who may be a user), or
    /// for `invite.use` the account that signed up with it.
    pub actor: UserId,
    /// A stable code: `user.create`, `user.edit`, `user.disable`, `user.enable`, `user.role`,
    /// `user.password_reset`, `user.delete`, `message.delete`, `store.export`, `invite.create`,
    /// `invite.revoke`, `invite.use`.
    pub action: String,
    /// What was acted on: a user's or a message's id.
    pub target: String,
    /// The detail, if the action has one (a new role, the message's conversation).
    pub detail: Option<String>,
}

/// `GET /admin/audit`: a page of the audit log, newest first.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AuditPage {
    /// The entries.
    pub entries: Vec<AuditEntry>,
    /// The `before` of the next page (the last id here); `null` on the last page.
    pub next: Option<AuditId>,
}

/// `GET /health`: whether this server should get traffic.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Health {
    /// What to match on.
    pub status: HealthStatus,
    /// The store's own word (`ok`, `failed`, `recovering`), for people; left out while
    /// shutting down, when the store is not asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

/// [`Health::status`]: `200` for `ok`, `503` otherwise.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Serving.
    Ok,
    /// The store fails; the server recovers by itself once the cause is gone.
    StoreUnavailable,
    /// Draining before it stops.
    ShuttingDown,
}

// Request and response bodies that carry a password or a session token show everything else
// in `Debug`: a program that logs its requests must not log those (as the engine's
// `SessionToken`).

impl fmt::Debug for SignUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SignUp { username, password: _, email, display_name, invite: _ } = self;
        f.debug_struct("SignUp")
            .field("username", username)
            .field("email", email)
            .field("display_name", display_name)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for LogIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let LogIn { username, password: _ } = self;
        f.debug_struct("LogIn").field("username", username).finish_non_exhaustive()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Password { password: _ } = self;
        f.debug_struct("Password").finish_non_exhaustive()
    }
}

impl fmt::Debug for Verify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verify").finish_non_exhaustive()
    }
}

impl fmt::Debug for ChangeEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ChangeEmail { current_password: _, email } = self;
        f.debug_struct("ChangeEmail").field("email", email).finish_non_exhaustive()
    }
}

impl fmt::Debug for ResetRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResetRequest").field("account", &self.account).finish()
    }
}

impl fmt::Debug for ResetConfirm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResetConfirm").finish_non_exhaustive()
    }
}

impl fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let PasswordChange { current_password: _, new_password: _, end_other_sessions } = self;
        f.debug_struct("PasswordChange").field("end_other_sessions", end_other_sessions).finish_non_exhaustive()
    }
}

impl fmt::Debug for AccountDeletion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let AccountDeletion { password: _ } = self;
        f.debug_struct("AccountDeletion").finish_non_exhaustive()
    }
}

impl fmt::Debug for LoggedIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let LoggedIn { token: _, csrf_token: _, expires_at, user } = self;
        f.debug_struct("LoggedIn").field("expires_at", expires_at).field("user", user).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_body_refuses_unknown_fields_and_takes_defaults() {
        let error = serde_json::from_value::<LogIn>(json!({"username": "a", "password": "b", "pw": 1})).unwrap_err();
        assert!(error.to_string().starts_with("unknown field `pw`"), "{error}");
        let group: NewGroup = serde_json::from_value(json!({"name": "crew"})).unwrap();
        assert!(group.members.is_empty());
        let signup: SignUp = serde_json::from_value(json!({"username": "a", "password": "b", "email": null})).unwrap();
        assert_eq!(signup.email, None);
        assert_eq!(serde_json::to_value(&signup).unwrap(), json!({"username": "a", "password": "b"}));
    }

    /// As the engine's `SessionToken`: a client or server that logs its requests at debug
    /// level must not log passwords and session tokens with them.
    #[test]
    fn debug_leaves_secrets_out() {
        let signup = SignUp {
            username: "alice".into(),
            password: "correct horse".into(),
            email: Some("a@example.com".into()),
            display_name: None,
            invite: Some("77aa0000".into()),
        };
        let login = LogIn { username: "alice".into(), password: "correct horse".into() };
        let reset = Password { password: "correct horse".into() };
        let logged_in = LoggedIn {
            token: "9f2c0000".into(),
            csrf_token: "41d00000".into(),
            expires_at: Timestamp(1),
            user: User {
                id: uuid::Uuid::nil().into(),
                username: "alice".into(),
                display_name: None,
                email: None,
                role: Role::User,
                created_at: Timestamp(1),
                disabled: false,
                last_seen: None,
                email_verified: false,
                digests_off: false,
                status: None,
                avatar: None,
            },
        };
        let shown = [format!("{signup:?}"), format!("{login:?}"), format!("{reset:?}"), format!("{logged_in:?}")];
        for text in &shown {
            for secret in ["correct horse", "9f2c0000", "41d00000", "77aa0000"] {
                assert!(!text.contains(secret), "{text}");
            }
        }
        assert!(shown[0].contains("alice") && shown[3].contains("alice"), "{shown:?}");
    }

    #[test]
    fn health_leaves_the_store_out_while_shutting_down() {
        let draining = Health { status: HealthStatus::ShuttingDown, store: None };
        assert_eq!(serde_json::to_value(&draining).unwrap(), json!({"status": "shutting_down"}));
        let failed = Health { status: HealthStatus::StoreUnavailable, store: Some("failed".into()) };
        assert_eq!(serde_json::to_value(failed).unwrap(), json!({"status": "store_unavailable", "store": "failed"}));
    }
}
