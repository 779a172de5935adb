//! [`SledConfig`]: how a [`SledStore`](crate::SledStore) is opened.
//!
//! A module of its own, below the store's handle, because the open database (`open`) and the
//! recovery thread (`recovery`), which reopens the directory with it, read it too: kept with
//! the handle, they would import the module above them.

use super::commit::Policy;
use std::path::PathBuf;

/// How to open a [`SledStore`](crate::SledStore). `SledConfig::new(path)` gives the defaults below.
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

    /// Group commit's part of the configuration.
    pub(super) fn policy(&self) -> Policy {
        Policy { max_group: self.group_max.max(1), checkpoint_bytes: self.journal_bytes }
    }
}
