//! [`TantivyIndex`]: message search for the embedded stores, a tantivy index in a directory
//! of its own (the server's `<data-dir>/search`).
//!
//! # Off the send path
//!
//! The engine hands every change (a message stored, edited, deleted) to
//! [`SearchIndex::update`], which puts it on a bounded queue and returns: a send never waits
//! for the index. One indexer thread owns tantivy's writer: it applies changes as they come
//! (each replaces the message's document, found by its id; a deleted message keeps a
//! document without words, a tombstone, so that the index has one document per stored
//! message), commits every few seconds (or after a large batch, or when
//! [`SearchIndex::flush`] asks), and reloads the reader that searches use. A search runs on
//! tokio's blocking threads.
//!
//! The indexer (and tantivy's own threads, which it starts) runs at the lowest CPU priority:
//! indexing takes the CPU that sends and deliveries leave. Under a load that saturates the
//! machine it falls behind instead of slowing the sends: its queue fills, changes are dropped,
//! and they are caught up from the store once the load eases (below). Search results lag
//! meanwhile; they are never wrong (the engine's check).
//!
//! # Catching up, and why no hit is lost or ghosted
//!
//! The store is the truth; the index is derived from it and may be behind: it was just
//! created or deleted, written by another format version, stopped uncleanly (what was handed
//! to it since its last commit is gone), or its queue was full (a change was dropped). Each
//! case is repaired by a catch-up pass, run by the indexer thread between live changes (so it
//! blocks neither the start nor the sends), one page of one conversation at a time:
//!
//! - **Messages it misses.** Every conversation of the store is compared with the index: a
//!   conversation has messages 1..=`last_seq`, the index one document per message it has seen,
//!   so a conversation whose count of documents is its `last_seq` is complete (ids are unique:
//!   every write deletes the id's document first), and one that is not is read from the store
//!   and its missing seqs written. This runs at every start, for every conversation.
//! - **Edits and deletions it may have lost.** These leave the count unchanged, so they are
//!   caught by a marker in the commit payload: the index is marked *dirty* (committed with
//!   `"clean": false`) when it opens, before the engine can hand it anything, and marked
//!   *clean* only by the commit that ends a clean close (every change handed was applied, no
//!   change was dropped, no full pass is pending). An index that opens dirty, or that dropped a
//!   change from a full queue, makes a full pass: every stored message's version (`edited_at`,
//!   and whether it is deleted) is compared with its document's, and every difference
//!   rewritten from the store. A queue that drops only new messages needs only the pass over
//!   missing seqs.
//! - **Meanwhile**, searches are still right, if not complete: the engine checks each hit
//!   against the store and drops one that is deleted or whose version differs (handing the
//!   index the stored message again). So a message deleted or edited while the index was
//!   behind is never found by its old words (no ghost), and once the pass is done every
//!   stored message is found by its words now (no loss).
//!
//! A pass reads the store after the changes it may overwrite were stored, and a live change
//! handed after the pass read the message comes after it on the one queue: the last write of
//! a message's document is never older than what the store had when it was handed.
//!
//! # On disk
//!
//! Never synced: the index is derived data, and syncing it would slow the store's own syncs,
//! which durable sends wait for (module `directory`).
//!
//! tantivy's files and its `meta.json`, whose commit payload is this module's
//! `{"format":1,"clean":bool}`. An index of another format, or one tantivy cannot open, is
//! deleted and rebuilt from the store (it is derived data). Words are
//! [`tokens`](kanect_core::search::tokens): runs of
//! letters and digits, lower-cased, no stemming (tantivy's `SimpleTokenizer`, `LowerCaser`
//! and a length filter, which split exactly so); positions are kept for phrases. Scores are
//! tantivy's BM25.

mod directory;
mod indexer;
mod query;

use indexer::{Indexer, Job};
use kanect_core::search::{IndexPage, IndexQuery, SearchIndex};
use kanect_core::{Message, Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STRING};
use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};
use tantivy::{Index, IndexReader, ReloadPolicy};

/// The format written in the commit payload; another is rebuilt.
const FORMAT: u32 = 1;
/// The tokenizer's name in the index.
const TOKENIZER: &str = "kanect";

/// How a [`TantivyIndex`] works. `TantivyConfig::default()` suits a server.
#[derive(Clone, Debug)]
pub struct TantivyConfig {
    /// Changes queued for the indexer; past it a change is dropped and a full catch-up pass
    /// is made instead (a send never waits). Default 65,536.
    pub queue: usize,
    /// How long an applied change may wait for its commit (the delay before a search finds
    /// it). Default 5 s: each commit writes a segment that merges write again, and that
    /// writing competes with the store's syncs, which durable sends wait for (measured in
    /// benches/README.md, "Search"); a search a few seconds behind the sends is the price.
    pub commit_interval: Duration,
    /// Changes that make a commit at once. Default 200,000.
    pub commit_batch: usize,
    /// tantivy's indexing memory. Default 64 MB.
    pub writer_memory: usize,
}

impl Default for TantivyConfig {
    fn default() -> Self {
        TantivyConfig {
            queue: 65_536,
            commit_interval: Duration::from_secs(5),
            commit_batch: 200_000,
            writer_memory: 64 << 20,
        }
    }
}

/// The fields of a message's document.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields {
    /// The message id, as text: the term a write deletes the old document by.
    pub(crate) id: Field,
    /// The id as two halves, fast: read for each hit.
    pub(crate) id_hi: Field,
    pub(crate) id_lo: Field,
    /// The conversation as text: the membership filter's terms.
    pub(crate) conversation: Field,
    /// The conversation as two halves, fast: the hit's key, and the catch-up's per-conversation
    /// reading.
    pub(crate) conversation_hi: Field,
    pub(crate) conversation_lo: Field,
    /// The sender as text: the sender filter.
    pub(crate) sender: Field,
    /// Milliseconds, indexed and fast: the date filter and the newest-first rank.
    pub(crate) sent_at: Field,
    /// Fast: the key, and which seqs the index has.
    pub(crate) seq: Field,
    /// `edited_at` (0: never), fast: the version the engine checks hits against.
    pub(crate) version: Field,
    /// 1 for a tombstone, fast: what the full pass compares.
    pub(crate) deleted: Field,
    /// The words, with positions (phrases).
    pub(crate) body: Field,
}

impl Fields {
    fn schema() -> (Schema, Fields) {
        let mut builder = Schema::builder();
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let fields = Fields {
            id: builder.add_text_field("id", STRING),
            id_hi: builder.add_u64_field("id_hi", FAST),
            id_lo: builder.add_u64_field("id_lo", FAST),
            conversation: builder.add_text_field("conversation", STRING),
            conversation_hi: builder.add_u64_field("conversation_hi", FAST),
            conversation_lo: builder.add_u64_field("conversation_lo", FAST),
            sender: builder.add_text_field("sender", STRING),
            sent_at: builder.add_u64_field("sent_at", INDEXED | FAST),
            seq: builder.add_u64_field("seq", FAST),
            version: builder.add_u64_field("version", FAST),
            deleted: builder.add_u64_field("deleted", FAST),
            body: builder.add_text_field("body", TextOptions::default().set_indexing_options(indexing)),
        };
        (builder.build(), fields)
    }

    /// The fields of an index of this format.
    fn of(schema: &Schema) -> Option<Fields> {
        let (expected, fields) = Fields::schema();
        (*schema == expected).then_some(fields)
    }
}

/// The tokenizer: what [`tokens`](kanect_core::search::tokens) does (alphanumeric runs, lower-cased, none over 100 bytes).
fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(kanect_core::search::TOKEN_MAX_BYTES + 1))
        .filter(LowerCaser)
        .build()
}

/// What the commit payload says.
#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Eq)]
pub(crate) struct Payload {
    pub(crate) format: u32,
    pub(crate) clean: bool,
}

/// A message search index on tantivy, in a directory of its own (see the module docs).
/// Cheap to share (`Arc`); the last handle dropped closes it cleanly, as
/// [`TantivyIndex::close`] does.
pub struct TantivyIndex {
    jobs: SyncSender<Job>,
    reader: IndexReader,
    fields: Fields,
    /// What was dropped from a full queue: the indexer catches up from the store.
    dropped: Arc<Dropped>,
    /// The indexer thread, joined by `close`.
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    path: PathBuf,
}

impl std::fmt::Debug for TantivyIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TantivyIndex").field("path", &self.path).finish_non_exhaustive()
    }
}

fn backend(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::backend(error)
}

impl TantivyIndex {
    /// Opens the index in `path` (creating it, or rebuilding one of another format) with the
    /// default [`TantivyConfig`], and marks it dirty until it is closed cleanly. It catches up
    /// with the store once the engine starts it
    /// ([`ChatBuilder::search`](kanect_core::ChatBuilder::search)).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the directory cannot be created or written, or another
    /// index holds it.
    pub fn open(path: impl AsRef<Path>) -> Result<TantivyIndex, StoreError> {
        Self::open_with(path, TantivyConfig::default())
    }

    /// As [`TantivyIndex::open`], with `config`.
    ///
    /// # Errors
    /// As [`TantivyIndex::open`].
    pub fn open_with(path: impl AsRef<Path>, config: TantivyConfig) -> Result<TantivyIndex, StoreError> {
        let path = path.as_ref().to_path_buf();
        let (index, fields, full) = open_or_rebuild(&path)?;
        index.tokenizers().register(TOKENIZER, analyzer());
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(backend)?;
        let (jobs, queue) = sync_channel(config.queue.max(1));
        let dropped = Arc::new(Dropped::default());
        let (opened, writer_opened) = sync_channel(1);
        let thread = {
            let (reader, dropped) = (reader.clone(), dropped.clone());
            std::thread::Builder::new()
                .name("kanect-search".into())
                .spawn(move || {
                    lowest_priority();
                    // Made on this thread, so that tantivy's indexing and merging threads
                    // inherit its priority.
                    let writer =
                        index.writer_with_num_threads(1, config.writer_memory.max(15 << 20)).and_then(|mut writer| {
                            // Dirty from now until a clean close: whatever is handed from here on
                            // may be lost.
                            indexer::commit(&mut writer, false)?;
                            Ok(writer)
                        });
                    let writer = match writer {
                        Ok(writer) => {
                            let _ = opened.send(Ok(()));
                            writer
                        }
                        Err(error) => {
                            let _ = opened.send(Err(error));
                            return;
                        }
                    };
                    Indexer::new(writer, reader, fields, queue, dropped, full, config).run();
                })
                .map_err(backend)?
        };
        match writer_opened.recv() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(backend(error)),
            Err(_) => return Err(closed()),
        }
        Ok(TantivyIndex { jobs, reader, fields, dropped, thread: Mutex::new(Some(thread)), path })
    }

    /// Applies every change handed so far, commits, marks the index clean (unless a pass is
    /// pending) and stops its thread: for a graceful shutdown. Later changes are ignored,
    /// searches still answer from what is committed.
    pub fn close(&self) {
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = self.jobs.send(Job::Close);
            let _ = thread.join();
        }
    }

    /// Stops the indexer thread without applying what is queued or committing: as a crash
    /// would leave the index (tests of catching up).
    #[doc(hidden)]
    pub fn abandon(&self) {
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = self.jobs.send(Job::Abandon);
            let _ = thread.join();
        }
    }

    /// Waits until the catch-up pass, if one runs, is done and committed (tests, benchmarks).
    ///
    /// # Errors
    /// As [`SearchIndex::flush`].
    pub async fn caught_up(&self) -> Result<(), StoreError> {
        loop {
            let (done, rx) = tokio::sync::oneshot::channel();
            self.send_blocking(Job::CaughtUp(done)).await?;
            match rx.await {
                Ok(Ok(true)) => return Ok(()),
                Ok(Ok(false)) => tokio::time::sleep(Duration::from_millis(20)).await,
                Ok(Err(error)) => return Err(StoreError::Backend(error.into())),
                Err(_) => return Err(closed()),
            }
        }
    }

    /// Puts a job on the queue, waiting for room (off the async threads).
    async fn send_blocking(&self, job: Job) -> Result<(), StoreError> {
        let jobs = self.jobs.clone();
        tokio::task::spawn_blocking(move || jobs.send(job).map_err(|_| closed())).await.map_err(backend)?
    }
}

/// What a full queue made [`SearchIndex::update`] drop, for the indexer to catch up.
#[derive(Debug, Default)]
pub(crate) struct Dropped {
    /// A new message: a pass over missing seqs finds it.
    pub(crate) appends: AtomicBool,
    /// An edit or a deletion: a full pass (versions compared) is due.
    pub(crate) changes: AtomicBool,
}

/// Puts the calling thread (and the threads it starts) at the lowest CPU priority (nice 19):
/// indexing uses the CPU that sends and deliveries leave, and under a saturating load it falls
/// behind (its queue fills, changes are dropped and caught up from the store once the load
/// eases) rather than slowing the sends.
fn lowest_priority() {
    let thread = rustix::thread::gettid();
    if let Err(error) = rustix::process::setpriority_process(Some(thread), 19) {
        tracing::debug!(%error, "search indexer: cannot lower its priority");
    }
}

fn closed() -> StoreError {
    StoreError::Backend("the search index is closed".into())
}

/// Opens the index at `path`, or creates it (deleting one of another format or one that does
/// not open): the index, its fields, and whether a full pass is due (new, or not clean).
fn open_or_rebuild(path: &Path) -> Result<(Index, Fields, bool), StoreError> {
    if path.join("meta.json").exists() {
        match directory::NoSync::open(path).and_then(Index::open) {
            Ok(index) => {
                let payload = index
                    .load_metas()
                    .ok()
                    .and_then(|metas| metas.payload)
                    .and_then(|payload| serde_json::from_str::<Payload>(&payload).ok());
                match (Fields::of(&index.schema()), payload) {
                    (Some(fields), Some(payload)) if payload.format == FORMAT => {
                        return Ok((index, fields, !payload.clean))
                    }
                    _ => tracing::warn!(path = %path.display(), "search index of another format: rebuilding it"),
                }
            }
            Err(error) => tracing::warn!(%error, path = %path.display(), "search index does not open: rebuilding it"),
        }
        std::fs::remove_dir_all(path).map_err(backend)?;
    }
    std::fs::create_dir_all(path).map_err(backend)?;
    let (schema, fields) = Fields::schema();
    let directory = directory::NoSync::open(path).map_err(backend)?;
    let index = Index::create(directory, schema, tantivy::IndexSettings::default()).map_err(backend)?;
    Ok((index, fields, true))
}

impl Drop for TantivyIndex {
    fn drop(&mut self) {
        self.close();
    }
}

#[async_trait::async_trait]
impl SearchIndex for TantivyIndex {
    fn update(&self, message: &Message) {
        match self.jobs.try_send(Job::Update(Box::new(message.clone()))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                // A new message is found again by the pass over missing seqs; an edit or a
                // deletion only by a full pass.
                let flag = match message.edited_at.is_none() && !message.deleted {
                    true => &self.dropped.appends,
                    false => &self.dropped.changes,
                };
                if !flag.swap(true, Ordering::AcqRel) {
                    tracing::debug!("search index queue full: a catch-up pass will follow");
                }
            }
            // Closed: the next open catches up.
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    async fn search(&self, query: &IndexQuery) -> Result<IndexPage, StoreError> {
        let searcher = self.reader.searcher();
        let fields = self.fields;
        let query = query.clone();
        tokio::task::spawn_blocking(move || query::search(&searcher, fields, &query)).await.map_err(backend)?
    }

    async fn flush(&self) -> Result<(), StoreError> {
        let (done, rx) = tokio::sync::oneshot::channel();
        self.send_blocking(Job::Flush(done)).await?;
        match rx.await {
            Ok(result) => result.map_err(|error| StoreError::Backend(error.into())),
            Err(_) => Err(closed()),
        }
    }

    fn start(&self, store: Arc<dyn Store>) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("search index started outside a tokio runtime: it does not catch up");
            return;
        };
        // A job like any other, so a full queue waits here (once, at start) rather than losing it.
        let _ = self.jobs.send(Job::Start(store, handle));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kanect_core::search::tokens;

    #[test]
    fn the_analyzer_splits_as_the_core_does() {
        let mut analyzer = analyzer();
        for text in ["Grüße aus MÜNCHEN, 東京 😀 e-mail x_y 42", &format!("a {} b", "z".repeat(101)), &"y".repeat(100)]
        {
            let mut stream = analyzer.token_stream(text);
            let mut words = Vec::new();
            while let Some(token) = stream.next() {
                words.push(token.text.clone());
            }
            assert_eq!(words, tokens(text), "{text}");
        }
    }
}
