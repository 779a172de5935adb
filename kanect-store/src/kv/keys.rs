//! Key encoding, the same for both embedded engines: every record lives in one sled tree
//! (`SledStore`) or one fjall keyspace, `kanect` (`FjallStore`), in a key space chosen by its
//! first byte (but for the log-in attempt records, at the end).
//!
//! One tree or keyspace, not one per record kind. For sled, so that every multi-record write is
//! atomic across a crash without sled transactions (which can rerun their closure and conflict
//! under load): a user with its username and password is one sled `Batch` on one tree, and a
//! message with its id index is one journal record, replayed into that tree. For fjall, a write
//! batch is atomic across keyspaces too, but every keyspace is an LSM-tree of its own (its own
//! memtable, tables and flushes), and nothing here needs them apart.
//!
//! Ids are their 16 UUID bytes and seqs are 8 bytes big-endian, so byte order is id order and
//! seq order: a range scan over `messages(conversation)` is the conversation's history, oldest
//! first, and scanning it backwards is the newest page. A conversation's last seq is the seq of
//! the last key in that range: there is no counter record (sled's format 1 had one under
//! `0x0b`, one more key per append; `0x0b` stays unused). Nor is there a client-id record
//! (sled's format 2 had one under `0x0a`): a message's id is a function of its client id
//! ([`kanect_core::backend::NewMessage::id`]), so the id index also answers "was this sent
//! before?".
//!
//! | first byte | key after it                        | value                          |
//! |------------|-------------------------------------|--------------------------------|
//! | `0x00`     | `b"format"`                          | format version, u32 BE         |
//! | `0x01`     | user id                             | `User` (JSON)                  |
//! | `0x02`     | folded username (UTF-8)             | user id                        |
//! | `0x03`     | user id                             | password hash (UTF-8)          |
//! | `0x04`     | token hash (32 bytes)               | `Session` (JSON)               |
//! | `0x05`     | user id ++ token hash               | empty (sessions of a user)     |
//! | `0x06`     | conversation id                     | `Conversation` (JSON)          |
//! | `0x07`     | user id ++ conversation id          | empty (conversations of a user)|
//! | `0x08`     | conversation id ++ seq BE           | `Message` (binary, see codec)  |
//! | `0x09`     | message id                          | conversation id ++ seq BE      |
//! | `0x0c`     | conversation id ++ user id          | `Receipt` (JSON)               |
//! | `0x0d`     | audit id (UUIDv7: time order)       | `AuditEntry` (JSON)            |
//! | `0x0e`     | attachment id                       | `Attachment` (JSON)            |
//! | `0x0f`     | owner (user id) ++ attachment id    | its stored bytes, u64 BE       |
//! | `0x10`     | invite id (UUIDv7: time order)      | `Invite` (JSON)                |
//! | `0x11`     | invite token hash (32 bytes)        | invite id                      |
//! | `0x12`     | token hash (32 bytes)               | `AccountToken` (JSON)          |
//! | `0x13`     | user id ++ token hash               | empty (account tokens of a user)|
//! | `0x14`     | folded address ++ `0x00` ++ user id | empty (users by e-mail address)|
//! | `0x20`     | user id                             | `NotificationSettings` (JSON)  |
//! | `0x21`     | user id ++ SHA-256 of the endpoint  | `PushSubscription` (JSON)      |
//! | `0x22`     | secret name (UTF-8)                 | the secret's bytes             |
//!
//! The owner index (`0x0f`) is what an owner's quota reads: a prefix scan of that owner's
//! attachments, each worth its [`Attachment::stored_bytes`](kanect_core::Attachment::stored_bytes),
//! without reading or decoding any record, and never another owner's. A record and its index
//! entry are written and removed in one batch. Attachment ids are UUIDv7, so the `0x0e` space
//! pages in id order, as [`AttachmentStore::attachments_after`](kanect_core::backend::AttachmentStore::attachments_after)
//! does.
//!
//! An invite and its token index (`0x11`) are written and removed in one batch; a redemption
//! reads the record through the index and rewrites it under a lock (see each engine's
//! `invites`). The two spaces came within the formats of both engines without a bump, as the
//! log-in attempt tree did below: a build that does not know them ignores them (and so knows
//! no invites), and nothing else changed.
//! The address index (`0x14`) holds an entry per user with an address, under the address as
//! [`User::fold_email`](kanect_core::User::fold_email) folds it, written in the batch that writes
//! the user's record, so a password reset finds the accounts of an address with a prefix scan.
//! An address holds no `0x00` (control characters are refused), so the terminator ends it
//! unambiguously. It came with sled's format 8 and fjall's 5, whose upgrades build it.
//! Notification settings, push subscriptions (a user's are one prefix scan) and server
//! secrets (`0x20`–`0x22`) came within the format versions of attachments, without a bump,
//! for the reason given below for the log-in attempts: a build that does not know them never
//! reads them, and without them nothing is lost but settings and subscriptions made since.
//!
//! One more tree or keyspace, `login_attempts` (see each engine's `login_attempts` for why
//! apart), holds the log-in attempt records:
//!
//! | tree/keyspace    | key                                | value                  |
//! |------------------|------------------------------------|------------------------|
//! | `login_attempts` | `AttemptKey` (32 bytes, a SHA-256) | `LoginAttempts` (JSON) |
//!
//! In sled it came within format version 4, without a bump: nothing in the default tree changed,
//! a build that does not know the tree ignores it (its records only slow log-ins down, and
//! expire), and a build that does creates it empty in a store without it. A bump would
//! only have made older builds refuse the store.

use kanect_core::{AttachmentId, AuditId, ConversationId, InviteId, MessageId, Seq, StoreError, TokenHash, UserId};

const META: u8 = 0x00;
const USER: u8 = 0x01;
const USERNAME: u8 = 0x02;
const PASSWORD: u8 = 0x03;
const SESSION: u8 = 0x04;
const USER_SESSION: u8 = 0x05;
const CONVERSATION: u8 = 0x06;
const MEMBERSHIP: u8 = 0x07;
const MESSAGE: u8 = 0x08;
const MESSAGE_INDEX: u8 = 0x09;
const RECEIPT: u8 = 0x0c;
const AUDIT: u8 = 0x0d;
const ATTACHMENT: u8 = 0x0e;
const OWNER_ATTACHMENT: u8 = 0x0f;
const INVITE: u8 = 0x10;
const INVITE_TOKEN: u8 = 0x11;
const ACCOUNT_TOKEN: u8 = 0x12;
const USER_ACCOUNT_TOKEN: u8 = 0x13;
const USER_EMAIL: u8 = 0x14;
const NOTIFICATION_SETTINGS: u8 = 0x20;
const PUSH_SUBSCRIPTION: u8 = 0x21;
const SECRET: u8 = 0x22;

/// Where the on-disk format version is kept.
pub(crate) const FORMAT: &[u8] = b"\x00format";

/// The tree (sled) or keyspace (fjall) of the log-in attempt records (see the table above).
pub(crate) const LOGIN_ATTEMPTS: &str = "login_attempts";

fn key(space: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    key.push(space);
    for part in parts {
        key.extend_from_slice(part);
    }
    key
}

/// The first key after every key that starts with `prefix`, for exclusive upper bounds.
/// None if there is none (the prefix is all `0xff`).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Keys of one record kind, for counting.
pub(crate) fn all_users() -> Vec<u8> {
    vec![USER]
}

/// See [`all_users`].
pub(crate) fn all_usernames() -> Vec<u8> {
    vec![USERNAME]
}

/// See [`all_users`].
pub(crate) fn all_conversations() -> Vec<u8> {
    vec![CONVERSATION]
}

/// See [`all_users`].
pub(crate) fn all_messages() -> Vec<u8> {
    vec![MESSAGE]
}

/// See [`all_users`]: the id index, whose keys are the space byte and a message id. (Only
/// the id filter's scan reads it whole.)
pub(crate) fn all_message_ids() -> Vec<u8> {
    vec![MESSAGE_INDEX]
}

/// See [`all_users`].
pub(crate) fn all_audit() -> Vec<u8> {
    vec![AUDIT]
}

/// See [`all_users`].
pub(crate) fn all_attachments() -> Vec<u8> {
    vec![ATTACHMENT]
}

/// Whether `key` is the meta record (the only key allowed in a store without data).
pub(crate) fn is_meta(key: &[u8]) -> bool {
    key.first() == Some(&META)
}

pub(crate) fn user(id: UserId) -> Vec<u8> {
    key(USER, &[&id.to_bytes()])
}

pub(crate) fn username(folded: &str) -> Vec<u8> {
    key(USERNAME, &[folded.as_bytes()])
}

pub(crate) fn password(id: UserId) -> Vec<u8> {
    key(PASSWORD, &[&id.to_bytes()])
}

pub(crate) fn session(hash: &TokenHash) -> Vec<u8> {
    key(SESSION, &[&hash.0])
}

/// The prefix of every session key.
pub(crate) fn all_sessions() -> Vec<u8> {
    vec![SESSION]
}

pub(crate) fn user_session(user: UserId, hash: &TokenHash) -> Vec<u8> {
    key(USER_SESSION, &[&user.to_bytes(), &hash.0])
}

pub(crate) fn user_sessions(user: UserId) -> Vec<u8> {
    key(USER_SESSION, &[&user.to_bytes()])
}

pub(crate) fn account_token(hash: &TokenHash) -> Vec<u8> {
    key(ACCOUNT_TOKEN, &[&hash.0])
}

/// The prefix of every account token key.
pub(crate) fn all_account_tokens() -> Vec<u8> {
    vec![ACCOUNT_TOKEN]
}

pub(crate) fn user_account_token(user: UserId, hash: &TokenHash) -> Vec<u8> {
    key(USER_ACCOUNT_TOKEN, &[&user.to_bytes(), &hash.0])
}

pub(crate) fn user_account_tokens(user: UserId) -> Vec<u8> {
    key(USER_ACCOUNT_TOKEN, &[&user.to_bytes()])
}

/// The address index entry of user `id` with the folded address `folded`.
pub(crate) fn user_email(folded: &str, id: UserId) -> Vec<u8> {
    key(USER_EMAIL, &[folded.as_bytes(), &[0], &id.to_bytes()])
}

/// The prefix of the address index entries of the folded address `folded`.
pub(crate) fn users_with_email(folded: &str) -> Vec<u8> {
    key(USER_EMAIL, &[folded.as_bytes(), &[0]])
}

pub(crate) fn conversation(id: ConversationId) -> Vec<u8> {
    key(CONVERSATION, &[&id.to_bytes()])
}

pub(crate) fn membership(user: UserId, conversation: ConversationId) -> Vec<u8> {
    key(MEMBERSHIP, &[&user.to_bytes(), &conversation.to_bytes()])
}

pub(crate) fn memberships(user: UserId) -> Vec<u8> {
    key(MEMBERSHIP, &[&user.to_bytes()])
}

pub(crate) fn message(conversation: ConversationId, seq: Seq) -> Vec<u8> {
    key(MESSAGE, &[&conversation.to_bytes(), &seq.0.to_be_bytes()])
}

pub(crate) fn messages(conversation: ConversationId) -> Vec<u8> {
    key(MESSAGE, &[&conversation.to_bytes()])
}

pub(crate) fn message_index(id: MessageId) -> Vec<u8> {
    key(MESSAGE_INDEX, &[&id.to_bytes()])
}

pub(crate) fn receipt(conversation: ConversationId, user: UserId) -> Vec<u8> {
    key(RECEIPT, &[&conversation.to_bytes(), &user.to_bytes()])
}

pub(crate) fn receipts(conversation: ConversationId) -> Vec<u8> {
    key(RECEIPT, &[&conversation.to_bytes()])
}

pub(crate) fn audit(id: AuditId) -> Vec<u8> {
    key(AUDIT, &[&id.to_bytes()])
}

pub(crate) fn attachment(id: AttachmentId) -> Vec<u8> {
    key(ATTACHMENT, &[&id.to_bytes()])
}

pub(crate) fn owner_attachment(owner: UserId, id: AttachmentId) -> Vec<u8> {
    key(OWNER_ATTACHMENT, &[&owner.to_bytes(), &id.to_bytes()])
}

/// The prefix of `owner`'s [`owner_attachment`] keys.
pub(crate) fn owner_attachments(owner: UserId) -> Vec<u8> {
    key(OWNER_ATTACHMENT, &[&owner.to_bytes()])
}

pub(crate) fn notification_settings(user: UserId) -> Vec<u8> {
    key(NOTIFICATION_SETTINGS, &[&user.to_bytes()])
}

pub(crate) fn push_subscription(user: UserId, endpoint_hash: &[u8; 32]) -> Vec<u8> {
    key(PUSH_SUBSCRIPTION, &[&user.to_bytes(), endpoint_hash])
}

pub(crate) fn push_subscriptions(user: UserId) -> Vec<u8> {
    key(PUSH_SUBSCRIPTION, &[&user.to_bytes()])
}

pub(crate) fn secret(name: &str) -> Vec<u8> {
    key(SECRET, &[name.as_bytes()])
}

/// See [`all_users`].
pub(crate) fn all_secrets() -> Vec<u8> {
    vec![SECRET]
}

/// The name in a [`secret`] key.
pub(crate) fn secret_name(key: &[u8]) -> Result<String, StoreError> {
    let name = key.get(1..).unwrap_or_default();
    String::from_utf8(name.to_vec()).map_err(|_| StoreError::Corrupt("a secret's name is not UTF-8".into()))
}

/// The value of an [`owner_attachment`] record: the attachment's stored bytes.
pub(crate) fn stored_bytes(bytes: u64) -> [u8; 8] {
    bytes.to_be_bytes()
}

/// Decodes [`stored_bytes`], naming the key on failure.
pub(crate) fn parse_stored_bytes(key: &[u8], value: &[u8]) -> Result<u64, StoreError> {
    let array: [u8; 8] = value.try_into().map_err(|_| {
        StoreError::Corrupt(format!(
            "attachment size at key {} of {} bytes, expected 8",
            super::records::hex(key),
            value.len()
        ))
    })?;
    Ok(u64::from_be_bytes(array))
}

pub(crate) fn invite(id: InviteId) -> Vec<u8> {
    key(INVITE, &[&id.to_bytes()])
}

/// The prefix of every invite key.
pub(crate) fn all_invites() -> Vec<u8> {
    vec![INVITE]
}

pub(crate) fn invite_token(hash: &TokenHash) -> Vec<u8> {
    key(INVITE_TOKEN, &[&hash.0])
}

/// Decodes the value of an [`invite_token`] record: the invite's id.
pub(crate) fn parse_invite_id(value: &[u8]) -> Result<InviteId, StoreError> {
    if value.len() != 16 {
        return Err(StoreError::Corrupt(format!("invite id of {} bytes, expected 16", value.len())));
    }
    Ok(InviteId::from_bytes(id_at(value, 0)?))
}

/// The value of a message-index record: where the message is.
pub(crate) fn location(conversation: ConversationId, seq: Seq) -> Vec<u8> {
    let mut value = conversation.to_bytes().to_vec();
    value.extend_from_slice(&seq.0.to_be_bytes());
    value
}

/// Decodes [`location`].
pub(crate) fn parse_location(value: &[u8]) -> Result<(ConversationId, Seq), StoreError> {
    if value.len() != 24 {
        return Err(StoreError::Corrupt(format!("message location of {} bytes, expected 24", value.len())));
    }
    Ok((ConversationId::from_bytes(id_at(value, 0)?), seq_suffix(value)?))
}

/// Decodes a [`message`] key: exactly the space byte, a conversation id and a seq.
pub(crate) fn parse_message_key(key: &[u8]) -> Result<(ConversationId, Seq), StoreError> {
    if key.len() != 25 || key.first() != Some(&MESSAGE) {
        return Err(StoreError::Corrupt(format!("message key of {} bytes, expected 25", key.len())));
    }
    Ok((ConversationId::from_bytes(id_at(key, 1)?), seq_suffix(key)?))
}

/// The big-endian seq at the end of a message key (or a location).
pub(crate) fn seq_suffix(bytes: &[u8]) -> Result<Seq, StoreError> {
    let array: [u8; 8] = bytes
        .len()
        .checked_sub(8)
        .and_then(|start| bytes.get(start..))
        .and_then(|tail| tail.try_into().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("expected a seq, found {} bytes", bytes.len())))?;
    Ok(Seq(u64::from_be_bytes(array)))
}

/// The 16 id bytes at `offset` in `bytes`.
pub(crate) fn id_at(bytes: &[u8], offset: usize) -> Result<[u8; 16], StoreError> {
    bytes
        .get(offset..offset + 16)
        .and_then(|slice| slice.try_into().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("expected an id at byte {offset} of {} bytes", bytes.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_keys_sort_by_conversation_then_seq() {
        let conversation = ConversationId::new();
        let mut keys: Vec<Vec<u8>> = [256, 1, 2, 255, 65_536].iter().map(|&s| message(conversation, Seq(s))).collect();
        keys.sort();
        let seqs: Vec<u64> = keys.iter().map(|k| seq_suffix(k).unwrap().0).collect();
        assert_eq!(seqs, [1, 2, 255, 256, 65_536]);
        assert!(keys.iter().all(|k| k.starts_with(&messages(conversation))));
        assert_eq!(parse_message_key(&keys[2]).unwrap(), (conversation, Seq(255)));
        assert!(matches!(parse_message_key(&keys[2][..24]), Err(StoreError::Corrupt(_))));
        assert!(matches!(parse_message_key(&message_index(MessageId::new())), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn prefix_end_bounds_every_key_with_the_prefix() {
        let prefix = messages(ConversationId::from_bytes([0xff; 16]));
        let end = prefix_end(&prefix).unwrap();
        assert!(message(ConversationId::from_bytes([0xff; 16]), Seq(u64::MAX)) < end);
        assert_eq!(end, vec![MESSAGE + 1]);
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }

    #[test]
    fn an_owners_attachment_keys_share_a_prefix_no_other_owner_has() {
        let (owner, other) = (UserId::from_bytes([7; 16]), UserId::from_bytes([8; 16]));
        let id = AttachmentId::new();
        assert!(owner_attachment(owner, id).starts_with(&owner_attachments(owner)));
        assert!(!owner_attachment(other, id).starts_with(&owner_attachments(owner)));
        assert!(attachment(id).starts_with(&all_attachments()));
        let key = owner_attachment(owner, id);
        assert_eq!(parse_stored_bytes(&key, &stored_bytes(u64::MAX)).unwrap(), u64::MAX);
        assert!(matches!(parse_stored_bytes(&key, &[0; 7]), Err(StoreError::Corrupt(m)) if m.contains("7 bytes")));
    }

    #[test]
    fn locations_round_trip_and_short_values_are_corrupt() {
        let conversation = ConversationId::new();
        let value = location(conversation, Seq(42));
        assert_eq!(parse_location(&value).unwrap(), (conversation, Seq(42)));
        assert!(matches!(parse_location(&value[..20]), Err(StoreError::Corrupt(_))));
    }
}
