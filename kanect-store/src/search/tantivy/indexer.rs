//! The indexer thread: the one owner of tantivy's writer. It applies live changes, commits
//! them in batches, and between them runs the catch-up pass (see the parent module's docs).

use super::{Dropped, Fields, Payload, TantivyConfig, FORMAT};
use kanect_core::{ConversationId, HistoryPage, Message, Seq, Store};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tantivy::collector::DocSetCollector;
use tantivy::query::TermQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::{IndexReader, IndexWriter, TantivyDocument, Term};

/// What the indexer is asked.
pub(super) enum Job {
    /// A message as stored now.
    Update(Box<Message>),
    /// Commit, then answer.
    Flush(tokio::sync::oneshot::Sender<Result<(), String>>),
    /// Start catching up with this store (reading it on this runtime).
    Start(Arc<dyn Store>, tokio::runtime::Handle),
    /// Answer whether the catch-up pass is done (committing first if it is).
    CaughtUp(tokio::sync::oneshot::Sender<Result<bool, String>>),
    /// Apply what is queued, commit clean, stop.
    Close,
    /// Stop now, committing nothing (as a crash).
    Abandon,
}

/// How often a busy indexer looks at its queue.
const POLL: Duration = Duration::from_millis(10);
/// How long without a change before the indexer waits on its queue instead of polling it.
const IDLE: Duration = Duration::from_secs(1);

/// Messages read from the store at a time.
const PAGE: usize = kanect_core::validate::PAGE_MAX;
/// Conversations listed from the store at a time.
const CONVERSATIONS_PAGE: usize = 100;

/// The indexer's state (the thread's loop is [`Indexer::run`]).
pub(super) struct Indexer {
    writer: IndexWriter,
    reader: IndexReader,
    fields: Fields,
    jobs: Receiver<Job>,
    dropped: Arc<Dropped>,
    config: TantivyConfig,
    /// When the last job came (polling or waiting, see `run`).
    last_job: Instant,
    /// Changes written since the last commit, and when the first of them was.
    pending: usize,
    pending_since: Option<Instant>,
    /// The store, once started.
    store: Option<(Arc<dyn Store>, tokio::runtime::Handle)>,
    /// The catch-up pass under way, if any.
    pass: Option<Pass>,
    /// A full pass is due (dirty at open, or an edit or deletion was dropped), for when the
    /// store is known.
    full_due: bool,
    /// A pass over missing seqs is due (a new message was dropped).
    appends_due: bool,
    /// A full pass has been running since the marker last said clean: until it ends, a close is
    /// not clean.
    full_running: bool,
}

/// A catch-up pass: conversation by conversation, page by page.
struct Pass {
    /// Compare versions too (not only which seqs the index has).
    full: bool,
    /// Conversations listed, not yet done.
    queue: std::collections::VecDeque<ConversationId>,
    /// Where listing the store's conversations goes on; None once every one was listed.
    after: Option<Option<ConversationId>>,
    /// The conversation being read: its id, what the index has of it (seq → version,
    /// deleted), and the seq read up to.
    current: Option<(ConversationId, Indexed, Seq)>,
    /// Documents written by this pass (for the log).
    written: u64,
    started: Instant,
}

type Step = Result<bool, String>;

/// What the index has of one conversation: seq → (version, deleted).
type Indexed = HashMap<u64, (u64, bool)>;

impl Indexer {
    pub(super) fn new(
        writer: IndexWriter,
        reader: IndexReader,
        fields: Fields,
        jobs: Receiver<Job>,
        dropped: Arc<Dropped>,
        full: bool,
        config: TantivyConfig,
    ) -> Indexer {
        Indexer {
            writer,
            reader,
            fields,
            jobs,
            dropped,
            config,
            last_job: Instant::now(),
            pending: 0,
            pending_since: None,
            store: None,
            pass: None,
            full_due: full,
            appends_due: false,
            full_running: full,
        }
    }

    /// The thread's loop: a job when there is one, a step of the pass when there is none,
    /// commits when due.
    pub(super) fn run(mut self) {
        loop {
            if self.dropped.changes.swap(false, Ordering::AcqRel) {
                self.full_due = true;
                self.full_running = true;
            }
            self.appends_due |= self.dropped.appends.swap(false, Ordering::AcqRel);
            if self.pass.is_none() && self.store.is_some() && (self.full_due || self.appends_due) {
                let full = self.full_due;
                (self.full_due, self.appends_due) = (false, false);
                self.begin_pass(full);
            }
            // While changes come, the queue is polled (drained, then a tick's sleep) rather than
            // waited on: a thread waiting on the queue is woken by every send that hands it a
            // change (a system call and a context switch per message on the send path); a
            // polled queue wakes nobody. After a second without a change the thread waits
            // on the queue again, so an idle server does not spin.
            let job = match self.jobs.try_recv() {
                Ok(job) => {
                    self.last_job = Instant::now();
                    Some(job)
                }
                Err(TryRecvError::Disconnected) => return self.close(),
                Err(TryRecvError::Empty) if self.pass.is_some() => None,
                Err(TryRecvError::Empty) if self.last_job.elapsed() < IDLE => {
                    std::thread::sleep(POLL.min(self.wait()));
                    None
                }
                Err(TryRecvError::Empty) => match self.jobs.recv_timeout(self.wait()) {
                    Ok(job) => {
                        self.last_job = Instant::now();
                        Some(job)
                    }
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return self.close(),
                },
            };
            match job {
                Some(Job::Update(message)) => self.write(&message),
                Some(Job::Flush(done)) => {
                    let _ = done.send(self.commit_now());
                }
                Some(Job::Start(store, handle)) => {
                    self.store = Some((store, handle));
                    self.full_due = false;
                    self.begin_pass(self.full_running);
                }
                Some(Job::CaughtUp(done)) => {
                    let idle = self.pass.is_none()
                        && !self.full_due
                        && !self.appends_due
                        && !self.dropped.changes.load(Ordering::Acquire)
                        && !self.dropped.appends.load(Ordering::Acquire);
                    let _ = done.send(self.commit_now().map(|()| idle));
                }
                Some(Job::Close) => return self.close(),
                Some(Job::Abandon) => return,
                None if self.pass.is_some() => {
                    if let Err(error) = self.step() {
                        tracing::warn!(%error, "search index catch-up failed: retrying in a second");
                        let full = self.pass.take().is_some_and(|pass| pass.full);
                        std::thread::sleep(Duration::from_secs(1));
                        self.full_due |= full;
                        self.appends_due = true;
                    }
                }
                None => {}
            }
            if self.pending >= self.config.commit_batch
                || self.pending_since.is_some_and(|since| since.elapsed() >= self.config.commit_interval)
            {
                if let Err(error) = self.commit_now() {
                    tracing::error!(%error, "search index commit failed");
                }
            }
        }
    }

    /// How long to wait for a job: until the pending changes are due, or a while.
    fn wait(&self) -> Duration {
        match self.pending_since {
            Some(since) => self.config.commit_interval.saturating_sub(since.elapsed()),
            None => Duration::from_secs(3600),
        }
    }

    /// Applies what is queued (until a close or abandon), commits, clean if nothing is owed.
    fn close(mut self) {
        while let Ok(job) = self.jobs.try_recv() {
            match job {
                Job::Update(message) => self.write(&message),
                Job::Flush(done) => {
                    let _ = done.send(Ok(()));
                }
                Job::CaughtUp(done) => {
                    let _ = done.send(Ok(false));
                }
                Job::Abandon => return,
                Job::Start(..) | Job::Close => {}
            }
        }
        // Dropped new messages are found at the next start anyway (every start makes the pass
        // over missing seqs); dropped edits and deletions only by a full pass.
        let clean = !self.full_running && !self.full_due && !self.dropped.changes.load(Ordering::Acquire);
        if let Err(error) = commit(&mut self.writer, clean) {
            tracing::error!(%error, "search index: the closing commit failed");
        }
        let _ = self.writer.wait_merging_threads();
    }

    /// Replaces the message's document.
    fn write(&mut self, message: &Message) {
        let fields = self.fields;
        self.writer.delete_term(Term::from_field_text(fields.id, &message.id.to_string()));
        let id = message.id.as_uuid().as_u128();
        let conversation = message.conversation.as_uuid().as_u128();
        let mut doc = TantivyDocument::default();
        doc.add_text(fields.id, message.id.to_string());
        doc.add_u64(fields.id_hi, (id >> 64) as u64);
        doc.add_u64(fields.id_lo, id as u64);
        doc.add_text(fields.conversation, message.conversation.to_string());
        doc.add_u64(fields.conversation_hi, (conversation >> 64) as u64);
        doc.add_u64(fields.conversation_lo, conversation as u64);
        doc.add_text(fields.sender, message.sender.to_string());
        doc.add_u64(fields.sent_at, message.sent_at.0);
        doc.add_u64(fields.seq, message.seq.0);
        doc.add_u64(fields.version, message.edited_at.map_or(0, |t| t.0));
        doc.add_u64(fields.deleted, u64::from(message.deleted));
        if !message.deleted {
            doc.add_text(fields.body, &message.body);
        }
        if let Err(error) = self.writer.add_document(doc) {
            tracing::error!(%error, "search index write failed: a catch-up pass will follow");
            self.dropped.changes.store(true, Ordering::Release);
            return;
        }
        self.pending += 1;
        self.pending_since.get_or_insert_with(Instant::now);
    }

    /// Commits (dirty: only a close marks clean) and reloads the reader.
    fn commit_now(&mut self) -> Result<(), String> {
        if self.pending > 0 {
            commit(&mut self.writer, false).map_err(|e| e.to_string())?;
            self.reader.reload().map_err(|e| e.to_string())?;
        }
        self.pending = 0;
        self.pending_since = None;
        Ok(())
    }

    fn begin_pass(&mut self, full: bool) {
        self.pass = Some(Pass {
            full,
            queue: Default::default(),
            after: Some(None),
            current: None,
            written: 0,
            started: Instant::now(),
        });
    }

    /// One step of the pass: list more conversations, or read one page of one. Ok(false) when
    /// the pass is over.
    fn step(&mut self) -> Step {
        let Some((store, handle)) = self.store.clone() else { return Ok(false) };
        let Some(pass) = self.pass.as_mut() else { return Ok(false) };
        if pass.current.is_none() {
            if pass.queue.is_empty() {
                let Some(after) = pass.after else {
                    return self.end_pass();
                };
                let page =
                    handle.block_on(store.conversations(after, CONVERSATIONS_PAGE)).map_err(|e| e.to_string())?;
                pass.after = match page.len() < CONVERSATIONS_PAGE {
                    true => None,
                    false => Some(page.last().map(|c| c.id)),
                };
                pass.queue.extend(page.into_iter().map(|c| c.id));
                return Ok(true);
            }
            let id = pass.queue.pop_front().expect("not empty");
            let full = pass.full;
            // The index's view of this conversation: its committed documents. A pending write
            // of it (not yet committed) looks missing, and is written again from the store:
            // every write replaces, so at worst twice. (Committing first would cost a commit
            // per conversation during a rebuild.)
            let indexed = self.indexed(id)?;
            let last = handle.block_on(store.last_seq(id)).map_err(|e| e.to_string())?;
            let complete = indexed.len() as u64 == last.0;
            if complete && !full {
                return Ok(true);
            }
            // Not full: only the seqs it misses, from the first one missing.
            let from = match full {
                true => 0,
                false => (1..=last.0).find(|seq| !indexed.contains_key(seq)).unwrap_or(1) - 1,
            };
            self.pass.as_mut().expect("a pass").current = Some((id, indexed, Seq(from)));
            return Ok(true);
        }
        let (id, _, after) = pass.current.as_ref().expect("current");
        let (id, after) = (*id, *after);
        let page = handle.block_on(store.history(id, HistoryPage::After(after), PAGE)).map_err(|e| e.to_string())?;
        let mut written = 0;
        let mut stale = Vec::new();
        {
            let (_, indexed, at) = self.pass.as_mut().expect("a pass").current.as_mut().expect("current");
            for message in &page {
                let has = indexed.get(&message.seq.0);
                if has != Some(&(message.edited_at.map_or(0, |t| t.0), message.deleted)) {
                    stale.push(message.clone());
                }
                *at = message.seq;
            }
        }
        for message in &stale {
            self.write(message);
            written += 1;
        }
        let pass = self.pass.as_mut().expect("a pass");
        pass.written += written;
        if page.len() < PAGE {
            pass.current = None;
        }
        Ok(true)
    }

    /// What the committed index has of a conversation: seq → (version, deleted).
    fn indexed(&self, conversation: ConversationId) -> Result<Indexed, String> {
        let fields = self.fields;
        let searcher = self.reader.searcher();
        let term = Term::from_field_text(fields.conversation, &conversation.to_string());
        let docs = searcher
            .search(&TermQuery::new(term, IndexRecordOption::Basic), &DocSetCollector)
            .map_err(|e| e.to_string())?;
        let mut columns = HashMap::new();
        let mut indexed = HashMap::with_capacity(docs.len());
        for address in docs {
            let segment = address.segment_ord;
            let (seq, version, deleted) = match columns.entry(segment) {
                std::collections::hash_map::Entry::Occupied(found) => found.into_mut(),
                std::collections::hash_map::Entry::Vacant(missing) => {
                    let fast = searcher.segment_reader(segment).fast_fields();
                    let column = |name: &str| fast.u64(name).map_err(|e| e.to_string());
                    missing.insert((column("seq")?, column("version")?, column("deleted")?))
                }
            };
            let doc = address.doc_id;
            let seq = seq.first(doc).unwrap_or(0);
            indexed.insert(seq, (version.first(doc).unwrap_or(0), deleted.first(doc).unwrap_or(0) == 1));
        }
        Ok(indexed)
    }

    fn end_pass(&mut self) -> Step {
        if let Some(pass) = self.pass.take() {
            self.commit_now()?;
            if pass.full {
                self.full_running = self.full_due;
            }
            tracing::info!(
                full = pass.full,
                written = pass.written,
                elapsed_ms = pass.started.elapsed().as_millis() as u64,
                "search index caught up with the store"
            );
        }
        Ok(false)
    }
}

/// Commits what the writer has, with the payload saying whether the index is clean.
pub(super) fn commit(writer: &mut IndexWriter, clean: bool) -> tantivy::Result<()> {
    let payload = serde_json::to_string(&Payload { format: FORMAT, clean }).expect("a payload serializes");
    let mut prepared = writer.prepare_commit()?;
    prepared.set_payload(&payload);
    prepared.commit()?;
    Ok(())
}
