//! [`IoThreads`]: the few threads of its own that [`FsBlobStore`](super::FsBlobStore) does its
//! file I/O on, instead of tokio's blocking pool.
//!
//! tokio's pool starts a thread whenever none is idle at that instant, so a handful of uploads
//! at once, each with a write in flight by turns, keeps dozens of threads busy; and every
//! thread that touches the allocator holds memory pages of its own. Measured with 16 uploads
//! of 25 MiB at once (`benches/README.md`, "Attachments"): about 40 threads and some 15 MiB of
//! server RSS for them, against about 2 MiB of bytes actually in flight. A fixed few threads
//! do the same work (a write into the page cache takes microseconds; the per-file syncs are
//! one per upload) in memory that does not grow with the uploads in flight, and blob I/O no
//! longer crowds out the engine's other blocking work (password hashes, thumbnails).

use kanect_core::StoreError;
use std::future::Future;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::oneshot;

/// A job for a thread: runs the work and sends its result to whoever waits.
type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads taking jobs from one queue, in order of arrival. The threads end
/// once every clone of this is dropped and the queue is empty (a get's stream holds one).
#[derive(Clone, Debug)]
pub(super) struct IoThreads {
    jobs: flume::Sender<Job>,
}

impl IoThreads {
    /// Starts `count` threads named `kanect-blob-<n>`.
    ///
    /// # Errors
    /// When the system refuses a thread.
    pub(super) fn start(count: usize) -> io::Result<IoThreads> {
        let (jobs, queue) = flume::unbounded::<Job>();
        for index in 0..count {
            let queue = queue.clone();
            std::thread::Builder::new().name(format!("kanect-blob-{index}")).spawn(move || {
                while let Ok(job) = queue.recv() {
                    // A job that panics loses its result (its caller gets an error), not the
                    // thread.
                    let _ = panic::catch_unwind(AssertUnwindSafe(job));
                }
            })?;
        }
        Ok(IoThreads { jobs })
    }

    /// Queues `work` at once (not when the answer is first polled) and answers its result.
    /// Dropping the answer does not cancel the work: it runs and its result is dropped.
    pub(super) fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Done<T> {
        let (done, answer) = oneshot::channel();
        // A failed send drops the job and with it `done`: the answer is then an error.
        let _ = self.jobs.send(Box::new(move || {
            let _ = done.send(work());
        }));
        Done(answer)
    }
}

/// The result of a job run by [`IoThreads::run`], once it is done; an error if the job
/// panicked.
#[derive(Debug)]
pub(super) struct Done<T>(oneshot::Receiver<T>);

impl<T> Future for Done<T> {
    type Output = Result<T, StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|answer| answer.map_err(|_| StoreError::backend(io::Error::other("a blob I/O job failed"))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_threads_and_a_panic_costs_its_job_only() {
        let threads = IoThreads::start(1).unwrap();
        let name = threads.run(|| std::thread::current().name().map(str::to_owned)).await.unwrap();
        assert_eq!(name.as_deref(), Some("kanect-blob-0"));
        let panicked = threads.run(|| -> u8 { panic!("a job's own failure") }).await;
        assert!(panicked.is_err());
        // The one thread survived the panic and takes the next job.
        assert_eq!(threads.run(|| 7).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn work_is_queued_when_run_is_called_not_when_awaited() {
        let threads = IoThreads::start(1).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let pending = threads.run(move || tx.send(()).unwrap());
        // Not awaited yet, and the work still happens.
        rx.recv_timeout(std::time::Duration::from_secs(10)).expect("the job ran unawaited");
        pending.await.unwrap();
    }
}
