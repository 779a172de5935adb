//! The `uploads` workload: attachment throughput and the server's memory while files stream
//! through it.
//!
//! `--clients` accounts (one each, so that the per-account limits — uploads in flight, the
//! storage quota — do not interfere), each on one kept-alive HTTP connection, upload
//! `--rounds` files of `--file-mib` MiB one after another, all clients at once
//! (`POST /api/v1/attachments`); once every upload is in, each client downloads its files back
//! (`GET /api/v1/attachments/{id}`) and checks their size and SHA-256 against the upload's
//! answer and against the bytes it sent. The figures: bytes per second over each phase, the
//! seconds each file took, the server's CPU per phase, and its RSS before, at its peak (read
//! every [`RSS_SAMPLE`] in a task) and after each phase.
//!
//! A file's bytes are made on the fly ([`PatternBody`]): one pseudo-random block, shared,
//! sent again and again, so the load generator holds one block however many files are in
//! flight, and the server can neither compress nor recognise them. The same block makes every
//! file, so the expected SHA-256 is computed once.
//!
//! Bounded: each client makes at most `--rounds` uploads and as many downloads, starts no
//! file once `--duration` has passed in a phase, and gives each request [`FILE_TIMEOUT`].

use crate::client::{self, BoxError};
use crate::report::{cpu_seconds, rss_kib, settled_rss, Baseline};
use bytes::Bytes;
use http_body_util::{BodyExt, Either, Empty};
use hyper::body::{Body, Frame, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use kanect::proto::{Attachment, ErrorBody};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// How often the server's RSS is read during a phase.
const RSS_SAMPLE: Duration = Duration::from_millis(50);
/// The longest one upload or download may take (a stalled server must not hang the run).
const FILE_TIMEOUT: Duration = Duration::from_secs(300);
/// The size of the shared block a file is made of: a frame of the upload body each.
const BLOCK: usize = 256 * 1024;

/// What the workload needs to know.
#[derive(Clone, Debug)]
pub(crate) struct UploadPlan {
    /// The server's address.
    pub(crate) server: SocketAddr,
    /// The server's pid, to read its CPU time and RSS.
    pub(crate) server_pid: Option<u32>,
    /// Username prefix, unique per run.
    pub(crate) prefix: String,
    /// Clients, each its own account and connection, uploading at once.
    pub(crate) clients: usize,
    /// Size of every file, in MiB.
    pub(crate) file_mib: u64,
    /// Files each client uploads, one after another.
    pub(crate) rounds: usize,
    /// No file starts once a phase has run this long.
    pub(crate) duration: Duration,
    /// Sign-ups in flight at once.
    pub(crate) register_concurrency: usize,
}

/// A file's body: `remaining` bytes of `block` repeated (the last copy cut short), one frame
/// per copy. Every frame is a slice of the same shared block, so making a body costs no
/// copy and no memory.
#[derive(Debug)]
pub(crate) struct PatternBody {
    block: Bytes,
    remaining: u64,
}

impl PatternBody {
    /// A body of `size` bytes made of `block` (which must not be empty unless `size` is 0).
    pub(crate) fn new(block: Bytes, size: u64) -> PatternBody {
        assert!(size == 0 || !block.is_empty(), "a non-empty body needs a non-empty block");
        PatternBody { block, remaining: size }
    }
}

impl Body for PatternBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = this.remaining.min(this.block.len() as u64) as usize;
        this.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(this.block.slice(..n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    /// Exact, so that hyper sends `Content-Length` and the server can refuse an oversized
    /// file before reading it.
    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// `len` pseudo-random bytes (splitmix64 from `seed`): the block files are made of.
pub(crate) fn random_block(seed: u64, len: usize) -> Bytes {
    let mut state = seed;
    let mut block = Vec::with_capacity(len + 8);
    while block.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        block.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    block.truncate(len);
    Bytes::from(block)
}

/// Lowercase hex SHA-256 of a [`PatternBody`] of `size` bytes made of `block`.
pub(crate) fn pattern_sha256(block: &Bytes, size: u64) -> String {
    let mut hasher = Sha256::new();
    let mut remaining = size;
    while remaining > 0 {
        let n = remaining.min(block.len() as u64) as usize;
        hasher.update(&block[..n]);
        remaining -= n as u64;
    }
    hex(&hasher.finalize())
}

/// Lowercase hex of a digest, as the server reports an attachment's SHA-256.
pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The `q` quantile (0–1, nearest rank) of `values`; None if there are none.
pub(crate) fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied()
}

/// The file every upload sends, and what its answer must say.
struct File {
    block: Bytes,
    size: u64,
    sha256: String,
}

/// One kept-alive HTTP/1.1 connection of one client.
struct Connection {
    sender: SendRequest<Either<PatternBody, Empty<Bytes>>>,
    host: String,
    token: String,
}

impl Connection {
    async fn open(server: SocketAddr, token: String) -> Result<Connection, BoxError> {
        let stream = TcpStream::connect(server).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Connection { sender, host: server.to_string(), token })
    }

    /// Uploads `file` as `name`; returns the server's record after checking its size and hash.
    async fn upload(&mut self, file: &File, name: &str) -> Result<Attachment, BoxError> {
        let request = hyper::Request::post(format!("/api/v1/attachments?name={name}"))
            .header("host", &self.host)
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/octet-stream")
            .body(Either::Left(PatternBody::new(file.block.clone(), file.size)))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        if status != hyper::StatusCode::CREATED {
            let code =
                serde_json::from_slice::<ErrorBody>(&bytes).map_or_else(|_| "?".to_owned(), |body| body.error.code);
            return Err(format!("upload: {status} {code}").into());
        }
        let attachment: Attachment = serde_json::from_slice(&bytes)?;
        if attachment.size != file.size || attachment.sha256 != file.sha256 {
            return Err(format!(
                "upload {}: the server has {} bytes, SHA-256 {}; sent {} bytes, {}",
                attachment.id, attachment.size, attachment.sha256, file.size, file.sha256
            )
            .into());
        }
        Ok(attachment)
    }

    /// Downloads `attachment`, hashing the bytes as they come; fails unless they are its.
    async fn download(&mut self, attachment: &Attachment) -> Result<(), BoxError> {
        let request = hyper::Request::get(format!("/api/v1/attachments/{}", attachment.id))
            .header("host", &self.host)
            .header("authorization", format!("Bearer {}", self.token))
            .body(Either::Right(Empty::new()))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        if response.status() != hyper::StatusCode::OK {
            return Err(format!("download {}: {}", attachment.id, response.status()).into());
        }
        let mut body = response.into_body();
        let (mut hasher, mut size) = (Sha256::new(), 0u64);
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                size += data.len() as u64;
                hasher.update(&data);
            }
        }
        let sha256 = hex(&hasher.finalize());
        if size != attachment.size || sha256 != attachment.sha256 {
            return Err(format!(
                "download {}: got {size} bytes, SHA-256 {sha256}; uploaded {} bytes, {}",
                attachment.id, attachment.size, attachment.sha256
            )
            .into());
        }
        Ok(())
    }
}

/// Reads the server's RSS every [`RSS_SAMPLE`] until stopped; the task returns the highest
/// reading (KiB), if any. It stops by itself after `limit`.
struct RssPeak {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Option<u64>>,
}

impl RssPeak {
    fn start(pid: Option<u32>, limit: Duration) -> RssPeak {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let pid = pid?;
            let started = Instant::now();
            let mut peak = rss_kib(pid);
            while !flag.load(Ordering::Relaxed) && started.elapsed() < limit {
                tokio::time::sleep(RSS_SAMPLE).await;
                peak = peak.max(rss_kib(pid));
            }
            peak
        });
        RssPeak { stop, task }
    }

    async fn finish(self) -> Option<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.ok().flatten()
    }
}

/// One phase's figures.
#[derive(Debug, Default)]
pub(crate) struct Phase {
    /// Files done (uploaded and answered right, or downloaded and verified).
    pub(crate) files: usize,
    /// Their bytes.
    pub(crate) bytes: u64,
    /// From the phase's start until its last client finished.
    pub(crate) elapsed: Duration,
    /// Seconds each file took.
    pub(crate) file_seconds: Vec<f64>,
    /// Failed requests (a client stops at its first).
    pub(crate) errors: usize,
    /// The server's CPU seconds over the phase, if its pid was given.
    pub(crate) server_cpu: Option<f64>,
    /// This process's CPU seconds over the phase.
    pub(crate) own_cpu: Option<f64>,
    /// The server's highest RSS reading during the phase (KiB).
    pub(crate) peak_rss: Option<u64>,
    /// The server's RSS at the phase's end (KiB).
    pub(crate) rss_after: Option<u64>,
}

impl Phase {
    /// Bytes per second over the phase, in MB/s (10^6 bytes, as `dd` reports).
    fn megabytes_per_second(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "files": self.files, "bytes": self.bytes, "errors": self.errors,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "mb_per_s": (self.megabytes_per_second() * 10.0).round() / 10.0,
            "file_s": {"p50": quantile(&self.file_seconds, 0.5), "max": quantile(&self.file_seconds, 1.0)},
            "server_cpu_s": self.server_cpu, "process_cpu_s": self.own_cpu,
            "server_rss_peak_kib": self.peak_rss, "server_rss_after_kib": self.rss_after,
        })
    }

    fn line(&self, name: &str) -> String {
        let seconds = |q| quantile(&self.file_seconds, q).map_or_else(|| "-".to_owned(), |s| format!("{s:.2}"));
        let mut line = format!(
            "{name}  {} files, {} errors, {:.2} s: {:.1} MB/s; per file p50 {} s, max {} s",
            self.files,
            self.errors,
            self.elapsed.as_secs_f64(),
            self.megabytes_per_second(),
            seconds(0.5),
            seconds(1.0)
        );
        if let Some(cpu) = self.server_cpu {
            line += &format!("; server CPU {cpu:.2} s");
        }
        if let Some(cpu) = self.own_cpu {
            line += &format!(", own CPU {cpu:.2} s");
        }
        if let (Some(peak), Some(after)) = (self.peak_rss, self.rss_after) {
            line += &format!("; server RSS peak {peak} KiB, after {after} KiB");
        }
        line + "\n"
    }
}

/// The result of an `uploads` run.
#[derive(Debug)]
pub(crate) struct UploadReport {
    /// The run's parameters.
    pub(crate) parameters: serde_json::Value,
    /// Files planned: clients × rounds.
    pub(crate) planned: usize,
    /// The server's RSS once settled after the sign-ups, before any upload.
    pub(crate) baseline: Option<Baseline>,
    /// The uploads.
    pub(crate) upload: Phase,
    /// The downloads of what was uploaded.
    pub(crate) download: Phase,
}

impl UploadReport {
    /// Peak RSS during the uploads minus the baseline, in KiB: the memory streaming costs.
    fn upload_growth(&self) -> Option<i64> {
        Some(self.upload.peak_rss? as i64 - self.baseline.as_ref()?.kib as i64)
    }

    /// The JSON line for scripts.
    pub(crate) fn json(&self) -> String {
        json!({
            "workload": "uploads",
            "parameters": self.parameters,
            "files_planned": self.planned,
            "upload": self.upload.json(),
            "download": self.download.json(),
            "server_rss_kib": self.baseline.as_ref().map(|baseline| json!({
                "after_signups": baseline.after_signups, "before": baseline.kib,
                "settle_s": baseline.waited.as_secs_f64(), "settled": baseline.settled,
                "peak_upload": self.upload.peak_rss, "after_upload": self.upload.rss_after,
                "peak_download": self.download.peak_rss, "after": self.download.rss_after,
                "upload_peak_minus_before": self.upload_growth(),
            })),
        })
        .to_string()
    }

    /// The human table.
    pub(crate) fn table(&self) -> String {
        let mut out = format!("workload      uploads  {}\n", self.parameters);
        out += &self.upload.line("upload  ");
        out += &self.download.line("download");
        if let (Some(baseline), Some(growth)) = (&self.baseline, self.upload_growth()) {
            out += &format!("server RSS    before {} KiB, peak during uploads {growth:+} KiB\n", baseline.kib);
        }
        out
    }
}

/// Runs the workload.
pub(crate) async fn run(plan: &UploadPlan) -> Result<UploadReport, BoxError> {
    let size = plan.file_mib.checked_mul(1 << 20).filter(|&size| size > 0).ok_or("--file-mib must be 1 or more")?;
    let block = random_block(0x6b61_6e65_6374, BLOCK);
    let file = Arc::new(File { sha256: pattern_sha256(&block, size), block, size });
    let started = Instant::now();
    let accounts =
        client::register(plan.server, &plan.prefix, plan.clients, plan.register_concurrency.min(plan.clients)).await?;
    eprintln!("registered {} users in {:.1} s", plan.clients, started.elapsed().as_secs_f64());
    let baseline = match plan.server_pid {
        Some(pid) => settled_rss(pid).await,
        None => None,
    };
    if let Some(baseline) = &baseline {
        eprintln!("server RSS {} KiB, settled after {:.1} s", baseline.kib, baseline.waited.as_secs_f64());
    }
    let mut connections = Vec::with_capacity(accounts.len());
    for account in accounts {
        connections.push(Connection::open(plan.server, account.token).await?);
    }

    let work: Vec<_> = connections.into_iter().map(|connection| (connection, Vec::new())).collect();
    let (upload, work) = phase(plan, work, false, move |mut connection, _, round| {
        let file = file.clone();
        async move {
            let outcome = connection.upload(&file, &format!("loadgen-{round}.bin")).await;
            (connection, outcome)
        }
    })
    .await;
    eprint!("{}", upload.line("upload  "));
    let (download, _) = phase(plan, work, true, |mut connection, uploaded: Vec<Attachment>, round| async move {
        let outcome = match uploaded.get(round) {
            Some(attachment) => connection.download(attachment).await.map(|()| attachment.clone()),
            None => Err("nothing uploaded to download".into()),
        };
        (connection, outcome)
    })
    .await;
    Ok(UploadReport {
        parameters: json!({
            "clients": plan.clients, "file_mib": plan.file_mib, "rounds": plan.rounds,
            "duration_s": plan.duration.as_secs_f64(),
        }),
        planned: plan.clients * plan.rounds,
        baseline,
        upload,
        download,
    })
}

/// Runs one phase: every client at once, each doing `step` for its rounds in turn (uploading:
/// `plan.rounds`; `downloading`: one per file it uploaded), until its first failure or
/// `plan.duration`. `step` gets the connection, the client's uploads and the round, and
/// gives back the connection and the file done. Returns the phase's figures and, per client,
/// its connection and the files done.
async fn phase<F, Fut>(
    plan: &UploadPlan,
    work: Vec<(Connection, Vec<Attachment>)>,
    downloading: bool,
    step: F,
) -> (Phase, Vec<(Connection, Vec<Attachment>)>)
where
    F: Fn(Connection, Vec<Attachment>, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = (Connection, Result<Attachment, BoxError>)> + Send,
{
    let rss = RssPeak::start(plan.server_pid, plan.duration + FILE_TIMEOUT);
    let cpu_before = (plan.server_pid.and_then(|pid| cpu_seconds(Some(pid))), cpu_seconds(None));
    let started = Instant::now();
    let (duration, rounds) = (plan.duration, plan.rounds);
    let tasks: Vec<_> = work
        .into_iter()
        .map(|(connection, uploaded)| {
            let step = step.clone();
            tokio::spawn(async move {
                let rounds = if downloading { uploaded.len() } else { rounds };
                let (mut connection, mut done, mut seconds) = (Some(connection), Vec::new(), Vec::new());
                let mut error = None;
                for round in 0..rounds {
                    let Some(current) = connection.take() else { break };
                    if started.elapsed() >= duration {
                        connection = Some(current);
                        break;
                    }
                    let file_started = Instant::now();
                    let doing = step(current, uploaded.clone(), round);
                    match tokio::time::timeout(FILE_TIMEOUT, doing).await {
                        Ok((current, Ok(attachment))) => {
                            seconds.push(file_started.elapsed().as_secs_f64());
                            done.push(attachment);
                            connection = Some(current);
                        }
                        Ok((_, Err(failure))) => error = Some(failure),
                        Err(_) => error = Some(format!("no answer within {FILE_TIMEOUT:?}").into()),
                    }
                }
                (connection, done, seconds, error)
            })
        })
        .collect();
    let mut figures = Phase::default();
    let mut work = Vec::with_capacity(tasks.len());
    for task in tasks {
        let Ok((connection, done, seconds, error)) = task.await else {
            figures.errors += 1;
            continue;
        };
        if let Some(error) = error {
            if figures.errors == 0 {
                eprintln!("uploads: {error}");
            }
            figures.errors += 1;
        }
        figures.files += done.len();
        figures.bytes += done.iter().map(|attachment| attachment.size).sum::<u64>();
        figures.file_seconds.extend(seconds);
        if let Some(connection) = connection {
            work.push((connection, done));
        }
    }
    figures.elapsed = started.elapsed();
    figures.server_cpu = plan.server_pid.and_then(|pid| cpu_seconds(Some(pid))).zip(cpu_before.0).map(|(b, a)| b - a);
    figures.own_cpu = cpu_seconds(None).zip(cpu_before.1).map(|(b, a)| b - a);
    figures.rss_after = plan.server_pid.and_then(rss_kib);
    figures.peak_rss = rss.finish().await.max(figures.rss_after);
    (figures, work)
}
