//! Acknowledged means durable, proven with SIGKILL, for each embedded engine: [`SledStore`]
//! and `FjallStore` (feature `fjall`).
//!
//! The test re-executes its own binary as a child process that runs only the same test
//! (`--exact`, so it opens the same engine; `KANECT_CRASH_CHILD` names the store's directory).
//! The child sends messages through the engine from several concurrent senders and prints
//! every acknowledgement (`ACK <conversation> <client id> <seq>`) as it gets it. The parent
//! kills the child with SIGKILL at a random moment, reopens the store and checks that every
//! acknowledged message is there at its seq, that seqs are gap-free `1..=last`, that no
//! client id appears twice, that resending the newest messages returns the originals, and
//! that sending continues at the next seq. Repeated [`KILLS`] times on one store.
//!
//! That the kills hit writes under way is checked too, for both engines: most kills leave a
//! message stored that the child sent but never acknowledged, so the kill came after its write
//! reached the file and before its acknowledgement (a kill between sends, or one that lost
//! every write under way, leaves none). For sled, most kills also leave appends in Kanect's
//! journal for the replay at the next open (sled may or may not have them already); fjall
//! replays its own journal at every open, so there is nothing of the kind to count.

mod sigkill;

use kanect_core::backend::Store;
use kanect_core::{
    Caller, Chat, ChatConfig, ConversationId, HistoryPage, PasswordCost, RateLimits, Registration, Seq, UserId,
};
use sigkill::XorShift;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "KANECT_CRASH_CHILD";
const RUN_ENV: &str = "KANECT_CRASH_RUN";
/// Kill points per test run.
const KILLS: usize = 24;
/// Concurrent senders in the child.
const SENDERS: usize = 6;
/// How many of each conversation's newest messages are resent after each kill.
const RESENT_AFTER_A_CRASH: usize = 8;
/// A child left alone stops on its own after this long (the parent kills it much sooner).
const CHILD_LIFETIME: Duration = Duration::from_secs(20);

#[cfg(feature = "sled")]
#[test]
fn acknowledged_messages_survive_sigkill() {
    survives_sigkill(&Engine {
        test: "acknowledged_messages_survive_sigkill",
        open: |path| kanect_store::SledStore::open(path).unwrap(),
        journal_holds_records: Some(sled_journal_holds_records),
    });
}

#[cfg(feature = "fjall")]
#[test]
fn acknowledged_messages_survive_sigkill_in_fjall() {
    survives_sigkill(&Engine {
        test: "acknowledged_messages_survive_sigkill_in_fjall",
        open: |path| kanect_store::FjallStore::open(path).unwrap(),
        journal_holds_records: None,
    });
}

/// An engine under test.
struct Engine<S> {
    /// The `#[test]` that runs it: the child re-executes exactly this one.
    test: &'static str,
    /// Opens the store in a directory.
    open: fn(&Path) -> S,
    /// Whether a killed store left records in a journal of Kanect's own, which the next open
    /// must replay; `None` for an engine without one.
    journal_holds_records: Option<fn(&Path) -> bool>,
}

impl<S: Store> Engine<S> {
    async fn start(&self, path: &Path) -> (Chat, Arc<S>) {
        let store = Arc::new((self.open)(path));
        // The child sends as fast as the store acknowledges: far past the rate limits for people.
        let config = ChatConfig {
            password_cost: PasswordCost::INSECURE_FAST,
            rate_limits: RateLimits::UNLIMITED,
            ..Default::default()
        };
        let chat = Chat::builder_shared(store.clone()).config(config).build().await.unwrap();
        (chat, store)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// The senders, the user they all talk to, and the conversations: one shared group, and a
/// direct conversation per sender with the hub. Each sender alternates between the group
/// (contended: all senders) and its own direct conversation.
struct Cast {
    senders: Vec<Caller>,
    group: ConversationId,
    directs: Vec<ConversationId>,
}

impl Cast {
    async fn create(chat: &Chat) -> Cast {
        let hub = chat.register(Registration::new("hub", "hub-secret-pw")).await.unwrap();
        let mut senders = Vec::new();
        for i in 0..SENDERS {
            let user = chat.register(Registration::new(format!("sender{i}"), "sender-secret-pw")).await.unwrap();
            senders.push(chat.act_as(user.id).await.unwrap());
        }
        let members: Vec<UserId> = senders.iter().map(Caller::user).collect();
        let group = chat.create_group(&senders[0], "load", &members).await.unwrap().id;
        let mut directs = Vec::new();
        for sender in &senders {
            directs.push(chat.open_direct(sender, hub.id).await.unwrap().id);
        }
        Cast { senders, group, directs }
    }

    async fn find(chat: &Chat, store: &impl Store) -> Cast {
        let hub = store.user_by_username("hub").await.unwrap().unwrap().id;
        let mut senders = Vec::new();
        for i in 0..SENDERS {
            let user = store.user_by_username(&format!("sender{i}")).await.unwrap().unwrap();
            senders.push(chat.act_as(user.id).await.unwrap());
        }
        let views = chat.conversations(&senders[0], None, 50).await.unwrap().conversations;
        let group = views.iter().find(|v| v.conversation.name.as_deref() == Some("load")).unwrap().conversation.id;
        let directs = senders.iter().map(|s| ConversationId::direct(s.user(), hub)).collect();
        Cast { senders, group, directs }
    }

    fn conversations(&self) -> Vec<ConversationId> {
        std::iter::once(self.group).chain(self.directs.iter().copied()).collect()
    }
}

/// The whole test on one engine: see the module docs.
fn survives_sigkill<S: Store>(engine: &Engine<S>) {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        let run: usize = std::env::var(RUN_ENV).unwrap().parse().unwrap();
        runtime().block_on(child(engine, Path::new(&path), run));
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let rt = runtime();
    rt.block_on(async {
        let (chat, _store) = engine.start(&path).await;
        Cast::create(&chat).await;
    });
    let mut random = XorShift::from_clock(engine.test);
    // (conversation, client id) → acknowledged seq, over all runs.
    let mut acked: HashMap<(ConversationId, String), Seq> = HashMap::new();
    let mut replayed = 0;
    let mut hit_mid_write = 0;
    for run in 0..KILLS {
        let before = acked.len();
        for (key, seq) in kill_child_at_random(engine.test, &path, run, &mut random) {
            assert!(acked.insert(key.clone(), seq).is_none(), "client id {key:?} acknowledged twice");
        }
        if let Some(journal_holds_records) = engine.journal_holds_records {
            replayed += usize::from(journal_holds_records(&path));
        }
        let unacknowledged = rt.block_on(verify(engine, &path, &acked, run));
        hit_mid_write += usize::from(unacknowledged > 0);
        eprintln!(
            "{} run {run}: {} acknowledgements, {unacknowledged} stored unacknowledged",
            engine.test,
            acked.len() - before
        );
    }
    assert!(acked.len() >= 100, "too little load to prove anything: {} acknowledgements", acked.len());
    assert!(hit_mid_write >= KILLS / 2, "only {hit_mid_write} kills left a write under way stored");
    if engine.journal_holds_records.is_some() {
        assert!(replayed >= KILLS / 2, "only {replayed} kills left journal records to replay");
    }
    eprintln!("{}: {KILLS} kills, {} acknowledged messages, {:?}", engine.test, acked.len(), started.elapsed());
}

/// Runs one child, kills it, and returns the acknowledgements it printed.
fn kill_child_at_random(
    test: &str,
    path: &Path,
    run: usize,
    random: &mut XorShift,
) -> Vec<((ConversationId, String), Seq)> {
    let run_text = run.to_string();
    let env = [(CHILD_ENV, path.as_os_str()), (RUN_ENV, std::ffi::OsStr::new(&run_text))];
    // Most runs die under load; every fourth may die anywhere, opening and recovery included.
    let wait_for = (run % 4 != 3).then_some("READY");
    let output = sigkill::run_and_kill(test, &env, wait_for, Duration::from_millis(random.below(300)));
    output
        .iter()
        .filter_map(|line| line.strip_prefix("ACK "))
        .map(|ack| {
            let mut fields = ack.split(' ');
            let conversation: ConversationId = fields.next().unwrap().parse().unwrap();
            let client_id = fields.next().unwrap().to_string();
            let seq = Seq(fields.next().unwrap().parse().unwrap());
            ((conversation, client_id), seq)
        })
        .collect()
}

/// Whether the killed store left appends in its journal (`journal/*.log` in the store's
/// directory, each an 8-byte header, then records, then zeros up to the size it was made
/// with), which the next open must replay: a record starts with its non-zero length.
#[cfg(feature = "sled")]
fn sled_journal_holds_records(path: &Path) -> bool {
    let Ok(files) = std::fs::read_dir(path.join("journal")) else { return false };
    let logs = files.flatten().filter(|file| file.path().extension().is_some_and(|ext| ext == "log"));
    logs.filter_map(|file| std::fs::read(file.path()).ok()).any(|bytes| bytes.iter().skip(8).any(|&byte| byte != 0))
}

/// The child: send as fast as the engine acknowledges, print each acknowledgement.
async fn child<S: Store>(engine: &Engine<S>, path: &Path, run: usize) {
    let (chat, store) = engine.start(path).await;
    let cast = Cast::find(&chat, &*store).await;
    println!("READY");
    let mut tasks = Vec::new();
    for (i, sender) in cast.senders.iter().cloned().enumerate() {
        let (chat, group, direct) = (chat.clone(), cast.group, cast.directs[i]);
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            for n in 0.. {
                let conversation = if n % 2 == 0 { group } else { direct };
                let client_id = format!("r{run}-s{i}-{n}");
                let message = chat.send(&sender, conversation, &client_id, "payload").await.unwrap();
                println!("ACK {conversation} {client_id} {}", message.seq);
                if started.elapsed() > CHILD_LIFETIME {
                    break;
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// Reopens the store and checks every invariant, then sends one more message everywhere.
/// Returns how many messages that `run`'s child sent are stored but were never acknowledged.
async fn verify<S: Store>(
    engine: &Engine<S>,
    path: &Path,
    acked: &HashMap<(ConversationId, String), Seq>,
    run: usize,
) -> usize {
    let (chat, store) = engine.start(path).await;
    let cast = Cast::find(&chat, &*store).await;
    let reader = &cast.senders[0];
    let hub = chat.act_as(store.user_by_username("hub").await.unwrap().unwrap().id).await.unwrap();
    let sent_in_run = format!("r{run}-s");
    let mut unacknowledged = 0;
    for (index, conversation) in cast.conversations().into_iter().enumerate() {
        let caller = if index == 0 { reader } else { &hub };
        let last = store.last_seq(conversation).await.unwrap();
        let mut seen_clients = HashSet::new();
        let mut stored = HashMap::new();
        let mut oldest_first = Vec::new();
        let mut cursor = Seq::ZERO;
        loop {
            let page = chat.history(caller, conversation, HistoryPage::After(cursor), 200).await.unwrap();
            let Some(newest) = page.last() else { break };
            cursor = newest.seq;
            for message in page {
                assert!(seen_clients.insert((message.sender, message.client_id.clone())), "duplicate client id");
                stored.insert(message.client_id.clone(), message.seq);
                oldest_first.push(message);
            }
        }
        assert_eq!(cursor, last, "history ends at the last seq");
        let mut seqs: Vec<u64> = stored.values().map(|s| s.0).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=last.0).collect::<Vec<_>>(), "seqs are gap-free after run {run}");
        for ((acked_in, client_id), seq) in acked {
            if *acked_in == conversation {
                assert_eq!(stored.get(client_id), Some(seq), "acknowledged {client_id} lost after run {run}");
            }
        }
        unacknowledged += stored
            .keys()
            .filter(|client_id| client_id.starts_with(&sent_in_run))
            .filter(|client_id| !acked.contains_key(&(conversation, client_id.to_string())))
            .count();
        // The newest messages were being written when the process died: a resend of each
        // (acknowledged or not) must find it through the id index, which reached the disk in
        // the same batch, and store nothing.
        for original in oldest_first.iter().rev().take(RESENT_AFTER_A_CRASH) {
            let sender = cast.senders.iter().find(|s| s.user() == original.sender).expect("a known sender");
            let resent = chat.send(sender, conversation, &original.client_id, "resent").await.unwrap();
            assert_eq!(&resent, original, "a resend after run {run} returns the original");
        }
        assert_eq!(store.last_seq(conversation).await.unwrap(), last, "resends store nothing");
        let sender = if index == 0 { &cast.senders[run % SENDERS] } else { &cast.senders[index - 1] };
        let next = chat.send(sender, conversation, &format!("after-{run}"), "after the crash").await.unwrap();
        assert_eq!(next.seq, last.next(), "sending continues at the next seq");
    }
    unacknowledged
}
