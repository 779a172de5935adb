//! Backups and migration: a versioned, line-oriented dump of everything a [`Store`] keeps, and
//! its replay into an empty store of any backend.
//!
//! Both directions go through the store traits only, so one dump moves data between backends
//! (memory, sled, PostgreSQL, or an embedding application's own) and no backend needs code of
//! its own for it. Both stream: the export pages through the store and writes a line per
//! record; the import reads a line at a time. Memory stays flat however large the store.
//!
//! The export writes to a blocking [`Write`] ([`export`], for a file from a command-line tool)
//! or to a tokio [`AsyncWrite`] ([`export_async`], for a running server streaming the dump to
//! a client, which must not block its threads). Both run the one dump routine over a private
//! line sink, so the two cannot drift apart; and since the routine awaits each line's write, a
//! slow reader slows the export down rather than making it buffer.
//!
//! # Format (JSON Lines, version 1)
//!
//! The first line is the header, `{"format":"kanect-dump","version":1}`. Every further line
//! is one record, a JSON object tagged by `kind`, in an order the import can replay:
//!
//! 1. `user`: a [`User`]'s fields plus `password_hash` (its argon2 PHC string), by folded
//!    username;
//! 2. `session`: a [`Session`] (with when it was last used and its user agent, when known), by
//!    token hash; then `account_token`: an [`AccountToken`] (verification, password reset,
//!    unsubscribe links mailed), by token hash;
//! 3. per conversation, by id: `conversation` (a [`Conversation`] with its members), then its
//!    `message`s in seq order (a [`Message`]: id, seq, sender, body, client id, `sent_at`,
//!    `edited_at`, `deleted`, and `attachments`, `reply_to`, `mentions` and `reactions` when
//!    it has any), then its `receipt`s by user;
//! 4. `attachment`: the records of uploaded files ([`Attachment`]: what messages show of the
//!    file, its owner, upload time, thumbnail size, and the message that claimed it if one
//!    has), by id;
//! 5. `audit`: the audit log's [`AuditEntry`]s, newest first;
//! 6. `invite`: the invite links ([`Invite`]: token hash, maker, times, uses), newest first;
//! 7. per user, by folded username: `notification_settings` (`user` and its
//!    [`NotificationSettings`]) if they were ever set, then the user's `push_subscription`s
//!    ([`PushSubscription`]), by endpoint hash;
//! 8. `secret`: each server secret (`name`, and `value` as an array of bytes), by name: the
//!    VAPID key pair, without which every push subscription in the dump would be useless;
//! 9. `end`, with `records`: how many records came before it, so a truncated dump is told
//!    from a complete one.
//!
//! A dump of another format or version is refused; a line that does not parse, or that the
//! store refuses, fails the import with its line number. Log-in slow-down records and
//! PostgreSQL's rate-limit buckets are not dumped: they only slow log-ins and actions down for
//! a while and expire.
//!
//! Attachments came within version 1, without a bump: a dump written before them has no
//! `attachment` lines and no message `attachments` (read as none), which is what it meant, so
//! it still imports as it did. (A build from before them refuses a dump with an `attachment`
//! line, a record of no kind it knows.)
//!
//! E-mail came the same way: users' `email_verified`, `digests_off` and `digested_at`, and
//! `account_token` lines; a dump without them meant none.
//!
//! Replies, mentions and reactions came the same way: a dump without them meant none, and a
//! build from before them drops them on import (a message's unknown fields are ignored).
//!
//! Invites came the same way: a dump without them meant none. (A build from before them
//! refuses a dump with an `invite` line.)
//! Notification settings, push subscriptions and secrets came within version 1 the same way: a
//! dump without them meant none. A secret replayed into a store that has made one of the same
//! name already (a server started on it before the import) must be the same value, or the
//! import fails at its line: a different VAPID key would orphan the subscriptions.
//!
//! **The files' bytes are not in the dump**, only their records: they live in the blob store
//! (a directory beside an embedded store, or a PostgreSQL table of their own). [`backup`] and
//! [`restore`] (module `directory`) take both: a directory with the dump and every blob its
//! records refer to. A dump restored alone has records whose downloads fail.
//!
//! # Consistency
//!
//! The export reads through the store traits while the store may be written, page by page;
//! it is not a point-in-time snapshot. Each record is as the store held it when its page was
//! read. Every write acknowledged before the export began is in the dump (a message edited or
//! deleted later may appear with its later body); writes acknowledged after it began may or
//! may not be. A receipt may then point past the last message dumped of its conversation; it
//! is imported as it is.

use kanect_core::backend::{Appended, NewMessage, Reacted, ReactionChange, Session, Store, UserQuery, UserUpdate};
use kanect_core::{
    AccountToken, Attachment, AuditEntry, Conversation, HistoryPage, Invite, Message, NotificationSettings,
    PushSubscription, Receipt, ReceiptKind, Seq, StoreError, User, UserId,
};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use tokio::io::{AsyncWrite, AsyncWriteExt};

mod directory;

pub use directory::{backup, restore, BackupDir, BlobCounts, BLOBS_DIR, DUMP_FILE, MISSING_FILE};

/// The `format` of a dump's header line.
pub const FORMAT: &str = "kanect-dump";

/// The version of the dump format this build writes and reads.
pub const VERSION: u32 = 1;

/// How many records the export asks the store for at a time.
const PAGE: usize = 200;

/// Why an export or import failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The store failed (outside of a particular dump line).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Reading or writing the dump failed.
    #[error("dump i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A line of the dump could not be read or replayed (line numbers start at 1).
    #[error("line {line}: {reason}")]
    Line {
        /// The line's number, from 1.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The dump is of another format or of a version this build cannot read.
    #[error("unsupported dump: {0}")]
    Unsupported(String),
    /// The import's target store holds data already.
    #[error("the target store is not empty (it holds {0}); import only into an empty store")]
    NotEmpty(String),
    /// A backup directory that is not one, or cannot become one (see [`BackupDir::prepare`]).
    #[error("{0}")]
    NotBackup(String),
    /// A blob in a backup directory is missing or does not match its record.
    #[error("blob {key}: {reason}")]
    Blob {
        /// The blob's key (its file's name).
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// What an export wrote or an import replayed: records by kind.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Counts {
    /// Users, with their password hashes.
    pub users: u64,
    /// Sessions.
    pub sessions: u64,
    /// Account tokens (links mailed and not yet used).
    pub account_tokens: u64,
    /// Conversations, with their members.
    pub conversations: u64,
    /// Messages, deleted ones included.
    pub messages: u64,
    /// Receipts.
    pub receipts: u64,
    /// Attachment records (not their bytes).
    pub attachments: u64,
    /// Audit log entries.
    pub audit: u64,
    /// Invite links (their token hashes: the links keep working after a restore).
    pub invites: u64,
    /// Users' notification settings.
    pub notification_settings: u64,
    /// Push subscriptions.
    pub push_subscriptions: u64,
    /// Server secrets.
    pub secrets: u64,
}

impl Counts {
    /// Every record counted.
    pub fn total(&self) -> u64 {
        self.users
            + self.sessions
            + self.account_tokens
            + self.conversations
            + self.messages
            + self.receipts
            + self.attachments
            + self.audit
            + self.invites
            + self.notification_settings
            + self.push_subscriptions
            + self.secrets
    }

    fn count(&mut self, record: &Record) {
        match record {
            Record::User { .. } => self.users += 1,
            Record::Session { .. } => self.sessions += 1,
            Record::AccountToken { .. } => self.account_tokens += 1,
            Record::Conversation { .. } => self.conversations += 1,
            Record::Message { .. } => self.messages += 1,
            Record::Receipt { .. } => self.receipts += 1,
            Record::Attachment { .. } => self.attachments += 1,
            Record::Audit { .. } => self.audit += 1,
            Record::Invite { .. } => self.invites += 1,
            Record::NotificationSettings { .. } => self.notification_settings += 1,
            Record::PushSubscription { .. } => self.push_subscriptions += 1,
            Record::Secret { .. } => self.secrets += 1,
            Record::End { .. } => {}
        }
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} users, {} sessions, {} account tokens, {} conversations, {} messages, {} receipts, {} attachments, \
             {} audit entries, {} invites, {} notification settings, {} push subscriptions, {} secrets",
            self.users,
            self.sessions,
            self.account_tokens,
            self.conversations,
            self.messages,
            self.receipts,
            self.attachments,
            self.audit,
            self.invites,
            self.notification_settings,
            self.push_subscriptions,
            self.secrets
        )
    }
}

/// The header line.
#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
}

/// One record line: its `kind`, and the record under a field of its own (not flattened, so
/// that a record's own fields, such as a conversation's `kind`, never collide with the tag).
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Record {
    User { user: User, password_hash: String },
    Session { session: Session },
    AccountToken { token: AccountToken },
    Conversation { conversation: Conversation },
    Message { message: Message },
    Receipt { receipt: Receipt },
    Attachment { attachment: Attachment },
    Audit { entry: AuditEntry },
    Invite { invite: Invite },
    NotificationSettings { user: UserId, settings: NotificationSettings },
    PushSubscription { subscription: PushSubscription },
    Secret { name: String, value: Vec<u8> },
    End { records: u64 },
}

/// Where the export's lines go: a blocking or an async writer. The dump routine awaits each
/// line, so it is written once for both.
trait Sink {
    /// Writes one whole line, its newline included.
    async fn line(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    /// Flushes what the writer buffers.
    async fn flush(&mut self) -> std::io::Result<()>;
}

/// A [`Sink`] over a blocking writer (its writes block the task).
struct Blocking<W>(W);

impl<W: Write> Sink for Blocking<W> {
    async fn line(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.write_all(bytes)
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// A [`Sink`] over an async writer (its writes wait without blocking).
struct Async<W>(W);

impl<W: AsyncWrite + Unpin> Sink for Async<W> {
    async fn line(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.write_all(bytes).await
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().await
    }
}

/// Writes records as lines and counts them.
struct Lines<K> {
    sink: K,
    counts: Counts,
    /// The line being encoded, reused from line to line.
    buffer: Vec<u8>,
}

impl<K: Sink> Lines<K> {
    async fn write(&mut self, record: &Record) -> Result<(), BackupError> {
        self.counts.count(record);
        self.line(record).await
    }

    async fn line(&mut self, value: &impl Serialize) -> Result<(), BackupError> {
        self.buffer.clear();
        serde_json::to_writer(&mut self.buffer, value).map_err(std::io::Error::from)?;
        self.buffer.push(b'\n');
        self.sink.line(&self.buffer).await?;
        Ok(())
    }
}

/// Writes a dump of everything in `store` to `out`, a line per record (see the module docs
/// for the format and what it guarantees of a store written meanwhile), and returns what it
/// wrote. Writes to `out` block: give it a buffered writer (a `BufWriter` of a file). In an
/// async server, where blocking a thread stalls other tasks, use [`export_async`].
pub async fn export<S: Store + ?Sized, W: Write>(store: &S, out: W) -> Result<Counts, BackupError> {
    dump(store, Blocking(out)).await
}

/// As [`export`], into an async writer: the same dump, line for line, for a running server to
/// stream to a client (a socket, a pipe, a tokio file). Each line is one write: give it a
/// buffered writer if small writes cost (a `tokio::io::BufWriter`).
///
/// # Backpressure
/// The export waits for each write to complete before reading on: a writer that takes its
/// bytes slowly slows the export down, and the export holds no more than one page of records
/// and one line meanwhile, however large the store.
///
/// # Errors
/// As [`export`]: [`BackupError::Io`] if a write fails (a reader gone away), and the export
/// stops there; [`BackupError::Store`] if the store does.
pub async fn export_async<S: Store + ?Sized, W: AsyncWrite + Unpin>(store: &S, out: W) -> Result<Counts, BackupError> {
    dump(store, Async(out)).await
}

/// The dump routine of both exports.
async fn dump<S: Store + ?Sized, K: Sink>(store: &S, sink: K) -> Result<Counts, BackupError> {
    let mut lines = Lines { sink, counts: Counts::default(), buffer: Vec::new() };
    lines.line(&Header { format: FORMAT.into(), version: VERSION }).await?;

    let mut query = UserQuery { search: None, after: None, limit: PAGE };
    loop {
        let page = store.users(&query).await?;
        for user in &page {
            // None: deleted since the page was read, and so not in the dump
            if let Some(password_hash) = store.password_hash(user.id).await? {
                lines.write(&Record::User { user: user.clone(), password_hash }).await?;
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE => query.after = Some(User::fold(&last.username)),
            _ => break,
        }
    }

    let mut after = None;
    loop {
        let page = store.sessions(after, PAGE).await?;
        after = page.last().map(|session| session.token_hash);
        let full = page.len() == PAGE;
        for session in page {
            lines.write(&Record::Session { session }).await?;
        }
        if !full {
            break;
        }
    }

    let mut after = None;
    loop {
        let page = store.account_tokens(after, PAGE).await?;
        after = page.last().map(|token| token.token_hash);
        let full = page.len() == PAGE;
        for token in page {
            lines.write(&Record::AccountToken { token }).await?;
        }
        if !full {
            break;
        }
    }

    let mut after = None;
    loop {
        let page = store.conversations(after, PAGE).await?;
        after = page.last().map(|conversation| conversation.id);
        let full = page.len() == PAGE;
        for conversation in page {
            let id = conversation.id;
            lines.write(&Record::Conversation { conversation }).await?;
            let mut seq = Seq::ZERO;
            loop {
                let messages = store.history(id, HistoryPage::After(seq), PAGE).await?;
                let full = messages.len() == PAGE;
                for message in messages {
                    seq = message.seq;
                    lines.write(&Record::Message { message }).await?;
                }
                if !full {
                    break;
                }
            }
            let mut receipts = store.receipts(id).await?;
            receipts.sort_unstable_by_key(|receipt| receipt.user);
            for receipt in receipts {
                lines.write(&Record::Receipt { receipt }).await?;
            }
        }
        if !full {
            break;
        }
    }

    let mut after = None;
    loop {
        let page = store.attachments_after(after, PAGE).await?;
        after = page.last().map(|attachment| attachment.meta.id);
        let full = page.len() == PAGE;
        for attachment in page {
            lines.write(&Record::Attachment { attachment }).await?;
        }
        if !full {
            break;
        }
    }

    let mut before = None;
    loop {
        let page = store.audit_log(before, PAGE).await?;
        before = page.last().map(|entry| entry.id);
        let full = page.len() == PAGE;
        for entry in page {
            lines.write(&Record::Audit { entry }).await?;
        }
        if !full {
            break;
        }
    }

    let mut before = None;
    loop {
        let page = store.invites(None, before, PAGE).await?;
        before = page.last().map(|invite| invite.id);
        let full = page.len() == PAGE;
        for invite in page {
            lines.write(&Record::Invite { invite }).await?;
        }
        if !full {
            break;
        }
    }

    let mut query = UserQuery { search: None, after: None, limit: PAGE };
    loop {
        let page = store.users(&query).await?;
        for user in &page {
            if let Some(settings) = store.notification_settings(user.id).await? {
                lines.write(&Record::NotificationSettings { user: user.id, settings }).await?;
            }
            for subscription in store.push_subscriptions_of(user.id).await? {
                lines.write(&Record::PushSubscription { subscription }).await?;
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE => query.after = Some(User::fold(&last.username)),
            _ => break,
        }
    }

    for (name, value) in store.server_secrets().await? {
        lines.write(&Record::Secret { name, value }).await?;
    }

    let counts = lines.counts;
    lines.line(&Record::End { records: counts.total() }).await?;
    lines.sink.flush().await?;
    Ok(counts)
}

/// Reads a dump's first line and checks it is a header of this format and version.
///
/// # Errors
/// [`BackupError::Unsupported`] for an empty dump, a first line that is no header, or a dump
/// of another format or version.
pub(crate) fn read_header(input: &mut impl BufRead) -> Result<(), BackupError> {
    let mut text = String::new();
    if input.read_line(&mut text)? == 0 {
        return Err(BackupError::Unsupported("the dump is empty".into()));
    }
    let header: Header = serde_json::from_str(&text)
        .map_err(|error| BackupError::Unsupported(format!("no kanect-dump header on line 1 ({error})")))?;
    if header.format != FORMAT {
        return Err(BackupError::Unsupported(format!("format {:?}, not {FORMAT:?}", header.format)));
    }
    if header.version != VERSION {
        return Err(BackupError::Unsupported(format!(
            "version {} (this build reads version {VERSION})",
            header.version
        )));
    }
    Ok(())
}

/// Replays a dump read from `input` into `store`, which must be empty, and returns what it
/// replayed. Ids, seqs, password hashes and timestamps come out as they were in the dumped
/// store. Reads from `input` block: give it a buffered reader.
///
/// # Errors
/// [`BackupError::NotEmpty`] if the store holds anything; [`BackupError::Unsupported`] for a
/// dump of another format or version; [`BackupError::Line`] for a line that does not parse or
/// that the store refuses, and for a dump without its `end` line (truncated). What was
/// replayed before the error stays in the store: import into a fresh one again.
pub async fn import<S: Store + ?Sized, R: BufRead>(store: &S, mut input: R) -> Result<Counts, BackupError> {
    read_header(&mut input)?;
    refuse_non_empty(store).await?;
    let mut text = String::new();

    let mut counts = Counts::default();
    let mut line = 1;
    loop {
        text.clear();
        line += 1;
        if input.read_line(&mut text)? == 0 {
            return Err(BackupError::Line { line, reason: "the dump ends without its end record (truncated?)".into() });
        }
        let at = |reason: String| BackupError::Line { line, reason };
        let record: Record = serde_json::from_str(&text).map_err(|error| at(format!("not a dump record: {error}")))?;
        if let Record::End { records } = record {
            if records != counts.total() {
                return Err(at(format!("the end record counts {records} records, the dump has {}", counts.total())));
            }
            text.clear();
            if input.read_line(&mut text)? != 0 {
                return Err(BackupError::Line { line: line + 1, reason: "a line after the end record".into() });
            }
            return Ok(counts);
        }
        replay(store, &record).await.map_err(at)?;
        counts.count(&record);
    }
}

/// Fails unless the store is empty: no users, conversations, messages, sessions, attachments or
/// audit log.
async fn refuse_non_empty<S: Store + ?Sized>(store: &S) -> Result<(), BackupError> {
    let stats = store.stats().await?;
    if stats.users + stats.conversations + stats.messages > 0 {
        return Err(BackupError::NotEmpty(format!(
            "{} users, {} conversations, {} messages",
            stats.users, stats.conversations, stats.messages
        )));
    }
    if !store.sessions(None, 1).await?.is_empty() {
        return Err(BackupError::NotEmpty("sessions".into()));
    }
    if !store.account_tokens(None, 1).await?.is_empty() {
        return Err(BackupError::NotEmpty("account tokens".into()));
    }
    if !store.attachments_after(None, 1).await?.is_empty() {
        return Err(BackupError::NotEmpty("attachments".into()));
    }
    if !store.audit_log(None, 1).await?.is_empty() {
        return Err(BackupError::NotEmpty("an audit log".into()));
    }
    if !store.invites(None, None, 1).await?.is_empty() {
        return Err(BackupError::NotEmpty("invites".into()));
    }
    Ok(())
}

/// Writes one record into the store through its traits; the error says why it could not.
async fn replay<S: Store + ?Sized>(store: &S, record: &Record) -> Result<(), String> {
    let failed = |error: StoreError| format!("the store refused it: {error}");
    match record {
        Record::User { user, password_hash } => {
            store.insert_user(user, password_hash).await.map_err(failed)?;
            // A backend may not take every field from the record it inserts: set those that
            // change later through the calls that change them.
            let Some(stored) = store.user(user.id).await.map_err(failed)? else {
                return Err("the user is not in the store after its insert".into());
            };
            let mut updates = Vec::new();
            if stored.role != user.role {
                updates.push(UserUpdate::Role(user.role));
            }
            if stored.disabled != user.disabled {
                updates.push(UserUpdate::Disabled(user.disabled));
            }
            if let Some(at) = user.last_seen.filter(|&at| stored.last_seen != Some(at)) {
                updates.push(UserUpdate::LastSeen(at));
            }
            if stored.email != user.email {
                updates.push(UserUpdate::Email(user.email.clone()));
            }
            if let Some(address) = user.email.clone().filter(|_| user.email_verified && !stored.email_verified) {
                updates.push(UserUpdate::EmailVerified(address));
            }
            if stored.digests_off != user.digests_off {
                updates.push(UserUpdate::DigestsOff(user.digests_off));
            }
            if let Some(at) = user.digested_at.filter(|&at| stored.digested_at != Some(at)) {
                updates.push(UserUpdate::DigestedAt(at));
            }
            if stored.status != user.status {
                updates.push(UserUpdate::Status(user.status.clone()));
            }
            if stored.avatar != user.avatar {
                updates.push(UserUpdate::Avatar(user.avatar));
            }
            for update in updates {
                store.update_user(user.id, update).await.map_err(failed)?;
            }
        }
        Record::Session { session } => store.insert_session(session).await.map_err(failed)?,
        // A user keeps one token per purpose, the newest: of several in a backup of an older
        // build's store, the older ones are dropped.
        Record::AccountToken { token } => drop(store.put_account_token(token).await.map_err(failed)?),
        Record::Conversation { conversation } => {
            if !store.insert_conversation(conversation).await.map_err(failed)? {
                return Err(format!("conversation {} twice", conversation.id));
            }
        }
        Record::Message { message } => {
            let new = NewMessage {
                conversation: message.conversation,
                sender: message.sender,
                body: message.body.clone(),
                client_id: message.client_id.clone(),
                sent_at: message.sent_at,
                attachments: message.attachments.clone(),
                reply_to: message.reply_to,
                mentions: message.mentions.clone(),
                event: message.event.clone(),
            };
            let stored = match store.append_message(new).await.map_err(failed)? {
                Appended::Created(stored) => stored,
                Appended::Duplicate(_) => return Err(format!("message {} twice", message.id)),
            };
            if stored.seq != message.seq || stored.id != message.id {
                return Err(format!(
                    "message {} has seq {}, but its conversation's next seq is {} (messages missing or out of order)",
                    message.id, message.seq, stored.seq
                ));
            }
            let edited = stored.edited_at != message.edited_at || stored.deleted != message.deleted;
            if edited && !store.replace_message(message).await.map_err(failed)? {
                return Err(format!("message {} is not in the store after its append", message.id));
            }
            // Reactions one by one, through the rule every store applies, in the dump's order.
            for reaction in &message.reactions {
                for &user in &reaction.users {
                    let change = ReactionChange { user, emoji: reaction.emoji.clone(), add: true };
                    match store.react(message.conversation, message.seq, message.id, &change).await.map_err(failed)? {
                        Reacted::Changed(_) => {}
                        other => return Err(format!("message {}: reaction not restored ({other:?})", message.id)),
                    }
                }
            }
        }
        Record::Receipt { receipt } => {
            let moves = [(ReceiptKind::Read, receipt.read), (ReceiptKind::Delivered, receipt.delivered)];
            for (kind, seq) in moves {
                if seq > Seq::ZERO {
                    store.advance_receipt(receipt.conversation, receipt.user, kind, seq).await.map_err(failed)?;
                }
            }
        }
        Record::Attachment { attachment } => store.insert_attachment(attachment).await.map_err(failed)?,
        Record::Audit { entry } => store.append_audit(entry).await.map_err(failed)?,
        Record::Invite { invite } => store.insert_invite(invite).await.map_err(failed)?,
        Record::NotificationSettings { user, settings } => {
            store.put_notification_settings(*user, settings).await.map_err(failed)?
        }
        Record::PushSubscription { subscription } => {
            store.insert_push_subscription(subscription).await.map_err(failed)?
        }
        Record::Secret { name, value } => {
            if store.init_server_secret(name, value).await.map_err(failed)? != *value {
                return Err(format!("the store has another secret {name:?} already"));
            }
        }
        Record::End { .. } => return Err("an end record in the middle of the dump".into()),
    }
    Ok(())
}
