//! The engine's records and views (and the admin's audit entries and counts) as the wire
//! carries them: [`kanect_core`]'s types mapped, field by field, onto [`kanect_proto`]'s, and
//! back for the few values a request carries.
//!
//! The two crates do not know each other (a client compiles `kanect-proto` without the engine),
//! so the mapping lives here, in the adapter between them. It is written out in full rather
//! than through serde (serialize one, parse the other) so that a field added to an engine record
//! goes on the wire only when it is added here, and a renamed one fails to compile.

use kanect_core as engine;
use kanect_proto as wire;

/// A user id on the wire.
pub(crate) fn user_id(id: engine::UserId) -> wire::UserId {
    wire::UserId(*id.as_uuid())
}

/// A conversation id on the wire.
pub(crate) fn conversation_id(id: engine::ConversationId) -> wire::ConversationId {
    wire::ConversationId(*id.as_uuid())
}

/// A message id on the wire.
pub(crate) fn message_id(id: engine::MessageId) -> wire::MessageId {
    wire::MessageId(*id.as_uuid())
}

/// An audit entry's id on the wire.
pub(crate) fn audit_id(id: engine::AuditId) -> wire::AuditId {
    wire::AuditId(*id.as_uuid())
}

/// A seq on the wire.
pub(crate) fn seq(seq: engine::Seq) -> wire::Seq {
    wire::Seq(seq.0)
}

/// A time on the wire.
pub(crate) fn timestamp(at: engine::Timestamp) -> wire::Timestamp {
    wire::Timestamp(at.0)
}

/// A role on the wire.
pub(crate) fn role(role: engine::Role) -> wire::Role {
    match role {
        engine::Role::User => wire::Role::User,
        engine::Role::Admin => wire::Role::Admin,
    }
}

/// A user, `email` as the engine gave it (it leaves it out of other users' records).
pub(crate) fn user(user: &engine::User) -> wire::User {
    wire::User {
        id: user_id(user.id),
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        email: user.email.clone(),
        role: role(user.role),
        created_at: timestamp(user.created_at),
        disabled: user.disabled,
        last_seen: user.last_seen.map(timestamp),
    }
}

/// A conversation.
pub(crate) fn conversation(conversation: &engine::Conversation) -> wire::Conversation {
    wire::Conversation {
        id: conversation_id(conversation.id),
        kind: match conversation.kind {
            engine::ConversationKind::Direct => wire::ConversationKind::Direct,
            engine::ConversationKind::Group => wire::ConversationKind::Group,
        },
        name: conversation.name.clone(),
        owner: conversation.owner.map(user_id),
        members: conversation.members.iter().copied().map(user_id).collect(),
        created_at: timestamp(conversation.created_at),
    }
}

/// A message.
pub(crate) fn message(message: &engine::Message) -> wire::Message {
    wire::Message {
        id: message_id(message.id),
        conversation: conversation_id(message.conversation),
        sender: user_id(message.sender),
        seq: seq(message.seq),
        body: message.body.clone(),
        client_id: message.client_id.clone(),
        sent_at: timestamp(message.sent_at),
        edited_at: message.edited_at.map(timestamp),
        deleted: message.deleted,
    }
}

/// A member's receipts.
pub(crate) fn receipt(receipt: &engine::Receipt) -> wire::Receipt {
    wire::Receipt {
        conversation: conversation_id(receipt.conversation),
        user: user_id(receipt.user),
        delivered: seq(receipt.delivered),
        read: seq(receipt.read),
    }
}

/// A user's presence.
pub(crate) fn presence(presence: &engine::Presence) -> wire::Presence {
    wire::Presence {
        user: user_id(presence.user),
        online: presence.online,
        last_seen: presence.last_seen.map(timestamp),
    }
}

/// A user as other users see them.
pub(crate) fn user_view(view: &engine::UserView) -> wire::UserView {
    wire::UserView { user: user(&view.user), presence: presence(&view.presence) }
}

/// A user as an administrator sees them.
pub(crate) fn admin_user_view(view: &engine::AdminUserView) -> wire::AdminUserView {
    wire::AdminUserView {
        user: user(&view.user),
        presence: presence(&view.presence),
        conversations: view.conversations as u64,
    }
}

/// A conversation as one of its members sees it.
pub(crate) fn conversation_view(view: &engine::ConversationView) -> wire::ConversationView {
    wire::ConversationView {
        conversation: conversation(&view.conversation),
        last_seq: seq(view.last_seq),
        last_message: view.last_message.as_ref().map(message),
        unread: view.unread as u64,
        receipts: view.receipts.iter().map(receipt).collect(),
    }
}

/// An entry of the audit log.
pub(crate) fn audit_entry(entry: &engine::AuditEntry) -> wire::rest::AuditEntry {
    wire::rest::AuditEntry {
        id: audit_id(entry.id),
        at: timestamp(entry.at),
        actor: user_id(entry.actor),
        action: entry.action.clone(),
        target: entry.target.clone(),
        detail: entry.detail.clone(),
    }
}

/// The admin dashboard's counts.
pub(crate) fn server_stats(stats: &engine::ServerStats) -> wire::rest::ServerStats {
    wire::rest::ServerStats {
        users: stats.users,
        online_users: stats.online_users,
        conversations: stats.conversations,
        messages: stats.messages,
        connections: stats.connections,
    }
}

/// A user id from a request body.
pub(crate) fn engine_user_id(id: wire::UserId) -> engine::UserId {
    engine::UserId::from(id.0)
}

/// A role from a request body.
pub(crate) fn engine_role(role: wire::Role) -> engine::Role {
    match role {
        wire::Role::User => engine::Role::User,
        wire::Role::Admin => engine::Role::Admin,
    }
}

/// A receipt kind from a request body.
pub(crate) fn engine_receipt_kind(kind: wire::ReceiptKind) -> engine::ReceiptKind {
    match kind {
        wire::ReceiptKind::Delivered => engine::ReceiptKind::Delivered,
        wire::ReceiptKind::Read => engine::ReceiptKind::Read,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use serde_json::Value;

    fn json(value: impl Serialize) -> Value {
        serde_json::to_value(value).unwrap()
    }

    fn a_user(email: Option<&str>) -> engine::User {
        engine::User {
            id: engine::UserId::new(),
            username: "alice".into(),
            display_name: Some("Alice".into()),
            email: email.map(str::to_owned),
            role: engine::Role::Admin,
            created_at: engine::Timestamp(1),
            disabled: true,
            last_seen: Some(engine::Timestamp(2)),
        }
    }

    fn a_message(edited_at: Option<engine::Timestamp>) -> engine::Message {
        engine::Message {
            id: engine::MessageId::new(),
            conversation: engine::ConversationId::new(),
            sender: engine::UserId::new(),
            seq: engine::Seq(3),
            body: "hi".into(),
            client_id: "c-1".into(),
            sent_at: engine::Timestamp(4),
            edited_at,
            deleted: false,
        }
    }

    /// The engine's records still derive `Serialize` (its stores use it): while they do, the
    /// wire form must be exactly theirs, which is what clients have been reading.
    #[test]
    fn the_wire_records_are_the_engines_json() {
        for email in [None, Some("a@example.com")] {
            let record = a_user(email);
            assert_eq!(json(user(&record)), json(&record));
            let presence_record = engine::Presence { user: record.id, online: true, last_seen: None };
            let view = engine::UserView { user: record.clone(), presence: presence_record };
            assert_eq!(json(user_view(&view)), json(&view));
            let admin = engine::AdminUserView { user: record, presence: presence_record, conversations: 7 };
            assert_eq!(json(admin_user_view(&admin)), json(&admin));
        }
        let members = vec![engine::UserId::new(), engine::UserId::new()];
        let group = engine::Conversation {
            id: engine::ConversationId::new(),
            kind: engine::ConversationKind::Group,
            name: Some("crew".into()),
            owner: Some(members[0]),
            members: members.clone(),
            created_at: engine::Timestamp(5),
        };
        assert_eq!(json(conversation(&group)), json(&group));
        let direct = engine::Conversation { kind: engine::ConversationKind::Direct, name: None, owner: None, ..group };
        let marks = engine::Receipt {
            conversation: direct.id,
            user: members[1],
            delivered: engine::Seq(3),
            read: engine::Seq(2),
        };
        assert_eq!(json(receipt(&marks)), json(marks));
        for edited_at in [None, Some(engine::Timestamp(6))] {
            let record = a_message(edited_at);
            assert_eq!(json(message(&record)), json(&record));
            let view = engine::ConversationView {
                conversation: direct.clone(),
                last_seq: engine::Seq(3),
                last_message: Some(record),
                unread: 2,
                receipts: vec![marks],
            };
            assert_eq!(json(conversation_view(&view)), json(&view));
        }
        let entry = engine::AuditEntry {
            id: engine::AuditId::new(),
            at: engine::Timestamp(8),
            actor: members[0],
            action: "user.role".into(),
            target: members[1].to_string(),
            detail: Some("admin".into()),
        };
        assert_eq!(json(audit_entry(&entry)), json(&entry));
        let stats = engine::ServerStats { users: 1, online_users: 2, conversations: 3, messages: 4, connections: 5 };
        assert_eq!(json(server_stats(&stats)), json(stats));
        let empty = engine::ConversationView {
            conversation: direct,
            last_seq: engine::Seq(0),
            last_message: None,
            unread: 0,
            receipts: vec![],
        };
        assert_eq!(json(conversation_view(&empty)), json(&empty));
    }

    #[test]
    fn request_values_map_back() {
        let id = engine::UserId::new();
        assert_eq!(engine_user_id(user_id(id)), id);
        for kind in [engine::Role::User, engine::Role::Admin] {
            assert_eq!(engine_role(role(kind)), kind);
        }
        assert_eq!(engine_receipt_kind(wire::ReceiptKind::Read), engine::ReceiptKind::Read);
        assert_eq!(engine_receipt_kind(wire::ReceiptKind::Delivered), engine::ReceiptKind::Delivered);
    }
}
