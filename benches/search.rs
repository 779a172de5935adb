//! Search benchmark: query latency over 1,000,000 stored messages, through the engine
//! (`Chat::search_messages`: membership, the TantivyIndex, each hit checked against the store,
//! snippets), with FjallStore and its TantivyIndex on disk as the server has them.
//!
//! `cargo bench --bench search` (`KANECT_SEARCH_MESSAGES=N` for another corpus size;
//! `KANECT_SEARCH_DIR=DIR` keeps the corpus in DIR and reuses it on the next run)
//!
//! The corpus is built directly through the store (appends from 256 tasks at once, no HTTP,
//! to keep the run short): 1,000 users, 2,000 groups of five, messages of 5–20 words drawn with a
//! skew from a vocabulary of 10,000 words, sent a minute apart. The index is then built by the
//! TantivyIndex's own catch-up pass from the store (its rebuild time is printed). Two callers
//! search: a *typical* user in about 10 conversations (~5,000 messages in reach), and a *heavy*
//! one in 200 conversations (~100,000 messages in reach). Each query kind runs 300 times, each
//! time with another word of its kind, newest first and by relevance, a page of 20; p50, p99 and
//! max in milliseconds. The whole run is bounded: minutes, most of it building the corpus.
//!
//! Send throughput with and without indexing is measured end to end by `benches/sends_without.sh --no-search`.

use futures_util::StreamExt;
use hdrhistogram::Histogram;
use kanect::search::{SearchOrder, SearchRequest};
use kanect::store::{FjallStore, TantivyIndex};
use kanect::{
    Chat, ChatConfig, Conversation, ConversationId, ConversationKind, PasswordCost, RateLimits, Registration, Store,
    Timestamp, UserId,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

const USERS: usize = 1_000;
const GROUPS: usize = 2_000;
const VOCABULARY: usize = 10_000;
const HEAVY_GROUPS: usize = 200;
const RUNS: usize = 300;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A small deterministic generator (xorshift), so every run builds the same corpus.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A word's rank, skewed towards the common ones (rank 0 most).
    fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        ((u * u * u) * n as f64) as usize
    }
}

/// The `rank`-th word: letters only, distinct for every rank.
fn word(rank: usize) -> String {
    let syllables = ["ka", "ne", "ti", "so", "ru", "mi", "lo", "be", "da", "pu"];
    let mut n = rank;
    let mut out = String::new();
    loop {
        out.push_str(syllables[n % 10]);
        n /= 10;
        if n == 0 {
            return out;
        }
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    if let Err(error) = runtime.block_on(bench()) {
        eprintln!("search bench failed: {error}");
        std::process::exit(1);
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn bench() -> Result<(), BoxError> {
    let messages: usize =
        std::env::var("KANECT_SEARCH_MESSAGES").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let (dir, _temporary) = match std::env::var_os("KANECT_SEARCH_DIR") {
        Some(dir) => (PathBuf::from(dir), None),
        None => {
            let temporary = tempfile::tempdir()?;
            (temporary.path().to_path_buf(), Some(temporary))
        }
    };
    let store = Arc::new(FjallStore::open(dir.join("data"))?);
    let config = ChatConfig {
        password_cost: PasswordCost::INSECURE_FAST,
        rate_limits: RateLimits::UNLIMITED,
        ..ChatConfig::default()
    };
    // Without search first: registering users and the corpus.
    let plain = Chat::builder_shared(store.clone()).config(config.clone()).build().await?;
    let users = users(&plain).await?;
    let (typical, heavy) = if dir.join("corpus-ready").exists() {
        println!("reusing the corpus in {}", dir.display());
        (users[1], users[0])
    } else {
        let started = Instant::now();
        corpus(&*store, &users, messages).await?;
        store.flush().await?;
        std::fs::write(dir.join("corpus-ready"), b"")?;
        println!("stored {messages} messages in {:.1} s", started.elapsed().as_secs_f64());
        (users[1], users[0])
    };
    drop(plain);

    let started = Instant::now();
    let index = Arc::new(TantivyIndex::open(dir.join("search"))?);
    let chat = Chat::builder_shared(store.clone()).search_shared(index.clone()).config(config).build().await?;
    index.caught_up().await?;
    println!("index caught up with the store in {:.1} s", started.elapsed().as_secs_f64());

    println!("| caller | query | order | p50 ms | p99 ms | max ms | hits/page |");
    println!("|---|---|---|---|---|---|---|");
    for (name, user) in [("typical", typical), ("heavy", heavy)] {
        let caller = chat.act_as(user).await?;
        for (kind, pick) in kinds() {
            for order in [SearchOrder::Newest, SearchOrder::Relevance] {
                let mut histogram = Histogram::<u64>::new(3)?;
                let mut random = Random(0x5eed_0000 + kind.len() as u64);
                let mut hits = 0;
                for _ in 0..RUNS {
                    let mut request = SearchRequest::new(pick(&mut random));
                    request.order = order;
                    let started = Instant::now();
                    let page = chat.search_messages(&caller, &request).await?;
                    histogram.record(started.elapsed().as_micros() as u64)?;
                    hits += page.hits.len();
                }
                let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
                println!(
                    "| {name} | {kind} | {} | {:.2} | {:.2} | {:.2} | {:.1} |",
                    order.as_str(),
                    ms(0.5),
                    ms(0.99),
                    histogram.max() as f64 / 1000.0,
                    hits as f64 / RUNS as f64
                );
            }
        }
    }
    index.close();
    Ok(())
}

/// What each query kind looks for: a common word (one of the 20 most used), a middling one
/// (ranks 200–2,000), a rare one (ranks 5,000–10,000), two common words, and a phrase of two.
#[allow(clippy::type_complexity)]
fn kinds() -> Vec<(&'static str, Box<dyn Fn(&mut Random) -> String>)> {
    vec![
        ("common word", Box::new(|r: &mut Random| word(r.below(20)))),
        ("middling word", Box::new(|r: &mut Random| word(200 + r.below(1_800)))),
        ("rare word", Box::new(|r: &mut Random| word(5_000 + r.below(5_000)))),
        ("two words", Box::new(|r: &mut Random| format!("{} {}", word(r.below(50)), word(r.below(500))))),
        ("phrase", Box::new(|r: &mut Random| format!("\"{} {}\"", word(r.below(20)), word(r.below(20))))),
    ]
}

/// The users (registered once: a reused corpus finds them).
async fn users(chat: &Chat) -> Result<Vec<UserId>, BoxError> {
    let mut ids = Vec::with_capacity(USERS);
    for i in 0..USERS {
        let name = format!("user{i}");
        let user = match chat.register(Registration::new(name.as_str(), "a long password")).await {
            Ok(user) => user,
            Err(error) if error.code() == "username_taken" => {
                let login = chat.login(&name, "a long password").await?;
                let caller = chat.authenticate(login.token.as_str()).await?;
                ids.push(caller.user());
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        ids.push(user.id);
    }
    Ok(ids)
}

/// Groups and messages, written straight into the store.
async fn corpus(store: &dyn Store, users: &[UserId], messages: usize) -> Result<(), BoxError> {
    let mut random = Random(0x00c0_ffee);
    let mut groups = Vec::with_capacity(GROUPS);
    for g in 0..GROUPS {
        let mut members: Vec<UserId> = (0..5).map(|_| users[2 + random.below(USERS - 2)]).collect();
        // The heavy caller (users[0]) is in the first 200 groups, the typical one (users[1]) in
        // every 200th.
        if g < HEAVY_GROUPS {
            members.push(users[0]);
        }
        if g % 200 == 7 {
            members.push(users[1]);
        }
        members.sort();
        members.dedup();
        let conversation = Conversation {
            id: ConversationId::new(),
            kind: ConversationKind::Group,
            name: Some(format!("group {g}")),
            owner: members.first().copied(),
            members: members.clone(),
            created_at: Timestamp(1_700_000_000_000),
        };
        store.insert_conversation(&conversation).await?;
        groups.push(conversation);
    }
    let start = Timestamp(1_700_000_000_000);
    let mut plans = Vec::with_capacity(messages);
    for i in 0..messages {
        let group = &groups[random.below(GROUPS)];
        let sender = group.members[random.below(group.members.len())];
        let words = 5 + random.below(16);
        let body = (0..words).map(|_| word(random.skewed(VOCABULARY))).collect::<Vec<_>>().join(" ");
        plans.push((group.id, sender, i, body));
    }
    let mut appends = futures_util::stream::iter(plans)
        .map(|(conversation, sender, i, body)| async move {
            let message = kanect::backend::NewMessage {
                conversation,
                sender,
                body,
                client_id: format!("corpus-{i}"),
                sent_at: Timestamp(start.0 + i as u64 * 60_000),
                attachments: Vec::new(),
                reply_to: None,
                mentions: Vec::new(),
                event: None,
            };
            store.append_message(message).await
        })
        .buffer_unordered(256);
    let mut done = 0;
    while let Some(appended) = appends.next().await {
        appended?;
        done += 1;
        if done % 100_000 == 0 {
            println!("  {done} messages stored");
        }
    }
    Ok(())
}
