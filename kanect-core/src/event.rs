//! Events the engine pushes to subscribed devices.
//!
//! The engine does not encode them for the wire: a transport does (kanect-http through
//! kanect-proto). A fan-out wraps one event in one [`Delivery`] shared by every recipient, and a
//! delivery keeps the transport's encoding once made, so a broadcast to a thousand devices is
//! encoded once, not a thousand times. (An event's serde form is for engines talking to each
//! other over a bus, not the wire protocol.)

use crate::id::{ConversationId, MessageId, Seq, UserId};
use crate::model::{Conversation, Message, Presence, Reaction, Receipt, User};
use crate::notifications::NotificationSettings;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};

/// Something a device should know about.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A new message in one of the user's conversations.
    Message {
        /// The message.
        message: Message,
    },
    /// A message was edited (the new body and `edited_at`).
    Edit {
        /// The message after the edit.
        message: Message,
    },
    /// A message was deleted; its seq stays, its body is gone.
    Delete {
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        id: MessageId,
        /// Its seq.
        seq: Seq,
    },
    /// A member added or took back a reaction: the message's reactions as they are now.
    Reaction {
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        id: MessageId,
        /// Its seq.
        seq: Seq,
        /// Who reacted.
        user: UserId,
        /// With what.
        emoji: String,
        /// True if added, false if taken back.
        added: bool,
        /// All of the message's reactions after the change.
        reactions: Vec<Reaction>,
    },
    /// A user came online or went offline.
    Presence(Presence),
    /// A member is typing (ephemeral: never stored; show it for a few seconds).
    Typing {
        /// Where.
        conversation: ConversationId,
        /// Who.
        user: UserId,
    },
    /// A member's delivered/read watermarks moved.
    Receipt(Receipt),
    /// A conversation was created or its name, owner or members changed. Sent to old and
    /// new members, so a removed member learns it is out.
    Conversation {
        /// The conversation as it is now.
        conversation: Conversation,
        /// Its newest seq when the change was made: a member who just joined receives
        /// messages after it live, and reads what came before from history.
        #[serde(default)]
        last_seq: Seq,
    },
    /// An account was created, or an administrator changed it (role, disabled): the public
    /// record, sent to every device. A disabled account is left out of user lists.
    User {
        /// The account as it is now, without email.
        user: User,
    },
    /// An account was deleted: sent to every device.
    UserDeleted {
        /// Whose.
        user: UserId,
    },
    /// The user's notification settings changed (on one of their devices): sent to all of
    /// their devices, so that every web app of theirs agrees on what notifies.
    NotificationSettings {
        /// The settings as they are now.
        settings: NotificationSettings,
    },
    /// This device fell behind and events were dropped: re-read conversations and history
    /// after your cursors (or resume with them), then carry on.
    Resync,
    /// The session behind this subscription ended (logged out everywhere, account disabled,
    /// password reset): the stream ends after this event.
    SessionEnded {
        /// Stable code: `"logged_out"`, `"account_disabled"`, `"password_reset"`, `"account_deleted"`.
        reason: String,
    },
}

/// One event on its way to one or many devices: cheap to clone, encoded at most once.
#[derive(Clone, Debug)]
pub struct Delivery(Arc<DeliveryInner>);

#[derive(Debug)]
struct DeliveryInner {
    event: Event,
    /// The transport's encoding, made by the first recipient's transport and shared by all.
    encoded: OnceLock<Arc<str>>,
}

impl Delivery {
    /// Wraps an event.
    pub fn new(event: Event) -> Self {
        Delivery(Arc::new(DeliveryInner { event, encoded: OnceLock::new() }))
    }

    /// The event.
    pub fn event(&self) -> &Event {
        &self.0.event
    }

    /// The event as the transport encodes it: `encode` runs for the first recipient, and
    /// every clone of this delivery gets that same text after it.
    ///
    /// One process has one wire encoding (its transport's); a second `encode` given to the
    /// same delivery is not run.
    pub fn encoded(&self, encode: impl FnOnce(&Event) -> Arc<str>) -> Arc<str> {
        self.0.encoded.get_or_init(|| encode(&self.0.event)).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_is_encoded_once_for_every_clone() {
        let delivery = Delivery::new(Event::Typing { conversation: ConversationId::new(), user: UserId::new() });
        let copy = delivery.clone();
        let first = delivery.encoded(|event| format!("{event:?}").into());
        let again = copy.encoded(|_| unreachable!("encoded already"));
        assert!(Arc::ptr_eq(&first, &again));
        assert!(first.starts_with("Typing"));
    }
}
