//! `GET /api/v1/admin/export` over real sockets: a backup of a running server on fjall (the default store), taken
//! while messages are being sent, imports into a fresh store with every account and
//! conversation and a gap-free run of each conversation's messages holding everything
//! acknowledged before the export began; the server keeps acknowledging sends while a slow
//! client holds the export open. The unauthenticated, non-admins, and every caller of a server
//! without an export source are refused with stable codes. The body is streamed under
//! backpressure (a client that does not read stops the source after a bounded amount), a
//! source that fails cuts the body off, and so does shutdown; a client that goes away stops the
//! source.

mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use kanect::backend::{ConversationStore, UserStore};
use kanect::http::{ExportError, ExportSource, ExportWriter, HttpConfig};
use kanect::store::{backup, FjallStore};
use kanect::{Chat, ChatConfig, ConversationId, HistoryPage, MemoryStore, RateLimits, Registration, Seq, Store};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::*;
use tokio::io::AsyncWriteExt;

/// A server on port 0.
struct Running {
    addr: SocketAddr,
    chat: Chat,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// `chat` served by the server `configure` makes of a default one.
    async fn start(chat: Chat, configure: impl FnOnce(kanect::http::Server) -> kanect::http::Server) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = configure(kanect::http::Server::new(chat.clone(), HttpConfig::default()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(listener, async {
            let _ = stopped.await;
        }));
        Running { addr, chat, stop, task }
    }

    /// A server with `source`.
    async fn with_source(chat: Chat, source: impl ExportSource) -> Self {
        Self::start(chat, move |server| server.export_source(source)).await
    }

    async fn shutdown(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(WAIT, self.task).await.expect("serve returns").expect("serve task").expect("serve");
    }

    /// Creates the administrator `root` and logs it in: its token.
    async fn admin_token(&self) -> String {
        self.chat.create_admin(Registration::new("root", "the admin password")).await.expect("admin");
        let body = json!({"username": "root", "password": "the admin password"});
        let login = request(self.addr, "POST", "/api/v1/auth/login", None, Some(body)).await;
        assert_eq!(login.status, 200, "{:?}", login.json());
        login.json()["token"].as_str().expect("token").to_string()
    }
}

/// The export source of a server on `store`: kanect-store's streaming export.
fn store_source(store: Arc<dyn Store>) -> impl ExportSource {
    move |out: ExportWriter| {
        let store = store.clone();
        async move {
            backup::export_async(&*store, out).await?;
            Ok::<(), ExportError>(())
        }
    }
}

/// `GET /api/v1/admin/export` with `token`, on a connection of its own: the response, its body
/// unread.
async fn get_export(addr: SocketAddr, token: Option<&str>) -> hyper::Response<Incoming> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(connection);
    let mut request = hyper::Request::get("/api/v1/admin/export").header("host", addr.to_string());
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request.body(Empty::<Bytes>::new()).expect("request");
    tokio::time::timeout(WAIT, sender.send_request(request)).await.expect("answer in time").expect("response")
}

/// Reads the rest of a body; an error if it was cut off.
async fn read_rest(body: &mut Incoming, into: &mut Vec<u8>) -> Result<(), hyper::Error> {
    while let Some(frame) = tokio::time::timeout(WAIT, body.frame()).await.expect("a frame in time") {
        if let Ok(data) = frame?.into_data() {
            into.extend_from_slice(&data);
        }
    }
    Ok(())
}

/// A refusal's status and stable code.
async fn refusal(response: hyper::Response<Incoming>) -> (u16, String) {
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).expect("a JSON error body");
    (status, json["error"]["code"].as_str().unwrap_or_default().to_string())
}

/// Polls `done` every 20 ms until it holds, for at most WAIT.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..(WAIT.as_millis() / 20) {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

/// A conversation's messages in the store, by seq, as (seq, id, body).
async fn messages(store: &dyn Store, conversation: ConversationId) -> Vec<(u64, String, String)> {
    let mut all = Vec::new();
    let mut after = Seq::ZERO;
    loop {
        let page = store.history(conversation, HistoryPage::After(after), 500).await.expect("history");
        let Some(last) = page.last() else { break };
        after = last.seq;
        all.extend(page.iter().map(|m| (m.seq.0, m.id.to_string(), m.body.clone())));
    }
    all
}

/// Messages each of four tasks sends before the export: with ~4 KB bodies, a dump of some
/// 9 MB, about twice what the pipe, hyper and the sockets buffer between the store and a
/// client that pauses.
const SEEDED_PER_TASK: usize = 600;

/// The headline: a backup of a running fjall server, while a client sends into a group over
/// REST. The export is held open after its first chunk until the server has acknowledged 20
/// more sends (so the sends go on while an export is in progress, and the export is read as
/// they happen); then the dump imports into a fresh fjall store with every account, both
/// conversations, and each conversation's messages as a gap-free run from seq 1, identical to
/// the server's, that holds every send acknowledged before the export began.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_a_running_server_holds_everything_acknowledged_before_it() {
    let store: Arc<FjallStore> = Arc::new(FjallStore::temporary().expect("fjall"));
    let config = ChatConfig { rate_limits: RateLimits::UNLIMITED, ..chat_config() };
    let chat = Chat::builder_shared(store.clone()).config(config).build().await.expect("chat");
    let server = Running::with_source(chat.clone(), store_source(store.clone())).await;
    let addr = server.addr;
    let root = server.admin_token().await;
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let direct: ConversationId = open_direct(addr, &alice, &bob).await.parse().expect("id");
    let group = json!({"name": "busy", "members": [bob.id]});
    let created = request(addr, "POST", "/api/v1/conversations", Some(&alice.token), Some(group)).await;
    assert_eq!(created.status, 201, "{:?}", created.json());
    let busy: ConversationId = created.json()["id"].as_str().expect("id").parse().expect("id");

    // A dump of some megabytes, more than the pipe and the sockets hold, so that the export is
    // still under way when its client pauses. Sent through the engine, for speed.
    let caller = chat.authenticate(&alice.token).await.expect("caller");
    let long = "x".repeat(3_900);
    let seeding: Vec<_> = (0..4)
        .map(|task| {
            let (chat, caller, long) = (chat.clone(), caller.clone(), long.clone());
            tokio::spawn(async move {
                for i in 0..SEEDED_PER_TASK {
                    chat.send(&caller, direct, &format!("seed-{task}-{i}"), &format!("{i} {long}"))
                        .await
                        .expect("send");
                }
            })
        })
        .collect();
    for task in seeding {
        task.await.expect("seeding");
    }

    // The sender: REST sends into the group, one after another, recording the last acked seq.
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (acked, stop, token) = (acked.clone(), stop.clone(), bob.token.clone());
        tokio::spawn(async move {
            let path = format!("/api/v1/conversations/{busy}/messages");
            for i in 0..5_000 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let body = json!({"client_id": format!("busy-{i}"), "body": format!("busy {i}")});
                let reply = request(addr, "POST", &path, Some(&token), Some(body)).await;
                assert_eq!(reply.status, 200, "{:?}", reply.json());
                acked.store(reply.json()["seq"].as_u64().expect("seq"), Ordering::SeqCst);
            }
        })
    };
    assert!(eventually(|| acked.load(Ordering::SeqCst) >= 10).await, "the sender sends");

    let acked_before = acked.load(Ordering::SeqCst);
    let response = get_export(addr, Some(&root)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let disposition = response.headers()["content-disposition"].to_str().expect("ascii");
    assert!(disposition.starts_with("attachment; filename=\"kanect-") && disposition.ends_with(".jsonl\""));
    let mut body = response.into_body();
    let mut dump = Vec::new();
    let first = tokio::time::timeout(WAIT, body.frame()).await.expect("a first chunk").expect("not empty");
    dump.extend_from_slice(&first.expect("a chunk").into_data().expect("data"));
    let pause_at = acked.load(Ordering::SeqCst);
    assert!(
        eventually(|| acked.load(Ordering::SeqCst) >= pause_at + 20).await,
        "the server acknowledges sends while an export is held open"
    );
    read_rest(&mut body, &mut dump).await.expect("the whole dump");
    stop.store(true, Ordering::SeqCst);
    sender.await.expect("sender");

    let text = std::str::from_utf8(&dump).expect("utf-8");
    assert!(text.starts_with(r#"{"format":"kanect-dump","version":1}"#));
    assert!(text.lines().last().expect("lines").starts_with(r#"{"kind":"end""#), "the dump is complete");
    assert!(dump.len() > 8_000_000, "a dump of {} bytes", dump.len());

    let restored = FjallStore::temporary().expect("fjall");
    let counts = backup::import(&restored, &dump[..]).await.expect("the dump imports");
    assert_eq!(counts.conversations, 2);
    for name in ["root", "alice", "bob"] {
        assert!(restored.user_by_username(name).await.expect("user").is_some(), "{name} is in the backup");
    }
    for conversation in [direct, busy] {
        assert!(restored.conversation(conversation).await.expect("conversation").is_some());
    }
    // Nothing was sent to the direct conversation during the export: all of it is there.
    assert_eq!(messages(&restored, direct).await, messages(&*store, direct).await);
    assert_eq!(messages(&restored, direct).await.len(), 4 * SEEDED_PER_TASK);

    let saved = messages(&restored, busy).await;
    let live = messages(&*store, busy).await;
    let seqs: Vec<u64> = saved.iter().map(|m| m.0).collect();
    assert_eq!(seqs, (1..=saved.len() as u64).collect::<Vec<_>>(), "gap-free from seq 1");
    assert!(saved.len() as u64 >= acked_before, "{} saved, {acked_before} acknowledged before", saved.len());
    assert_eq!(saved[..], live[..saved.len()], "as the server holds them");

    // The backup is in the audit log, and the dump holds its own entry.
    let audit = request(addr, "GET", "/api/v1/admin/audit", Some(&root), None).await;
    assert_eq!(audit.json()["entries"][0]["action"], "store.export");
    assert!(text.contains(r#""action":"store.export""#));
    server.shutdown().await;
}

#[tokio::test]
async fn the_unauthenticated_and_non_admins_are_refused_and_a_server_without_a_source_says_so() {
    let store = Arc::new(MemoryStore::new());
    let chat = Chat::builder_shared(store.clone()).config(chat_config()).build().await.expect("chat");
    let server = Running::with_source(chat, store_source(store)).await;
    let root = server.admin_token().await;
    let alice = signup(server.addr, "alice").await;
    assert_eq!(refusal(get_export(server.addr, None).await).await, (401, "unauthenticated".into()));
    assert_eq!(refusal(get_export(server.addr, Some(&alice.token)).await).await, (403, "admin_only".into()));
    assert_eq!(refusal(get_export(server.addr, Some(&"0".repeat(64))).await).await, (401, "invalid_session".into()));
    // Refusals leave no audit entry.
    let audit = request(server.addr, "GET", "/api/v1/admin/audit", Some(&root), None).await;
    assert_eq!(audit.json()["entries"], json!([]));
    server.shutdown().await;

    let chat = Chat::builder(MemoryStore::new()).config(chat_config()).build().await.expect("chat");
    let bare = Running::start(chat, |server| server).await;
    let root = bare.admin_token().await;
    let alice = signup(bare.addr, "alice").await;
    assert_eq!(refusal(get_export(bare.addr, Some(&root)).await).await, (501, "export_unavailable".into()));
    assert_eq!(refusal(get_export(bare.addr, Some(&alice.token)).await).await, (403, "admin_only".into()));
    assert_eq!(refusal(get_export(bare.addr, None).await).await, (401, "unauthenticated".into()));
    let audit = request(bare.addr, "GET", "/api/v1/admin/audit", Some(&root), None).await;
    assert_eq!(audit.json()["entries"], json!([]), "no export, no audit entry");
    bare.shutdown().await;
}

/// What a synthetic source has done, as the test watches it.
#[derive(Default)]
struct Progress {
    /// Bytes written into the response so far.
    written: AtomicU64,
    /// The source's future was dropped (its task ended or was aborted).
    ended: AtomicBool,
}

/// Sets `ended` when the source's future is dropped, however it ends.
struct EndGuard(Arc<Progress>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.0.ended.store(true, Ordering::SeqCst);
    }
}

/// The line a synthetic source writes over and over: 1 KiB.
const LINE: [u8; 1024] = [b'a'; 1024];

/// A source that writes `lines` lines of [`LINE`], then fails if `fail` (else ends well).
fn synthetic_source(progress: Arc<Progress>, lines: u64, fail: bool) -> impl ExportSource {
    move |mut out: ExportWriter| {
        let progress = progress.clone();
        async move {
            let _ended = EndGuard(progress.clone());
            for _ in 0..lines {
                out.write_all(&LINE).await?;
                progress.written.fetch_add(LINE.len() as u64, Ordering::SeqCst);
            }
            match fail {
                true => Err::<(), ExportError>("the store failed".into()),
                false => Ok(()),
            }
        }
    }
}

/// A client that stops reading stops the source after a bounded amount, far below the dump
/// (the pipe, hyper's buffer and the sockets'): nothing buffers the rest. When it reads on, it
/// gets every byte; a client that goes away stops the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_holds_the_source_back() {
    const LINES: u64 = 64 * 1024; // 64 MiB
    let progress = Arc::new(Progress::default());
    let chat = Chat::builder(MemoryStore::new()).config(chat_config()).build().await.expect("chat");
    let server = Running::with_source(chat, synthetic_source(progress.clone(), LINES, false)).await;
    let root = server.admin_token().await;

    let response = get_export(server.addr, Some(&root)).await;
    assert_eq!(response.status(), 200);
    // Wait until the source stands still (no progress over 20 polls in a row).
    let (mut last, mut still) = (u64::MAX, 0);
    for _ in 0..(WAIT.as_millis() / 20) {
        let now = progress.written.load(Ordering::SeqCst);
        (still, last) = if now == last { (still + 1, now) } else { (0, now) };
        if still == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(still, 20, "the source stops while the client does not read");
    assert!(last < 32 * 1024 * 1024, "{last} bytes written ahead of a client that read nothing");
    let mut body = response.into_body();
    let mut received = 0u64;
    while let Some(frame) = tokio::time::timeout(WAIT, body.frame()).await.expect("a frame in time") {
        received += frame.expect("not cut off").into_data().map_or(0, |data| data.len() as u64);
    }
    assert_eq!(received, LINES * LINE.len() as u64);

    // A client that goes away mid-dump: the source ends (its write fails, or it is aborted).
    let progress = Arc::new(Progress::default());
    let chat = Chat::builder(MemoryStore::new()).config(chat_config()).build().await.expect("chat");
    let server = Running::with_source(chat, synthetic_source(progress.clone(), LINES, false)).await;
    let root = server.admin_token().await;
    let response = get_export(server.addr, Some(&root)).await;
    assert!(eventually(|| progress.written.load(Ordering::SeqCst) > 0).await);
    drop(response);
    assert!(eventually(|| progress.ended.load(Ordering::SeqCst)).await, "the source ends with its client");
    assert!(progress.written.load(Ordering::SeqCst) < LINES * LINE.len() as u64);
    server.shutdown().await;
}

/// One export at a time: a second one while the first is under way is refused with 409
/// `export_in_progress` (and not audited); once the first has ended, the next one runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_export_at_a_time() {
    const LINES: u64 = 64 * 1024; // more than the pipe and buffers hold: the first one waits
    let progress = Arc::new(Progress::default());
    let chat = Chat::builder(MemoryStore::new()).config(chat_config()).build().await.expect("chat");
    let server = Running::with_source(chat, synthetic_source(progress.clone(), LINES, false)).await;
    let root = server.admin_token().await;

    let first = get_export(server.addr, Some(&root)).await;
    assert_eq!(first.status(), 200);
    assert_eq!(refusal(get_export(server.addr, Some(&root)).await).await, (409, "export_in_progress".into()));
    let audit = request(server.addr, "GET", "/api/v1/admin/audit", Some(&root), None).await;
    assert_eq!(audit.json()["entries"].as_array().map(Vec::len), Some(1), "the refused one is not audited");

    // The first client goes away: its turn is given back with its body.
    drop(first);
    assert!(eventually(|| progress.ended.load(Ordering::SeqCst)).await, "the first export ended");
    let mut next = None;
    for _ in 0..100 {
        let response = get_export(server.addr, Some(&root)).await;
        if response.status() == 200 {
            next = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(next.is_some(), "a new export runs once the first has ended");
    drop(next);
    server.shutdown().await;
}

/// A source that fails after the head went out: the body is cut off (no final chunk), so the
/// client cannot take it for a whole dump.
#[tokio::test]
async fn a_failing_source_cuts_the_body_off() {
    let progress = Arc::new(Progress::default());
    let chat = Chat::builder(MemoryStore::new()).config(chat_config()).build().await.expect("chat");
    let server = Running::with_source(chat, synthetic_source(progress.clone(), 100, true)).await;
    let root = server.admin_token().await;
    let response = get_export(server.addr, Some(&root)).await;
    assert_eq!(response.status(), 200);
    let mut received = Vec::new();
    let outcome = read_rest(&mut response.into_body(), &mut received).await;
    assert!(outcome.is_err(), "a cut-off body is an error to the client: {outcome:?}");
    // Some of what was written before the failure may arrive (hyper drops what it had not
    // sent yet when the body fails): a prefix, never more.
    assert!(received.len() <= 100 * LINE.len() && received.iter().all(|&b| b == b'a'), "{}", received.len());
    server.shutdown().await;
}

/// Shutdown does not wait for an export: one in progress is cut off (its client sees an
/// incomplete body, not a whole dump), the source stops, and the server stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_in_progress_is_cut_off_by_shutdown() {
    const LINES: u64 = 64 * 1024; // 64 MiB: far more than is under way when shutdown begins
    let progress = Arc::new(Progress::default());
    let chat = Chat::builder(MemoryStore::new()).config(chat_config()).build().await.expect("chat");
    let server = Running::with_source(chat, synthetic_source(progress.clone(), LINES, false)).await;
    let root = server.admin_token().await;
    let mut body = get_export(server.addr, Some(&root)).await.into_body();
    let first = tokio::time::timeout(WAIT, body.frame()).await.expect("a first chunk").expect("not empty");
    assert!(first.is_ok());
    let stopping = tokio::spawn(server.shutdown());
    let mut received = Vec::new();
    let outcome = read_rest(&mut body, &mut received).await;
    assert!(outcome.is_err(), "the body is cut off, not ended: {} bytes after the first chunk", received.len());
    tokio::time::timeout(WAIT, stopping).await.expect("the server stops").expect("shutdown");
    assert!(eventually(|| progress.ended.load(Ordering::SeqCst)).await, "the source is stopped");
    assert!(progress.written.load(Ordering::SeqCst) < LINES * LINE.len() as u64);
}
