//! E-mail verification and address changes, and what every mailed link shares: issuing a
//! single-use token, taking it back, and mailing off the request path.
//!
//! Decisions:
//! - **Tokens** are [`SessionToken`]s (256 random bits, hex), stored as their SHA-256 in the
//!   [`AccountTokenStore`](crate::backend::AccountTokenStore) with their purpose, user, the
//!   address they were mailed to and an expiry. Taking one removes it (atomically: one use), and
//!   storing one replaces the user's token of that purpose in the same atomic write
//!   ([`put_account_token`](crate::backend::AccountTokenStore::put_account_token)), so only the
//!   newest link works, also when requests race (on one node or several). A request that
//!   loses such a race (a newer token is already stored) mails nothing: its link could not work.
//! - **A verification counts for the address it was mailed to**: the store sets
//!   `email_verified` only while the account still has that address
//!   ([`UserUpdate::EmailVerified`]), so a link to an address the account has left verifies
//!   nothing, even if it races with the change.
//! - **Required verification** ([`Verification::Required`]) lets an unverified account log in,
//!   read, change its address and ask for the mail again, but not send, open direct
//!   conversations or create groups (`email_unverified`). Administrators are exempt: the first
//!   one is made on the command line, without an address. The check reads the account's record
//!   (one store read per send, only in this mode), so a verification takes effect at once on
//!   every device.
//! - **Mails go out in a spawned task** ([`Chat::mail_out`]): the request answers without
//!   waiting for SMTP, and a failure is logged.

use crate::auth::{hash_token, SessionToken};
use crate::chat::{Caller, Chat};
use crate::error::{AuthFailure, Denied, Entity, Error, Result};
use crate::mail::{Mail, Verification};
use crate::model::{AccountToken, Role, TokenPurpose, User};
use crate::store::UserUpdate;
use crate::validate;
use std::time::Duration;

impl Chat {
    /// Verifies the address a verification link was mailed to: the token of that link (from
    /// `#/verify/<token>`), once. Returns the account's record as it is now.
    ///
    /// # Errors
    /// `invalid_token` for a token that is malformed, unknown (forged, used, replaced by a
    /// newer mail), of an account that was deleted, or mailed to an address the account no
    /// longer has; `token_expired`; `unavailable`.
    pub async fn verify_email(&self, token: &str) -> Result<User> {
        let (token, _) = self.take_account_token(TokenPurpose::Verify, token).await?;
        let user = self.store().update_user(token.user, UserUpdate::EmailVerified(token.address.clone())).await?;
        match user {
            Some(user) if user.email_verified && user.email.as_deref() == Some(token.address.as_str()) => Ok(user),
            _ => Err(Error::Unauthorized(AuthFailure::InvalidToken)),
        }
    }

    /// Mails the caller a new verification link for their address (the older links stop
    /// working), within [`RateLimits::verification_mails`](crate::RateLimits::verification_mails).
    /// An address already verified gets no mail, and that is not an error.
    ///
    /// # Errors
    /// `mail_disabled` without a mailer or with verification off; `no_email` for an account
    /// without an address; `rate_limited` (with `retry_after`); `user_not_found`; `unavailable`.
    pub async fn resend_verification(&self, caller: &Caller) -> Result<()> {
        if self.verification() == Verification::Off {
            return Err(Error::Forbidden(Denied::MailDisabled));
        }
        let user = self.me(caller).await?;
        if user.email.is_none() {
            return Err(Error::Forbidden(Denied::NoEmail));
        }
        if user.email_verified {
            return Ok(());
        }
        self.limits().verification_mail(user.id).await?;
        self.send_verification(&user).await
    }

    /// Changes the caller's address (None removes it), after checking their current password
    /// (counted against the log-in slow-downs, as a log-in is). The new address is unverified;
    /// with verification on, a link is mailed to it, and links mailed to the old one no
    /// longer verify anything; the address it has already changes nothing. Returns the account's
    /// record as it is now.
    ///
    /// # Errors
    /// `wrong_password` (and `too_many_attempts` past the slow-downs); `invalid` (field `email`)
    /// for an address that is not one; `user_not_found`; `unavailable`.
    pub async fn change_email(&self, caller: &Caller, current_password: &str, email: Option<&str>) -> Result<User> {
        let email = email.filter(|e| !e.trim().is_empty()).map(validate::email).transpose()?;
        let user = self.confirm_password(caller, current_password, None).await?;
        if user.email == email {
            return Ok(user); // the same address: nothing to change, nothing to verify again
        }
        let user = self.store().update_user(user.id, UserUpdate::Email(email)).await?;
        let user = user.ok_or(Error::NotFound(Entity::User))?;
        self.restart_verification(&user).await?;
        Ok(user)
    }

    /// After `user`'s address changed (by the user or an administrator: one rule for both),
    /// the links mailed to the old one are withdrawn and, with verification on, the new one
    /// (unverified, as every new address) is mailed a link.
    ///
    /// # Errors
    /// `unavailable`.
    pub(crate) async fn restart_verification(&self, user: &User) -> Result<()> {
        self.store().delete_account_tokens_of(user.id, Some(TokenPurpose::Verify)).await?;
        if user.email.is_some() && self.verification() != Verification::Off {
            self.send_verification(user).await?;
        }
        Ok(())
    }

    /// Refuses the caller if the server requires a verified address and theirs is not (see the
    /// module docs): for sends, direct conversations and groups.
    ///
    /// # Errors
    /// `email_unverified`; `user_not_found`; `unavailable`.
    pub(crate) async fn check_verified(&self, caller: &Caller) -> Result<()> {
        if self.verification() != Verification::Required || caller.role() == Role::Admin {
            return Ok(());
        }
        if self.me(caller).await?.email_verified {
            Ok(())
        } else {
            Err(Error::Forbidden(Denied::EmailUnverified))
        }
    }

    /// Starts the verification of a new account's address, if it has one and verification is
    /// on. A failure is logged, not the sign-up's: the account exists, and the user can ask for
    /// the mail again.
    pub(crate) async fn start_verification(&self, user: &User) {
        if user.email.is_none() || self.verification() == Verification::Off {
            return;
        }
        if let Err(error) = self.send_verification(user).await {
            tracing::warn!(%error, user = %user.id, "could not start an e-mail verification");
        }
    }

    /// Issues a verification token for the user's address and mails the link.
    async fn send_verification(&self, user: &User) -> Result<()> {
        let Some(address) = user.email.clone() else { return Err(Error::Forbidden(Denied::NoEmail)) };
        let ttl = self.config().mail.verify_ttl;
        let Some(token) = self.issue_account_token(user, TokenPurpose::Verify, &address, ttl).await? else {
            return Ok(()); // a newer link is on its way
        };
        let config = &self.config().mail;
        let link = config.link(&format!("/#/verify/{}", token.as_str()));
        let hours = ttl.as_secs().div_ceil(3600);
        self.mail_out(Mail {
            to: address,
            subject: format!("Confirm your e-mail address for {}", config.site_name),
            text: format!(
                "Hello {name},\n\nplease confirm that this is your address for {site} by opening this link \
                 (it works once, for {hours} hours):\n\n{link}\n\nIf you did not sign up, ignore this mail.\n",
                name = user.username,
                site = config.site_name,
            ),
            headers: Vec::new(),
        });
        Ok(())
    }

    /// A new single-use token of `purpose` for `user`, mailed to `address`, valid for `ttl`;
    /// the user's older token of that purpose stops working. None if a newer one was stored
    /// meanwhile (a racing request): this one would not work, and must not be mailed.
    ///
    /// # Errors
    /// `unavailable`.
    pub(crate) async fn issue_account_token(
        &self,
        user: &User,
        purpose: TokenPurpose,
        address: &str,
        ttl: Duration,
    ) -> Result<Option<SessionToken>> {
        let token = SessionToken::generate();
        let now = self.now();
        let record = AccountToken {
            token_hash: token.hash(),
            purpose,
            user: user.id,
            address: address.to_string(),
            created_at: now,
            expires_at: now.plus(ttl),
        };
        Ok(self.store().put_account_token(&record).await?.then_some(token))
    }

    /// Takes (uses up) the token `text` of `purpose`, with its account.
    ///
    /// # Errors
    /// `invalid_token` (malformed, unknown, of another purpose, or of a deleted or disabled
    /// account); `token_expired`; `unavailable`.
    pub(crate) async fn take_account_token(&self, purpose: TokenPurpose, text: &str) -> Result<(AccountToken, User)> {
        let invalid = Error::Unauthorized(AuthFailure::InvalidToken);
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid);
        }
        let token = self.store().take_account_token(purpose, &hash_token(text)).await?.ok_or(invalid)?;
        if token.expires_at <= self.now() {
            return Err(Error::Unauthorized(AuthFailure::TokenExpired));
        }
        match self.store().user(token.user).await? {
            Some(user) if !user.disabled => Ok((token, user)),
            _ => Err(Error::Unauthorized(AuthFailure::InvalidToken)),
        }
    }

    /// Hands `mail` to the mailer in a task of its own (see the module docs); without a mailer,
    /// drops it.
    pub(crate) fn mail_out(&self, mail: Mail) {
        let Some(mailer) = self.mailer().cloned() else { return };
        tokio::spawn(async move {
            if let Err(error) = mailer.send(mail).await {
                tracing::warn!(%error, "a mail was not sent");
            }
        });
    }
}
