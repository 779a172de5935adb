//! The [`BlobStore`](kanect_core::blob::BlobStore)s of the real backends: where attachments'
//! bytes live, next to the records that the embedded stores (`FjallStore`, `SledStore`) or
//! `PgStore` keep.
//!
//! - `fs` — [`FsBlobStore`]: one file per blob under a directory (the embedded servers',
//!   `<data-dir>/blobs`), written to a temporary file, synced, renamed into place, and its
//!   directory synced, so an acknowledged put survives a crash and a power loss.
//! - `pg` (feature `postgres`) — [`PgBlobStore`]: blobs as rows of fixed-size chunks in the
//!   `PgStore`'s database, so every node of a cluster serves every file with
//!   no service besides PostgreSQL; streamed in and out a chunk at a time.
//!
//! Both keep the core's contract (see [`kanect_core::blob`]) and pass its conformance suite:
//! a put is all there or not there, and neither reads a whole blob into memory, in or out.

#[cfg(unix)]
mod fs;
#[cfg(unix)]
mod io_threads;
#[cfg(feature = "postgres")]
mod pg;

#[cfg(unix)]
pub use fs::FsBlobStore;
#[cfg(feature = "postgres")]
pub use pg::PgBlobStore;

use kanect_core::blob::BlobKey;
use kanect_core::StoreError;
use std::ops::Range;

/// The bytes of a `size`-byte blob that a get reads: `range`, or all of them.
///
/// # Errors
/// [`StoreError::Corrupt`] when `range` does not lie within the blob (the caller was to check:
/// a stored size that disagrees with the record's is damage), as
/// [`MemoryBlobStore`](kanect_core::blob::MemoryBlobStore) answers.
fn requested(key: BlobKey, range: Option<Range<u64>>, size: u64) -> Result<Range<u64>, StoreError> {
    let range = range.unwrap_or(0..size);
    if range.start > range.end || range.end > size {
        return Err(StoreError::Corrupt(format!("range {range:?} outside blob {key} of {size} bytes")));
    }
    Ok(range)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kanect_core::AttachmentId;

    #[test]
    fn ranges_must_lie_within_the_blob() {
        let key = BlobKey::file(AttachmentId::new());
        assert_eq!(requested(key, None, 10).unwrap(), 0..10);
        assert_eq!(requested(key, Some(10..10), 10).unwrap(), 10..10);
        assert_eq!(requested(key, Some(3..10), 10).unwrap(), 3..10);
        #[allow(clippy::reversed_empty_ranges)] // a reversed range is what it must refuse
        let reversed = 5..4;
        for outside in [3..11, 11..11, reversed] {
            assert!(matches!(requested(key, Some(outside.clone()), 10), Err(StoreError::Corrupt(_))), "{outside:?}");
        }
    }
}
