//! The bodies of sign-up modes, invites and the admin's account editing: what the sign-up page
//! asks before showing its form, an invite link's record, and the admin's new-user and edit
//! forms. Named from [`rest`](crate::rest), beside the other REST bodies: `rest::Invite`.

use crate::ids::{InviteId, Timestamp, UserId};
use crate::records::Role;
use serde::{Deserialize, Serialize};

/// Who may sign up, as the operator set it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignUpMode {
    /// Anyone.
    Open,
    /// Only with an invite (`invite` in [`SignUp`](crate::rest::SignUp)).
    Invite,
    /// Nobody: administrators create accounts.
    Closed,
}

/// `GET /auth/signup`: what a sign-up page needs to know before it shows its form.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SignUpInfo {
    /// The mode.
    pub mode: SignUpMode,
    /// Whether users (not only administrators) may make invites.
    pub users_may_invite: bool,
}

/// `POST /auth/invite`: is this invite usable? (The token goes in a body, not a URL, so that it
/// stays out of access logs.)
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteToken {
    /// The token from the link.
    pub invite: String,
}

impl std::fmt::Debug for InviteToken {
    /// Not the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InviteToken").finish_non_exhaustive()
    }
}

/// The answer to `POST /auth/invite`: the invite is usable now.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct InviteStatus {
    /// When it stops working.
    pub expires_at: Timestamp,
    /// Sign-ups it still allows.
    pub uses_left: u32,
}

/// `POST /invites`: a new invite.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInvite {
    /// Sign-ups it allows: 1 to 1000 (the server's maximum).
    pub uses: u32,
    /// How long it stays valid, in seconds: 60 to 2592000 (30 days, the server's maximum).
    pub expires_in_secs: u64,
}

/// An invite, without its token (shown once, when made).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Invite {
    /// What it is listed and revoked by.
    pub id: InviteId,
    /// Who made it.
    pub created_by: UserId,
    /// When.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// Sign-ups it allowed when made.
    pub uses: u32,
    /// Sign-ups it still allows.
    pub uses_left: u32,
}

/// The answer to `POST /invites`: the invite, and its token (secret, shown this once). The
/// web app's link is `/#/invite/<token>` on the server's origin.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedInvite {
    /// The record.
    pub invite: Invite,
    /// The token: 64 hex digits.
    pub token: String,
}

impl std::fmt::Debug for CreatedInvite {
    /// Not the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedInvite").field("invite", &self.invite).finish_non_exhaustive()
    }
}

/// `GET /invites` and `GET /admin/invites`: a page of invites, newest first.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct InvitePage {
    /// The invites.
    pub invites: Vec<Invite>,
    /// The `before` of the next page (the last id here); `null` on the last page.
    pub next: Option<InviteId>,
}

/// `POST /admin/users`: an account made by an administrator, in any sign-up mode.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// As at sign-up.
    pub username: String,
    /// As at sign-up.
    pub password: String,
    /// Optional, as at sign-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Optional, as at sign-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `user` if left out.
    #[serde(default)]
    pub role: Role,
}

impl std::fmt::Debug for NewUser {
    /// Not the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let NewUser { username, password: _, email, display_name, role } = self;
        f.debug_struct("NewUser")
            .field("username", username)
            .field("email", email)
            .field("display_name", display_name)
            .field("role", role)
            .finish_non_exhaustive()
    }
}

/// `PATCH /admin/users/{id}`: a field given is set (`""` clears it), a field left out kept.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEdit {
    /// The display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The e-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}
