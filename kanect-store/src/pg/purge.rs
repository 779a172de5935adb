//! Deletion deletes, as far as PostgreSQL lets it: a `VACUUM` of `kanect_messages` after a
//! message is deleted or edited, and of `kanect_attachments` with it (a deleted attachment's row
//! holds its file name, which is the uploader's data too).
//!
//! # What keeps a deleted body on disk
//! A delete (or an edit) is an `UPDATE` of the message row: PostgreSQL writes a new row version
//! and leaves the old one, body included, in its heap page as a dead tuple (or, for a body over
//! about 2 kB, in the table's TOAST table). Nothing removes it on a schedule: autovacuum only
//! visits a table once about a fifth of it is dead, which a large message table rarely is.
//! `VACUUM` removes dead tuples that no transaction can still see, and the page it rewrites
//! no longer holds the old bytes (measured on PostgreSQL 15: a marker body, inline and
//! TOASTed, is in the table's files after the `UPDATE` and in none after `VACUUM` and a
//! checkpoint; `tests/pg_purge.rs` checks it on every run with `KANECT_TEST_PG`).
//!
//! So every replace (and every attachment's deletion) marks the store, and [`PURGE_DELAY`] after
//! the first unpurged mark a task runs `VACUUM kanect_messages, kanect_attachments` (which
//! covers their TOAST tables); [`PgStore::purge`] runs it now.
//! A store starts marked: a node that stopped (or crashed) within the delay of a delete never
//! ran the vacuum it owed, and `VACUUM` takes every dead row, whichever node made it.
//! The vacuumed page reaches the table's file at PostgreSQL's next checkpoint
//! (`checkpoint_timeout`, 5 minutes by default). `VACUUM` only skips pages that are all
//! visible, so it reads what changed since the last one: cheap next to the delay. Each node
//! vacuums after its own replaces; two at once queue on the table's lock, harmlessly.
//!
//! # What PostgreSQL keeps anyway (the operator's part)
//! - **WAL**: the insert and every full-page image of the row's page carry the body. A WAL
//!   segment is removed or recycled after the checkpoints that no longer need it, but a
//!   *recycled* segment keeps its old bytes until it is written over; `wal_recycle = off` makes
//!   PostgreSQL delete old segments instead. WAL archives (`archive_mode`), replication slots
//!   and `wal_keep_size` keep segments longer, for as long as they are configured to.
//! - **Replicas and backups** hold their own copies: a streaming replica replays the vacuum,
//!   a base backup or dump does not change after it is taken.
//! - **Old snapshots**: `VACUUM` cannot remove a row version that a transaction still running
//!   anywhere in the database (or a replica with `hot_standby_feedback`, or a replication slot)
//!   may see; it goes at the next vacuum after that transaction ends.
//! - **Freed space** in a file is not returned to the filesystem, and freed blocks of a
//!   deleted file are not zeroed: the device may still hold them (full-disk encryption is the
//!   answer to that threat).
//!
//! A role that does not own the tables gets only a warning from `VACUUM`, not an error, so the
//! purge checks ownership first and fails loudly instead.

use super::{db, PgStore};
use deadpool_postgres::Pool;
use kanect_core::backend::StoreResult;
use kanect_core::StoreError;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How long after the first unpurged replace the store vacuums the messages table.
pub(crate) const PURGE_DELAY: Duration = Duration::from_secs(10 * 60);

/// The purge task of one [`PgStore`]; dropping it stops the task.
pub(crate) struct Purger {
    /// Signalled by a replace; holds one permit while a purge is owed.
    marked: Arc<Notify>,
    /// Aborted on drop.
    task: JoinHandle<()>,
}

impl Purger {
    /// Starts the purge task on the current tokio runtime. It owes a purge from the start: a
    /// node that stopped within [`PURGE_DELAY`] of a delete never ran the one it owed.
    pub(crate) fn start(pool: Pool) -> Purger {
        let marked = Arc::new(Notify::new());
        marked.notify_one();
        let task = tokio::spawn({
            let marked = marked.clone();
            async move {
                loop {
                    marked.notified().await;
                    tokio::time::sleep(PURGE_DELAY).await;
                    if let Err(error) = vacuum(&pool).await {
                        tracing::error!(%error, "vacuum of kanect_messages and kanect_attachments failed; deleted bodies stay until the next one");
                        marked.notify_one();
                    }
                }
            }
        });
        Purger { marked, task }
    }

    /// Notes that a message was replaced or an attachment deleted: the old row is to be
    /// vacuumed within [`PURGE_DELAY`].
    pub(crate) fn mark_garbage(&self) {
        self.marked.notify_one();
    }
}

impl Drop for Purger {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PgStore {
    /// Purges now: `VACUUM kanect_messages, kanect_attachments`, so that the old bodies of
    /// deleted and edited messages, and deleted attachments' records, leave the tables' pages (see the `pg::purge` module docs for what PostgreSQL
    /// keeps beyond them: WAL, replicas, backups). The store runs one by itself within ten
    /// minutes of a delete or an edit; this is for an operator or a test that will not wait.
    /// The vacuumed pages reach the files at PostgreSQL's next checkpoint.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the database cannot be reached, the vacuum fails, or the
    /// store's role does not own both tables (PostgreSQL would skip them with a warning).
    pub async fn purge(&self) -> StoreResult<()> {
        vacuum(&self.pool).await
    }
}

/// Vacuums `kanect_messages` and `kanect_attachments` (and their TOAST tables) after checking
/// that the role may.
async fn vacuum(pool: &Pool) -> StoreResult<()> {
    let client = pool.get().await.map_err(StoreError::backend)?;
    let owner = "SELECT bool_and(pg_catalog.pg_has_role(relowner, 'USAGE')) FROM pg_catalog.pg_class \
                 WHERE oid IN ('kanect_messages'::regclass, 'kanect_attachments'::regclass)";
    let owns: bool = client.query_one(owner, &[]).await.map_err(db)?.get(0);
    if !owns {
        return Err(StoreError::backend(NotOwner));
    }
    // Not in a transaction (VACUUM refuses one): a pooled connection is in autocommit.
    client.batch_execute("VACUUM kanect_messages, kanect_attachments").await.map_err(db)
}

/// The store's role cannot vacuum the tables.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot purge deleted messages: the store's role does not own kanect_messages and kanect_attachments \
     (VACUUM needs the owner)"
)]
struct NotOwner;
