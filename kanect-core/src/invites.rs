//! Who may sign up: the operator's [`SignUpMode`], and invite links.
//!
//! The mode governs public sign-ups only ([`Chat::sign_up`], [`Chat::register_from`]): an
//! application's own trusted paths ([`Chat::register`]) and administrators
//! ([`Chat::admin_create_user`]) create accounts in every mode.
//!
//! - **open** (the default): anyone signs up. An invite given along is neither checked nor
//!   used: a stale link must not stop a sign-up that needs none.
//! - **invite**: a sign-up needs an invite's token (from its link); without one it is refused
//!   as `invite_required`.
//! - **closed**: refused as `sign_up_closed`, before anything else is looked at.
//!
//! **Invites.** An administrator (or any user, where [`InviteLimits::users_may_invite`](crate::InviteLimits::users_may_invite)) makes
//! an invite with a number of uses (1 to [`InviteLimits::max_uses`](crate::InviteLimits::max_uses)) and an expiry (a minute to
//! [`InviteLimits::max_ttl`](crate::InviteLimits::max_ttl)). Its token is 256 random bits, shown once, in the link; the store
//! keeps its SHA-256 only, as for sessions. A sign-up presents the token and is refused as
//! `invite_invalid` (unknown: forged, mistyped, or revoked, one code for all), `invite_expired` or
//! `invite_used_up`.
//!
//! **A use is taken only by an account made.** The sign-up is validated first (a bad username
//! or password uses nothing), the invite checked without writing (so a bad one is refused before
//! the password is hashed), and only then, after the hash, is one use taken atomically by the
//! store ([`InviteStore::redeem_invite`](crate::backend::InviteStore::redeem_invite)): of two
//! sign-ups racing for the last use, exactly one gets it, and the other is refused as
//! `invite_used_up` with nothing stored. Should the account then not be stored (its username
//! taken a moment before), the use is given back. A crash between the two steps loses that one
//! use: the invite's maker sees it in the count and can make another.
//!
//! **Attacker's view.** Tokens cannot be guessed (256 bits), so the unauthenticated check of
//! one ([`Chat::invite_status`]) needs no budget of its own; sign-ups with invites draw on the
//! sign-up rate limits as any other. A user who may invite holds at most
//! [`InviteLimits::open_per_user`](crate::InviteLimits::open_per_user) usable invites at once (`too_many_invites`), so one account
//! cannot mint invites without bound; administrators have no cap. Making and revoking an invite,
//! and each sign-up through one, are written to the audit log (actions `invite.create`,
//! `invite.revoke`, `invite.use`).

use crate::auth::{hash_token, random_token};
use crate::chat::{Caller, Chat};
use crate::error::{Denied, Entity, Error, Invalid, InviteRefused, Limit, Result};
use crate::id::{InviteId, UserId};
use crate::model::{Role, TokenHash};
use crate::sign_up::SignUpMode;
use crate::store::{redeem, Invite};
use crate::validate;
use std::time::Duration;

/// The shortest an invite may stay valid.
pub const INVITE_MIN_TTL: Duration = Duration::from_secs(60);

/// What a new invite allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewInvite {
    /// Sign-ups it allows: 1 to [`InviteLimits::max_uses`](crate::InviteLimits::max_uses).
    pub uses: u32,
    /// How long it stays valid: [`INVITE_MIN_TTL`] to [`InviteLimits::max_ttl`](crate::InviteLimits::max_ttl).
    pub expires_in: Duration,
}

/// A new invite: its record, and its token (secret, shown this once: the link carries it).
#[derive(Clone)]
pub struct CreatedInvite {
    /// The token to put in the link.
    pub token: String,
    /// The stored record.
    pub invite: Invite,
}

impl std::fmt::Debug for CreatedInvite {
    /// Not the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedInvite").field("invite", &self.invite).finish_non_exhaustive()
    }
}

/// Whose invites [`Chat::invites`] lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InviteScope {
    /// The caller's own.
    Mine,
    /// Everyone's (administrators only).
    All,
}

impl Chat {
    /// The operator's sign-up mode ([`ChatConfig::sign_up`](crate::ChatConfig::sign_up)).
    pub fn sign_up_mode(&self) -> SignUpMode {
        self.config().sign_up
    }

    /// Whether `caller` may make invites: an administrator, or any user where the operator
    /// allows it.
    ///
    /// # Errors
    /// `invalid_session` (the account is gone); `account_disabled`; `unavailable`.
    pub async fn may_invite(&self, caller: &Caller) -> Result<bool> {
        let role = self.active_role(caller).await?;
        Ok(role == Role::Admin || self.config().invites.users_may_invite)
    }

    /// Makes an invite (see the module docs), and writes `invite.create` to the audit log.
    ///
    /// # Errors
    /// `admin_only` (a user, where users may not invite); `out_of_range` for `uses` or
    /// `expires_in` outside their bounds; `too_many_invites` for a user holding
    /// [`InviteLimits::open_per_user`](crate::InviteLimits::open_per_user) usable invites; `invalid_session`, `account_disabled`;
    /// `unavailable`.
    pub async fn create_invite(&self, caller: &Caller, new: NewInvite) -> Result<CreatedInvite> {
        let limits = self.config().invites;
        let admin = self.active_role(caller).await? == Role::Admin;
        if !admin && !limits.users_may_invite {
            return Err(Error::Forbidden(Denied::AdminOnly));
        }
        if new.uses == 0 || new.uses > limits.max_uses {
            return Err(Error::invalid("uses", Invalid::OutOfRange));
        }
        if new.expires_in < INVITE_MIN_TTL || new.expires_in > limits.max_ttl {
            return Err(Error::invalid("expires_in", Invalid::OutOfRange));
        }
        let now = self.now();
        if !admin {
            let held = self.store().invites(Some(caller.user()), None, validate::PAGE_MAX).await?;
            if held.iter().filter(|invite| invite.usable_at(now)).count() >= limits.open_per_user {
                return Err(Error::Limited { limit: Limit::Invites, retry_after: None });
            }
        }
        let token = random_token();
        let invite = Invite {
            id: InviteId::new(),
            token_hash: hash_token(&token),
            created_by: caller.user(),
            created_at: now,
            expires_at: now.plus(new.expires_in),
            uses: new.uses,
            uses_left: new.uses,
        };
        self.store().insert_invite(&invite).await?;
        let detail = format!("uses={} expires_in={}s", new.uses, new.expires_in.as_secs());
        self.audit(caller.user(), "invite.create", invite.id.to_string(), Some(detail)).await?;
        Ok(CreatedInvite { token, invite })
    }

    /// A page of invites, newest first: the caller's own, or everyone's (administrators),
    /// expired and used-up ones included (revoked ones are gone).
    ///
    /// # Errors
    /// `admin_only` for [`InviteScope::All`] from a user; `out_of_range` limit;
    /// `invalid_session`, `account_disabled`; `unavailable`.
    pub async fn invites(
        &self,
        caller: &Caller,
        scope: InviteScope,
        before: Option<InviteId>,
        limit: usize,
    ) -> Result<Vec<Invite>> {
        let limit = validate::limit(limit)?;
        let created_by = match scope {
            InviteScope::All => {
                self.require_admin(caller).await?;
                None
            }
            InviteScope::Mine => {
                self.active_role(caller).await?;
                Some(caller.user())
            }
        };
        Ok(self.store().invites(created_by, before, limit).await?)
    }

    /// Revokes an invite: its link stops working at once (`invite_invalid`, as a forged one).
    /// Its maker or an administrator may; writes `invite.revoke` to the audit log.
    ///
    /// # Errors
    /// `invite_not_found` (also another user's invite, for a user who is not an
    /// administrator); `invalid_session`, `account_disabled`; `unavailable`.
    pub async fn revoke_invite(&self, caller: &Caller, id: InviteId) -> Result<()> {
        let role = self.active_role(caller).await?;
        let invite = self.store().invite(id).await?.ok_or(Error::NotFound(Entity::Invite))?;
        if invite.created_by != caller.user() && role != Role::Admin {
            return Err(Error::NotFound(Entity::Invite));
        }
        // Revoked by someone else a moment ago: theirs is audited.
        if !self.store().delete_invite(id).await? {
            return Err(Error::NotFound(Entity::Invite));
        }
        self.audit(caller.user(), "invite.revoke", id.to_string(), None).await
    }

    /// Whether an invite's token could be used now, for a sign-up page that says so before the
    /// form is filled in. Unauthenticated. Returns the record (whose maker and hash are not
    /// the public's: an adapter shows its expiry and uses left).
    ///
    /// # Errors
    /// `invite_invalid`, `invite_expired`, `invite_used_up`; `unavailable`.
    pub async fn invite_status(&self, token: &str) -> Result<Invite> {
        let hash = invite_hash(token)?;
        let stored = self.store().invite_by_token(&hash).await?.ok_or(Error::Invite(InviteRefused::Unknown))?;
        redeem(Some(stored.clone()), self.now()).map_err(Error::Invite)?;
        Ok(stored)
    }

    /// Admits a public sign-up by the mode: refuses it when closed, or when invites are needed
    /// and none is given; returns the invite's token hash to redeem, if one is needed.
    ///
    /// # Errors
    /// `sign_up_closed`; `invite_required`; `invite_invalid` for a token of the wrong shape.
    pub(crate) fn sign_up_invite(&self, invite: Option<&str>) -> Result<Option<TokenHash>> {
        match self.sign_up_mode() {
            SignUpMode::Open => Ok(None),
            SignUpMode::Closed => Err(Error::Forbidden(Denied::SignUpClosed)),
            SignUpMode::Invite => match invite.filter(|token| !token.is_empty()) {
                None => Err(Error::Forbidden(Denied::InviteRequired)),
                Some(token) => invite_hash(token).map(Some),
            },
        }
    }

    /// Checks, without writing, that the invite could be used now: so that a bad one is
    /// refused before a password is hashed for it.
    ///
    /// # Errors
    /// As [`Chat::invite_status`].
    pub(crate) async fn check_invite(&self, hash: &TokenHash) -> Result<()> {
        let stored = self.store().invite_by_token(hash).await?;
        redeem(stored, self.now()).map(drop).map_err(Error::Invite)
    }

    /// Takes one use of the invite for the account about to be stored (see the module docs).
    ///
    /// # Errors
    /// `invite_invalid`, `invite_expired`, `invite_used_up` (another sign-up took the last use
    /// since the check); `unavailable`.
    pub(crate) async fn redeem_invite(&self, hash: &TokenHash) -> Result<Invite> {
        self.store().redeem_invite(hash, self.now()).await?.map_err(Error::Invite)
    }

    /// Gives back the use a sign-up took and did not need after all. A failure is logged: the
    /// sign-up's own error is the one to report.
    pub(crate) async fn restore_invite_use(&self, invite: InviteId) {
        if let Err(error) = self.store().restore_invite_use(invite).await {
            tracing::warn!(%error, %invite, "could not give an invite's use back");
        }
    }

    /// Records that `user` signed up with `invite`. A failure is logged, not the sign-up's: the
    /// account exists, and the invite's count shows the use.
    pub(crate) async fn audit_invite_use(&self, user: UserId, username: &str, invite: InviteId) {
        if let Err(error) = self.audit(user, "invite.use", invite.to_string(), Some(username.to_string())).await {
            tracing::warn!(%error, %invite, "could not audit an invite's use");
        }
    }
}

/// The hash of a presented invite token; a token not of the shape made
/// ([`random_token`]'s 64 hex digits) is unknown without a look-up.
fn invite_hash(token: &str) -> Result<TokenHash> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::Invite(InviteRefused::Unknown));
    }
    Ok(hash_token(token))
}
