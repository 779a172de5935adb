//! Events the engine pushes to subscribed devices.
//!
//! An [`Event`]'s serde form is the payload of the wire protocol's server frames (a `type` tag
//! plus fields). A fan-out wraps one event in one [`Delivery`] shared by every recipient, so a
//! broadcast to a thousand devices is encoded to JSON once, not a thousand times.

use crate::id::{ConversationId, MessageId, Seq, UserId};
use crate::model::{Conversation, Message, Presence, Receipt, User};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};

/// The version of the wire form of events; adapters advertise it in their envelopes.
pub const PROTOCOL_VERSION: u32 = 1;

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

impl Event {
    /// The conversation an event belongs to, if any.
    pub fn conversation(&self) -> Option<ConversationId> {
        match self {
            Event::Message { message } | Event::Edit { message } => Some(message.conversation),
            Event::Delete { conversation, .. } | Event::Typing { conversation, .. } => Some(*conversation),
            Event::Receipt(receipt) => Some(receipt.conversation),
            Event::Conversation { conversation, .. } => Some(conversation.id),
            Event::Presence(_)
            | Event::User { .. }
            | Event::UserDeleted { .. }
            | Event::Resync
            | Event::SessionEnded { .. } => None,
        }
    }
}

#[derive(Serialize)]
struct Versioned<'a> {
    v: u32,
    #[serde(flatten)]
    event: &'a Event,
}

/// One event on its way to one or many devices: cheap to clone, encoded at most once.
#[derive(Clone, Debug)]
pub struct Delivery(Arc<DeliveryInner>);

#[derive(Debug)]
struct DeliveryInner {
    event: Event,
    json: OnceLock<Arc<str>>,
}

impl Delivery {
    /// Wraps an event.
    pub fn new(event: Event) -> Self {
        Delivery(Arc::new(DeliveryInner { event, json: OnceLock::new() }))
    }

    /// The event.
    pub fn event(&self) -> &Event {
        &self.0.event
    }

    /// The event as a protocol frame, `{"v":1,"type":...}`, encoded on first use and shared by
    /// every clone.
    pub fn json(&self) -> Arc<str> {
        self.0
            .json
            .get_or_init(|| {
                let frame = Versioned { v: PROTOCOL_VERSION, event: &self.0.event };
                // Serializing plain data with string keys cannot fail.
                serde_json::to_string(&frame).unwrap_or_default().into()
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_versioned_tagged_and_shared() {
        let delivery = Delivery::new(Event::Resync);
        let copy = delivery.clone();
        assert_eq!(&*delivery.json(), r#"{"v":1,"type":"resync"}"#);
        assert!(Arc::ptr_eq(&delivery.json(), &copy.json()));
        let typing = Delivery::new(Event::Typing { conversation: ConversationId::new(), user: UserId::new() });
        let value: serde_json::Value = serde_json::from_str(&typing.json()).unwrap();
        assert_eq!(value["type"], "typing");
    }
}
