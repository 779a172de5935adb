//! What an embedding application gives the server for `GET /api/v1/admin/export`, a backup of
//! the running server streamed to an administrator: an [`ExportSource`], which writes the dump
//! into an [`ExportWriter`]. The endpoint itself is `api::export`.
//!
//! This crate never touches a concrete store, and the engine does not encode JSON; the dump is
//! the embedding application's to write (with kanect-store's `backup::export_async`, for one),
//! through the source it gives the server ([`crate::Server::export_source`]).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncWrite, DuplexStream};

/// Why an export failed, for the server's log (the client only sees the body cut off).
pub type ExportError = Box<dyn std::error::Error + Send + Sync>;

/// Writes a backup of the store, for `GET /api/v1/admin/export`: given by the embedding
/// application, which holds the store ([`crate::Server::export_source`]). A closure
/// `Fn(ExportWriter) -> impl Future<Output = Result<(), ExportError>>` is one. The `kanect`
/// server's (`kanect-server/src/main.rs`) calls `kanect::store::backup::export_async` on its
/// store, which writes the versioned dump that `import` reads:
///
/// ```no_run
/// # async fn run(chat: kanect_core::Chat) {
/// use kanect_http::{ExportError, ExportWriter};
/// use tokio::io::AsyncWriteExt;
/// let source = |mut out: ExportWriter| async move {
///     // with kanect-store: kanect_store::backup::export_async(&*store, out).await?;
///     out.write_all(b"a line of the dump\n").await?;
///     Ok::<(), ExportError>(())
/// };
/// let server = kanect_http::Server::new(chat, kanect_http::HttpConfig::default()).export_source(source);
/// # }
/// ```
pub trait ExportSource: Send + Sync + 'static {
    /// Writes the whole dump into `out`, and returns once it is written (flushed). It runs in
    /// a task of its own and is aborted if the client goes away or the server shuts down.
    ///
    /// # Backpressure
    /// Writes into `out` wait while the client has not read what came before (past a small
    /// buffer): write with `await`, and read the store no faster than that.
    ///
    /// # Errors
    /// Any: it is logged, and the client's response is cut off.
    fn export(&self, out: ExportWriter) -> Pin<Box<dyn Future<Output = Result<(), ExportError>> + Send>>;
}

impl<F, Fut> ExportSource for F
where
    F: Fn(ExportWriter) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), ExportError>> + Send + 'static,
{
    fn export(&self, out: ExportWriter) -> Pin<Box<dyn Future<Output = Result<(), ExportError>> + Send>> {
        Box::pin(self(out))
    }
}

/// Where an [`ExportSource`] writes its dump: the response body of the request that asked for
/// it, through a bounded pipe. A write fails (broken pipe) once the client is gone.
#[derive(Debug)]
pub struct ExportWriter(pub(crate) DuplexStream);

impl AsyncWrite for ExportWriter {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bytes: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, bytes)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
