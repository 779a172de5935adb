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

ids!(UserId, ConversationId, MessageId, AuditId, AttachmentId, InviteId);

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

impl ToCore for proto::Role {
    type Core = core::Role;
    fn to_core(&self) -> core::Role {
        match self {
            proto::Role::User => core::Role::User,
            proto::Role::Admin => core::Role::Admin,
        }
    }
}

impl ToCore for proto::ReceiptKind {
    type Core = core::ReceiptKind;
    fn to_core(&self) -> core::ReceiptKind {
        match self {
            proto::ReceiptKind::Delivered => core::ReceiptKind::Delivered,
            proto::ReceiptKind::Read => core::ReceiptKind::Read,
        }
    }
}

impl ToWire for core::User {
    type Wire = proto::User;
    fn to_wire(&self) -> proto::User {
        let core::User {
            id,
            username,
            display_name,
            email,
            role,
            created_at,
            disabled,
            last_seen,
            email_verified,
            digests_off,
            digested_at: _,
            status,
            avatar,
        } = self;
        proto::User {
            id: id.to_wire(),
            username: username.clone(),
            display_name: display_name.clone(),
            email: email.clone(),
            role: role.to_wire(),
            created_at: created_at.to_wire(),
            disabled: *disabled,
            last_seen: last_seen.to_wire(),
            email_verified: *email_verified,
            digests_off: *digests_off,
            status: status.clone(),
            avatar: avatar.as_ref().map(ToWire::to_wire),
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
        let core::Message {
            id,
            conversation,
            sender,
            seq,
            body,
            client_id,
            sent_at,
            edited_at,
            deleted,
            attachments,
            reply_to,
            reply,
            mentions,
            reactions,
            event,
        } = self;
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
            attachments: attachments.iter().map(ToWire::to_wire).collect(),
            reply_to: reply_to.map(|seq| seq.to_wire()),
            reply: reply.as_ref().map(ToWire::to_wire),
            mentions: mentions.iter().map(ToWire::to_wire).collect(),
            reactions: reactions.iter().map(ToWire::to_wire).collect(),
            event: event.as_ref().and_then(ToWire::to_wire),
        }
    }
}

impl ToWire for core::GroupEvent {
    /// `None` for a kind of event this adapter has no form for (the engine's enum may grow).
    type Wire = Option<proto::GroupEvent>;
    fn to_wire(&self) -> Option<proto::GroupEvent> {
        use core::GroupEvent;
        Some(match self {
            GroupEvent::Created { name } => proto::GroupEvent::Created { name: name.clone() },
            GroupEvent::Renamed { name } => proto::GroupEvent::Renamed { name: name.clone() },
            GroupEvent::Added { user } => proto::GroupEvent::Added { user: user.to_wire() },
            GroupEvent::Removed { user } => proto::GroupEvent::Removed { user: user.to_wire() },
            GroupEvent::Left => proto::GroupEvent::Left,
            _ => return None,
        })
    }
}

impl ToWire for core::ReplyPreview {
    type Wire = proto::ReplyPreview;
    fn to_wire(&self) -> proto::ReplyPreview {
        let core::ReplyPreview { sender, text, deleted } = self;
        proto::ReplyPreview { sender: sender.to_wire(), text: text.clone(), deleted: *deleted }
    }
}

impl ToWire for core::Reaction {
    type Wire = proto::Reaction;
    fn to_wire(&self) -> proto::Reaction {
        let core::Reaction { emoji, users } = self;
        proto::Reaction { emoji: emoji.clone(), users: users.iter().map(ToWire::to_wire).collect() }
    }
}

impl ToWire for core::AttachmentMeta {
    type Wire = proto::Attachment;
    fn to_wire(&self) -> proto::Attachment {
        let core::AttachmentMeta { id, name, size, content_type, sha256, image } = self;
        proto::Attachment {
            id: id.to_wire(),
            name: name.clone(),
            size: *size,
            content_type: content_type.clone(),
            sha256: sha256.clone(),
            image: image.map(|image| proto::ImageSize {
                width: image.width,
                height: image.height,
                thumbnail_width: image.thumbnail_width,
                thumbnail_height: image.thumbnail_height,
            }),
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
        let core::Presence { user, online, away, last_seen } = self;
        proto::Presence { user: user.to_wire(), online: *online, away: *away, last_seen: last_seen.to_wire() }
    }
}

impl ToWire for core::UserView {
    type Wire = proto::UserView;
    fn to_wire(&self) -> proto::UserView {
        let core::UserView { user, presence } = self;
        proto::UserView { user: user.to_wire(), presence: presence.to_wire() }
    }
}

impl ToWire for core::AdminUserView {
    type Wire = proto::AdminUserView;
    fn to_wire(&self) -> proto::AdminUserView {
        let core::AdminUserView { user, presence, conversations } = self;
        proto::AdminUserView {
            user: user.to_wire(),
            presence: presence.to_wire(),
            conversations: *conversations as u64,
        }
    }
}

impl ToWire for core::ConversationView {
    type Wire = proto::ConversationView;
    fn to_wire(&self) -> proto::ConversationView {
        let core::ConversationView { conversation, last_seq, last_message, unread, unread_mentions, receipts } = self;
        proto::ConversationView {
            conversation: conversation.to_wire(),
            last_seq: last_seq.to_wire(),
            last_message: last_message.to_wire(),
            unread: *unread as u64,
            unread_mentions: *unread_mentions as u64,
            receipts: receipts.iter().map(ToWire::to_wire).collect(),
        }
    }
}

impl ToWire for core::AuditEntry {
    type Wire = proto::rest::AuditEntry;
    fn to_wire(&self) -> proto::rest::AuditEntry {
        let core::AuditEntry { id, at, actor, action, target, detail } = self;
        proto::rest::AuditEntry {
            id: id.to_wire(),
            at: at.to_wire(),
            actor: actor.to_wire(),
            action: action.clone(),
            target: target.clone(),
            detail: detail.clone(),
        }
    }
}

impl ToWire for core::Invite {
    type Wire = proto::rest::Invite;
    /// Not the token's hash: the public has no use for it.
    fn to_wire(&self) -> proto::rest::Invite {
        let core::Invite { id, token_hash: _, created_by, created_at, expires_at, uses, uses_left } = self;
        proto::rest::Invite {
            id: id.to_wire(),
            created_by: created_by.to_wire(),
            created_at: created_at.to_wire(),
            expires_at: expires_at.to_wire(),
            uses: *uses,
            uses_left: *uses_left,
        }
    }
}

impl ToWire for core::SignUpMode {
    type Wire = proto::rest::SignUpMode;
    fn to_wire(&self) -> proto::rest::SignUpMode {
        match self {
            core::SignUpMode::Open => proto::rest::SignUpMode::Open,
            core::SignUpMode::Invite => proto::rest::SignUpMode::Invite,
            // `non_exhaustive`: a mode this adapter does not know yet lets nobody in.
            _ => proto::rest::SignUpMode::Closed,
        }
    }
}

impl ToWire for core::ServerStats {
    type Wire = proto::rest::ServerStats;
    fn to_wire(&self) -> proto::rest::ServerStats {
        let core::ServerStats { users, online_users, conversations, messages, connections } = *self;
        proto::rest::ServerStats { users, online_users, conversations, messages, connections }
    }
}

impl ToWire for core::SkippedCursor {
    type Wire = proto::SkippedCursor;
    fn to_wire(&self) -> proto::SkippedCursor {
        proto::SkippedCursor { conversation: self.conversation.to_wire(), code: self.reason.code().to_owned() }
    }
}

impl ToWire for core::NotificationLevel {
    type Wire = proto::NotificationLevel;
    fn to_wire(&self) -> proto::NotificationLevel {
        match self {
            core::NotificationLevel::All => proto::NotificationLevel::All,
            core::NotificationLevel::Mentions => proto::NotificationLevel::Mentions,
            core::NotificationLevel::Muted => proto::NotificationLevel::Muted,
        }
    }
}

impl ToCore for proto::NotificationLevel {
    type Core = core::NotificationLevel;
    fn to_core(&self) -> core::NotificationLevel {
        match self {
            proto::NotificationLevel::All => core::NotificationLevel::All,
            proto::NotificationLevel::Mentions => core::NotificationLevel::Mentions,
            proto::NotificationLevel::Muted => core::NotificationLevel::Muted,
        }
    }
}

impl ToCore for proto::Timestamp {
    type Core = core::Timestamp;
    fn to_core(&self) -> core::Timestamp {
        core::Timestamp(self.0)
    }
}

impl ToWire for core::NotificationSettings {
    type Wire = proto::NotificationSettings;
    fn to_wire(&self) -> proto::NotificationSettings {
        let core::NotificationSettings { do_not_disturb, conversations } = self;
        proto::NotificationSettings {
            do_not_disturb: do_not_disturb.map(|dnd| proto::DoNotDisturb { until: dnd.until.to_wire() }),
            conversations: conversations
                .iter()
                .map(|(id, setting)| proto::ConversationNotifications {
                    conversation: id.to_wire(),
                    level: setting.level.to_wire(),
                    until: setting.until.to_wire(),
                })
                .collect(),
        }
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
            Event::Reaction { conversation, id, seq, user, emoji, added, reactions } => ServerFrame::Reaction {
                conversation: conversation.to_wire(),
                id: id.to_wire(),
                seq: seq.to_wire(),
                user: user.to_wire(),
                emoji: emoji.clone(),
                added: *added,
                reactions: reactions.iter().map(ToWire::to_wire).collect(),
            },
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
            Event::NotificationSettings { settings } => {
                ServerFrame::NotificationSettings { settings: settings.to_wire() }
            }
            Event::Resync => ServerFrame::Resync,
            Event::SessionEnded { reason } => ServerFrame::SessionEnded { reason: reason.clone() },
            other => {
                tracing::warn!(event = ?other, "an engine event with no frame: not sent");
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
    use serde::Serialize;
    use serde_json::Value;

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
            email_verified: false,
            digests_off: false,
            digested_at: None,
            status: None,
            avatar: None,
        };
        let frame = core::Event::User { user }.to_wire().unwrap().to_json();
        let expected = format!(
            r#"{{"v":1,"type":"user","user":{{"id":"{id}","username":"alice","display_name":"Alice","role":"admin","created_at":5,"disabled":true,"last_seen":7}}}}"#
        );
        assert_eq!(frame, expected);
        assert_eq!(proto::UserId(*id.as_uuid()).to_core(), id);
    }

    fn json(value: impl Serialize) -> Value {
        serde_json::to_value(value).unwrap()
    }

    fn a_user(email: Option<&str>) -> core::User {
        core::User {
            id: core::UserId::new(),
            username: "alice".into(),
            display_name: Some("Alice".into()),
            email: email.map(str::to_owned),
            role: core::Role::Admin,
            created_at: core::Timestamp(1),
            disabled: true,
            last_seen: Some(core::Timestamp(2)),
            email_verified: false,
            digests_off: false,
            digested_at: None,
            status: None,
            avatar: None,
        }
    }

    fn a_message(edited_at: Option<core::Timestamp>) -> core::Message {
        core::Message {
            id: core::MessageId::new(),
            conversation: core::ConversationId::new(),
            sender: core::UserId::new(),
            seq: core::Seq(3),
            body: "hi".into(),
            client_id: "c-1".into(),
            sent_at: core::Timestamp(4),
            edited_at,
            deleted: false,
            attachments: vec![core::AttachmentMeta {
                id: core::AttachmentId::new(),
                name: "photo.jpg".into(),
                size: 5,
                content_type: "image/jpeg".into(),
                sha256: "ab".repeat(32),
                image: Some(core::ImageMeta { width: 640, height: 480, thumbnail_width: 320, thumbnail_height: 240 }),
            }],
            reply_to: Some(core::Seq(1)),
            reply: Some(core::ReplyPreview { sender: core::UserId::new(), text: "lunch?".into(), deleted: false }),
            mentions: vec![core::UserId::new()],
            reactions: vec![core::Reaction { emoji: "👍".into(), users: vec![core::UserId::new()] }],
            event: None,
        }
    }

    /// The engine's records still derive `Serialize` (its stores use it): while they do, the
    /// wire form must be exactly theirs, which is what clients have been reading.
    #[test]
    fn the_wire_records_are_the_engines_json() {
        for email in [None, Some("a@example.com")] {
            let record = a_user(email);
            assert_eq!(json(record.to_wire()), json(&record));
            let presence_record = core::Presence { user: record.id, online: true, away: false, last_seen: None };
            let view = core::UserView { user: record.clone(), presence: presence_record };
            assert_eq!(json(view.to_wire()), json(&view));
            let admin = core::AdminUserView { user: record, presence: presence_record, conversations: 7 };
            assert_eq!(json(admin.to_wire()), json(&admin));
        }
        let members = vec![core::UserId::new(), core::UserId::new()];
        let group = core::Conversation {
            id: core::ConversationId::new(),
            kind: core::ConversationKind::Group,
            name: Some("crew".into()),
            owner: Some(members[0]),
            members: members.clone(),
            created_at: core::Timestamp(5),
        };
        assert_eq!(json(group.to_wire()), json(&group));
        let direct = core::Conversation { kind: core::ConversationKind::Direct, name: None, owner: None, ..group };
        let marks =
            core::Receipt { conversation: direct.id, user: members[1], delivered: core::Seq(3), read: core::Seq(2) };
        assert_eq!(json(marks.to_wire()), json(marks));
        for edited_at in [None, Some(core::Timestamp(6))] {
            let record = a_message(edited_at);
            assert_eq!(json(record.to_wire()), json(&record));
            let view = core::ConversationView {
                conversation: direct.clone(),
                last_seq: core::Seq(3),
                last_message: Some(record),
                unread: 2,
                unread_mentions: 1,
                receipts: vec![marks],
            };
            assert_eq!(json(view.to_wire()), json(&view));
        }
        let entry = core::AuditEntry {
            id: core::AuditId::new(),
            at: core::Timestamp(8),
            actor: members[0],
            action: "user.role".into(),
            target: members[1].to_string(),
            detail: Some("admin".into()),
        };
        assert_eq!(json(entry.to_wire()), json(&entry));
        let stats = core::ServerStats { users: 1, online_users: 2, conversations: 3, messages: 4, connections: 5 };
        assert_eq!(json(stats.to_wire()), json(stats));
        let empty = core::ConversationView {
            conversation: direct,
            last_seq: core::Seq(0),
            last_message: None,
            unread: 0,
            unread_mentions: 0,
            receipts: vec![],
        };
        assert_eq!(json(empty.to_wire()), json(&empty));
    }

    /// A system line recording `event`.
    fn system_line(event: core::GroupEvent) -> core::Message {
        core::Message { body: String::new(), attachments: Vec::new(), event: Some(event), ..a_message(None) }
    }

    /// Every event's frame is what clients read before `kanect-proto`: the engine's own serde
    /// form of the event (kept for the bus) with the envelope's `v`, field for field.
    #[test]
    fn every_event_frame_is_the_engines_event_with_its_version() {
        let message = a_message(Some(core::Timestamp(6)));
        let user = a_user(None);
        let conversation = core::Conversation {
            id: message.conversation,
            kind: core::ConversationKind::Group,
            name: Some("crew".into()),
            owner: Some(user.id),
            members: vec![user.id, message.sender],
            created_at: core::Timestamp(5),
        };
        let events = [
            core::Event::Message { message: a_message(None) },
            core::Event::Edit { message: message.clone() },
            core::Event::Delete { conversation: message.conversation, id: message.id, seq: message.seq },
            core::Event::Reaction {
                conversation: message.conversation,
                id: message.id,
                seq: message.seq,
                user: user.id,
                emoji: "🎉".into(),
                added: true,
                reactions: vec![core::Reaction { emoji: "🎉".into(), users: vec![user.id] }],
            },
            core::Event::Message { message: system_line(core::GroupEvent::Created { name: "crew".into() }) },
            core::Event::Message { message: system_line(core::GroupEvent::Renamed { name: "crew 2".into() }) },
            core::Event::Message { message: system_line(core::GroupEvent::Added { user: user.id }) },
            core::Event::Message { message: system_line(core::GroupEvent::Removed { user: user.id }) },
            core::Event::Message { message: system_line(core::GroupEvent::Left) },
            core::Event::Presence(core::Presence {
                user: user.id,
                online: false,
                away: false,
                last_seen: Some(core::Timestamp(9)),
            }),
            core::Event::Presence(core::Presence { user: user.id, online: true, away: true, last_seen: None }),
            core::Event::Typing { conversation: message.conversation, user: user.id },
            core::Event::Receipt(core::Receipt {
                conversation: message.conversation,
                user: user.id,
                delivered: core::Seq(3),
                read: core::Seq(2),
            }),
            core::Event::Conversation { conversation, last_seq: core::Seq(12) },
            core::Event::User { user: user.clone() },
            core::Event::UserDeleted { user: user.id },
            core::Event::Resync,
            core::Event::SessionEnded { reason: "logged_out".into() },
        ];
        for event in events {
            let mut expected = json(&event);
            expected.as_object_mut().unwrap().insert("v".into(), 1.into());
            let frame = event.to_wire().unwrap_or_else(|| panic!("no frame for {event:?}"));
            assert_eq!(json(&frame), expected, "{event:?}");
            assert_eq!(serde_json::from_value::<ServerFrame>(expected).unwrap(), frame, "{event:?}");
        }
    }

    /// A message to a group reaches each member's device as the same delivery, so its frame is
    /// encoded once for all of them (the first recipient's encoding is every other's).
    #[tokio::test]
    async fn a_broadcast_is_encoded_once_for_all_its_recipients() {
        use kanect_core::{Chat, ChatConfig, MemoryStore, PasswordCost, Registration};
        let config = ChatConfig { password_cost: PasswordCost::INSECURE_FAST, ..Default::default() };
        let chat = Chat::builder(MemoryStore::new()).config(config).build().await.unwrap();
        let mut callers = Vec::new();
        for name in ["alice", "bob", "carol"] {
            let user = chat.register(Registration::new(name, "correct horse battery")).await.unwrap();
            callers.push(chat.act_as(user.id).await.unwrap());
        }
        let others: Vec<_> = callers[1..].iter().map(core::Caller::user).collect();
        let group = chat.create_group(&callers[0], "crew", &others).await.unwrap();
        // Alice twice: two devices of one user get the same delivery too.
        let mut devices = Vec::new();
        for caller in [&callers[0], &callers[0], &callers[1], &callers[2]] {
            devices.push(chat.subscribe(caller).await.unwrap());
        }
        chat.send(&callers[1], group.id, "c1", "hi all").await.unwrap();
        let mut texts = Vec::new();
        for device in &mut devices {
            let delivery = loop {
                let delivery = device.next().await.expect("the device is subscribed");
                if matches!(delivery.event(), core::Event::Message { .. }) {
                    break delivery;
                }
            };
            texts.push(delivery_text(&delivery));
        }
        assert!(texts[0].contains("hi all"), "{}", texts[0]);
        for text in &texts[1..] {
            assert!(Arc::ptr_eq(&texts[0], text), "one encoding for every recipient");
        }
    }

    #[test]
    fn request_values_map_back() {
        let id = core::UserId::new();
        assert_eq!(id.to_wire().to_core(), id);
        for kind in [core::Role::User, core::Role::Admin] {
            assert_eq!(kind.to_wire().to_core(), kind);
        }
        assert_eq!(proto::ReceiptKind::Read.to_core(), core::ReceiptKind::Read);
        assert_eq!(proto::ReceiptKind::Delivered.to_core(), core::ReceiptKind::Delivered);
    }
}
