//! What a user wants to hear about: a level per conversation (all messages, mentions only,
//! muted, a mute perhaps until a time) and a do-not-disturb over everything, as records; and
//! [`should_notify`], the one rule every notifier applies to them (the web app's desktop
//! notifications through the settings it is sent, Web Push, the missed-message e-mail).
//!
//! One rule, so that a conversation muted in the web app is muted for e-mail and push alike.
//! Time-bounded settings end by themselves: a mute or do-not-disturb whose `until` has passed
//! reads as off without anything rewriting the record, so no task has to run at the expiry
//! and every node agrees at once.

use crate::id::{ConversationId, UserId};
use crate::model::{Message, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How much of a conversation notifies its member.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationLevel {
    /// Every message (the default).
    #[default]
    All,
    /// Only messages that mention the member.
    Mentions,
    /// Nothing (unread counts still count).
    Muted,
}

impl NotificationLevel {
    /// The stable name: `"all"`, `"mentions"` or `"muted"`.
    pub fn code(self) -> &'static str {
        match self {
            NotificationLevel::All => "all",
            NotificationLevel::Mentions => "mentions",
            NotificationLevel::Muted => "muted",
        }
    }
}

/// One conversation's setting, as a member chose it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct ConversationNotifications {
    /// The level chosen.
    pub level: NotificationLevel,
    /// For [`NotificationLevel::Muted`] only: when the mute ends by itself (None: until changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

impl ConversationNotifications {
    /// The level in force at `now`: a mute whose `until` has passed is back to
    /// [`NotificationLevel::All`].
    pub fn level_at(&self, now: Timestamp) -> NotificationLevel {
        match self.until {
            Some(until) if self.level == NotificationLevel::Muted && until <= now => NotificationLevel::All,
            _ => self.level,
        }
    }
}

/// A user's global do-not-disturb: on, until changed or until a time.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct DoNotDisturb {
    /// When it ends by itself (None: until turned off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

impl DoNotDisturb {
    /// Whether it is in force at `now`.
    pub fn active_at(&self, now: Timestamp) -> bool {
        self.until.is_none_or(|until| now < until)
    }
}

/// Everything one user chose about notifications: one record per user in the store, sent to
/// every device of theirs when it changes.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct NotificationSettings {
    /// The do-not-disturb, if one was set (it may have ended: see [`DoNotDisturb::active_at`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub do_not_disturb: Option<DoNotDisturb>,
    /// The conversations whose setting is not the default (every message).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub conversations: BTreeMap<ConversationId, ConversationNotifications>,
}

impl NotificationSettings {
    /// The level in force at `now` in `conversation`.
    pub fn level_at(&self, conversation: ConversationId, now: Timestamp) -> NotificationLevel {
        self.conversations.get(&conversation).map_or(NotificationLevel::All, |setting| setting.level_at(now))
    }

    /// Whether the do-not-disturb is in force at `now`.
    pub fn do_not_disturb_at(&self, now: Timestamp) -> bool {
        self.do_not_disturb.is_some_and(|dnd| dnd.active_at(now))
    }

    /// Drops what has ended by `now` (mutes and a do-not-disturb past their `until`), so that a
    /// record written back does not keep them forever.
    pub(crate) fn forget_ended(&mut self, now: Timestamp) {
        self.conversations.retain(|_, setting| setting.level_at(now) != NotificationLevel::All);
        if !self.do_not_disturb_at(now) {
            self.do_not_disturb = None;
        }
    }
}

/// How a notification would reach the user: the do-not-disturb silences some of them only.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[non_exhaustive]
pub enum Channel {
    /// Something that interrupts now: a Web Push, a desktop notification, a sound. The
    /// do-not-disturb silences these.
    Interrupting,
    /// Something read later: a missed-message e-mail digest. The do-not-disturb does not stop
    /// these (the user is told later what they were spared now); mutes and levels do.
    Deferred,
}

/// Whether `user` should be notified of `message` at `now` through `channel`, by their
/// `settings`: never of their own messages, of deleted ones or of system lines (a group's
/// record of its own change); in a muted conversation never (a mute past its `until` is
/// over); with mentions only, when the message mentions them; through an interrupting channel
/// not while the do-not-disturb is in force. Membership is the caller's to check.
pub fn should_notify(
    settings: &NotificationSettings,
    user: UserId,
    message: &Message,
    now: Timestamp,
    channel: Channel,
) -> bool {
    if message.sender == user || message.deleted || message.event.is_some() {
        return false;
    }
    if channel == Channel::Interrupting && settings.do_not_disturb_at(now) {
        return false;
    }
    match settings.level_at(message.conversation, now) {
        NotificationLevel::All => true,
        NotificationLevel::Mentions => message.mentions.contains(&user),
        NotificationLevel::Muted => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{MessageId, Seq};

    fn message(conversation: ConversationId, sender: UserId, mentions: Vec<UserId>) -> Message {
        Message {
            id: MessageId::new(),
            conversation,
            sender,
            seq: Seq(1),
            body: "hi".into(),
            client_id: "c".into(),
            sent_at: Timestamp(1_000),
            edited_at: None,
            deleted: false,
            attachments: Vec::new(),
            reply_to: None,
            reply: None,
            mentions,
            reactions: Vec::new(),
            event: None,
        }
    }

    #[test]
    fn the_rule_follows_levels_mutes_and_do_not_disturb() {
        let (me, other, conversation) = (UserId::new(), UserId::new(), ConversationId::new());
        let now = Timestamp(10_000);
        let plain = message(conversation, other, Vec::new());
        let mentioning = message(conversation, other, vec![me]);
        let mut settings = NotificationSettings::default();
        let notify = |settings: &NotificationSettings, message: &Message, channel| {
            should_notify(settings, me, message, now, channel)
        };
        assert!(notify(&settings, &plain, Channel::Interrupting));
        assert!(!notify(&settings, &message(conversation, me, Vec::new()), Channel::Interrupting), "own message");

        let mentions = ConversationNotifications { level: NotificationLevel::Mentions, until: None };
        settings.conversations.insert(conversation, mentions);
        assert!(!notify(&settings, &plain, Channel::Interrupting));
        assert!(notify(&settings, &mentioning, Channel::Deferred));

        let muted = |until| ConversationNotifications { level: NotificationLevel::Muted, until };
        settings.conversations.insert(conversation, muted(None));
        assert!(!notify(&settings, &mentioning, Channel::Interrupting));
        assert!(!notify(&settings, &mentioning, Channel::Deferred));
        settings.conversations.insert(conversation, muted(Some(Timestamp(10_001))));
        assert!(!notify(&settings, &plain, Channel::Interrupting), "muted until later");
        settings.conversations.insert(conversation, muted(Some(now)));
        assert!(notify(&settings, &plain, Channel::Interrupting), "a mute that has ended");

        settings.do_not_disturb = Some(DoNotDisturb { until: None });
        assert!(!notify(&settings, &plain, Channel::Interrupting));
        assert!(notify(&settings, &plain, Channel::Deferred), "e-mail digests are not silenced");
        settings.do_not_disturb = Some(DoNotDisturb { until: Some(now) });
        assert!(notify(&settings, &plain, Channel::Interrupting), "a do-not-disturb that has ended");

        settings.forget_ended(now);
        assert_eq!(settings, NotificationSettings::default());
    }
}
