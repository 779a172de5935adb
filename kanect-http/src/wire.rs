//! The one place where the engine's records and events become wire types (`kanect-proto`), and
//! the ids a client sent become the engine's.
//!
//! The two crates keep their own types on purpose (the engine's model may grow fields that never
//! go on the wire; a client must not compile the engine), so the adapter maps between them:
//! field by field, here, so that a field added on one side and not the other fails to compile
//! in this file rather than silently going missing.

use kanect_core as core;
use kanect_proto as proto;
use kanect_proto::ServerFrame;
use std::sync::Arc;

/// An engine value's wire form.
pub(crate) trait ToWire {
    /// The `kanect-proto` type.
    type Wire;

    /// The wire form.
    fn to_wire(&self) -> Self::Wire;
}

/// A wire value's engine form (ids and seqs a client sent).
pub(crate) trait ToCore {
    /// The `kanect-core` type.
    type Core;

    /// The engine form.
    fn to_core(&self) -> Self::Core;
}

macro_rules! ids {
    ($($name:ident),*) => {$(
        impl ToWire for core::$name {
            type Wire = proto::$name;
            fn to_wire(&self) -> proto::$name {
                proto::$name(*self.as_uuid())
            }
        }

        impl ToCore for proto::$name {
            type Core = core::$name;
            fn to_core(&self) -> core::$name {
                core::$name::from(self.0)
            }
        }
    )*};
}

ids!(UserId, ConversationId, MessageId);

impl ToWire for core::Seq {
    type Wire = proto::Seq;
    fn to_wire(&self) -> proto::Seq {
        proto::Seq(self.0)
    }
}

impl ToCore for proto::Seq {
    type Core = core::Seq;
    fn to_core(&self) -> core::Seq {
        core::Seq(self.0)
    }
}

impl ToWire for core::Timestamp {
    type Wire = proto::Timestamp;
    fn to_wire(&self) -> proto::Timestamp {
        proto::Timestamp(self.0)
    }
}

impl<T: ToWire> ToWire for Option<T> {
    type Wire = Option<T::Wire>;
    fn to_wire(&self) -> Self::Wire {
        self.as_ref().map(T::to_wire)
    }
}

impl ToWire for core::Role {
    type Wire = proto::Role;
    fn to_wire(&self) -> proto::Role {
        match self {
            core::Role::User => proto::Role::User,
            core::Role::Admin => proto::Role::Admin,
        }
    }
}

impl ToWire for core::User {
    type Wire = proto::User;
    fn to_wire(&self) -> proto::User {
        let core::User { id, username, display_name, email, role, created_at, disabled, last_seen } = self;
        proto::User {
            id: id.to_wire(),
            username: username.clone(),
            display_name: display_name.clone(),
            email: email.clone(),
            role: role.to_wire(),
            created_at: created_at.to_wire(),
            disabled: *disabled,
            last_seen: last_seen.to_wire(),
        }
    }
}

impl ToWire for core::Conversation {
    type Wire = proto::Conversation;
    fn to_wire(&self) -> proto::Conversation {
        let core::Conversation { id, kind, name, owner, members, created_at } = self;
        proto::Conversation {
            id: id.to_wire(),
            kind: match kind {
                core::ConversationKind::Direct => proto::ConversationKind::Direct,
                core::ConversationKind::Group => proto::ConversationKind::Group,
            },
            name: name.clone(),
            owner: owner.to_wire(),
            members: members.iter().map(ToWire::to_wire).collect(),
            created_at: created_at.to_wire(),
        }
    }
}

impl ToWire for core::Message {
    type Wire = proto::Message;
    fn to_wire(&self) -> proto::Message {
        let core::Message { id, conversation, sender, seq, body, client_id, sent_at, edited_at, deleted } = self;
        proto::Message {
            id: id.to_wire(),
            conversation: conversation.to_wire(),
            sender: sender.to_wire(),
            seq: seq.to_wire(),
            body: body.clone(),
            client_id: client_id.clone(),
            sent_at: sent_at.to_wire(),
            edited_at: edited_at.to_wire(),
            deleted: *deleted,
        }
    }
}

impl ToWire for core::Receipt {
    type Wire = proto::Receipt;
    fn to_wire(&self) -> proto::Receipt {
        let core::Receipt { conversation, user, delivered, read } = self;
        proto::Receipt {
            conversation: conversation.to_wire(),
            user: user.to_wire(),
            delivered: delivered.to_wire(),
            read: read.to_wire(),
        }
    }
}

impl ToWire for core::Presence {
    type Wire = proto::Presence;
    fn to_wire(&self) -> proto::Presence {
        let core::Presence { user, online, last_seen } = self;
        proto::Presence { user: user.to_wire(), online: *online, last_seen: last_seen.to_wire() }
    }
}

impl ToWire for core::SkippedCursor {
    type Wire = proto::SkippedCursor;
    fn to_wire(&self) -> proto::SkippedCursor {
        proto::SkippedCursor { conversation: self.conversation.to_wire(), code: self.reason.code().to_owned() }
    }
}

impl ToWire for core::Event {
    /// `None` for an event this adapter has no frame for: the engine's `Event` may grow
    /// variants (it is `non_exhaustive`) before the protocol says how to send them.
    type Wire = Option<ServerFrame>;
    fn to_wire(&self) -> Option<ServerFrame> {
        use core::Event;
        Some(match self {
            Event::Message { message } => ServerFrame::Message { message: message.to_wire() },
            Event::Edit { message } => ServerFrame::Edit { message: message.to_wire() },
            Event::Delete { conversation, id, seq } => {
                ServerFrame::Delete { conversation: conversation.to_wire(), id: id.to_wire(), seq: seq.to_wire() }
            }
            Event::Presence(presence) => ServerFrame::Presence(presence.to_wire()),
            Event::Typing { conversation, user } => {
                ServerFrame::Typing { conversation: conversation.to_wire(), user: user.to_wire() }
            }
            Event::Receipt(receipt) => ServerFrame::Receipt(receipt.to_wire()),
            Event::Conversation { conversation, last_seq } => {
                ServerFrame::Conversation { conversation: conversation.to_wire(), last_seq: last_seq.to_wire() }
            }
            Event::User { user } => ServerFrame::User { user: user.to_wire() },
            Event::UserDeleted { user } => ServerFrame::UserDeleted { user: user.to_wire() },
            Event::Resync => ServerFrame::Resync,
            Event::SessionEnded { reason } => ServerFrame::SessionEnded { reason: reason.clone() },
            other => {
                tracing::debug!(event = ?other, "an engine event with no frame: not sent");
                return None;
            }
        })
    }
}

/// A delivery's frame as JSON text, encoded once for all its recipients (empty for an event
/// with no frame, which is not sent).
pub(crate) fn delivery_text(delivery: &core::Delivery) -> Arc<str> {
    delivery.encoded(|event| event.to_wire().map(|frame| frame.to_json()).unwrap_or_default().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_encoded_once_as_a_versioned_frame() {
        let delivery = core::Delivery::new(core::Event::Resync);
        let copy = delivery.clone();
        assert_eq!(&*delivery_text(&delivery), r#"{"v":1,"type":"resync"}"#);
        assert!(Arc::ptr_eq(&delivery_text(&delivery), &delivery_text(&copy)));
    }

    #[test]
    fn records_keep_every_field() {
        let id = core::UserId::new();
        let user = core::User {
            id,
            username: "alice".into(),
            display_name: Some("Alice".into()),
            email: None,
            role: core::Role::Admin,
            created_at: core::Timestamp(5),
            disabled: true,
            last_seen: Some(core::Timestamp(7)),
        };
        let frame = core::Event::User { user }.to_wire().unwrap().to_json();
        let expected = format!(
            r#"{{"v":1,"type":"user","user":{{"id":"{id}","username":"alice","display_name":"Alice","role":"admin","created_at":5,"disabled":true,"last_seen":7}}}}"#
        );
        assert_eq!(frame, expected);
        assert_eq!(proto::UserId(*id.as_uuid()).to_core(), id);
    }
}
