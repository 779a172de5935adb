//! Between PostgreSQL rows and Kanect's records: the column lists each query selects, the
//! decoders for them, and the number conversions.
//!
//! PostgreSQL has no unsigned integers; timestamps and seqs are stored as BIGINT. Writing a
//! value above `i64::MAX` fails with a backend error (no real timestamp or seq gets there);
//! reading a negative one is [`StoreError::Corrupt`]. Nothing here panics on a bad row.

use super::PgError;
use kanect_core::backend::{AttemptKey, LoginAttempts, Session, StoreResult};
use kanect_core::{
    AccountToken, Attachment, AttachmentMeta, AuditEntry, Conversation, ConversationKind, GroupEvent, ImageMeta,
    Invite, Message, MessageRef, Reaction, Receipt, Role, Seq, StoreError, Timestamp, TokenHash, TokenPurpose, User,
    UserId,
};
use tokio_postgres::types::{FromSql, Json};
use tokio_postgres::Row;
use uuid::Uuid;

// The column lists each decoder reads, as macros so that queries are `concat!`ed into
// `&'static str`s (the per-connection statement cache is keyed by the query text).

/// The columns [`user`] decodes.
macro_rules! user_columns {
    () => {
        "id, username, display_name, email, role, created_at, disabled, last_seen, email_verified, digests_off, \
         digested_at, status, avatar"
    };
}

/// The columns [`conversation`] decodes; `c` is the conversation table's alias.
macro_rules! conversation_columns {
    () => {
        "c.id, c.kind, c.name, c.owner, c.created_at, ARRAY(SELECT m.user_id FROM kanect_memberships m \
         WHERE m.conversation = c.id ORDER BY m.user_id) AS members"
    };
}

/// The columns [`message`] decodes.
macro_rules! message_columns {
    () => {
        "id, conversation, sender, seq, body, client_id, sent_at, edited_at, deleted, attachments, reply_to, \
         mentions, reactions, event"
    };
}

/// The columns [`attachment`] decodes.
macro_rules! attachment_columns {
    () => {
        "id, owner, name, size, content_type, sha256, image, uploaded_at, thumbnail_size, message_id, conversation_id"
    };
}

/// The columns [`account_token`] decodes.
macro_rules! account_token_columns {
    () => {
        "token_hash, purpose, user_id, address, created_at, expires_at"
    };
}

/// The columns [`session`] decodes.
macro_rules! session_columns {
    () => {
        "token_hash, user_id, created_at, expires_at, last_used, user_agent"
    };
}

/// The columns [`audit`] decodes.
macro_rules! audit_columns {
    () => {
        "id, at, actor, action, target, detail"
    };
}

/// The columns [`invite`] decodes.
macro_rules! invite_columns {
    () => {
        "id, token_hash, created_by, created_at, expires_at, uses, uses_left"
    };
}

/// The columns [`receipt`] decodes.
macro_rules! receipt_columns {
    () => {
        "conversation, user_id, delivered, read_up_to"
    };
}

pub(super) use {
    account_token_columns, attachment_columns, audit_columns, conversation_columns, invite_columns, message_columns,
    receipt_columns, session_columns, user_columns,
};

/// A column, or [`StoreError::Corrupt`] naming it.
fn get<'a, T: FromSql<'a>>(row: &'a Row, column: &str) -> StoreResult<T> {
    row.try_get(column).map_err(|error| StoreError::Corrupt(format!("column {column}: {error}")))
}

/// The first column (of a one-column query), or [`StoreError::Corrupt`].
pub(super) fn first<'a, T: FromSql<'a>>(row: &'a Row) -> StoreResult<T> {
    row.try_get(0).map_err(|error| StoreError::Corrupt(format!("first column: {error}")))
}

/// A stored BIGINT as the unsigned number it encodes.
pub(super) fn unsigned(value: i64, what: &str) -> StoreResult<u64> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative {what}: {value}")))
}

/// An unsigned number as a BIGINT for writing.
pub(super) fn signed(value: u64, what: &'static str) -> StoreResult<i64> {
    i64::try_from(value).map_err(|_| StoreError::backend(PgError::OutOfRange(what)))
}

/// An unsigned bound as a BIGINT, clamped: reading "below u64::MAX" is "below i64::MAX".
pub(super) fn clamped(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn timestamp(row: &Row, column: &str) -> StoreResult<Timestamp> {
    Ok(Timestamp(unsigned(get(row, column)?, column)?))
}

fn optional_timestamp(row: &Row, column: &str) -> StoreResult<Option<Timestamp>> {
    get::<Option<i64>>(row, column)?.map(|value| Ok(Timestamp(unsigned(value, column)?))).transpose()
}

fn seq(row: &Row, column: &str) -> StoreResult<Seq> {
    Ok(Seq(unsigned(get(row, column)?, column)?))
}

fn id<T: From<Uuid>>(row: &Row, column: &str) -> StoreResult<T> {
    Ok(T::from(get::<Uuid>(row, column)?))
}

/// How a role is stored.
pub(super) fn role_text(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Admin => "admin",
    }
}

/// How a conversation kind is stored.
pub(super) fn kind_text(kind: ConversationKind) -> &'static str {
    match kind {
        ConversationKind::Direct => "direct",
        ConversationKind::Group => "group",
    }
}

/// A [`user_columns!`] row.
pub(super) fn user(row: &Row) -> StoreResult<User> {
    let role = match get::<&str>(row, "role")? {
        "user" => Role::User,
        "admin" => Role::Admin,
        other => return Err(StoreError::Corrupt(format!("unknown role {other:?}"))),
    };
    Ok(User {
        id: id(row, "id")?,
        username: get(row, "username")?,
        display_name: get(row, "display_name")?,
        email: get(row, "email")?,
        role,
        created_at: timestamp(row, "created_at")?,
        disabled: get(row, "disabled")?,
        last_seen: optional_timestamp(row, "last_seen")?,
        email_verified: get(row, "email_verified")?,
        digests_off: get(row, "digests_off")?,
        digested_at: optional_timestamp(row, "digested_at")?,
        status: get(row, "status")?,
        avatar: get::<Option<Uuid>>(row, "avatar")?.map(Into::into),
    })
}

/// A `key, count, not_before, expires_at` row of `kanect_login_attempts`.
pub(super) fn login_attempts(row: &Row) -> StoreResult<(AttemptKey, LoginAttempts)> {
    let key: &[u8] = get(row, "key")?;
    let key = key.try_into().map_err(|_| StoreError::Corrupt(format!("attempt key of {} bytes", key.len())))?;
    let count: i64 = get(row, "count")?;
    let record = LoginAttempts {
        count: u32::try_from(count).map_err(|_| StoreError::Corrupt(format!("attempt count {count} out of range")))?,
        not_before: timestamp(row, "not_before")?,
        expires_at: timestamp(row, "expires_at")?,
    };
    Ok((AttemptKey(key), record))
}

/// A [`conversation_columns!`] row.
pub(super) fn conversation(row: &Row) -> StoreResult<Conversation> {
    let kind = match get::<&str>(row, "kind")? {
        "direct" => ConversationKind::Direct,
        "group" => ConversationKind::Group,
        other => return Err(StoreError::Corrupt(format!("unknown conversation kind {other:?}"))),
    };
    let members: Vec<Uuid> = get(row, "members")?;
    Ok(Conversation {
        id: id(row, "id")?,
        kind,
        name: get(row, "name")?,
        owner: get::<Option<Uuid>>(row, "owner")?.map(Into::into),
        // PostgreSQL orders UUIDs by their bytes, as Rust does: the list is already sorted.
        members: members.into_iter().map(Into::into).collect(),
        created_at: timestamp(row, "created_at")?,
    })
}

/// A [`message_columns!`] row.
pub(super) fn message(row: &Row) -> StoreResult<Message> {
    Ok(Message {
        id: id(row, "id")?,
        conversation: id(row, "conversation")?,
        sender: id(row, "sender")?,
        seq: seq(row, "seq")?,
        body: get(row, "body")?,
        client_id: get(row, "client_id")?,
        sent_at: timestamp(row, "sent_at")?,
        edited_at: optional_timestamp(row, "edited_at")?,
        deleted: get(row, "deleted")?,
        attachments: get::<Json<Vec<AttachmentMeta>>>(row, "attachments")?.0,
        reply_to: get::<Option<i64>>(row, "reply_to")?.map(|seq| unsigned(seq, "reply_to")).transpose()?.map(Seq),
        reply: None,
        mentions: get::<Json<Vec<UserId>>>(row, "mentions")?.0,
        reactions: get::<Json<Vec<Reaction>>>(row, "reactions")?.0,
        event: get::<Option<Json<GroupEvent>>>(row, "event")?.map(|json| json.0),
    })
}

/// An [`attachment_columns!`] row.
pub(super) fn attachment(row: &Row) -> StoreResult<Attachment> {
    let message = match (get::<Option<Uuid>>(row, "message_id")?, get::<Option<Uuid>>(row, "conversation_id")?) {
        (Some(message), Some(conversation)) => {
            Some(MessageRef { conversation: conversation.into(), message: message.into() })
        }
        (None, None) => None,
        _ => return Err(StoreError::Corrupt("an attachment's message without its conversation".into())),
    };
    Ok(Attachment {
        meta: AttachmentMeta {
            id: id(row, "id")?,
            name: get(row, "name")?,
            size: unsigned(get(row, "size")?, "size")?,
            content_type: get(row, "content_type")?,
            sha256: get(row, "sha256")?,
            image: get::<Option<Json<ImageMeta>>>(row, "image")?.map(|image| image.0),
        },
        owner: id(row, "owner")?,
        uploaded_at: timestamp(row, "uploaded_at")?,
        thumbnail_size: unsigned(get(row, "thumbnail_size")?, "thumbnail_size")?,
        message,
    })
}

/// A [`session_columns!`] row.
pub(super) fn session(row: &Row) -> StoreResult<Session> {
    Ok(Session {
        token_hash: token_hash(row)?,
        user: id(row, "user_id")?,
        created_at: timestamp(row, "created_at")?,
        expires_at: timestamp(row, "expires_at")?,
        last_used: optional_timestamp(row, "last_used")?,
        user_agent: get(row, "user_agent")?,
    })
}

/// The `token_hash` column.
fn token_hash(row: &Row) -> StoreResult<TokenHash> {
    let hash: &[u8] = get(row, "token_hash")?;
    let hash =
        <[u8; 32]>::try_from(hash).map_err(|_| StoreError::Corrupt(format!("token hash of {} bytes", hash.len())))?;
    Ok(TokenHash(hash))
}

/// An [`invite_columns!`] row.
pub(super) fn invite(row: &Row) -> StoreResult<Invite> {
    let uses = |column: &str| -> StoreResult<u32> {
        let value: i64 = get(row, column)?;
        u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("column {column}: {value}")))
    };
    Ok(Invite {
        id: id(row, "id")?,
        token_hash: token_hash(row)?,
        created_by: id(row, "created_by")?,
        created_at: timestamp(row, "created_at")?,
        expires_at: timestamp(row, "expires_at")?,
        uses: uses("uses")?,
        uses_left: uses("uses_left")?,
    })
}

/// An [`account_token_columns!`] row.
pub(super) fn account_token(row: &Row) -> StoreResult<AccountToken> {
    let purpose = match get::<&str>(row, "purpose")? {
        "verify" => TokenPurpose::Verify,
        "reset" => TokenPurpose::Reset,
        "unsubscribe" => TokenPurpose::Unsubscribe,
        other => return Err(StoreError::Corrupt(format!("unknown token purpose {other:?}"))),
    };
    Ok(AccountToken {
        token_hash: token_hash(row)?,
        purpose,
        user: id(row, "user_id")?,
        address: get(row, "address")?,
        created_at: timestamp(row, "created_at")?,
        expires_at: timestamp(row, "expires_at")?,
    })
}

/// How a token's purpose is written.
pub(super) fn purpose_text(purpose: TokenPurpose) -> &'static str {
    match purpose {
        TokenPurpose::Verify => "verify",
        TokenPurpose::Reset => "reset",
        TokenPurpose::Unsubscribe => "unsubscribe",
    }
}

/// An [`audit_columns!`] row.
pub(super) fn audit(row: &Row) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        id: id(row, "id")?,
        at: timestamp(row, "at")?,
        actor: id(row, "actor")?,
        action: get(row, "action")?,
        target: get(row, "target")?,
        detail: get(row, "detail")?,
    })
}

/// A [`receipt_columns!`] row.
pub(super) fn receipt(row: &Row) -> StoreResult<Receipt> {
    Ok(Receipt {
        conversation: id(row, "conversation")?,
        user: id(row, "user_id")?,
        delivered: seq(row, "delivered")?,
        read: seq(row, "read_up_to")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_convert_without_panicking() {
        assert_eq!(unsigned(7, "seq").unwrap(), 7);
        assert!(matches!(unsigned(-1, "seq"), Err(StoreError::Corrupt(_))));
        assert_eq!(signed(7, "seq").unwrap(), 7);
        assert!(matches!(signed(u64::MAX, "seq"), Err(StoreError::Backend(_))));
        assert_eq!(clamped(u64::MAX), i64::MAX);
        assert_eq!(clamped(3), 3);
    }
}
