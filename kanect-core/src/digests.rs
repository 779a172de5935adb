//! Missed-message digests: one mail to a user who has been offline a while with unread
//! messages, listing where they are, and a one-click way to stop them.
//!
//! Decisions:
//! - **Who gets one.** An enabled account with an address (verified, unless verification is
//!   off), digests not turned off, offline (on no node) since at least
//!   [`MailConfig::digest_after`](crate::MailConfig::digest_after), with messages from others it
//!   has not read that were sent after it went offline and after its last digest, that its
//!   notification settings let through ([`should_notify`] with [`Channel::Deferred`]: not in a
//!   muted conversation, only mentions where it asked for those; the do-not-disturb does not
//!   hold a digest back). System lines and deleted messages never count.
//! - **One digest, then quiet.** After a digest the account's
//!   [`digested_at`](crate::User::digested_at) is stored; the next digest needs messages sent
//!   after it. It is in the account's record, so a restart (or another node) does not mail
//!   again.
//! - **Bounded work per tick.** A background task reads [`USERS_PER_TICK`] accounts per tick
//!   in username order, from where the last tick stopped, and starts again at the beginning at
//!   the end of the list; per account it reads at most [`MESSAGES_PER_CONVERSATION`] unread
//!   messages per conversation. With several nodes, each node's task walks the list: two may
//!   mail the same account at nearly the same time, which is rare and harmless.
//! - **Unsubscribing** needs no log-in: each digest carries a link (and RFC 8058
//!   `List-Unsubscribe` / `List-Unsubscribe-Post` headers for mail clients' own button) with
//!   a random token, stored hashed like every mailed token rather than signed with a server
//!   key: nothing to keep secret beside the store, and a newer digest's link replaces the
//!   older one. Turning digests back on is a setting ([`Chat::set_digests`]).

use crate::chat::{Caller, Chat, WeakChat};
use crate::error::{Entity, Error, Result};
use crate::id::ConversationId;
use crate::mail::{Mail, Verification};
use crate::model::{ConversationKind, Timestamp, TokenPurpose, User};
use crate::notifications::{should_notify, Channel};
use crate::store::{HistoryPage, UserQuery, UserUpdate};
use std::time::Duration;

/// Accounts looked at per tick of the background task.
pub(crate) const USERS_PER_TICK: usize = 100;

/// Unread messages read per conversation for one digest (the mail says "N+" past it).
pub(crate) const MESSAGES_PER_CONVERSATION: usize = 20;

/// How long an unsubscribe link works.
const UNSUBSCRIBE_TTL: Duration = Duration::from_secs(90 * 24 * 3600);

/// What a digest says about one conversation.
struct Missed {
    title: String,
    count: usize,
    more: bool,
}

impl Chat {
    /// Looks at every account once (a page of 100 at a time) and mails the digests due;
    /// returns how many were mailed. The background task does this a page at a time; this is
    /// for tests and for applications that run passes themselves.
    ///
    /// # Errors
    /// `unavailable`.
    pub async fn send_digests(&self) -> Result<usize> {
        let mut after = None;
        let mut sent = 0;
        loop {
            let (count, next) = self.digest_page(after).await?;
            sent += count;
            match next {
                Some(next) => after = Some(next),
                None => return Ok(sent),
            }
        }
    }

    /// Turns the caller's missed-message digests on or off. Returns their record.
    ///
    /// # Errors
    /// `user_not_found`; `unavailable`.
    pub async fn set_digests(&self, caller: &Caller, on: bool) -> Result<User> {
        let user = self.store().update_user(caller.user(), UserUpdate::DigestsOff(!on)).await?;
        user.ok_or(Error::NotFound(Entity::User))
    }

    /// Turns digests off for the account of an unsubscribe link's token (no log-in needed).
    ///
    /// # Errors
    /// `invalid_token` (malformed, forged, used, replaced by a newer digest's, or of a deleted
    /// account); `token_expired`; `unavailable`.
    pub async fn unsubscribe_digests(&self, token: &str) -> Result<()> {
        let (token, _) = self.take_account_token(TokenPurpose::Unsubscribe, token).await?;
        self.store().update_user(token.user, UserUpdate::DigestsOff(true)).await?;
        Ok(())
    }

    /// One page of accounts after `after` (a folded username): mails the digests due, returns
    /// how many, and where the next page starts (None at the end of the list).
    async fn digest_page(&self, after: Option<String>) -> Result<(usize, Option<String>)> {
        let query = UserQuery { search: None, after, limit: USERS_PER_TICK };
        let page = self.store().users(&query).await?;
        let next = (page.len() == USERS_PER_TICK).then(|| page.last().map(|u| User::fold(&u.username))).flatten();
        let mut sent = 0;
        for user in page {
            if self.mail_digest_if_due(user).await? {
                sent += 1;
            }
        }
        Ok((sent, next))
    }

    /// Mails `user` a digest if one is due (see the module docs).
    async fn mail_digest_if_due(&self, user: User) -> Result<bool> {
        let Some(after) = self.config().mail.digest_after else { return Ok(false) };
        let Some(address) = user.email.clone() else { return Ok(false) };
        let verified_enough = user.email_verified || self.verification() == Verification::Off;
        let now = self.now();
        let offline_since = match user.last_seen {
            Some(at) if at <= now.minus(after) => at,
            _ => return Ok(false),
        };
        if user.disabled || user.digests_off || !verified_enough || self.presence(&user).online {
            return Ok(false);
        }
        let since = user.digested_at.map_or(offline_since, |digested| digested.max(offline_since));
        let missed = self.missed_since(&user, since).await?;
        if missed.is_empty() {
            return Ok(false);
        }
        let Some(token) = self.issue_account_token(&user, TokenPurpose::Unsubscribe, &address, UNSUBSCRIBE_TTL).await?
        else {
            return Ok(false); // a racing digest of this user stored a newer link, and goes out
        };
        self.store().update_user(user.id, UserUpdate::DigestedAt(now)).await?;
        self.mail_out(digest_mail(self, &user, address, &missed, token.as_str()));
        Ok(true)
    }

    /// The conversations of `user` with unread messages from others sent after `since`.
    async fn missed_since(&self, user: &User, since: Timestamp) -> Result<Vec<Missed>> {
        let mut missed = Vec::new();
        let settings = self.notification_settings_of(user.id).await?;
        let now = self.now();
        for id in self.store().conversations_of(user.id).await? {
            let last = self.store().last_seq(id).await?;
            let read = self.store().receipts(id).await?.iter().find(|r| r.user == user.id).map(|r| r.read);
            let read = read.unwrap_or_default();
            if read >= last {
                continue;
            }
            let page = self.store().history(id, HistoryPage::After(read), MESSAGES_PER_CONVERSATION).await?;
            let count = page
                .iter()
                .filter(|m| m.sent_at > since && should_notify(&settings, user.id, m, now, Channel::Deferred))
                .count();
            if count == 0 {
                continue;
            }
            let more = page.len() == MESSAGES_PER_CONVERSATION && page.last().is_some_and(|m| m.seq < last);
            missed.push(Missed { title: self.digest_title(user, id).await?, count, more });
        }
        Ok(missed)
    }

    /// A conversation's name in a digest: a group's name, or the other member's.
    async fn digest_title(&self, user: &User, id: ConversationId) -> Result<String> {
        let Some(conversation) = self.store().conversation(id).await? else { return Ok(String::new()) };
        if conversation.kind == ConversationKind::Group {
            return Ok(conversation.name.unwrap_or_default());
        }
        let other = conversation.members.iter().find(|m| **m != user.id).copied();
        let other = match other {
            Some(other) => self.store().user(other).await?,
            None => None,
        };
        Ok(other.map_or_else(String::new, |o| o.display_name.unwrap_or(o.username)))
    }
}

/// The digest mail: a line per conversation, the web app's link, and the unsubscribe link.
fn digest_mail(chat: &Chat, user: &User, address: String, missed: &[Missed], token: &str) -> Mail {
    let config = &chat.config().mail;
    let unsubscribe = config.link(&format!("/api/v1/email/unsubscribe?token={token}"));
    let lines: String = missed
        .iter()
        .map(|m| {
            let plus = if m.more { "+" } else { "" };
            let noun = if m.count == 1 && !m.more { "message" } else { "messages" };
            format!("- {}{plus} new {noun} in {}\n", m.count, m.title)
        })
        .collect();
    Mail {
        to: address,
        subject: format!("You have unread messages on {}", config.site_name),
        text: format!(
            "Hello {name},\n\nwhile you were away:\n\n{lines}\nRead them at {app}\n\n\
             To stop these mails, open {unsubscribe}\n(you can turn them back on in your e-mail settings).\n",
            name = user.username,
            app = config.link("/"),
        ),
        headers: vec![
            ("List-Unsubscribe".into(), format!("<{unsubscribe}>")),
            ("List-Unsubscribe-Post".into(), "List-Unsubscribe=One-Click".into()),
        ],
    }
}

/// Mails the digests due, [`USERS_PER_TICK`] accounts per tick; ends with the engine.
pub(crate) async fn digest_periodically(weak: WeakChat) {
    let every = {
        let Some(chat) = weak.upgrade() else { return };
        let after = chat.config().mail.digest_after.unwrap_or(Duration::from_secs(60));
        (after / 4).clamp(Duration::from_millis(100), Duration::from_secs(60))
    };
    let mut ticker = tokio::time::interval(every);
    let mut after = None;
    loop {
        ticker.tick().await;
        let Some(chat) = weak.upgrade() else { return };
        match chat.digest_page(after.take()).await {
            Ok((_, next)) => after = next,
            Err(error) => tracing::warn!(%error, "a digest pass failed"),
        }
    }
}
