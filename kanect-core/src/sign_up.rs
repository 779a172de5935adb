//! The operator's choices about sign-ups: the [`SignUpMode`] and the [`InviteLimits`], plain
//! configuration that [`ChatConfig`](crate::ChatConfig) holds. Apart from `invites`, which
//! applies them on [`Chat`](crate::Chat), so that the configuration does not depend on the
//! engine that reads it.

use std::time::Duration;

/// Who may sign up from the public (see the `invites` module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignUpMode {
    /// Anyone.
    #[default]
    Open,
    /// Only with a valid invite.
    Invite,
    /// Nobody: administrators create the accounts.
    Closed,
}

impl SignUpMode {
    /// The stable name: `"open"`, `"invite"` or `"closed"` (also what [`str::parse`] reads).
    pub fn code(self) -> &'static str {
        match self {
            SignUpMode::Open => "open",
            SignUpMode::Invite => "invite",
            SignUpMode::Closed => "closed",
        }
    }
}

impl std::fmt::Display for SignUpMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The text was not `open`, `invite` or `closed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sign-up mode must be open, invite or closed")]
pub struct BadSignUpMode;

impl std::str::FromStr for SignUpMode {
    type Err = BadSignUpMode;

    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        match text {
            "open" => Ok(SignUpMode::Open),
            "invite" => Ok(SignUpMode::Invite),
            "closed" => Ok(SignUpMode::Closed),
            _ => Err(BadSignUpMode),
        }
    }
}

/// Who may make invites, and how big they may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InviteLimits {
    /// Whether users (not only administrators) may make invites. Default false.
    pub users_may_invite: bool,
    /// The most uses one invite may allow. Default 1000.
    pub max_uses: u32,
    /// The longest an invite may stay valid. Default 30 days.
    pub max_ttl: Duration,
    /// Usable (unexpired, not used up) invites a user who is not an administrator may hold at
    /// once. Default 20.
    pub open_per_user: usize,
}

impl Default for InviteLimits {
    fn default() -> Self {
        InviteLimits {
            users_may_invite: false,
            max_uses: 1000,
            max_ttl: Duration::from_secs(30 * 24 * 3600),
            open_per_user: 20,
        }
    }
}
