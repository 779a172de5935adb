//! [`PgBlobStore`]: blobs in PostgreSQL, as rows of fixed-size chunks, for a cluster: every
//! node serves every file from the database the nodes already share.
//!
//! # Why chunks
//! A `bytea` value is sent and received whole: one row per blob would hold a whole upload in
//! the node's memory on the way in, and a whole file on every download, and a range would read
//! it all. So a blob is rows of [`PgBlobStore::CHUNK`] bytes (the last one shorter):
//!
//! ```text
//! kanect_blobs       (key, size, chunk_size)    one per blob; deleting it deletes its chunks
//! kanect_blob_chunks (key, n, data)             chunk n holds bytes [n, n + 1) × chunk_size
//! ```
//!
//! - A put inserts the `kanect_blobs` row, then each chunk as soon as the body has delivered
//!   its bytes, and commits at the end, in one transaction: it holds at most one chunk (plus
//!   what the body delivered at once), and a body or a database that fails rolls it all back,
//!   leaving nothing. Acknowledged once committed, which PostgreSQL makes durable (with the
//!   default `synchronous_commit = on`). The put holds one pooled connection until then.
//! - A get reads the size, then one chunk per pull of its stream, only those the range
//!   covers, asking the database for just the bytes wanted (`substring`, which reads only
//!   the TOAST slices it needs since the column is stored uncompressed). Each pull takes a
//!   pooled connection for its one query: a slow reader holds none.
//! - Each blob records its chunk size, so a later build may change [`PgBlobStore::CHUNK`]
//!   without misreading blobs already stored.
//! - `data` is stored `EXTERNAL`: out of line and uncompressed. Uploads are mostly compressed
//!   already (images, archives); compressing them again costs CPU for nothing, and compressed
//!   values cannot be sliced without decompressing from the start.
//!
//! A blob deleted while a get streams it ends that stream with an error at the first chunk
//! that is gone.
//!
//! # What a delete leaves in the database's files
//! A deleted blob's chunks are dead rows; autovacuum frees their space for new rows, and their
//! bytes are gone from the table's files only once new rows are written over them. A `VACUUM`
//! does not erase them: it compacts a page's live rows and leaves the freed space as it was
//! (seen on PostgreSQL 15: a deleted chunk's bytes were still in the TOAST table's file after
//! `VACUUM` and a checkpoint). Only a rewrite of the table (`VACUUM FULL`, which locks it)
//! erases them; the WAL, replicas and backups keep copies besides (see `pg::purge`).

use super::requested;
use crate::pg::{db, PgStore};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use deadpool_postgres::{GenericClient, Pool};
use futures_util::StreamExt;
use kanect_core::blob::{Blob, BlobKey, BlobStore, ByteStream, PutError};
use kanect_core::StoreError;
use std::io;
use std::ops::Range;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// A [`BlobStore`] in a [`PgStore`]'s database (its pool, its schema), made by
/// [`PgStore::blobs`]: for servers whose nodes share one PostgreSQL.
///
/// A put streams the body into chunk rows in one transaction (all there or none); a get
/// streams the chunks the range covers, one query per chunk as the reader pulls. See the
/// module docs for the tables and why chunks.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use kanect_core::blob::{BlobKey, BlobStore};
/// use kanect_core::AttachmentId;
/// use kanect_store::PgStore;
///
/// let store = PgStore::connect("postgres://kanect@127.0.0.1/kanect").await?;
/// let blobs = store.blobs();
/// let key = BlobKey::file(AttachmentId::new());
/// let body = futures_util::stream::iter([Ok(bytes::Bytes::from_static(b"hello"))]);
/// assert_eq!(blobs.put(key, Box::pin(body)).await?, 5);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PgBlobStore {
    /// The [`PgStore`]'s pool: same database, same schema (on each connection's search path).
    pool: Pool,
    /// Puts under way at once: a put holds a connection for as long as its body takes to
    /// arrive (minutes, from a slow uploader), so puts get a quarter of the pool at most and
    /// the rest stays for everything else; a put beyond waits (its body unread) for a turn.
    puts: Arc<Semaphore>,
}

impl std::fmt::Debug for PgBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PgBlobStore").field("size", &status.size).field("available", &status.available).finish()
    }
}

impl PgStore {
    /// A [`BlobStore`] in this store's database and schema, sharing its connection pool.
    /// Its tables come with the store's migrations.
    pub fn blobs(&self) -> PgBlobStore {
        let puts = (self.pool().status().max_size / 4).max(1);
        PgBlobStore { pool: self.pool().clone(), puts: Arc::new(Semaphore::new(puts)) }
    }
}

impl PgBlobStore {
    /// The size of the chunks a put writes, and the most a get's stream yields at once:
    /// large enough that the per-row cost (a round trip, a primary key entry, a TOAST pointer)
    /// is small next to the data, small enough that thousands of transfers at once hold
    /// little memory.
    pub const CHUNK: usize = 256 * 1024;

    /// A pooled connection.
    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        client(&self.pool).await
    }
}

#[async_trait]
impl BlobStore for PgBlobStore {
    /// Inserts the blob's row and then its chunks as the body delivers them, in one
    /// transaction; returns the size once it is committed.
    ///
    /// # Errors
    /// [`PutError::Body`] when `body` yields an error; [`PutError::Store`] with
    /// [`StoreError::Conflict`] when `key` is already stored (keys are written once), or
    /// [`StoreError::Backend`] when the database fails or cannot be reached. Either way the
    /// transaction rolls back: nothing is stored under `key`.
    async fn put(&self, key: BlobKey, mut body: ByteStream) -> Result<u64, PutError> {
        let name = key.to_string();
        let _turn = self.puts.acquire().await.map_err(StoreError::backend)?;
        let mut client = self.client().await?;
        // Dropped without a commit (a failed body, a failed insert, or the put dropped by
        // its caller), the transaction rolls back.
        let tx = client.transaction().await.map_err(db)?;
        let chunk_size = Self::CHUNK as i32;
        execute(&tx, "INSERT INTO kanect_blobs (key, size, chunk_size) VALUES ($1, 0, $2)", &[&name, &chunk_size])
            .await?;
        let insert =
            tx.prepare_cached("INSERT INTO kanect_blob_chunks (key, n, data) VALUES ($1, $2, $3)").await.map_err(db)?;
        let mut pending = BytesMut::new();
        let mut n: i32 = 0;
        let mut size: u64 = 0;
        loop {
            let next = body.next().await.transpose().map_err(PutError::Body)?;
            if let Some(bytes) = &next {
                size += bytes.len() as u64;
                pending.extend_from_slice(bytes);
            }
            // Whole chunks as soon as they are there; the last, short one at the end.
            while pending.len() >= Self::CHUNK || (next.is_none() && !pending.is_empty()) {
                let chunk = pending.split_to(pending.len().min(Self::CHUNK));
                tx.execute(&insert, &[&name, &n, &&chunk[..]]).await.map_err(db)?;
                n = n.checked_add(1).ok_or_else(|| StoreError::backend(TooLarge))?;
            }
            if next.is_none() {
                break;
            }
        }
        let stored = i64::try_from(size).map_err(|_| StoreError::backend(TooLarge))?;
        execute(&tx, "UPDATE kanect_blobs SET size = $2 WHERE key = $1", &[&name, &stored]).await?;
        tx.commit().await.map_err(db)?;
        Ok(size)
    }

    /// Reads the blob's size; its stream reads the chunks the range covers, one query per
    /// pull, and ends with an error if the blob is deleted meanwhile.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when `range` does not lie within the blob, or its row cannot
    /// be decoded; [`StoreError::Backend`] when the database fails or cannot be reached.
    async fn get(&self, key: BlobKey, range: Option<Range<u64>>) -> Result<Option<Blob>, StoreError> {
        let name = key.to_string();
        let row = {
            let client = self.client().await?;
            let statement =
                client.prepare_cached("SELECT size, chunk_size FROM kanect_blobs WHERE key = $1").await.map_err(db)?;
            client.query_opt(&statement, &[&name]).await.map_err(db)?
        };
        let Some(row) = row else { return Ok(None) };
        let corrupt = |what: &str| StoreError::Corrupt(format!("blob {key}: {what}"));
        let size: i64 = row.try_get(0).map_err(|_| corrupt("bad size"))?;
        let size = u64::try_from(size).map_err(|_| corrupt("negative size"))?;
        let chunk_size: i32 = row.try_get(1).map_err(|_| corrupt("bad chunk size"))?;
        let chunk_size = u64::try_from(chunk_size).ok().filter(|&c| c > 0).ok_or_else(|| corrupt("bad chunk size"))?;
        let range = requested(key, range, size)?;
        let reading = Reading { pool: self.pool.clone(), key: name, chunk_size, at: range.start, end: range.end };
        let bytes = futures_util::stream::unfold(Some(reading), |state| async move {
            let mut reading = state?;
            if reading.at == reading.end {
                return None;
            }
            match reading.next().await {
                Ok(chunk) => Some((Ok(chunk), Some(reading))),
                Err(error) => Some((Err(io::Error::other(error)), None)),
            }
        });
        Ok(Some(Blob { size, bytes: Box::pin(bytes) }))
    }

    /// Deletes the blob's row, and with it its chunks, in one statement.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the database fails or cannot be reached.
    async fn delete(&self, key: BlobKey) -> Result<bool, StoreError> {
        let client = self.client().await?;
        // The chunks go with it (ON DELETE CASCADE), in the same statement.
        let deleted = execute(&client, "DELETE FROM kanect_blobs WHERE key = $1", &[&key.to_string()]).await?;
        Ok(deleted > 0)
    }
}

/// Where a get's stream is: the bytes `at..end` of the blob `key` are still to come.
struct Reading {
    /// Each pull takes a connection from it for its query, and gives it back.
    pool: Pool,
    /// The blob's key, as stored.
    key: String,
    /// The blob's chunk size, as stored with it.
    chunk_size: u64,
    /// The next byte to yield.
    at: u64,
    /// Past the last byte to yield.
    end: u64,
}

impl Reading {
    /// The wanted bytes of the chunk that holds byte `at`, and moves `at` past them.
    async fn next(&mut self) -> Result<Bytes, StoreError> {
        let n = self.at / self.chunk_size;
        let offset = self.at - n * self.chunk_size;
        let len = (self.end - self.at).min(self.chunk_size - offset);
        let corrupt = |what: &str| StoreError::Corrupt(format!("blob {}, chunk {n}: {what}", self.key));
        let (n, from, len) = match (i32::try_from(n), i32::try_from(offset + 1), i32::try_from(len)) {
            (Ok(n), Ok(from), Ok(len)) => (n, from, len),
            _ => return Err(corrupt("out of range")),
        };
        let client = client(&self.pool).await?;
        // substring counts from 1.
        let statement = client
            .prepare_cached("SELECT substring(data FROM $3 FOR $4) FROM kanect_blob_chunks WHERE key = $1 AND n = $2")
            .await
            .map_err(db)?;
        let row = client.query_opt(&statement, &[&self.key, &n, &from, &len]).await.map_err(db)?;
        let Some(row) = row else {
            return Err(StoreError::backend(Gone(self.key.clone())));
        };
        let data: Vec<u8> = row.try_get(0).map_err(|_| corrupt("bad data"))?;
        if data.len() != len as usize {
            return Err(corrupt(&format!("{} bytes where {len} were due", data.len())));
        }
        self.at += len as u64;
        Ok(Bytes::from(data))
    }
}

/// A pooled connection from `pool`.
async fn client(pool: &Pool) -> Result<deadpool_postgres::Object, StoreError> {
    pool.get().await.map_err(StoreError::backend)
}

/// Runs a statement, prepared once per connection.
async fn execute(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<u64, StoreError> {
    let statement = client.prepare_cached(sql).await.map_err(db)?;
    client.execute(&statement, params).await.map_err(db)
}

/// A blob beyond what the tables can count (2^31 chunks, or 2^63 bytes).
#[derive(Debug, thiserror::Error)]
#[error("the blob is too large to store")]
struct TooLarge;

/// A blob's chunk vanished while a get read it: the blob was deleted meanwhile.
#[derive(Debug, thiserror::Error)]
#[error("blob {0} was deleted while it was read")]
struct Gone(String);
