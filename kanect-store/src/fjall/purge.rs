//! Deletion deletes: the purge that takes a replaced message's old body out of every file of a
//! [`FjallStore`].
//!
//! A delete or an edit overwrites the message record (`replace_message`), but an LSM-tree never
//! rewrites in place: the old value stays in fjall's journal (the active `*.jnl` file in the
//! store's directory) and in every table (SST) that was written while it was current, until
//! compaction merges it away and fjall deletes the files. fjall's own compaction gets there
//! eventually, but with no bound: a table in the last level may never be rewritten. So the store
//! purges on its own schedule.
//!
//! # What a purge does
//! 1. Seals and flushes the memtable of every keyspace, so the old value and its replacement
//!    are both in tables and every sealed journal is redundant (fjall deletes a sealed journal
//!    once every keyspace has flushed past it).
//! 2. Runs a major compaction of every keyspace: all tables are merged into new ones that keep
//!    only the newest version of each key (older versions are dropped once no open snapshot or
//!    iterator can still see them), and the old tables are deleted.
//!
//! Each flush starts with a write that changes nothing (the format record rewritten with its
//! own value): fjall only lets go of versions below a watermark that trails the newest write,
//! so without it the last replace before a purge would keep its old value (see `purge`).
//!
//! What it cannot reach while the store is open: the *active* journal. fjall appends to it until
//! it passes 64 MB, then seals it, and deletes a sealed journal only once every keyspace has
//! flushed past it; fjall 3 has no call that seals it sooner. The log-in attempts keyspace,
//! small, rarely fills a memtable of its own, so a sealed journal can wait for the next purge
//! (the next delete or edit), for fjall's limit on all journals (512 MiB, past which it flushes
//! the keyspaces that hold the oldest back), or for a clean close. So a running store holds a
//! deleted body in its journals until then, and:
//!
//! # At a clean close
//! When the last handle is dropped (or [`FjallStore::reopen`]), after everything else has
//! stopped: every memtable is flushed (and a major compaction runs if a replace is not yet
//! purged), the database is closed, and then every journal file is truncated to zero length
//! (and synced). This is safe because after the flush every journal entry is in a table: fjall
//! replays a journal at open only for what its tables do not hold, and with an empty active
//! journal it recovers its sequence numbers from the tables. A clean close therefore leaves no
//! old body in any file. If any step fails (a poisoned database, a full disk, a flush that does
//! not finish within [`FLUSH_WAIT`]) the journals are left alone: they may be needed.
//!
//! # The bound
//! A replace (delete or edit: an edit's old text is the sender's data just the same), and the
//! deletion of an attachment record (its file name is the uploader's data too), marks the
//! store "has garbage since now". The purge thread runs a purge [`PURGE_DELAY`] after the first
//! unpurged mark, so the old body is out of every table within that delay (plus the purge's
//! own run time), and out of every file at the latest at the next clean close.
//! [`FjallStore::purge`] runs one at once. A store that was not closed cleanly (its journal
//! still held data at open) is marked at open: the replaces of the lost run were never purged.
//!
//! The delay is a constant rather than a setting because a major compaction rewrites the whole
//! store: its cost grows with the store, and ten minutes bounds both how long a deleted body
//! lingers and how often a busy store pays for that rewrite.
//!
//! # Limits
//! - Bytes leave *files*: compaction unlinks old tables and truncation frees journal blocks,
//!   but the filesystem does not zero freed blocks, so the device may still hold them (as it
//!   does for any deleted file). Full-disk encryption is the answer for that threat.
//! - A snapshot or iterator held open across a purge pins the versions it can see; that purge
//!   keeps them and the next one (or the close) removes them.
//! - It relies on fjall APIs marked `#[doc(hidden)]` (`Keyspace::rotate_memtable`,
//!   `Keyspace::major_compact`, `Database::write_buffer_size`) and on fjall's journal files
//!   being `*.jnl` in the store's directory. `tests/fjall_purge.rs` searches the store's files
//!   byte by byte, so an upgrade that changes any of this fails there.

use super::FjallStore;
use crate::kv::keys;
use fjall::{Database, Keyspace, KeyspaceCreateOptions};
use kanect_core::backend::StoreResult;
use kanect_core::StoreError;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long after the first unpurged replace the purge thread runs a purge.
pub(crate) const PURGE_DELAY: Duration = Duration::from_secs(10 * 60);

/// How long a purge waits for fjall to flush a sealed memtable before it gives up (a
/// poisoned database never flushes, and a close must not hang on it).
pub(crate) const FLUSH_WAIT: Duration = Duration::from_secs(60);

/// The purge thread and its schedule. Dropping it (the last field of the store's `Inner`, so
/// after every other handle on the database) runs the close purge, joins the thread, and then
/// truncates the journals.
pub(crate) struct Purger {
    /// What the store and the thread share.
    shared: Arc<Shared>,
    /// Joined on drop.
    thread: Option<JoinHandle<()>>,
    /// The store's directory, whose journals the close truncates.
    path: PathBuf,
}

/// The schedule, under a std mutex held only to read or change it (never across a purge).
#[derive(Default)]
struct Shared {
    /// How long after a mark the purge runs: [`PURGE_DELAY`].
    delay: Duration,
    state: Mutex<State>,
    /// Signalled on a mark, a request, or the stop.
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// When the oldest replace that no purge has covered yet happened.
    garbage_since: Option<Instant>,
    /// Callers of [`FjallStore::purge`] waiting for the next purge.
    requests: Vec<oneshot::Sender<StoreResult<()>>>,
    /// Set by the drop: run the close purge and exit.
    stop: bool,
    /// Set by the thread when its close purge succeeded: the journals hold nothing that is not
    /// in a table, and may be truncated.
    closed_clean: bool,
}

impl Purger {
    /// Starts the purge thread for `db` in `path`, whose data keyspace is `data`. `unclean` says the store was not closed
    /// cleanly last time (see [`replayed_journal`]): its replaces may never have been purged.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the thread cannot be spawned.
    pub(crate) fn start(db: Database, data: Keyspace, path: &Path, unclean: bool) -> StoreResult<Purger> {
        Self::start_after(PURGE_DELAY, db, data, path, unclean)
    }

    /// [`Purger::start`] with another delay than [`PURGE_DELAY`] (for tests).
    fn start_after(delay: Duration, db: Database, data: Keyspace, path: &Path, unclean: bool) -> StoreResult<Purger> {
        let shared = Arc::new(Shared { delay, ..Shared::default() });
        if unclean {
            shared.state().garbage_since = Some(Instant::now());
        }
        let thread = std::thread::Builder::new()
            .name("kanect-fjall-purge".into())
            .spawn({
                let shared = shared.clone();
                move || shared.run(&db, &data)
            })
            .map_err(StoreError::backend)?;
        Ok(Purger { shared, thread: Some(thread), path: path.to_path_buf() })
    }

    /// Notes that a record was replaced: its old value is garbage to purge within
    /// [`PURGE_DELAY`].
    pub(crate) fn mark_garbage(&self) {
        let mut state = self.shared.state();
        if state.garbage_since.is_none() {
            state.garbage_since = Some(Instant::now());
            drop(state);
            self.shared.wake.notify_one();
        }
    }
}

/// Whether fjall replayed journal data into memtables at open: a clean close leaves every
/// journal empty (see the module docs), so data to replay means the last run did not close
/// cleanly. Call it right after opening, before anything is written.
pub(crate) fn replayed_journal(db: &Database) -> bool {
    db.write_buffer_size() > 0
}

impl FjallStore {
    /// Purges now: flushes every memtable and compacts every keyspace, so the old body of every
    /// deleted or edited message is out of every table (see the `fjall::purge` module docs for
    /// the journal, which a clean close empties). The store runs one by itself within ten
    /// minutes of a delete or an edit; this is for an operator or a test that will not wait.
    ///
    /// It runs on the store's purge thread; writes and reads go on meanwhile. Its cost grows
    /// with the store: a major compaction rewrites every table.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if fjall fails to flush or compact (a full disk, a poisoned
    /// database), a flush does not finish within a minute, or the store is being reopened
    /// after a failure.
    pub async fn purge(&self) -> StoreResult<()> {
        let (sender, receiver) = oneshot::channel();
        self.with(|inner| {
            inner.purge.shared.state().requests.push(sender);
            inner.purge.shared.wake.notify_one();
            Ok(())
        })?;
        receiver.await.map_err(|_| StoreError::backend(PurgeFailed("the store closed before the purge".into())))?
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The purge thread: sleeps until a purge is due or asked for, runs it, answers; at the
    /// stop runs the close purge.
    fn run(&self, db: &Database, data: &Keyspace) {
        loop {
            let (requests, stop) = {
                let mut state = self.state();
                loop {
                    let due = state.garbage_since.map(|since| since + self.delay);
                    let now = Instant::now();
                    if state.stop || !state.requests.is_empty() || due.is_some_and(|due| due <= now) {
                        break;
                    }
                    state = match due {
                        Some(due) => self.wake.wait_timeout(state, due - now).unwrap_or_else(PoisonError::into_inner).0,
                        None => self.wake.wait(state).unwrap_or_else(PoisonError::into_inner),
                    };
                }
                (std::mem::take(&mut state.requests), state.stop)
            };
            if stop {
                self.close(db, data, requests);
                return;
            }
            self.state().garbage_since = None;
            let outcome = purge(db, data, true);
            if let Err(error) = &outcome {
                tracing::error!(%error, "fjall purge failed; deleted message bodies stay on disk until the next one");
                // Not purged after all: due again after another delay.
                self.state().garbage_since.get_or_insert_with(Instant::now);
            }
            answer(requests, &outcome);
        }
    }

    /// The close purge: flush everything (and compact if a replace is unpurged), so the journals
    /// hold nothing that is not in a table.
    fn close(&self, db: &Database, data: &Keyspace, requests: Vec<oneshot::Sender<StoreResult<()>>>) {
        let compact = self.state().garbage_since.is_some() || !requests.is_empty();
        let outcome = purge(db, data, compact);
        match &outcome {
            Ok(()) => self.state().closed_clean = true,
            Err(error) => tracing::error!(%error, "fjall purge at close failed; its journals are kept"),
        }
        answer(requests, &outcome);
    }
}

/// Flushes every memtable of `db` into tables (which fjall writes and syncs) and waits for
/// them, as a purge does but without the compaction: for the recovery's reopen (see
/// `recovery`), whose replayed journal may be in the page cache only.
///
/// # Errors
/// [`StoreError::Backend`] if a flush fails or does not finish within [`FLUSH_WAIT`].
pub(crate) fn flush_memtables(db: &Database, data: &Keyspace) -> StoreResult<()> {
    purge(db, data, false).map_err(StoreError::backend)
}

/// Answers the callers of [`FjallStore::purge`] that `outcome` covers.
fn answer(requests: Vec<oneshot::Sender<StoreResult<()>>>, outcome: &Result<(), PurgeFailed>) {
    for request in requests {
        let answer = outcome.as_ref().map_err(|error| StoreError::backend(PurgeFailed(error.0.clone()))).copied();
        // A caller that gave up (its future dropped) needs no answer.
        let _ = request.send(answer);
    }
}

/// Flushes every keyspace of `db` and, if `compact`, compacts each into one run of tables.
///
/// fjall drops an old version in a compaction only when a newer version is below its
/// garbage-collection watermark, and deletes a replaced table only once the versions of the
/// tree that list it are below it too; the watermark trails the newest write, and moves when a
/// memtable is sealed. So each step starts with a [`fence`] write and a seal: the first puts the
/// replaces below the watermark for the compaction, the second lets fjall let go of the tables
/// the compaction replaced.
fn purge(db: &Database, data: &Keyspace, compact: bool) -> Result<(), PurgeFailed> {
    let keyspaces = db
        .list_keyspace_names()
        .iter()
        .map(|name| db.keyspace(name, KeyspaceCreateOptions::default))
        .collect::<Result<Vec<Keyspace>, fjall::Error>>()
        .map_err(PurgeFailed::fjall)?;
    flush(data, &keyspaces)?;
    if compact {
        for keyspace in &keyspaces {
            keyspace.major_compact().map_err(PurgeFailed::fjall)?;
        }
        flush(data, &keyspaces)?;
    }
    Ok(())
}

/// Writes the [`fence`], then seals every memtable and waits until they are flushed.
fn flush(data: &Keyspace, keyspaces: &[Keyspace]) -> Result<(), PurgeFailed> {
    fence(data).map_err(PurgeFailed::fjall)?;
    for keyspace in keyspaces {
        keyspace.rotate_memtable().map_err(PurgeFailed::fjall)?;
    }
    keyspaces.iter().try_for_each(wait_for_flush)
}

/// A write that changes nothing (the format version record, rewritten with its own value), to
/// move fjall's sequence numbers past every write before it. Not waited on: it changes nothing.
fn fence(data: &Keyspace) -> fjall::Result<()> {
    match data.get(keys::FORMAT)? {
        Some(version) => data.insert(keys::FORMAT, version),
        None => Ok(()),
    }
}

/// Waits (at most [`FLUSH_WAIT`]) until `keyspace` has no sealed memtable left to flush.
fn wait_for_flush(keyspace: &Keyspace) -> Result<(), PurgeFailed> {
    let deadline = Instant::now() + FLUSH_WAIT;
    while keyspace.sealed_memtable_count() > 0 {
        if Instant::now() >= deadline {
            return Err(PurgeFailed(format!("keyspace {:?} did not flush within {FLUSH_WAIT:?}", keyspace.name())));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Truncates every journal file in `path` to zero length and syncs it (see the module docs
/// for why that is safe after a clean close purge).
fn truncate_journals(path: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        if entry.path().extension().is_some_and(|extension| extension == "jnl") && entry.file_type()?.is_file() {
            let file = std::fs::OpenOptions::new().write(true).open(entry.path())?;
            file.set_len(0)?;
            file.sync_all()?;
        }
    }
    Ok(())
}

impl Drop for Purger {
    fn drop(&mut self) {
        self.shared.state().stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the fjall purge thread panicked");
                return;
            }
        }
        // The thread's handle on the database is gone with it, and every other one was dropped
        // before this field: fjall has closed and will not write to its journals again.
        if self.shared.state().closed_clean {
            if let Err(error) = truncate_journals(&self.path) {
                tracing::error!(%error, dir = %self.path.display(), "cannot truncate fjall's journals at close");
            }
        }
    }
}

/// A purge that failed, as its callers see it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("fjall purge failed: {0}")]
struct PurgeFailed(String);

impl PurgeFailed {
    fn fjall(error: fjall::Error) -> PurgeFailed {
        PurgeFailed(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether any file under `dir` holds `needle`, apart from fjall's journals.
    fn in_a_table(dir: &Path, needle: &[u8]) -> bool {
        let mut pending = vec![dir.to_path_buf()];
        while let Some(next) = pending.pop() {
            for entry in std::fs::read_dir(&next).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_none_or(|extension| extension != "jnl") {
                    // The purge deletes files as it goes: one gone since the listing holds nothing.
                    let bytes = match std::fs::read(&path) {
                        Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                        read => read.unwrap(),
                    };
                    if bytes.windows(needle.len()).any(|window| window == needle) {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// The database in `path`, with a format record for the fence, and whether its opening
    /// replayed journal data.
    fn open(path: &Path) -> (Database, Keyspace, bool) {
        let db = Database::builder(path).open().unwrap();
        let replayed = replayed_journal(&db);
        let data = db.keyspace("data", KeyspaceCreateOptions::default).unwrap();
        data.insert(keys::FORMAT, 1_u32.to_be_bytes()).unwrap();
        (db, data, replayed)
    }

    #[test]
    fn a_marked_replace_is_purged_after_the_delay_without_being_asked() {
        let dir = tempfile::tempdir().unwrap();
        let (db, data, _) = open(dir.path());
        let purger =
            Purger::start_after(Duration::from_millis(50), db.clone(), data.clone(), dir.path(), false).unwrap();
        let old = b"OLDVALUEGHJKMNPQRSTVWXYZ";
        data.insert("key", old.as_slice()).unwrap();
        data.rotate_memtable().unwrap();
        wait_for_flush(&data).unwrap();
        assert!(in_a_table(dir.path(), old), "the old value never reached a table");
        data.insert("key", "new").unwrap();
        purger.mark_garbage();
        // Waits for the purge thread's work, not for a time: bounded, then fails.
        let mut purged = false;
        for _ in 0..1000 {
            std::thread::sleep(Duration::from_millis(10));
            if !in_a_table(dir.path(), old) {
                purged = true;
                break;
            }
        }
        assert!(purged, "no purge ran within 10 s of a 50 ms delay");
        assert_eq!(data.get("key").unwrap().as_deref(), Some(b"new".as_slice()));
    }

    #[test]
    fn only_a_close_without_the_purger_leaves_journal_data_to_replay() {
        let dir = tempfile::tempdir().unwrap();
        let (db, data, replayed) = open(dir.path());
        assert!(!replayed, "a new database replayed something");
        data.insert("key", "value").unwrap();
        drop((db, data)); // closed by fjall alone: the journal keeps the writes
        let (db, data, replayed) = open(dir.path());
        assert!(replayed, "the writes were not in the journal");
        let purger = Purger::start(db, data, dir.path(), true).unwrap();
        drop(purger); // the clean close: flushed, journals emptied
        let (_db, data, replayed) = open(dir.path());
        assert!(!replayed, "a clean close left data to replay");
        assert_eq!(data.get("key").unwrap().as_deref(), Some(b"value".as_slice()));
    }
}
