//! Password reset by e-mail: a request names an account (its address or username), a mailed
//! single-use link sets a new password.
//!
//! Decisions:
//! - **The answer says nothing about the account.** [`Chat::request_password_reset`] checks
//!   only what does not depend on the account (the input's length, the rate limits), answers,
//!   and looks the account up and mails in a task of its own: the same answer, in the same time,
//!   whether the address exists or not.
//! - **Limits** ([`RateLimits::resets_per_account`](crate::RateLimits::resets_per_account),
//!   [`RateLimits::resets_per_client`](crate::RateLimits::resets_per_client)) are keyed by what
//!   the request names (folded), not by the account found: a flood for one address is held
//!   back whether or not it exists, and a limit reached tells nothing either.
//! - **An address may belong to several accounts** (addresses are not unique): each gets its
//!   own mail, naming its username. They are found through the stores' index by address
//!   ([`UserStore::users_by_email`](crate::backend::UserStore::users_by_email)), which folds
//!   ASCII case only ([`User::fold_email`]); the user list is never read.
//! - **Racing requests leave one working link**, the newest: storing a token replaces the
//!   account's older one atomically (see [`crate::verification`]).
//! - **Using the link** (once, before it expires: [`MailConfig::reset_ttl`](crate::MailConfig::reset_ttl))
//!   sets the new password, validated as at sign-up (a refused password leaves the link
//!   working), and ends every session of the account, on every device. It also verifies the
//!   address, if the account still has the one the link was mailed to: the mail was read there.

use crate::chat::Chat;
use crate::error::{AuthFailure, Denied, Error, Invalid, Result};
use crate::mail::Mail;
use crate::model::{TokenPurpose, User};
use crate::store::UserUpdate;
use crate::validate;
use std::net::IpAddr;

/// The longest account name or address a reset request takes (an address's longest).
const ACCOUNT_MAX_BYTES: usize = 254;

impl Chat {
    /// Asks for a password-reset link for the account with this address or username, mailed to
    /// the account's address. Answers the same, in the same time, whether or not such an
    /// account exists (see the module docs); `client` is the request's address, for its limit.
    ///
    /// # Errors
    /// `mail_disabled` without a mailer; `empty` or `too_long` (field `account`); `rate_limited`
    /// (with `retry_after`) past the limits per account named and per client; `unavailable`
    /// when a store several nodes share keeps the limits and cannot be reached.
    pub async fn request_password_reset(&self, account: &str, client: Option<IpAddr>) -> Result<()> {
        if !self.mail_enabled() {
            return Err(Error::Forbidden(Denied::MailDisabled));
        }
        let account = account.trim();
        if account.is_empty() {
            return Err(Error::invalid("account", Invalid::Empty));
        }
        if account.len() > ACCOUNT_MAX_BYTES {
            return Err(Error::invalid("account", Invalid::TooLong));
        }
        self.limits().password_reset(&account.to_lowercase(), client).await?;
        let (chat, account) = (self.clone(), account.to_string());
        tokio::spawn(async move {
            if let Err(error) = chat.mail_password_resets(&account).await {
                tracing::warn!(%error, "could not mail a password reset");
            }
        });
        Ok(())
    }

    /// Sets a new password with the token of a reset link (from `#/reset/<token>`), once, and
    /// ends every session of the account. Returns the account's record.
    ///
    /// # Errors
    /// `invalid_token` for a token that is malformed, unknown (forged, used, replaced by a newer
    /// mail) or of a deleted or disabled account; `token_expired`; `invalid` (field `password`)
    /// as at sign-up, and then the link still works; `unavailable`.
    pub async fn reset_password_with_token(&self, token: &str, new_password: &str) -> Result<User> {
        if new_password.len() > validate::PASSWORD_LEN.end() * 4 {
            return Err(Error::invalid("password", Invalid::TooLong));
        }
        let (token, user) = self.take_account_token(TokenPurpose::Reset, token).await?;
        if let Err(refused) = validate::password(new_password, &user.username) {
            // Given back as it was: if a newer link was mailed meanwhile, that one stays the
            // account's and this one is dropped (see `put_account_token`).
            self.store().put_account_token(&token).await?;
            return Err(refused);
        }
        let hash = self.hasher().hash(new_password.to_string()).await?;
        if !self.store().set_password_hash(user.id, &hash).await? {
            return Err(Error::Unauthorized(AuthFailure::InvalidToken));
        }
        self.store().delete_sessions_of(user.id).await?;
        self.end_sessions(user.id, None, "password_reset").await;
        let verified = self.store().update_user(user.id, UserUpdate::EmailVerified(token.address)).await?;
        Ok(verified.unwrap_or(user))
    }

    /// Finds the accounts `account` names (its address, or its username) and mails each a link.
    async fn mail_password_resets(&self, account: &str) -> Result<()> {
        for user in self.accounts_named(account).await? {
            let Some(address) = user.email.clone() else { continue };
            let ttl = self.config().mail.reset_ttl;
            let Some(token) = self.issue_account_token(&user, TokenPurpose::Reset, &address, ttl).await? else {
                continue; // a racing request stored a newer link, and mails it
            };
            self.mail_out(reset_mail(self, &user, address, token.as_str()));
        }
        Ok(())
    }

    /// The enabled accounts whose username or address `account` is (each folded as stores
    /// fold it).
    async fn accounts_named(&self, account: &str) -> Result<Vec<User>> {
        let found = if account.contains('@') {
            self.store().users_by_email(account).await?
        } else {
            self.store().user_by_username(account).await?.into_iter().collect()
        };
        Ok(found.into_iter().filter(|user| !user.disabled).collect())
    }
}

/// The reset mail for `user`, with the link of `token`.
fn reset_mail(chat: &Chat, user: &User, address: String, token: &str) -> Mail {
    let config = &chat.config().mail;
    let link = config.link(&format!("/#/reset/{token}"));
    let minutes = config.reset_ttl.as_secs().div_ceil(60);
    Mail {
        to: address,
        subject: format!("Reset your {} password", config.site_name),
        text: format!(
            "Hello {name},\n\nsomeone (we hope you) asked to reset the password of your {site} account \
             \"{name}\". To choose a new one, open this link (it works once, for {minutes} minutes):\n\n\
             {link}\n\nIf you did not ask for this, ignore this mail: your password stays as it is.\n",
            name = user.username,
            site = config.site_name,
        ),
        headers: Vec::new(),
    }
}
