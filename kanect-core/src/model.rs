//! The domain records the engine keeps and the store persists.
//!
//! These are plain data with serde: stores encode them as they like, adapters put them on the
//! wire as they are. Invariants (validated names, sorted member lists) are established by the
//! engine before a record is built.

use crate::id::{AttachmentId, ConversationId, MessageId, Seq, UserId};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The system clock, now.
    pub fn now() -> Self {
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp(since.as_millis() as u64)
    }

    /// This instant plus `duration` (saturating).
    pub fn plus(self, duration: Duration) -> Self {
        Timestamp(self.0.saturating_add(millis(duration)))
    }

    /// This instant minus `duration` (saturating at the epoch).
    pub fn minus(self, duration: Duration) -> Self {
        Timestamp(self.0.saturating_sub(millis(duration)))
    }
}

/// `duration` in whole milliseconds, `u64::MAX` past that.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// What a user may do.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Chats.
    #[default]
    User,
    /// Chats and administers: users, conversations, messages, the audit log.
    Admin,
}

/// A user account. The password hash is kept apart (see
/// [`UserStore::password_hash`](crate::backend::UserStore::password_hash)) so that a `User` can
/// be handed out freely.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct User {
    /// Stable id.
    pub id: UserId,
    /// Unique case-insensitively; kept as typed for display.
    pub username: String,
    /// Shown instead of the username where set.
    pub display_name: Option<String>,
    /// Optional contact address; never shown to other users.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email: Option<String>,
    /// Permissions.
    pub role: Role,
    /// When the account was made.
    pub created_at: Timestamp,
    /// A disabled user cannot log in and has no sessions.
    pub disabled: bool,
    /// When the user's last device disconnected (None: never connected).
    pub last_seen: Option<Timestamp>,
    /// Whether `email` was shown to reach the user (a verification link from it was opened).
    /// A changed address is unverified again. Never shown to other users.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub email_verified: bool,
    /// The user turned missed-message digests off (by the unsubscribe link or a setting).
    /// Never shown to other users.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub digests_off: bool,
    /// When the last missed-message digest was mailed: the next is only for messages sent
    /// after it. Never shown to other users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digested_at: Option<Timestamp>,
    /// A short text the user shows beside their name (up to
    /// [`validate::STATUS_MAX_CHARS`](crate::validate::STATUS_MAX_CHARS) characters, an emoji
    /// being text too); None when they have set none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The user's current avatar, if they uploaded one: the id its image is kept under in the
    /// blob store. A new upload gets a new id, so the id is also the avatar's version (what a
    /// served avatar's URL and `ETag` carry, and why it can be cached as immutable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<AttachmentId>,
}

impl User {
    /// The folded form of a username, used for uniqueness and lookups.
    pub fn fold(username: &str) -> String {
        username.to_ascii_lowercase()
    }

    /// The folded form of an e-mail address, by which accounts are found from it (a password
    /// reset): ASCII letters lower-cased, nothing else changed. Domains are ASCII (IDNA) and
    /// case-insensitive; local parts are case-sensitive by the RFC, but mail systems treat
    /// them as not, and ASCII-only folding is one every backend does alike (PostgreSQL's
    /// `lower()` would follow the database's locale).
    pub fn fold_email(address: &str) -> String {
        address.to_ascii_lowercase()
    }

    /// The public view: the same record without the email address and what goes with it.
    pub fn public(&self) -> User {
        User { email: None, email_verified: false, digests_off: false, digested_at: None, ..self.clone() }
    }
}

/// Direct (exactly two members, opened implicitly) or group (named, with an owner).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    /// Between two users; its id is [`ConversationId::direct`].
    Direct,
    /// Named, any number of members, one owner.
    Group,
}

/// A conversation and its members.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Conversation {
    /// Stable id.
    pub id: ConversationId,
    /// Direct or group.
    pub kind: ConversationKind,
    /// A group's name; None for direct conversations.
    pub name: Option<String>,
    /// A group's owner (may manage members and the name); None for direct conversations.
    pub owner: Option<UserId>,
    /// Members, sorted, without duplicates.
    pub members: Vec<UserId>,
    /// When it was made.
    pub created_at: Timestamp,
}

impl Conversation {
    /// Whether `user` is a member.
    pub fn has_member(&self, user: UserId) -> bool {
        self.members.binary_search(&user).is_ok()
    }
}

/// A message as stored and delivered.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Message {
    /// Unique id.
    pub id: MessageId,
    /// The conversation it belongs to.
    pub conversation: ConversationId,
    /// Who sent it.
    pub sender: UserId,
    /// Its position in the conversation.
    pub seq: Seq,
    /// The text; empty once deleted.
    pub body: String,
    /// The sender's idempotency key: a resend with the same one returns this message.
    pub client_id: String,
    /// When the engine accepted it.
    pub sent_at: Timestamp,
    /// When it was last edited.
    pub edited_at: Option<Timestamp>,
    /// Deleted messages keep their seq (so history stays gap-free) but lose their body.
    pub deleted: bool,
    /// The files it carries, in the order the sender gave them (at most
    /// [`validate::ATTACHMENTS_MAX`](crate::validate::ATTACHMENTS_MAX)); emptied when the
    /// message is deleted, as their bytes are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentMeta>,
    /// The seq of the message of the same conversation this one replies to, if any. Stored;
    /// the original may have been deleted since (see [`Message::reply`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Seq>,
    /// What the original of a reply looks like now: filled in by the engine on the way out
    /// (history pages, events, acknowledgements), never stored, so a preview never outlives
    /// its original's text. None for a message that is no reply, and in records a store
    /// returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyPreview>,
    /// The members its body mentions (`@username`), resolved when it was sent or last edited;
    /// sorted, without duplicates; emptied when it is deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<UserId>,
    /// Its reactions, in the order each emoji was first used (see [`ReactionChange`](crate::ReactionChange));
    /// emptied when it is deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// For a system line (see the `system_lines` module): the group event it records, whose
    /// actor is its `sender`; its body is empty. None for a message someone wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<GroupEvent>,
}

/// What a system line records: a change of a group, made by the line's sender.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum GroupEvent {
    /// The sender created the group with this name.
    Created {
        /// Its name at creation.
        name: String,
    },
    /// The sender renamed the group.
    Renamed {
        /// The new name.
        name: String,
    },
    /// The sender added a member.
    Added {
        /// Who.
        user: UserId,
    },
    /// The sender removed a member (an owner, or an administrator deleting the account).
    Removed {
        /// Who.
        user: UserId,
    },
    /// The sender left the group.
    Left,
}

impl Message {
    /// Whether its body mentions `user`.
    pub fn mentions(&self, user: UserId) -> bool {
        self.mentions.binary_search(&user).is_ok()
    }
}

/// The original of a reply as the reply shows it: who wrote it and its first line, or that it
/// was deleted.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ReplyPreview {
    /// Who wrote the original.
    pub sender: UserId,
    /// Its first non-empty line, cut to [`validate::REPLY_PREVIEW_CHARS`](crate::validate::REPLY_PREVIEW_CHARS)
    /// characters (with `…` when cut); for a message of files only, the first file's name.
    /// Empty once the original is deleted.
    pub text: String,
    /// The original was deleted: show that instead of its text.
    pub deleted: bool,
}

/// One emoji's reactions to a message.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Reaction {
    /// The emoji: one, as typed (skin tones and all).
    pub emoji: String,
    /// Who reacted with it, in the order they did (never empty: the last one to take theirs
    /// back removes the reaction).
    pub users: Vec<UserId>,
}

/// A message the engine has validated and asks the store to append; the store assigns the seq.
#[derive(Clone, Debug)]
pub struct NewMessage {
    /// Target conversation.
    pub conversation: ConversationId,
    /// The sender (a member).
    pub sender: UserId,
    /// Validated text.
    pub body: String,
    /// Idempotency key, unique per (conversation, sender).
    pub client_id: String,
    /// Acceptance time.
    pub sent_at: Timestamp,
    /// The files it carries, already claimed for it (see
    /// [`AttachmentStore::claim_attachments`](crate::backend::AttachmentStore::claim_attachments)).
    pub attachments: Vec<AttachmentMeta>,
    /// The seq of the message it replies to (checked by the engine: an earlier message of the
    /// same conversation, not deleted).
    pub reply_to: Option<Seq>,
    /// The members it mentions, sorted, without duplicates.
    pub mentions: Vec<UserId>,
    /// For a system line, the group event it records (the engine's own, never a client's).
    pub event: Option<GroupEvent>,
}

impl NewMessage {
    /// The message's id: [`MessageId::for_client`] of its idempotency key, so a resend has
    /// the id of the original and a store can find it by id.
    pub fn id(&self) -> MessageId {
        MessageId::for_client(self.conversation, self.sender, &self.client_id)
    }

    /// Whether `original` is this message sent before: its id is this one's and it has the
    /// same key (a store checks this rather than trust a 122-bit hash blindly).
    pub fn is_resend_of(&self, original: &Message) -> bool {
        original.id == self.id()
            && original.conversation == self.conversation
            && original.sender == self.sender
            && original.client_id == self.client_id
    }

    /// The stored message once `seq` is assigned.
    pub fn with_seq(self, seq: Seq) -> Message {
        Message {
            id: self.id(),
            conversation: self.conversation,
            sender: self.sender,
            seq,
            body: self.body,
            client_id: self.client_id,
            sent_at: self.sent_at,
            edited_at: None,
            deleted: false,
            attachments: self.attachments,
            reply_to: self.reply_to,
            reply: None,
            mentions: self.mentions,
            reactions: Vec::new(),
            event: self.event,
        }
    }
}

/// What [`MessageStore::append_message`](crate::backend::MessageStore::append_message) did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Appended {
    /// A new message with the next seq.
    Created(Message),
    /// The (conversation, sender, client id) was seen before: the original message, unchanged.
    Duplicate(Message),
}

impl Appended {
    /// The message, new or original.
    pub fn message(&self) -> &Message {
        match self {
            Appended::Created(m) | Appended::Duplicate(m) => m,
        }
    }
}

/// Which watermark a receipt moves.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// The user's device has received messages up to the seq.
    Delivered,
    /// The user has read messages up to the seq.
    Read,
}

/// A member's watermarks in one conversation. Both only ever grow; read implies delivered.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Receipt {
    /// The conversation.
    pub conversation: ConversationId,
    /// The member.
    pub user: UserId,
    /// Delivered up to this seq.
    pub delivered: Seq,
    /// Read up to this seq.
    pub read: Seq,
}

/// A stored log-in session. The token itself is never stored, only its SHA-256.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Session {
    /// SHA-256 of the token.
    pub token_hash: TokenHash,
    /// Whose session.
    pub user: UserId,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// When it was last used to authenticate, as of its last recording: recorded at most once
    /// per [`Session::USE_RECORDED_EVERY`], not on every request. None until then (and for
    /// sessions stored before this field existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<Timestamp>,
    /// The user agent of the client that last used it (as the adapter reported it, cut at
    /// [`Session::USER_AGENT_MAX_BYTES`]), so the user can tell their devices apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl Session {
    /// How stale [`Session::last_used`] may grow before a use records it again: a write per
    /// session per minute at most, not one per request.
    pub const USE_RECORDED_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

    /// The most bytes of a user agent a session keeps.
    pub const USER_AGENT_MAX_BYTES: usize = 256;
}

/// What an [`AccountToken`] lets its holder do.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPurpose {
    /// Shows that the user reads mail at [`AccountToken::address`].
    Verify,
    /// Sets a new password for the user.
    Reset,
    /// Turns the user's missed-message digests off (the link in a digest).
    Unsubscribe,
}

/// A single-use token mailed to a user (e-mail verification, password reset). As with a
/// session, only the SHA-256 of the token is stored.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AccountToken {
    /// SHA-256 of the token.
    pub token_hash: TokenHash,
    /// What it is for: a token of one purpose never does the other.
    pub purpose: TokenPurpose,
    /// Whose account.
    pub user: UserId,
    /// The address it was mailed to: a verification counts only while the account still has
    /// this address.
    pub address: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// The SHA-256 of a session token: what stores keep and look up.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TokenHash(pub [u8; 32]);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHash({:02x}{:02x}..)", self.0[0], self.0[1])
    }
}

/// Whether a user is online, across all their devices (and, with a cluster bus, all nodes).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Presence {
    /// Whose.
    pub user: UserId,
    /// At least one device connected.
    pub online: bool,
    /// Online, but no device of the user's (on any node) has been active for
    /// [`ChatConfig::away_after`](crate::ChatConfig::away_after): see the `presence` module
    /// docs, "Away". Always false while offline.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub away: bool,
    /// When the last device disconnected, if ever.
    pub last_seen: Option<Timestamp>,
}

/// One administrative action, as the audit log keeps it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Time-ordered id; the log pages by it.
    pub id: crate::id::AuditId,
    /// When.
    pub at: Timestamp,
    /// Who acted: an administrator; for an invite's entries, its maker (who may be a user)
    /// or, for `invite.use`, the account that signed up with it.
    pub actor: UserId,
    /// Stable action code, e.g. `"user.disable"`, `"message.delete"`.
    pub action: String,
    /// What was acted on, e.g. a user or message id.
    pub target: String,
    /// Free-form detail (a new role, a conversation id), if any.
    pub detail: Option<String>,
}

/// Counts for the admin dashboard.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct StoreStats {
    /// Accounts.
    pub users: u64,
    /// Conversations, direct and group.
    pub conversations: u64,
    /// Messages, including deleted ones.
    pub messages: u64,
}

/// What a message carries of a file: everything a client shows (a card, an inline image), fixed
/// at upload. The bytes are read through the engine, by id.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AttachmentMeta {
    /// Stable id.
    pub id: AttachmentId,
    /// The file name, sanitised ([`crate::sanitize_name`]): for display and the download's
    /// suggested name only, never a path.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// The content type sniffed from the bytes ([`crate::sniff`]); the uploader's claim
    /// is not trusted.
    pub content_type: String,
    /// SHA-256 of the bytes, lowercase hex: a checksum for clients and the download's ETag.
    pub sha256: String,
    /// For an image that decoded: its size as shown, and its thumbnail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageMeta>,
}

/// An image attachment's displayed size (after EXIF orientation) and its thumbnail's.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ImageMeta {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The thumbnail's width in pixels.
    pub thumbnail_width: u32,
    /// The thumbnail's height in pixels.
    pub thumbnail_height: u32,
}

/// An uploaded file as the store keeps it: what messages carry, plus who uploaded it, when, and
/// which message (if any yet) carries it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Attachment {
    /// What a message shows of it.
    pub meta: AttachmentMeta,
    /// Who uploaded it: only they may attach it, and it counts against their quota.
    pub owner: UserId,
    /// When the upload finished.
    pub uploaded_at: Timestamp,
    /// The bytes of its thumbnail (an image's), which count against the quota too.
    pub thumbnail_size: u64,
    /// The message that carries it; None until one is sent with it (an upload never sent
    /// expires, see [`AttachmentLimits::unsent_expiry`](crate::AttachmentLimits::unsent_expiry)).
    pub message: Option<MessageRef>,
}

impl Attachment {
    /// The bytes it takes in the blob store (file and thumbnail), as quotas count them.
    pub fn stored_bytes(&self) -> u64 {
        self.meta.size.saturating_add(self.thumbnail_size)
    }
}

/// Where a message is: enough to check membership and find it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct MessageRef {
    /// Its conversation.
    pub conversation: ConversationId,
    /// Its id.
    pub message: MessageId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_move_by_durations_and_saturate() {
        let t = Timestamp(10_000);
        assert_eq!(t.plus(Duration::from_millis(5)), Timestamp(10_005));
        assert_eq!(t.minus(Duration::from_secs(3)), Timestamp(7_000));
        assert_eq!(t.minus(Duration::from_secs(11)), Timestamp(0), "not before the epoch");
        // Duration::MAX is more milliseconds than a u64 holds: it saturates, not wraps.
        assert_eq!(t.plus(Duration::MAX), Timestamp(u64::MAX));
        assert_eq!(t.minus(Duration::MAX), Timestamp(0));
    }
}
