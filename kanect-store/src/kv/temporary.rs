//! [`TemporaryDir`]: the directory of an embedded store opened with `temporary()`, for tests;
//! one for both engines.

use kanect_core::StoreError;
use std::path::{Path, PathBuf};

/// A directory deleted on drop. A store holds it last, so that it is deleted after the
/// database that writes into it is closed.
pub(crate) struct TemporaryDir(PathBuf);

impl TemporaryDir {
    /// A fresh directory in memory (`/dev/shm`, as sled's own temporary mode uses) where there
    /// is one, else in the system's temporary directory.
    pub(crate) fn create() -> Result<TemporaryDir, StoreError> {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
        let path = base.join(format!("kanect-store-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&path).map_err(StoreError::backend)?;
        Ok(TemporaryDir(path))
    }

    /// Where it is.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TemporaryDir {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!(%error, dir = %self.0.display(), "cannot delete a temporary store's directory");
        }
    }
}
