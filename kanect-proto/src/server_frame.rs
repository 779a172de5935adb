//! Server → client frames: replies (`hello`, `ack`, `error`, `pong`) and events, the same over
//! a WebSocket and in long-poll responses.
//!
//! Every frame is `{"v":1,"type":...,<fields>}`. Writing a [`ServerFrame`] adds the `v`; reading
//! one ignores it (a server speaks the version of the path it serves, `/api/v1`). Reading also
//! ignores fields it does not know, so a newer server's additions do not break an older client;
//! a `type` it does not know is an error the client should skip (new event types may come
//! within version 1).

use crate::ids::{ConversationId, MessageId, Seq, Timestamp, UserId};
use crate::notifications::NotificationSettings;
use crate::records::{Conversation, Message, Presence, Reaction, Receipt, User};
use crate::reference::Reference;
use crate::PROTOCOL_VERSION;
use serde::{Deserialize, Serialize, Serializer};

/// Defines [`ServerFrame`] from its variants, and a private twin of it, `Tagged`, whose derived
/// `Serialize` (`remote = "ServerFrame"`) writes a frame's tagged fields: `ServerFrame`'s own
/// `Serialize` wraps that to add the envelope's `v`. (The remote derive on `ServerFrame` itself
/// would make those unversioned functions public.) Reading needs no `v` and is derived.
macro_rules! server_frame {
    ($(#[$meta:meta])* pub enum ServerFrame { $($variants:tt)* }) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        #[non_exhaustive]
        pub enum ServerFrame { $($variants)* }

        #[derive(Serialize)]
        #[serde(remote = "ServerFrame", tag = "type", rename_all = "snake_case")]
        enum Tagged { $($variants)* }
    };
}

server_frame! {
/// One frame from the server.
pub enum ServerFrame {
    /// The first frame on a socket: who it is, the largest frame it may send, the largest file
    /// it may upload, and how soon its user shows as away without `activity`.
    Hello {
        /// The socket's user.
        user: UserId,
        /// The largest text frame the server reads, in bytes.
        max_frame_bytes: u64,
        /// The largest file an upload may hold, in bytes; absent if the server takes none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_file_bytes: Option<u64>,
        /// How long, in milliseconds, all of the user's devices may go without `activity`
        /// before the user shows as away: a client that reports activity reports it more often
        /// than this, so that someone at the device never shows as away. Absent from servers
        /// older than the field.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        away_after_ms: Option<u64>,
    },
    /// A command succeeded.
    Ack(Ack),
    /// A command or frame was refused.
    Error(ErrorFrame),
    /// The reply to `ping`.
    Pong {
        /// The `ping`'s `ref` (`null` if it had none).
        #[serde(rename = "ref")]
        reference: Option<Reference>,
    },
    /// A new message (also to the sender's own devices).
    Message {
        /// The message.
        message: Message,
    },
    /// A message was edited: the new body and `edited_at`.
    Edit {
        /// The message after the edit.
        message: Message,
    },
    /// A message was deleted; its seq stays, its body is gone.
    Delete {
        /// Where.
        conversation: ConversationId,
        /// The message.
        id: MessageId,
        /// Its seq.
        seq: Seq,
    },
    /// A member added or took back a reaction: the message's reactions as they are now.
    Reaction {
        /// Where.
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
        /// All of the message's reactions after the change (empty: none left).
        reactions: Vec<Reaction>,
    },
    /// A user came online or went offline.
    Presence(Presence),
    /// A member is typing: show it for a few seconds.
    Typing {
        /// Where.
        conversation: ConversationId,
        /// Who.
        user: UserId,
    },
    /// A member's delivered/read watermarks moved.
    Receipt(Receipt),
    /// A conversation was created or its name, owner or members changed (also sent to a
    /// member just removed, who is then not in `members`).
    Conversation {
        /// The conversation as it is now.
        conversation: Conversation,
        /// Its newest seq at the change: a member who just joined gets later messages live.
        #[serde(default)]
        last_seq: Seq,
    },
    /// An account was created, or its role or `disabled` flag changed: the record without
    /// `email`.
    User {
        /// The account as it is now.
        user: User,
    },
    /// An account was deleted.
    UserDeleted {
        /// Whose.
        user: UserId,
    },
    /// The user's notification settings changed (on one of their devices): every device of
    /// theirs gets them, so all agree on what notifies.
    NotificationSettings {
        /// The settings as they are now.
        settings: NotificationSettings,
    },
    /// This device fell behind and events were dropped: resume from your cursors and re-read
    /// the conversation and user lists.
    Resync,
    /// The session ended; the server closes the socket after this frame.
    SessionEnded {
        /// Why: `logged_out`, `account_disabled`, `password_reset`, `account_deleted`,
        /// `session_expired`.
        reason: String,
    },
}
}

/// The `ack` frame's fields, by the command acknowledged.
///
/// Untagged: which fields are present says which it is, so the variants are tried in order,
/// the one with the fewest fields last.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Ack {
    /// A `send`'s: the stored message's identity (durable once acked). Always sent.
    Sent {
        /// The command's `ref` (`null` if it had none).
        #[serde(rename = "ref")]
        reference: Option<Reference>,
        /// The `send`'s idempotency key.
        client_id: String,
        /// The stored message's id.
        id: MessageId,
        /// Where.
        conversation: ConversationId,
        /// Its seq.
        seq: Seq,
        /// When it was stored.
        sent_at: Timestamp,
    },
    /// A `resume`'s: the cursors it did not serve (`[]` when it served them all).
    Resumed {
        /// The command's `ref`.
        #[serde(rename = "ref")]
        reference: Option<Reference>,
        /// Cursors skipped, in the order given.
        skipped: Vec<SkippedCursor>,
    },
    /// Any other command's, sent only if it had a `ref`.
    Done {
        /// The command's `ref`.
        #[serde(rename = "ref")]
        reference: Option<Reference>,
    },
}

/// A cursor a `resume` (or a new poll session) did not serve, and why.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SkippedCursor {
    /// The conversation it named.
    pub conversation: ConversationId,
    /// `conversation_not_found` (not a member, or no such conversation) or `out_of_range`
    /// (past its newest message).
    pub code: String,
}

/// The `error` frame's fields.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ErrorFrame {
    /// The refused command's `ref` (`null` if it had none, or it was unreadable).
    #[serde(rename = "ref")]
    pub reference: Option<Reference>,
    /// Stable code (`PROTOCOL.md`, "Errors").
    pub code: String,
    /// For people.
    pub message: String,
    /// The offending field, where known.
    pub field: Option<String>,
    /// When to retry, in milliseconds (rounded up), for a refusal that knows it (a rate
    /// limit); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ServerFrame {
    /// The frame's `type`, as on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            ServerFrame::Hello { .. } => "hello",
            ServerFrame::Ack(_) => "ack",
            ServerFrame::Error(_) => "error",
            ServerFrame::Pong { .. } => "pong",
            ServerFrame::Message { .. } => "message",
            ServerFrame::Edit { .. } => "edit",
            ServerFrame::Delete { .. } => "delete",
            ServerFrame::Reaction { .. } => "reaction",
            ServerFrame::Presence(_) => "presence",
            ServerFrame::Typing { .. } => "typing",
            ServerFrame::Receipt(_) => "receipt",
            ServerFrame::Conversation { .. } => "conversation",
            ServerFrame::User { .. } => "user",
            ServerFrame::UserDeleted { .. } => "user_deleted",
            ServerFrame::NotificationSettings { .. } => "notification_settings",
            ServerFrame::Resync => "resync",
            ServerFrame::SessionEnded { .. } => "session_ended",
        }
    }

    /// The `ref` of a reply (`ack`, `error`, `pong`); `None` for events and for replies to
    /// commands without one.
    pub fn reference(&self) -> Option<&Reference> {
        match self {
            ServerFrame::Ack(
                Ack::Sent { reference, .. } | Ack::Resumed { reference, .. } | Ack::Done { reference },
            )
            | ServerFrame::Error(ErrorFrame { reference, .. })
            | ServerFrame::Pong { reference } => reference.as_ref(),
            _ => None,
        }
    }

    /// The frame as JSON text. Serializing plain data with string keys cannot fail.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Serialize for ServerFrame {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Versioned<'a> {
            v: u32,
            #[serde(flatten, with = "Tagged")]
            frame: &'a ServerFrame,
        }

        Versioned { v: PROTOCOL_VERSION, frame: self }.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id() -> uuid::Uuid {
        uuid::Uuid::from_u128(0x0193a8b0_0000_7000_8000_000000000001)
    }

    #[test]
    fn frames_are_versioned_and_tagged() {
        assert_eq!(ServerFrame::Resync.to_json(), r#"{"v":1,"type":"resync"}"#);
        let pong = ServerFrame::Pong { reference: None };
        assert_eq!(serde_json::to_value(&pong).unwrap(), json!({"v":1,"type":"pong","ref":null}));
        let presence =
            ServerFrame::Presence(Presence { user: UserId(id()), online: true, away: false, last_seen: None });
        let value = serde_json::to_value(&presence).unwrap();
        assert_eq!(value, json!({"v":1,"type":"presence","user":id(),"online":true,"last_seen":null}));
        assert_eq!(serde_json::from_value::<ServerFrame>(value).unwrap(), presence);
    }

    #[test]
    fn the_three_acks_read_back_as_written() {
        let acks = [
            Ack::Sent {
                reference: None,
                client_id: "c-17".into(),
                id: MessageId(id()),
                conversation: ConversationId(id()),
                seq: Seq(13),
                sent_at: Timestamp(1),
            },
            Ack::Resumed {
                reference: Some("r3".into()),
                skipped: vec![SkippedCursor { conversation: ConversationId(id()), code: "out_of_range".into() }],
            },
            Ack::Resumed { reference: Some(3i64.into()), skipped: vec![] },
            Ack::Done { reference: Some("r2".into()) },
        ];
        for ack in acks {
            let text = ServerFrame::Ack(ack.clone()).to_json();
            assert_eq!(serde_json::from_str::<ServerFrame>(&text).unwrap(), ServerFrame::Ack(ack), "{text}");
        }
        let plain = ServerFrame::Ack(Ack::Done { reference: None });
        assert_eq!(plain.to_json(), r#"{"v":1,"type":"ack","ref":null}"#);
    }

    #[test]
    fn an_error_frame_has_retry_after_only_when_known() {
        let mut error = ErrorFrame {
            reference: Some("r1".into()),
            code: "rate_limited".into(),
            message: "limit reached".into(),
            field: None,
            retry_after_ms: None,
        };
        let value = serde_json::to_value(ServerFrame::Error(error.clone())).unwrap();
        assert!(value.get("retry_after_ms").is_none());
        assert_eq!(value["field"], json!(null));
        error.retry_after_ms = Some(200);
        let value = serde_json::to_value(ServerFrame::Error(error.clone())).unwrap();
        assert_eq!(value["retry_after_ms"], 200);
        assert_eq!(serde_json::from_value::<ServerFrame>(value).unwrap(), ServerFrame::Error(error));
    }

    #[test]
    fn unknown_fields_are_ignored_and_unknown_types_refused() {
        let text = r#"{"v":1,"type":"user_deleted","user":"0193a8b0-0000-7000-8000-000000000001","new":1}"#;
        assert_eq!(serde_json::from_str::<ServerFrame>(text).unwrap(), ServerFrame::UserDeleted { user: UserId(id()) });
        assert!(serde_json::from_str::<ServerFrame>(r#"{"v":1,"type":"shout"}"#).is_err());
    }
}
