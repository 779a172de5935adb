//! The records frames and bodies carry: users, conversations, messages, receipts, presence.
//!
//! Field for field what PROTOCOL.md's "Records" section shows. Absent optional fields read as
//! `null`; unknown fields are ignored when reading, so a newer server's additions do not break
//! an older client.

use crate::ids::{AttachmentId, ConversationId, MessageId, Seq, Timestamp, UserId};
use serde::{Deserialize, Serialize};

/// An account's role.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Chats.
    #[default]
    User,
    /// Chats and administers.
    Admin,
}

/// An account. `email` is present only in the user's own record and in admin views.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Unique, case-insensitively.
    pub username: String,
    /// The name to show, if set.
    pub display_name: Option<String>,
    /// Only for its owner and administrators.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email: Option<String>,
    /// Its role.
    pub role: Role,
    /// When it was created.
    pub created_at: Timestamp,
    /// A disabled account cannot log in.
    pub disabled: bool,
    /// When it was last seen online.
    pub last_seen: Option<Timestamp>,
    /// Whether `email` is verified. Only for its owner and administrators; absent means false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub email_verified: bool,
    /// Whether its owner turned missed-message digests off. Only for its owner and
    /// administrators; absent means false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub digests_off: bool,
    /// A short text the user shows beside their name (up to 100 characters), if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The version of the user's avatar, if they have one: the picture is at
    /// `GET /api/v1/users/{id}/avatar?v={avatar}` (cacheable for ever: a new picture has a new
    /// version). Absent: none, clients show the initials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<AttachmentId>,
}

/// Direct (two members, no name, no owner) or group.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    /// One to one; its id is derived from its two members.
    Direct,
    /// Named, with an owner.
    Group,
}

/// A conversation.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Conversation {
    /// Its id.
    pub id: ConversationId,
    /// Direct or group.
    pub kind: ConversationKind,
    /// A group's name.
    pub name: Option<String>,
    /// A group's owner.
    pub owner: Option<UserId>,
    /// Its members, sorted.
    pub members: Vec<UserId>,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A message. A deleted one keeps its seq and loses its body.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Message {
    /// Its id.
    pub id: MessageId,
    /// Where.
    pub conversation: ConversationId,
    /// Who sent it.
    pub sender: UserId,
    /// Its place in the conversation.
    pub seq: Seq,
    /// The text (empty once deleted).
    pub body: String,
    /// The sender's idempotency key.
    pub client_id: String,
    /// When it was stored.
    pub sent_at: Timestamp,
    /// When it was last edited.
    pub edited_at: Option<Timestamp>,
    /// Whether it was deleted.
    pub deleted: bool,
    /// The files it carries, in order; absent when none (and once deleted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// The seq of the message of the same conversation it replies to; absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Seq>,
    /// What the original of a reply looks like now (in history pages, `message`, `edit` and
    /// `reaction`-carrying replies, acks of `send` over REST); absent when it is no reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyPreview>,
    /// The members its body mentions with `@username`; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<UserId>,
    /// Its reactions, in the order each emoji was first used; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// For a system line: the group change it records (made by `sender`); absent for a
    /// message someone wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<GroupEvent>,
}

/// The group change a system line records, by its `kind`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum GroupEvent {
    /// The group was created with this name.
    Created {
        /// Its name.
        name: String,
    },
    /// The group was renamed.
    Renamed {
        /// The new name.
        name: String,
    },
    /// A member was added.
    Added {
        /// Who.
        user: UserId,
    },
    /// A member was removed.
    Removed {
        /// Who.
        user: UserId,
    },
    /// The sender left.
    Left,
}

/// The original of a reply as the reply shows it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ReplyPreview {
    /// Who wrote the original.
    pub sender: UserId,
    /// Its first line (at most 100 characters, with `…` when cut), or the first file's name;
    /// empty once it is deleted.
    pub text: String,
    /// The original was deleted.
    pub deleted: bool,
}

/// One emoji's reactions to a message.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Reaction {
    /// The emoji.
    pub emoji: String,
    /// Who reacted with it, in the order they did.
    pub users: Vec<UserId>,
}

/// A file as a message carries it (`POST /attachments` answers the same). Its bytes are at
/// `GET /api/v1/attachments/{id}`, an image's thumbnail at `.../{id}/thumbnail`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Attachment {
    /// Its id.
    pub id: AttachmentId,
    /// The file name, sanitised: for display and as the download's name only.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// The content type, sniffed from the bytes by the server.
    pub content_type: String,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    /// For an image: its size as shown and its thumbnail's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageSize>,
}

/// An image attachment's size as shown (after EXIF orientation) and its thumbnail's.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ImageSize {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The thumbnail's width in pixels.
    pub thumbnail_width: u32,
    /// The thumbnail's height in pixels.
    pub thumbnail_height: u32,
}

/// Which watermark a receipt moves.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// The device has the messages.
    Delivered,
    /// The user has seen them.
    Read,
}

/// A member's watermarks in a conversation.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Receipt {
    /// Where.
    pub conversation: ConversationId,
    /// Whose.
    pub user: UserId,
    /// Delivered up to this seq.
    pub delivered: Seq,
    /// Read up to this seq (never beyond `delivered`).
    pub read: Seq,
}

/// Whether a user is online.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Presence {
    /// Whose.
    pub user: UserId,
    /// Online on some device, on some node.
    pub online: bool,
    /// Online, but none of the user's devices has been in use for a while (the server's
    /// `--away-after`, 10 minutes by default). Left out when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub away: bool,
    /// When last seen, if ever.
    pub last_seen: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_without_email_leaves_the_field_out() {
        let user = User {
            id: uuid::Uuid::nil().into(),
            username: "alice".into(),
            display_name: None,
            email: None,
            role: Role::User,
            created_at: Timestamp(1),
            disabled: false,
            last_seen: None,
            email_verified: false,
            digests_off: false,
            status: None,
            avatar: None,
        };
        let json = serde_json::to_value(&user).unwrap();
        assert!(json.get("email").is_none());
        assert_eq!(json["role"], "user");
    }
}
