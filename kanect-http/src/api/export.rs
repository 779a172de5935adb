//! `GET /api/v1/admin/export`: a backup of the running server, streamed to an administrator
//! from the [`ExportSource`](crate::ExportSource) the embedding application gave the server
//! ([`crate::Server::export_source`]). A server without one answers `501 export_unavailable`,
//! after the same admin check as with one.
//!
//! - **Consistency** is the source's: kanect-store's export pages through the store while the
//!   server writes to it, and holds everything acknowledged before it began, each
//!   conversation's messages a gap-free run from seq 1.
//! - **Flat memory and backpressure.** The source writes into one end of a bounded in-memory
//!   pipe ([`PIPE_BYTES`]); the response body reads the other end, a chunk at a time, only when
//!   hyper asks for the next chunk, which it does only while its own write buffer (bounded) has
//!   room, that is while the socket takes bytes. A client that reads slowly fills the socket,
//!   then hyper's buffer, then the pipe, and the source's next write waits, and so do its
//!   reads of the store: nothing in between grows.
//! - **Failure.** Once the `200` head is out, a failure cannot change the status: the body is
//!   cut off instead (no final chunk), so the client sees an incomplete response, and the
//!   dump lacks its `end` record, which an import refuses. The same happens to an export in
//!   progress when shutdown begins: a backup is not worth holding the shutdown for, and the
//!   server is going away. (The body notices when hyper next asks it for a chunk; a client
//!   that reads nothing at all is dropped at the end of the shutdown grace, as any other.)
//!   A client that goes away stops the source: its task is aborted.
//! - **Audit.** The engine writes `store.export` to the audit log before the export begins
//!   ([`kanect_core::Chat::begin_export`]).

use crate::error::{ApiError, Body, BoxError};
use crate::export::{ExportError, ExportWriter};
use crate::state::App;
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header::{HeaderValue, CONTENT_DISPOSITION, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use kanect_core::Caller;
use tokio::io::{AsyncReadExt, DuplexStream};
use tokio::task::JoinHandle;

/// How many bytes the pipe between the source and the response holds: what a source may
/// write ahead of the client.
const PIPE_BYTES: usize = 64 * 1024;

/// The most the response body reads from the pipe for one chunk.
const CHUNK_BYTES: usize = 32 * 1024;

/// Serves `GET /api/v1/admin/export` for an authenticated caller: `403 admin_only` unless an
/// administrator, `501 export_unavailable` without a source, else the dump, streamed.
pub(crate) async fn serve(app: &App, caller: &Caller) -> Result<Response<Body>, ApiError> {
    let Some(source) = app.export.clone() else {
        app.chat.require_admin(caller).await?;
        let message = "this server has no export source: the application that embeds Kanect gives one \
                       (Server::export_source); or export the store offline";
        return Err(ApiError::new(StatusCode::NOT_IMPLEMENTED, "export_unavailable", message));
    };
    // One at a time: each export reads the whole store, and the permit is held until its
    // body has ended (or been dropped). Checked after the admin check, before the audit entry.
    app.chat.require_admin(caller).await?;
    let Ok(permit) = app.exporting.clone().try_acquire_owned() else {
        let message = "another backup of this server is being taken; try again once it is done";
        return Err(ApiError::new(StatusCode::CONFLICT, "export_in_progress", message));
    };
    app.chat.begin_export(caller).await?;
    let (writer, reader) = tokio::io::duplex(PIPE_BYTES);
    let admin = caller.user();
    tracing::info!(%admin, "export started");
    let task = tokio::spawn(source.export(ExportWriter(writer)));
    let download = Download { app: app.clone(), reader, task: Some(Abortable(task)), _permit: permit };
    let chunks = futures_util::stream::unfold(download, |mut download| async move {
        download.next_chunk().await.map(|chunk| (chunk.map(Frame::data), download))
    });
    let mut response = Response::new(StreamBody::new(chunks).boxed_unsync());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    let name = format!("attachment; filename=\"kanect-{}.jsonl\"", kanect_core::Timestamp::now().0);
    if let Ok(name) = HeaderValue::try_from(name) {
        headers.insert(CONTENT_DISPOSITION, name);
    }
    Ok(response)
}

/// The response body's side of an export: the pipe's reading end and the source's task.
struct Download {
    app: App,
    reader: DuplexStream,
    /// The source's task, until the body has ended (completely or cut off).
    task: Option<Abortable>,
    /// This export's turn, given back when the body is dropped.
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Download {
    /// The next chunk of the dump; an error cuts the body off; None once it is complete.
    async fn next_chunk(&mut self) -> Option<Result<Bytes, BoxError>> {
        let mut task = self.task.take()?;
        let mut chunk = BytesMut::with_capacity(CHUNK_BYTES);
        let read = tokio::select! {
            read = self.reader.read_buf(&mut chunk) => read,
            _ = self.app.until_shutdown() => {
                tracing::warn!("export cut off: the server is shutting down");
                return Some(Err("the server is shutting down".into()));
            }
        };
        match read {
            Ok(0) => match (&mut task.0).await {
                Ok(Ok(())) => {
                    tracing::info!("export finished");
                    None
                }
                Ok(Err(error)) => {
                    tracing::error!(%error, "export failed: the response is cut off");
                    Some(Err(error))
                }
                Err(error) => {
                    tracing::error!(%error, "export task failed: the response is cut off");
                    Some(Err(error.into()))
                }
            },
            Ok(_) => {
                self.task = Some(task);
                Some(Ok(chunk.freeze()))
            }
            // tokio's pipe does not fail a read; were it to, the dump is cut off (and the
            // source's task, dropped here, aborted).
            Err(error) => Some(Err(error.into())),
        }
    }
}

/// A task aborted when dropped: the source stops with the response that reads it.
struct Abortable(JoinHandle<Result<(), ExportError>>);

impl Drop for Abortable {
    fn drop(&mut self) {
        self.0.abort();
    }
}
