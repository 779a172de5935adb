//! Accounts: registration, log-in, sessions, and the user list with presence (which the
//! `presence` module keeps).
//!
//! The user list is a directory every device may show, so a change to it (an account created,
//! disabled, re-enabled, given another role, deleted) is broadcast to every device as
//! [`Event::User`] or [`Event::UserDeleted`]: lists stay current between re-reads (which
//! still catch what a device missed while disconnected, or between nodes).

use crate::admission::Ticket;
use crate::auth::{hash_token, SessionToken};
use crate::chat::{Caller, Chat};
use crate::client_key::client_key;
use crate::error::{AuthFailure, Entity, Error, Limit, Result, StoreError};
use crate::event::Event;
use crate::id::UserId;
use crate::model::{Presence, Role, Session, Timestamp, TokenHash, User};
use crate::store::UserQuery;
use crate::throttle::{too_many_attempts, Attempt, AttemptKey};
use crate::validate;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// What a new user gives to register. Its `Debug` leaves the password and the invite token
/// out, so that a registration logged by mistake gives neither away.
#[derive(Clone, Default, Deserialize)]
pub struct Registration {
    /// 3–32 of `A–Z a–z 0–9 _ . -`, starting with a letter or digit.
    pub username: String,
    /// 8–256 characters; not the username, not a very common password.
    pub password: String,
    /// Optional; validated if given.
    #[serde(default)]
    pub email: Option<String>,
    /// Optional; up to 64 characters.
    #[serde(default)]
    pub display_name: Option<String>,
    /// An invite's token, for a public sign-up in [`SignUpMode::Invite`](crate::SignUpMode::Invite)
    /// (ignored in the other modes, and by trusted paths: see the `invites` module).
    #[serde(default)]
    pub invite: Option<String>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Registration { username, password: _, email, display_name, invite } = self;
        f.debug_struct("Registration")
            .field("username", username)
            .field("email", email)
            .field("display_name", display_name)
            .field("invite", &invite.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

impl Registration {
    /// A registration with only a username and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Registration { username: username.into(), password: password.into(), ..Default::default() }
    }
}

/// A successful log-in: the token to hand to the client, and who it is.
#[derive(Clone, Debug)]
pub struct Login {
    /// The session token (secret).
    pub token: SessionToken,
    /// The user, email included (it is their own record).
    pub user: User,
    /// When the session expires.
    pub expires_at: Timestamp,
}

/// A user as others see them: the public record and their presence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserView {
    /// The user, without email.
    #[serde(flatten)]
    pub user: User,
    /// Online now, and when last seen.
    pub presence: Presence,
}

/// Refuses oversized log-in input before any work (as a wrong password: the same answer an
/// account that cannot exist gets).
fn check_login_input(username: &str, password: &str) -> Result<()> {
    if username.len() > *validate::USERNAME_LEN.end() || password.len() > validate::PASSWORD_LEN.end() * 4 {
        return Err(Error::Unauthorized(AuthFailure::BadCredentials));
    }
    Ok(())
}

impl Chat {
    /// Creates an account with role `user`.
    ///
    /// # Errors
    /// `invalid` naming the field (`username`, `password`, `email`, `display_name`);
    /// `username_taken`; `unavailable`.
    pub async fn register(&self, registration: Registration) -> Result<User> {
        self.create_user(registration, Role::User).await
    }

    /// Creates an account with role `user` for a client at `client` (the address of the
    /// request, as the application knows it), within the sign-ups per address of
    /// [`RateLimits::sign_ups_per_address`](crate::RateLimits::sign_ups_per_address), and within
    /// this node's per-address admission to password hashing, which log-ins from the address
    /// share: its budget ([`LoginLimits::address_burst`](crate::LoginLimits::address_burst), one
    /// more per [`LoginLimits::address_interval`](crate::LoginLimits::address_interval)) and its
    /// cap on hashes in flight ([`LoginLimits::address_in_flight`](crate::LoginLimits::address_in_flight);
    /// see the `admission` module docs). For sign-ups from the public; [`Chat::register`] is for
    /// an application's own (trusted) paths.
    ///
    /// Only valid input counts: a registration refused for a too-short password takes nothing
    /// from the address's budgets; one refused as `username_taken` does (it reads the store).
    /// The admission is taken first: a refusal there leaves the sign-ups budget (the scarcer)
    /// untouched.
    ///
    /// The operator's [`SignUpMode`](crate::SignUpMode) applies (see the `invites` module):
    /// closed refuses every sign-up first; invite-only needs `registration.invite`, whose use is
    /// taken only once the account is stored.
    ///
    /// # Errors
    /// As [`Chat::register`]; `rate_limited` (with `retry_after`) past any of the limits, and
    /// then nothing is stored; `sign_up_closed`; `invite_required`; `invite_invalid`,
    /// `invite_expired`, `invite_used_up`.
    pub async fn register_from(&self, registration: Registration, client: IpAddr) -> Result<User> {
        let invite = self.sign_up_invite(registration.invite.as_deref())?;
        self.create_user_from(registration, Role::User, Some(client), invite).await
    }

    pub(crate) async fn create_user(&self, registration: Registration, role: Role) -> Result<User> {
        self.create_user_from(registration, role, None, None).await
    }

    /// Creates an account; with a `client`, within its address's admission to password hashing
    /// and its sign-up limit (checked after validation and before anything is read or hashed);
    /// with an `invite`, taking one of its uses (checked after validation, taken after the hash,
    /// given back if the account is not stored: see the `invites` module).
    async fn create_user_from(
        &self,
        registration: Registration,
        role: Role,
        client: Option<IpAddr>,
        invite: Option<TokenHash>,
    ) -> Result<User> {
        let Registration { username, password, email, display_name, invite: _ } = registration;
        validate::username(&username)?;
        validate::password(&password, &username)?;
        let email = email.filter(|e| !e.trim().is_empty()).map(|e| validate::email(&e)).transpose()?;
        let display_name =
            display_name.filter(|n| !n.trim().is_empty()).map(|n| validate::name("display_name", &n)).transpose()?;
        if let Some(invite) = &invite {
            self.check_invite(invite).await?;
        }
        // The hash counts as in flight until this returns.
        let _in_flight = match client {
            Some(client) => Some(self.admit_sign_up(client).await?),
            None => None,
        };
        if self.store().user_by_username(&username).await?.is_some() {
            return Err(Error::Conflict(crate::error::Conflict::UsernameTaken));
        }
        let hash = self.hasher().hash(password).await?;
        let redeemed = match &invite {
            Some(invite) => Some(self.redeem_invite(invite).await?),
            None => None,
        };
        let user = User {
            id: UserId::new(),
            username,
            display_name,
            email,
            role,
            created_at: self.now(),
            disabled: false,
            last_seen: None,
            email_verified: false,
            digests_off: false,
            digested_at: None,
            status: None,
            avatar: None,
        };
        if let Err(error) = self.store().insert_user(&user, &hash).await {
            // Only a conflict (the username taken meanwhile) says the account was not stored;
            // after another failure it may have been, and its use stays taken.
            if let (Some(redeemed), StoreError::Conflict(_)) = (&redeemed, &error) {
                self.restore_invite_use(redeemed.id).await;
            }
            return Err(error.into());
        }
        if let Some(redeemed) = &redeemed {
            self.audit_invite_use(user.id, &user.username, redeemed.id).await;
        }
        self.announce_user(&user).await;
        self.start_verification(&user).await;
        Ok(user)
    }

    /// Admits a public sign-up from `client`: a password hash from its address (see the
    /// `admission` module docs), then one of its sign-ups.
    async fn admit_sign_up(&self, client: IpAddr) -> Result<Ticket<'_>> {
        let ticket = self
            .throttle()
            .admission
            .admit(client_key(client))
            .map_err(|wait| Error::Limited { limit: Limit::SignUps, retry_after: Some(wait) })?;
        self.limits().sign_up(client).await?;
        Ok(ticket)
    }

    /// Tells every device that an account is new or changed.
    pub(crate) async fn announce_user(&self, user: &User) {
        self.broadcast(Event::User { user: user.public() }).await;
    }

    /// Tells every device that an account was deleted.
    pub(crate) async fn announce_deleted(&self, user: UserId) {
        self.broadcast(Event::UserDeleted { user }).await;
    }

    /// A sign-up from the public, as a sign-up form does: registers (as [`Chat::register_from`],
    /// within the sign-ups and password hashes allowed from `client`) and opens a session for
    /// the new account. The password was just hashed, so it is not checked again: one hash, not
    /// two, and no log-in attempt counted.
    ///
    /// # Errors
    /// As [`Chat::register_from`].
    pub async fn sign_up(&self, registration: Registration, client: IpAddr) -> Result<Login> {
        let user = self.register_from(registration, client).await?;
        self.open_session(user).await
    }

    /// Checks a username and password and opens a session, for a client whose network address
    /// is not known (an application that authenticates on its own terms). Throttled per
    /// account only: a server facing the network calls [`Chat::login_from`].
    ///
    /// # Errors
    /// `bad_credentials` (unknown user or wrong password, indistinguishable, in the same
    /// time); `account_disabled`; `too_many_attempts` with the wait, after repeated attempts at
    /// the account (see the `throttle` module docs); `unavailable`.
    pub async fn login(&self, username: &str, password: &str) -> Result<Login> {
        let login = async {
            check_login_input(username, password)?;
            self.check_password(username, password, None).await
        };
        login.await.inspect_err(|error| crate::metrics::login_failed(error.code()))
    }

    /// Checks a username and password from a client at `client` and opens a session. On top of
    /// [`Chat::login`]'s, the slow-downs are per account *and address* (another address's
    /// failures never slow this one down) and this node's per-address budget and cap on
    /// password hashes in flight apply, before anything else (see the `throttle` module docs;
    /// public sign-ups from the address draw on the same).
    ///
    /// # Errors
    /// As [`Chat::login`]; `too_many_attempts` also when the address's budget is spent or it
    /// has too many hashes in flight.
    pub async fn login_from(&self, username: &str, password: &str, client: IpAddr) -> Result<Login> {
        let login = async {
            check_login_input(username, password)?;
            let address = client_key(client);
            let _in_flight = self.throttle().admission.admit(address).map_err(too_many_attempts)?;
            self.check_password(username, password, Some(address)).await
        };
        login.await.inspect_err(|error| crate::metrics::login_failed(error.code()))
    }

    /// The password check, counted before it runs (see the `throttle` module docs).
    async fn check_password(&self, username: &str, password: &str, address: Option<IpAddr>) -> Result<Login> {
        let counted = self.count_login_attempt(&User::fold(username), address).await?;
        let user = self.store().user_by_username(username).await?;
        let hash = match &user {
            Some(user) => self.store().password_hash(user.id).await?,
            None => None,
        };
        let matches = self.hasher().verify(password.to_string(), hash).await?;
        let Some(user) = user.filter(|_| matches) else {
            return Err(Error::Unauthorized(AuthFailure::BadCredentials));
        };
        for key in &counted {
            self.store().clear_login_attempts(key).await?;
        }
        if user.disabled {
            return Err(Error::Unauthorized(AuthFailure::AccountDisabled));
        }
        self.open_session(user).await
    }

    /// Counts a log-in attempt for the account `folded` (from `address`, if known) against its
    /// slow-downs, before the password is checked: at every key or at none (see the `throttle`
    /// module docs). Returns the keys to clear if it is right.
    ///
    /// # Errors
    /// `too_many_attempts` with the longest wait; `unavailable`.
    pub(crate) async fn count_login_attempt(&self, folded: &str, address: Option<IpAddr>) -> Result<Vec<AttemptKey>> {
        let now = self.now();
        self.expire_login_attempts(now).await;
        let limits = &self.config().login;
        let keys: Vec<_> = address
            .map(|address| (AttemptKey::account_and_address(folded, address), limits.per_account_and_address))
            .into_iter()
            .chain([(AttemptKey::account(folded), limits.per_account)])
            .collect();
        match self.store().count_login_attempt(&keys, now).await? {
            Attempt::Counted(_) => Ok(keys.into_iter().map(|(key, _)| key).collect()),
            Attempt::Refused { retry_after } => Err(too_many_attempts(retry_after)),
        }
    }

    /// Deletes expired attempt records if a minute has passed since the last time. A failure
    /// is logged, not the log-in's: the records stay until the next time.
    async fn expire_login_attempts(&self, now: Timestamp) {
        if self.throttle().expiry_due(now) {
            if let Err(error) = self.store().expire_login_attempts(now).await {
                tracing::warn!(%error, "could not delete expired log-in attempt records");
            }
        }
    }

    /// Opens a session for `user`, whose password was checked (or just set).
    async fn open_session(&self, user: User) -> Result<Login> {
        let token = SessionToken::generate();
        let now = self.now();
        let session = Session {
            token_hash: token.hash(),
            user: user.id,
            created_at: now,
            expires_at: now.plus(self.config().session_ttl),
            last_used: Some(now),
            user_agent: None,
        };
        self.store().insert_session(&session).await?;
        Ok(Login { token, user, expires_at: session.expires_at })
    }

    /// Who holds this token.
    ///
    /// # Errors
    /// `invalid_session` (unknown, malformed or logged out), `session_expired`,
    /// `account_disabled`, `unavailable`.
    pub async fn authenticate(&self, token: &str) -> Result<Caller> {
        self.authenticate_from(token, None).await
    }

    /// Who holds this token, presented by a client whose user agent is `user_agent` (what the
    /// user's list of sessions shows, see [`Chat::sessions`]). The use is recorded on the
    /// session at most once a minute (and when the agent changes), not on every call.
    ///
    /// # Errors
    /// As [`Chat::authenticate`].
    pub async fn authenticate_from(&self, token: &str, user_agent: Option<&str>) -> Result<Caller> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Unauthorized(AuthFailure::InvalidSession));
        }
        let (caller, session) = self.session_caller(hash_token(token)).await?;
        self.record_use(&session, user_agent).await;
        Ok(caller)
    }

    /// Who holds the session with this token hash, if it is still valid, and the session.
    async fn session_caller(&self, hash: TokenHash) -> Result<(Caller, Session)> {
        let session = self.store().session(&hash).await?.ok_or(Error::Unauthorized(AuthFailure::InvalidSession))?;
        if session.expires_at <= self.now() {
            self.store().delete_session(&hash).await?;
            return Err(Error::Unauthorized(AuthFailure::SessionExpired));
        }
        let user = self.store().user(session.user).await?.ok_or(Error::Unauthorized(AuthFailure::InvalidSession))?;
        if user.disabled {
            return Err(Error::Unauthorized(AuthFailure::AccountDisabled));
        }
        Ok((Caller::new(user.id, user.role, Some(hash)), session))
    }

    /// Whether `caller` may still act: its session is still there and unexpired, and its
    /// account neither disabled nor deleted (for a [`Chat::act_as`] caller: the account). For
    /// what holds a `Caller` longer than one request: a device checks again once registered
    /// ([`Chat::subscribe`]) and now and then
    /// ([`Subscription::recheck`](crate::Subscription::recheck)), so that a revocation takes
    /// effect even when its own event missed the device.
    ///
    /// # Errors
    /// `invalid_session` (logged out; or the account deleted), `session_expired`,
    /// `account_disabled`; `unavailable`.
    pub async fn verify(&self, caller: &Caller) -> Result<()> {
        match caller.session() {
            Some(hash) => self.session_caller(hash).await.map(drop),
            None => match self.act_as(caller.user()).await {
                Err(Error::NotFound(_)) => Err(Error::Unauthorized(AuthFailure::InvalidSession)),
                other => other.map(drop),
            },
        }
    }

    /// A caller for a user the application has authenticated itself (trusted: no password).
    ///
    /// # Errors
    /// `user_not_found`, `account_disabled`, `unavailable`.
    pub async fn act_as(&self, user: UserId) -> Result<Caller> {
        let user = self.store().user(user).await?.ok_or(Error::NotFound(Entity::User))?;
        if user.disabled {
            return Err(Error::Unauthorized(AuthFailure::AccountDisabled));
        }
        Ok(Caller::new(user.id, user.role, None))
    }

    /// Ends the caller's session; its live subscriptions end too.
    ///
    /// # Errors
    /// `unavailable`.
    pub async fn logout(&self, caller: &Caller) -> Result<()> {
        if let Some(hash) = caller.session() {
            self.store().delete_session(&hash).await?;
            self.end_sessions(caller.user(), Some(hash), "logged_out").await;
        }
        Ok(())
    }

    /// Ends every session of the caller, on every device and node. Returns how many.
    ///
    /// # Errors
    /// `unavailable`.
    pub async fn logout_everywhere(&self, caller: &Caller) -> Result<u64> {
        let count = self.store().delete_sessions_of(caller.user()).await?;
        self.end_sessions(caller.user(), None, "logged_out").await;
        Ok(count)
    }

    /// The caller's own record, email included.
    ///
    /// # Errors
    /// `user_not_found` if the account was deleted meanwhile; `unavailable`.
    pub async fn me(&self, caller: &Caller) -> Result<User> {
        self.store().user(caller.user()).await?.ok_or(Error::NotFound(Entity::User))
    }

    /// Another user, with presence.
    ///
    /// # Errors
    /// `user_not_found`, `unavailable`.
    pub async fn user(&self, _caller: &Caller, id: UserId) -> Result<UserView> {
        let user = self.store().user(id).await?.ok_or(Error::NotFound(Entity::User))?;
        Ok(self.view(user))
    }

    /// A page of users (ordered by username), optionally filtered by a search text, with
    /// presence. Disabled users are left out, and the page is still full (`limit` users)
    /// unless the list ends: the store is read on past them.
    ///
    /// # Errors
    /// `invalid` for a limit outside 1–200 or an over-long search; `unavailable`.
    pub async fn users(
        &self,
        _caller: &Caller,
        search: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<UserView>> {
        let limit = validate::limit(limit)?;
        let search = match search.map(str::trim).filter(|s| !s.is_empty()) {
            Some(text) if text.len() > validate::NAME_MAX_CHARS * 4 => {
                return Err(Error::invalid("search", crate::error::Invalid::TooLong))
            }
            Some(text) => Some(text.to_lowercase()),
            None => None,
        };
        let mut query = UserQuery { search, after: after.map(User::fold), limit };
        let mut page = Vec::with_capacity(limit);
        loop {
            let users = self.store().users(&query).await?;
            let more = users.len() == query.limit;
            query.after = users.last().map(|u| User::fold(&u.username)).or(query.after);
            page.extend(users.into_iter().filter(|u| !u.disabled).map(|u| self.view(u)));
            if !more || page.len() >= limit {
                page.truncate(limit);
                return Ok(page);
            }
            // A run of disabled users: read on in the largest pages, not `limit` at a time.
            query.limit = validate::PAGE_MAX;
        }
    }

    fn view(&self, user: User) -> UserView {
        let presence = self.presence(&user);
        UserView { user: user.public(), presence }
    }
}

#[cfg(test)]
mod tests {
    use super::Registration;

    #[test]
    fn a_registration_debug_print_holds_neither_the_password_nor_the_invite() {
        let registration = Registration {
            invite: Some("invite-token-secret".into()),
            ..Registration::new("alice", "a long secret password")
        };
        let printed = format!("{registration:?}");
        assert!(printed.contains("alice"), "{printed}");
        assert!(!printed.contains("a long secret password"), "{printed}");
        assert!(!printed.contains("invite-token-secret"), "{printed}");
    }
}
