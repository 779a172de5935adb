//! The engine's operations on notification settings: read them, set a conversation's level,
//! set the do-not-disturb, and ask the rule about one message for one user.
//!
//! A change is a read, change and write of the user's one record, under this node's
//! `notification_writes` lock, and then an [`Event::NotificationSettings`] to every device of
//! the user (on every node), so that each web app of theirs agrees on what notifies.
//! Ended mutes and do-not-disturbs are dropped from the record on each write (they already
//! read as over).

use super::settings::{should_notify, Channel, ConversationNotifications, DoNotDisturb, NotificationLevel};
use super::NotificationSettings;
use crate::chat::{Caller, Chat};
use crate::error::{Error, Invalid, Result};
use crate::event::Event;
use crate::id::{ConversationId, UserId};
use crate::model::{Message, Timestamp};
use std::time::Duration;

/// How far ahead a mute or a do-not-disturb may end: a year. Longer is "until changed".
pub const UNTIL_MAX: Duration = Duration::from_secs(366 * 24 * 3600);

impl Chat {
    /// The caller's notification settings (the defaults if never set: every message of every
    /// conversation, no do-not-disturb).
    ///
    /// # Errors
    /// `unavailable`.
    pub async fn notification_settings(&self, caller: &Caller) -> Result<NotificationSettings> {
        self.notification_settings_of(caller.user()).await
    }

    /// `user`'s notification settings, for a notifier of the application's (as the
    /// missed-message e-mails): see [`Chat::notification_settings`].
    ///
    /// # Errors
    /// `unavailable`.
    pub async fn notification_settings_of(&self, user: UserId) -> Result<NotificationSettings> {
        Ok(self.store().notification_settings(user).await?.unwrap_or_default())
    }

    /// Whether `user` should be notified of `message` now through `channel`: [`should_notify`]
    /// with their stored settings. The caller has checked that `user` is a member.
    ///
    /// # Errors
    /// `unavailable`.
    pub async fn should_notify(&self, user: UserId, message: &Message, channel: Channel) -> Result<bool> {
        let settings = self.notification_settings_of(user).await?;
        Ok(should_notify(&settings, user, message, self.now(), channel))
    }

    /// Sets how much of `conversation` notifies the caller: every message, mentions only, or
    /// muted (until `until`, or until changed). Returns the settings as they are now, which
    /// every device of the caller also receives ([`Event::NotificationSettings`]).
    ///
    /// # Errors
    /// `conversation_not_found` if the caller is not a member; `malformed` `until` with a
    /// level other than muted; `out_of_range` `until` not in the future or more than
    /// [`UNTIL_MAX`] ahead; `unavailable`.
    pub async fn set_notification_level(
        &self,
        caller: &Caller,
        conversation: ConversationId,
        level: NotificationLevel,
        until: Option<Timestamp>,
    ) -> Result<NotificationSettings> {
        if until.is_some() && level != NotificationLevel::Muted {
            return Err(Error::invalid("until", Invalid::Malformed));
        }
        self.check_until(until)?;
        self.member_conversation(caller, conversation).await?;
        self.change_notification_settings(caller, |settings| match level {
            NotificationLevel::All => {
                settings.conversations.remove(&conversation);
            }
            _ => {
                settings.conversations.insert(conversation, ConversationNotifications { level, until });
            }
        })
        .await
    }

    /// Turns the caller's do-not-disturb on (until `until`, or until turned off) or off.
    /// Returns the settings as they are now, which every device of the caller also receives.
    ///
    /// # Errors
    /// `malformed` `until` when turning it off; `out_of_range` `until` not in the future or
    /// more than [`UNTIL_MAX`] ahead; `unavailable`.
    pub async fn set_do_not_disturb(
        &self,
        caller: &Caller,
        on: bool,
        until: Option<Timestamp>,
    ) -> Result<NotificationSettings> {
        if until.is_some() && !on {
            return Err(Error::invalid("until", Invalid::Malformed));
        }
        self.check_until(until)?;
        self.change_notification_settings(caller, |settings| {
            settings.do_not_disturb = on.then_some(DoNotDisturb { until });
        })
        .await
    }

    fn check_until(&self, until: Option<Timestamp>) -> Result<()> {
        let now = self.now();
        match until {
            Some(until) if until <= now || until > now.plus(UNTIL_MAX) => {
                Err(Error::invalid("until", Invalid::OutOfRange))
            }
            _ => Ok(()),
        }
    }

    async fn change_notification_settings(
        &self,
        caller: &Caller,
        change: impl FnOnce(&mut NotificationSettings),
    ) -> Result<NotificationSettings> {
        let user = caller.user();
        let settings = {
            let _turn = self.notification_writes().lock().await;
            let mut settings = self.notification_settings_of(user).await?;
            change(&mut settings);
            settings.forget_ended(self.now());
            self.store().put_notification_settings(user, &settings).await?;
            settings
        };
        self.route(vec![user], Event::NotificationSettings { settings: settings.clone() }).await;
        Ok(settings)
    }
}
