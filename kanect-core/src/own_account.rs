//! A user's own account: changing the password, seeing and ending their sessions, deleting
//! the account.
//!
//! **The password is asked again** before the password changes and before the account is
//! deleted: a session left open on a shared computer must not be enough to lock the owner out
//! or erase them. That check is a log-in attempt: it counts against the same slow-downs as
//! [`Chat::login_from`] (per account, and per account and address when the address is known,
//! see the `throttle` module), so a stolen session cannot be used to guess the password
//! faster than the log-in form allows. A wrong password is `wrong_password` (403), not
//! `bad_credentials` (401): the session stays valid, and a client does not take it for a
//! log-out.
//!
//! **Sessions** are shown by an id derived from the token hash (a SHA-256 of it, cut to 128
//! bits): the token hash itself is what the store looks sessions up by, and stays inside. A
//! session's last use is recorded when it authenticates, at most once per
//! [`Session::USE_RECORDED_EVERY`] (a write a minute per active session, not one per request),
//! with the client's user agent. Ending a session works as revocation does: its sockets and
//! polls end at once, on every node. An id that is not one of the caller's sessions is
//! `session_not_found`, whether or not it is someone else's.
//!
//! **Deleting the account** follows the one rule an administrator's deletion follows (see the
//! `admin` module): the account, its credentials and sessions go, it leaves its groups (a
//! "left" line, ownership passing on), its messages stay in others' history under a deleted
//! sender, its direct conversations stay readable by the other member and take no new
//! messages. Its avatar picture is deleted too.

use crate::chat::{Caller, Chat};
use crate::client_key::client_key;
use crate::error::{Denied, Entity, Error, Result};
use crate::model::{Session, Timestamp, TokenHash, User};
use crate::throttle::too_many_attempts;
use crate::validate;
use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// One of the caller's sessions, as they see it in their list of devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionView {
    /// Names the session to [`Chat::end_session`]: 32 hex digits, derived from the token hash
    /// (never the token, nor its hash).
    pub id: String,
    /// When it was made (the log-in).
    pub created_at: Timestamp,
    /// When it was last used, to the minute (see [`Session::USE_RECORDED_EVERY`]).
    pub last_used: Option<Timestamp>,
    /// When it expires.
    pub expires_at: Timestamp,
    /// The client's user agent, as last seen.
    pub user_agent: Option<String>,
    /// Whether this is the session of the caller asking.
    pub current: bool,
}

/// The id a session is shown by (see the module docs).
fn session_id(hash: &TokenHash) -> String {
    let digest = Sha256::digest(hash.0);
    digest[..16].iter().map(|byte| format!("{byte:02x}")).collect()
}

impl Chat {
    /// Checks the caller's current password, counted as a log-in attempt (see the module
    /// docs), and returns their record.
    ///
    /// # Errors
    /// `wrong_password`; `too_many_attempts` with the wait; `user_not_found`; `unavailable`.
    pub(crate) async fn confirm_password(
        &self,
        caller: &Caller,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<User> {
        let user = self.me(caller).await?;
        if password.len() > validate::PASSWORD_LEN.end() * 4 {
            return Err(Error::Forbidden(Denied::WrongPassword));
        }
        let address = client.map(client_key);
        let _in_flight = match address {
            Some(address) => Some(self.throttle().admission.admit(address).map_err(too_many_attempts)?),
            None => None,
        };
        let counted = self.count_login_attempt(&User::fold(&user.username), address).await?;
        let hash = self.store().password_hash(user.id).await?;
        if !self.hasher().verify(password.to_string(), hash).await? {
            return Err(Error::Forbidden(Denied::WrongPassword));
        }
        for key in &counted {
            self.store().clear_login_attempts(key).await?;
        }
        Ok(user)
    }

    /// Changes the caller's password, given the current one (from a client at `client`, if
    /// known: the slow-downs are then per address too). With `end_other_sessions`, every
    /// other session of the account ends at once (their sockets and polls too); the caller's
    /// stays. Returns how many sessions ended.
    ///
    /// # Errors
    /// `wrong_password`; `too_many_attempts` (with the wait) after repeated wrong ones;
    /// `invalid` `password` for a new one that is too short, too long or too weak (checked
    /// first, taking no attempt); `user_not_found`; `unavailable`.
    pub async fn change_password(
        &self,
        caller: &Caller,
        current: &str,
        new: &str,
        end_other_sessions: bool,
        client: Option<IpAddr>,
    ) -> Result<u64> {
        let username = self.me(caller).await?.username;
        validate::password(new, &username)?;
        let user = self.confirm_password(caller, current, client).await?;
        let hash = self.hasher().hash(new.to_string()).await?;
        if !self.store().set_password_hash(user.id, &hash).await? {
            return Err(Error::NotFound(Entity::User));
        }
        if !end_other_sessions {
            return Ok(0);
        }
        let mut ended = 0;
        for session in self.store().sessions_of(user.id).await? {
            if Some(session.token_hash) != caller.session() && self.store().delete_session(&session.token_hash).await? {
                self.end_sessions(user.id, Some(session.token_hash), "password_changed").await;
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// The caller's sessions (their devices), the current one marked, most recently used
    /// first. Expired sessions are left out.
    ///
    /// # Errors
    /// `unavailable`.
    pub async fn sessions(&self, caller: &Caller) -> Result<Vec<SessionView>> {
        let now = self.now();
        let mut sessions: Vec<SessionView> = self
            .store()
            .sessions_of(caller.user())
            .await?
            .into_iter()
            .filter(|session| session.expires_at > now)
            .map(|session| SessionView {
                id: session_id(&session.token_hash),
                created_at: session.created_at,
                last_used: session.last_used,
                expires_at: session.expires_at,
                user_agent: session.user_agent,
                current: caller.session() == Some(session.token_hash),
            })
            .collect();
        sessions.sort_by_key(|session| std::cmp::Reverse(session.last_used.unwrap_or(session.created_at)));
        Ok(sessions)
    }

    /// Ends one of the caller's sessions, by the id [`Chat::sessions`] shows: it is logged out,
    /// and its sockets and polls end at once, on every node. Ending the current one is a
    /// log-out.
    ///
    /// # Errors
    /// `session_not_found` for an id that is none of the caller's sessions (someone else's
    /// included); `unavailable`.
    pub async fn end_session(&self, caller: &Caller, id: &str) -> Result<()> {
        let session = self
            .store()
            .sessions_of(caller.user())
            .await?
            .into_iter()
            .find(|session| session_id(&session.token_hash) == id)
            .ok_or(Error::NotFound(Entity::Session))?;
        if !self.store().delete_session(&session.token_hash).await? {
            return Err(Error::NotFound(Entity::Session));
        }
        self.end_sessions(caller.user(), Some(session.token_hash), "logged_out").await;
        Ok(())
    }

    /// Deletes the caller's account, given its password: the rule an administrator's deletion
    /// follows (see the module docs). Every session ends. An administrator cannot delete their
    /// own account, as they cannot through the admin API (the last one would leave nobody to
    /// administer the server): another administrator does, or demotes them first.
    ///
    /// # Errors
    /// `self_action` for an administrator (checked first); `wrong_password`;
    /// `too_many_attempts` (with the wait); `user_not_found`; `unavailable`.
    pub async fn delete_account(&self, caller: &Caller, password: &str, client: Option<IpAddr>) -> Result<()> {
        if self.me(caller).await?.role == crate::model::Role::Admin {
            return Err(Error::Forbidden(Denied::SelfAction));
        }
        let user = self.confirm_password(caller, password, client).await?;
        self.remove_account(&user, user.id).await
    }

    /// Records that the session `hash` was used now, by `user_agent` if known, when its last
    /// recorded use is older than [`Session::USE_RECORDED_EVERY`] or the agent changed. A
    /// failure is logged, not the request's: the record is a courtesy to the user.
    pub(crate) async fn record_use(&self, session: &Session, user_agent: Option<&str>) {
        let now = self.now();
        let agent = user_agent.map(clean_user_agent).filter(|agent| !agent.is_empty());
        let stale = session.last_used.is_none_or(|at| at.plus(Session::USE_RECORDED_EVERY) <= now);
        let new_agent = agent.is_some() && agent != session.user_agent;
        if !stale && !new_agent {
            return;
        }
        if let Err(error) = self.store().touch_session(&session.token_hash, now, agent.as_deref()).await {
            tracing::warn!(%error, "could not record a session's use");
        }
    }
}

/// A user agent as a session keeps it: control characters dropped, trimmed, cut at
/// [`Session::USER_AGENT_MAX_BYTES`] on a character boundary.
fn clean_user_agent(agent: &str) -> String {
    let mut clean = String::new();
    for c in agent.trim().chars().filter(|c| !c.is_control()) {
        if clean.len() + c.len_utf8() > Session::USER_AGENT_MAX_BYTES {
            break;
        }
        clean.push(c);
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_agent_is_cut_on_a_character_at_the_limit() {
        let long = "é".repeat(Session::USER_AGENT_MAX_BYTES);
        let cut = clean_user_agent(&long);
        assert_eq!(cut.len(), Session::USER_AGENT_MAX_BYTES);
        let odd = format!("x{long}");
        assert_eq!(clean_user_agent(&odd).len(), Session::USER_AGENT_MAX_BYTES - 1);
        assert_eq!(clean_user_agent(" Firefox\n/1\u{7} "), "Firefox/1");
    }

    #[test]
    fn a_session_id_is_32_hex_digits_and_not_the_hash() {
        let hash = TokenHash([0xab; 32]);
        let id = session_id(&hash);
        assert_eq!(id.len(), 32);
        assert!(!id.starts_with("abab"));
        assert_eq!(id, session_id(&hash));
    }
}
