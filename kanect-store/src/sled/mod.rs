//! [`SledStore`]: the embedded default store, on sled 0.34.
//!
//! Every record lives in sled's default tree under the key spaces of [`keys`]. Message
//! appends, the hot path, are not applied by their writer: they are submitted to group
//! commit, which journals a whole group, syncs the journal once and only then inserts the
//! group into sled (see [`commit`] and [`journal`] for why); the stripe keeps them in
//! `Pending` meanwhile so that the next append sees their seq and id. Every other write is one
//! `insert` or one `Batch` (atomic across a crash), decided under an in-process lock that makes
//! its read-check-write atomic, and acknowledged only after group commit has flushed sled.
//! sled holds an exclusive file lock on the directory, so one process owns a store (and its
//! journal) and in-process locks are enough:
//!
//! - per-conversation writes (appends and their seq counter, memberships, receipts, edits)
//!   take one of [`STRIPES`] mutexes chosen by the conversation id, so appends to different
//!   conversations proceed in parallel and still share a journal sync;
//! - account writes (users, usernames, passwords, sessions) take one `accounts` mutex: they
//!   are rare and a single lock keeps a user's deletion and its sessions consistent.
//!
//! Locks are std mutexes held only around synchronous sled calls, never across an `.await`.
//! Reads take no lock (but for a conversation record, read through its stripe's cache) and
//! may see a direct write a moment before it is durable (between its apply and its flush);
//! only a write's return is a promise.

mod accounts;
mod commit;
mod conversations;
mod format;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod id_filter;
mod journal;
mod keys;
mod message_codec;
mod messages;

pub use commit::GroupCommitStats;

use commit::{GroupCommit, Policy};
use conversations::{ConversationCache, Unflushed};
use format::{decode, sled_error};
use id_filter::{IdFilter, IdScan};
use journal::Journal;
use kanect_core::{
    Appended, AuditEntry, AuditId, Conversation, ConversationId, HistoryPage, Message, MessageId, NewMessage, Receipt,
    ReceiptKind, Seq, Session, Store, StoreError, StoreResult, StoreStats, TokenHash, User, UserId, UserQuery,
};
use messages::{Append, Pending};
use serde::de::DeserializeOwned;
use std::fs::File;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How many per-conversation write locks a store has (see the module docs).
const STRIPES: usize = 64;

/// How to open a [`SledStore`]. `SledConfig::new(path)` gives the defaults below.
#[derive(Clone, Debug)]
pub struct SledConfig {
    /// The store's directory; created if missing.
    pub path: PathBuf,
    /// sled's page cache, in bytes. Default 64 MiB: sled's own default (1 GiB) is too much
    /// for an embedded default, and the process's real memory can be several times it.
    pub cache_capacity: u64,
    /// Group commit: the most appends one journal sync takes (the rest wait for the next).
    /// Default 1024. A group is whoever waits when the previous one is done: there is no
    /// window that waits for company.
    pub group_max: usize,
    /// Start a new journal file, and checkpoint the old one into sled, once the journal
    /// holds this many bytes. Default 8 MiB: it bounds the journal's disk use and the replay
    /// at the next open after a crash (a fraction of a second), and each checkpoint costs
    /// one sled flush. With `fsync`, each journal file is written out at this size (zeros, up
    /// to 64 MiB) before use, so that syncs need not update its size; the next file is made
    /// while the current one fills, so the journal usually takes about three times this much
    /// on disk.
    pub journal_bytes: u64,
    /// `fdatasync` the journal after each group and the database file after each flush, so
    /// acknowledged writes survive power loss and kernel crashes, not only a process crash.
    /// Default true.
    pub fsync: bool,
}

impl SledConfig {
    /// The defaults, for a store in `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SledConfig {
            path: path.into(),
            cache_capacity: 64 * 1024 * 1024,
            group_max: 1024,
            journal_bytes: 8 * 1024 * 1024,
            fsync: true,
        }
    }

    fn policy(&self) -> Policy {
        Policy { max_group: self.group_max.max(1), checkpoint_bytes: self.journal_bytes }
    }
}

/// What a stripe lock guards besides the right to write its conversations.
#[derive(Default)]
struct Stripe {
    /// Appends under way, and each conversation's last seq.
    pending: Pending,
    /// Conversation records as last read or written.
    conversations: ConversationCache,
    /// Conversation records written but perhaps not yet durable.
    unflushed: Unflushed,
}

/// The embedded, durable [`Store`]: a sled database in one directory.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use kanect_core::{Chat, ChatConfig, PasswordCost, Registration};
/// use kanect_store::SledStore;
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("kanect-data");
/// # let config = ChatConfig { password_cost: PasswordCost::INSECURE_FAST, ..Default::default() };
/// let chat = Chat::builder(SledStore::open(&path)?).config(config).build().await?;
/// let alice = chat.register(Registration::new("alice", "correct horse")).await?;
/// let bob = chat.register(Registration::new("bob", "battery staple")).await?;
/// let alice = chat.act_as(alice.id).await?;
/// let direct = chat.open_direct(&alice, bob.id).await?;
/// // Returns once the message is on disk.
/// assert_eq!(chat.send(&alice, direct.id, "c1", "hi bob").await?.seq.0, 1);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// Dropping the store commits what waits, checkpoints (so a clean close leaves an empty
/// journal), stops its threads (commit, checkpoint, and the id scan if it still runs) and
/// releases the directory, so the same path can be opened again right after.
pub struct SledStore {
    db: sled::Db,
    commit: GroupCommit,
    /// Per-conversation write locks, by `stripe`.
    stripes: Box<[Mutex<Stripe>]>,
    /// Serialises account writes (see the module docs).
    accounts: Mutex<()>,
    /// Every message id in the store, so that a new message skips the resend lookup.
    ids: Arc<IdFilter>,
    /// Fills `ids` with the ids stored before the open.
    _id_scan: IdScan,
    /// The directory of a [`SledStore::temporary`] store (sled's files and the journal).
    /// Declared last, so it is deleted after group commit and the id scan have stopped and
    /// the last handle on sled is gone.
    temporary: Option<TemporaryDir>,
}

/// A directory deleted on drop.
struct TemporaryDir(PathBuf);

impl TemporaryDir {
    /// A fresh directory in memory (`/dev/shm`, as sled's own temporary mode uses) where
    /// there is one, else in the system's temporary directory.
    fn create() -> Result<TemporaryDir, StoreError> {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
        let path = base.join(format!("kanect-store-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&path).map_err(StoreError::backend)?;
        Ok(TemporaryDir(path))
    }
}

impl Drop for TemporaryDir {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!(%error, dir = %self.0.display(), "cannot delete a temporary store's directory");
        }
    }
}

impl SledStore {
    /// Opens (or creates) the store in `path` with the default [`SledConfig`].
    ///
    /// Callable outside a tokio runtime: group commit runs on std threads.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the directory cannot be created, opened or locked (another
    /// process, or another `SledStore` in this one, has it open);
    /// [`StoreError::Format`] if it holds a newer format or data that is not a Kanect store;
    /// [`StoreError::Corrupt`] if sled finds it (or a journal record) corrupt.
    pub fn open(path: impl AsRef<Path>) -> Result<SledStore, StoreError> {
        Self::open_with(SledConfig::new(path.as_ref()))
    }

    /// Opens (or creates) the store described by `config`.
    ///
    /// # Errors
    /// As [`SledStore::open`].
    pub fn open_with(config: SledConfig) -> Result<SledStore, StoreError> {
        std::fs::create_dir_all(&config.path).map_err(StoreError::backend)?;
        let db = open_db(sled::Config::new().path(&config.path).cache_capacity(config.cache_capacity))?;
        let sync = if config.fsync {
            // sled keeps everything but large blobs in `db`; Kanect's records are far below
            // sled's blob threshold.
            // The directory entries of a fresh store are made durable by `recover`.
            Some(File::open(config.path.join("db")).map_err(StoreError::backend)?)
        } else {
            None
        };
        format::check_version(&db)?;
        let journal = recover(&db, sync.as_ref(), &config.path, config.journal_bytes)?;
        Self::start(db, sync, journal, config.policy())
    }

    /// A store in a temporary directory (in memory where `/dev/shm` exists) that is deleted
    /// when the store is dropped, for tests. It is opened as any store is, and writes go
    /// through the journal and group commit, but the journal is never synced.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the temporary directory cannot be created.
    pub fn temporary() -> Result<SledStore, StoreError> {
        let dir = TemporaryDir::create()?;
        let mut store = Self::open_with(SledConfig { fsync: false, ..SledConfig::new(&dir.0) })?;
        store.temporary = Some(dir);
        Ok(store)
    }

    fn start(db: sled::Db, sync: Option<File>, journal: Journal, policy: Policy) -> Result<SledStore, StoreError> {
        let ids = Arc::new(IdFilter::default());
        let id_scan = IdScan::start(db.clone(), keys::all_message_ids(), ids.clone())?;
        let commit = GroupCommit::start(db.clone(), sync, journal, policy)?;
        let stripes = (0..STRIPES).map(|_| Mutex::new(Stripe::default())).collect();
        Ok(SledStore { db, commit, stripes, accounts: Mutex::new(()), ids, _id_scan: id_scan, temporary: None })
    }

    /// How group commit has done so far: groups, the writes they acknowledged, checkpoints.
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        self.commit.stats()
    }

    /// The write lock of `conversation`.
    fn stripe(&self, conversation: ConversationId) -> MutexGuard<'_, Stripe> {
        // The last UUID byte is random for v7 ids and hash output for direct ids.
        let index = usize::from(conversation.to_bytes()[15]) % self.stripes.len();
        // A stripe's maps are updated only after the fallible steps of a write, by inserts and
        // removes that do not panic: a poisoned stripe still holds consistent data.
        self.stripes[index].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The account write lock.
    fn accounts(&self) -> MutexGuard<'_, ()> {
        // Guards no data of its own: a panic under it leaves nothing half-written in memory,
        // and sled batches are all-or-nothing.
        self.accounts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get_raw(&self, key: &[u8]) -> StoreResult<Option<sled::IVec>> {
        self.db.get(key).map_err(sled_error)
    }

    fn get<T: DeserializeOwned>(&self, what: &str, key: &[u8]) -> StoreResult<Option<T>> {
        self.get_raw(key)?.map(|bytes| decode(what, key, &bytes)).transpose()
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> StoreResult<()> {
        self.db.insert(key, value).map(drop).map_err(sled_error)
    }

    fn apply(&self, batch: sled::Batch) -> StoreResult<()> {
        self.db.apply_batch(batch).map_err(sled_error)
    }

    /// Every key with `prefix`, in order.
    fn keys_with(&self, prefix: &[u8]) -> impl Iterator<Item = StoreResult<sled::IVec>> {
        self.db.scan_prefix(prefix).keys().map(|key| key.map_err(sled_error))
    }

    /// Every (key, value) with `prefix`, in order.
    fn entries_with(&self, prefix: &[u8]) -> impl DoubleEndedIterator<Item = StoreResult<(sled::IVec, sled::IVec)>> {
        self.db.scan_prefix(prefix).map(|entry| entry.map_err(sled_error))
    }

    /// Entries from `start` (excluded) to the end of `prefix`'s key space.
    fn entries_after(
        &self,
        prefix: &[u8],
        start: Vec<u8>,
    ) -> impl DoubleEndedIterator<Item = StoreResult<(sled::IVec, sled::IVec)>> {
        use std::ops::Bound::{Excluded, Unbounded};
        let iter = match keys::prefix_end(prefix) {
            Some(end) => self.db.range::<Vec<u8>, _>((Excluded(start), Excluded(end))),
            None => self.db.range::<Vec<u8>, _>((Excluded(start), Unbounded)),
        };
        iter.map(|entry| entry.map_err(sled_error))
    }
}

/// How long `open` keeps retrying a directory whose lock is held: sled's own background
/// thread can keep a just-dropped database of this process alive for a moment, so a reopen
/// right after a drop would otherwise fail now and then. Another process holding it still
/// gets an error, after this wait.
const LOCK_RETRY: Duration = Duration::from_secs(2);

/// Brings sled up to date with the journal of the store at `path` after the last run (a crash
/// leaves groups there that sled may not have), makes the result durable, deletes the
/// replayed files, and starts the next journal file (of `file_bytes`). With `sync` (sled's
/// file, to sync after a flush), also makes the directory entries of the store durable.
fn recover(db: &sled::Db, sync: Option<&File>, path: &Path, file_bytes: u64) -> Result<Journal, StoreError> {
    let dir = journal::dir(path);
    let replayed = journal::replay(&dir, db)?;
    // Also when nothing was replayed: the format version of a fresh store must be durable.
    commit::flush(db, sync).map_err(StoreError::backend)?;
    if replayed.records > 0 {
        let (records, restored, torn_files) = (replayed.records, replayed.restored, replayed.torn);
        tracing::info!(records, restored, torn_files, "replayed the journal");
    }
    if let Err(error) = journal::remove(&dir, replayed.last_file) {
        // Replaying them again at the next open is harmless; the new file numbers follow them.
        tracing::warn!(%error, "cannot delete replayed journal files");
    }
    let options = journal::Options { fsync: sync.is_some(), file_bytes };
    let journal = Journal::create(&dir, replayed.last_file + 1, options).map_err(StoreError::backend)?;
    if sync.is_some() {
        // The entries of sled's files and of `journal/` (which a crashed run may have created
        // without syncing it).
        journal::sync_dir(path).map_err(StoreError::backend)?;
    }
    Ok(journal)
}

/// Opens sled, turning a panic inside it (seen on some damaged files) into an error.
fn open_db(config: sled::Config) -> Result<sled::Db, StoreError> {
    // Group commit does all flushing (see `commit`): sled's own timer flush would only add
    // flushes that acknowledge nothing and stall the journal's inserts.
    let config = config.flush_every_ms(None).mode(sled::Mode::HighThroughput);
    let started = std::time::Instant::now();
    loop {
        match catch_unwind(AssertUnwindSafe(|| config.open())) {
            Ok(Err(error)) if is_lock_held(&error) && started.elapsed() < LOCK_RETRY => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(result) => return result.map_err(sled_error),
            Err(_) => return Err(StoreError::Corrupt("sled panicked while opening the database".into())),
        }
    }
}

/// sled reports a held directory lock only as an I/O error whose text says so.
fn is_lock_held(error: &sled::Error) -> bool {
    matches!(error, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

#[async_trait::async_trait]
impl Store for SledStore {
    async fn insert_user(&self, user: &User, password_hash: &str) -> StoreResult<()> {
        self.insert_user_now(user, password_hash)?;
        self.commit.durable().await
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.get("user", &keys::user(id))
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        self.user_by_username_now(username)
    }

    async fn update_user(&self, user: &User) -> StoreResult<bool> {
        let updated = self.update_user_now(user)?;
        self.durable_if(updated).await
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        let deleted = self.delete_user_now(id)?;
        self.durable_if(deleted).await
    }

    async fn password_hash(&self, id: UserId) -> StoreResult<Option<String>> {
        let key = keys::password(id);
        self.get_raw(&key)?.map(|bytes| format::decode_text("password hash", &key, &bytes)).transpose()
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<bool> {
        let set = self.set_password_hash_now(id, hash)?;
        self.durable_if(set).await
    }

    async fn users(&self, query: &UserQuery) -> StoreResult<Vec<User>> {
        self.users_now(query)
    }

    async fn insert_session(&self, session: &Session) -> StoreResult<()> {
        self.insert_session_now(session)?;
        self.commit.durable().await
    }

    async fn session(&self, token_hash: &TokenHash) -> StoreResult<Option<Session>> {
        self.get("session", &keys::session(token_hash))
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> StoreResult<bool> {
        let deleted = self.delete_session_now(token_hash)?;
        self.durable_if(deleted).await
    }

    async fn delete_sessions_of(&self, user: UserId) -> StoreResult<u64> {
        let count = self.delete_sessions_of_now(user)?;
        self.durable_if(count > 0).await?;
        Ok(count)
    }

    async fn insert_conversation(&self, conversation: &Conversation) -> StoreResult<bool> {
        let inserted = self.insert_conversation_now(conversation)?;
        // Also when it existed: "it exists" may be about another writer's record that is
        // still on its way to the disk, and callers act on the answer.
        self.commit.durable().await?;
        Ok(inserted)
    }

    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        let mut stripe = self.stripe(id);
        self.cached_conversation(&mut stripe, id)
    }

    async fn add_member(&self, id: ConversationId, user: UserId) -> StoreResult<Option<Conversation>> {
        let updated = self.add_member_now(id, user)?;
        self.durable_if(updated.is_some()).await?;
        Ok(updated)
    }

    async fn remove_member(&self, id: ConversationId, user: UserId) -> StoreResult<Option<Conversation>> {
        let (updated, changed) = self.remove_member_now(id, user)?;
        self.durable_if(changed).await?;
        Ok(updated)
    }

    async fn set_conversation_details(
        &self,
        id: ConversationId,
        name: Option<String>,
        owner: Option<UserId>,
    ) -> StoreResult<Option<Conversation>> {
        let updated = self.set_details_now(id, name, owner)?;
        self.durable_if(updated.is_some()).await?;
        Ok(updated)
    }

    async fn conversations_of(&self, user: UserId) -> StoreResult<Vec<ConversationId>> {
        self.conversations_of_now(user)
    }

    async fn conversations(&self, after: Option<ConversationId>, limit: usize) -> StoreResult<Vec<Conversation>> {
        self.conversations_now(after, limit)
    }

    async fn append_message(&self, message: NewMessage) -> StoreResult<Appended> {
        let (appended, after_flush) = match self.append_now(message)? {
            // A duplicate is an acknowledgement too: its original must be durable.
            Append::Duplicate { original, ack, after_flush } => {
                if let Some(ack) = ack {
                    GroupCommit::acknowledged(ack).await?;
                }
                (Appended::Duplicate(original), after_flush)
            }
            Append::Submitted { message, ack, after_flush } => {
                GroupCommit::acknowledged(ack).await?;
                (Appended::Created(message), after_flush)
            }
        };
        if let Some(flush) = after_flush {
            // The conversation record this send was checked against may not be durable yet:
            // neither is the send until it is (see `conversations`).
            self.commit.flushed(flush).await?;
        }
        Ok(appended)
    }

    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        self.message_now(id)
    }

    async fn replace_message(&self, message: &Message) -> StoreResult<bool> {
        let replaced = self.replace_message_now(message)?;
        self.durable_if(replaced).await
    }

    async fn history(
        &self,
        conversation: ConversationId,
        page: HistoryPage,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        self.history_now(conversation, page, limit)
    }

    async fn last_seq(&self, conversation: ConversationId) -> StoreResult<Seq> {
        self.last_seq_now(conversation)
    }

    async fn advance_receipt(
        &self,
        conversation: ConversationId,
        user: UserId,
        kind: ReceiptKind,
        seq: Seq,
    ) -> StoreResult<Option<Receipt>> {
        let (moved, written) = self.advance_receipt_now(conversation, user, kind, seq)?;
        self.durable_if(written).await?;
        Ok(moved)
    }

    async fn receipts(&self, conversation: ConversationId) -> StoreResult<Vec<Receipt>> {
        self.receipts_now(conversation)
    }

    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        self.insert(&keys::audit(entry.id), format::encode(entry)?)?;
        self.commit.durable().await
    }

    async fn audit_log(&self, before: Option<AuditId>, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        self.audit_log_now(before, limit)
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        self.stats_now()
    }

    async fn flush(&self) -> StoreResult<()> {
        // Appends under way are journaled (and applied) in submission order; direct writes
        // need a sled flush.
        self.commit.appends_applied().await?;
        self.commit.durable().await
    }
}

impl SledStore {
    /// Waits for durability when something was written; passes `changed` through.
    async fn durable_if(&self, changed: bool) -> StoreResult<bool> {
        if changed {
            self.commit.durable().await?;
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests;
