//! Group commit for [`PgStore`](super::PgStore)'s appends: the appends waiting on a node share
//! one statement, so one round trip and one commit (one WAL flush) for all of them.
//!
//! # How a batch forms
//! [`Appender::append`] queues the message with a reply channel and waits. One task, the
//! *former*, takes a pipeline slot (at most [`IN_FLIGHT`] batches commit at once, each on its
//! own pooled connection), then everything queued, up to [`BATCH_MESSAGES`] messages or about
//! [`BATCH_BYTES`] of bodies, and hands that batch to a task of its own. While a batch commits,
//! the next one gathers in the queue, for [`SECOND_BATCH_AFTER`] at most before it commits
//! beside it: the busier the node, the larger the batches, and no wait added when it is idle (a
//! lone append goes at once, as a batch of one).
//!
//! # One statement, every guarantee
//! The batch is the statement [`BATCH`], in its own implicit transaction:
//!
//! | step | what it keeps |
//! |------|---------------|
//! | keys repeated *within* the batch are dropped in Rust first; the later ones get the first one's result as `Duplicate` | one message per client id |
//! | `known`: the batch's keys already stored (the statement's snapshot), one probe of the client-id key each, answer `Duplicate` of the stored original | resends, as today |
//! | `members`: a checked message's (conversation, sender) row of `kanect_memberships`, locked `FOR KEY SHARE` | a removed member cannot send through any node |
//! | `seqs`: one upsert per conversation, `last_seq = last_seq + n`, rows taken in conversation-id order | gap-free seqs across nodes, no deadlock between batches |
//! | `inserted`: all messages in one multi-row insert from `unnest`, numbered `last_seq - n + k` in queue order | each conversation's seqs in the order its appends queued |
//!
//! *Seqs.* The upsert takes each conversation's seq row lock and holds it until the batch
//! commits; a batch on another node that touches the same conversation waits there and then
//! increments the committed value (`ON CONFLICT DO UPDATE` always sees the newest committed
//! row). Every node takes those locks in conversation-id order, so two batches never wait on
//! each other in a cycle through seq rows.
//!
//! *Resends.* `known` reads the statement's snapshot. A resend that another node (or another
//! batch of this one) commits after that snapshot is not seen: the insert then fails on the
//! client-id (or id) unique key, which fails the whole statement, nothing written. The batch
//! then runs the statement once more, whose new snapshot knows that message; should it fail
//! again, the batch falls back to one append at a time (below), where the same failure is
//! recognised as today.
//!
//! *Membership.* A locking read sees the newest committed row, not the snapshot's: a member
//! whose removal committed before the lock is not a member, and a removal still running is
//! waited for. The lock is held until the batch commits, so a removal that comes later waits
//! for the batch: its system line ("left") takes a seq after the member's last message.
//!
//! *Failures.* Any error PostgreSQL reports for the statement (a racing resend's unique
//! violation, a deadlock with a membership change, a value it refuses such as a NUL byte in
//! a body) rolled the whole statement back: the batch is then appended one message at a time
//! ([`append_one`], the single-statement path with the same membership check), so each append
//! gets its own result and one bad message fails alone. A connection that breaks before the
//! answer arrives leaves the outcome unknown: every append of the batch gets an error (as the
//! store contract says; a retry with the same client id returns the original if it was
//! committed). A retry one by one in that case would answer `Duplicate` for messages the batch
//! created, and the engine would never fan them out. After the commit, the originals of the
//! batch's resends are read; if that read fails, the resends alone get an error (a retry reads
//! the original again), and the appends the batch created are answered as created.
//!
//! *Plans.* The statement is prepared once per connection, and PostgreSQL soon runs it on a
//! generic plan made with the table statistics of that moment. `known` is written as one
//! probe of the client-id key per append (`LATERAL … LIMIT 1`) rather than a join: as a join,
//! on a young table or one not analyzed yet, the generic plan hashed the batch against a
//! sequential scan of every message, for every batch until the next ANALYZE.
//!
//! *Durability.* A reply is sent only once the statement returned, which tokio-postgres
//! reports after the server's `ReadyForQuery`, after the implicit transaction's COMMIT.
//!
//! *Shutdown.* The former ends when the store (which holds the only sender) is dropped; a
//! batch already formed still commits and answers. An append whose reply sender is dropped
//! without an answer (its task was dropped with the runtime) gets an error, never hangs.

use super::rows::{self, message_columns};
use super::sql::{query, Params};
use super::{db, violates};
use deadpool_postgres::{GenericClient, Object, Pool, PoolError};
use kanect_core::backend::{Appended, NewMessage, StoreResult};
use kanect_core::metrics::GroupCommitMetrics;
use kanect_core::{ConversationId, Message, MessageId, Seq, StoreError, UserId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_postgres::types::Json;

/// Batches committing at once, each on its own pooled connection. Two, the second only after
/// [`SECOND_BATCH_AFTER`]: with two or three taken freely (a timing of 64 appenders on the
/// store, since removed), a slot freed by a commit was taken at once by the few appends queued
/// at that instant, before the appenders just answered had queued their next ones, so batches
/// fragmented and PostgreSQL spent its CPU per statement rather than per message. One at a time
/// gathers everything that queued during a commit, but then a slow commit (a slow flush of the
/// WAL) holds every append behind it: the tail of the latency (`benches/cluster.sh` at a fixed
/// rate).
pub(super) const IN_FLIGHT: usize = 2;

/// How long the first append of a batch waits for the batch committing before it, at most,
/// before it goes in a batch of its own beside it.
const SECOND_BATCH_AFTER: std::time::Duration = std::time::Duration::from_millis(3);

/// How often the former yields to the runtime between a batch's first append and taking the
/// rest: no wait on a clock, only a turn for the tasks that are ready.
const GATHER_YIELDS: usize = 4;

/// The most messages in one batch: a bound on the statement's size and on how long its
/// locks are held.
pub(super) const BATCH_MESSAGES: usize = 512;

/// About the most bytes of bodies in one batch (a message never waits for a batch of its own
/// size: the first of a batch is always taken).
pub(super) const BATCH_BYTES: usize = 4 << 20;

/// Appends queued and not yet in a batch, at most. A full queue makes appends wait to queue:
/// the node's back pressure when PostgreSQL falls behind.
const QUEUE: usize = 8 * BATCH_MESSAGES;

/// An append's answer: None when its sender was not a member (checked appends only).
type Outcome = StoreResult<Option<Appended>>;

/// One queued append.
struct Pending {
    message: NewMessage,
    /// Whether a user message from a non-member is refused (`append_member_message`).
    checked: bool,
    reply: oneshot::Sender<Outcome>,
}

/// Counters of what the batches did, for tests and metrics.
#[derive(Debug, Default)]
struct Counters {
    /// Batch statements that committed.
    batches: AtomicU64,
    /// Appends answered by a committed batch statement.
    batched: AtomicU64,
    /// Batches that failed as a whole and were appended one at a time.
    fallbacks: AtomicU64,
    /// Batch statements run a second time after a racing resend.
    reruns: AtomicU64,
    /// Batches formed and not yet answered.
    in_flight: AtomicUsize,
    /// Told when a batch's commit is over (its slot is free).
    committed: tokio::sync::Notify,
}

/// The queue in front of the former task; dropping it ends the task.
#[derive(Debug)]
pub(super) struct Appender {
    queue: mpsc::Sender<Pending>,
    counters: Arc<Counters>,
}

/// What [`Appender::stats`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stats {
    pub(super) batches: u64,
    pub(super) batched: u64,
    pub(super) fallbacks: u64,
    pub(super) reruns: u64,
    pub(super) in_flight: usize,
    pub(super) queued: usize,
}

impl Appender {
    /// Starts the former task on the current tokio runtime. `connect` maps a pool error as
    /// the store's other calls do.
    pub(super) fn start(pool: Pool, connect: fn(&str, PoolError) -> StoreError, tls: String) -> Appender {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let metrics = GroupCommitMetrics::register("postgres");
        let committer = Committer { pool, connect, tls: tls.into(), counters: counters.clone(), metrics };
        tokio::spawn(form(receiver, Arc::new(committer)));
        Appender { queue, counters }
    }

    /// Queues one append and waits for its batch's answer.
    pub(super) async fn append(&self, message: NewMessage, checked: bool) -> Outcome {
        let (reply, answer) = oneshot::channel();
        if self.queue.send(Pending { message, checked, reply }).await.is_err() {
            return Err(StoreError::backend(AppendError::Stopped));
        }
        answer.await.unwrap_or_else(|_| Err(StoreError::backend(AppendError::Stopped)))
    }

    pub(super) fn stats(&self) -> Stats {
        Stats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            batched: self.counters.batched.load(Ordering::Relaxed),
            fallbacks: self.counters.fallbacks.load(Ordering::Relaxed),
            reruns: self.counters.reruns.load(Ordering::Relaxed),
            in_flight: self.counters.in_flight.load(Ordering::Relaxed),
            queued: self.queue.max_capacity() - self.queue.capacity(),
        }
    }
}

/// Why an append got no answer from PostgreSQL.
#[derive(Debug, thiserror::Error)]
enum AppendError {
    /// The store's append task is gone (the store was dropped, or its runtime shut down).
    #[error("the store's append task has stopped")]
    Stopped,
    /// The batch's connection failed before the commit's answer: committed or not, unknown.
    #[error("the connection failed during a batch of appends (outcome unknown): {0}")]
    Lost(String),
    /// No connection for the batch: nothing was sent.
    #[error("no connection for a batch of appends: {0}")]
    Unavailable(String),
    /// The first append of the same key in the batch failed.
    #[error("an append of the same key failed: {0}")]
    SameKey(String),
    /// A resend's original could not be read after the batch committed.
    #[error("the original of a resent message could not be read: {0}")]
    Original(String),
}

/// The former: one batch per free pipeline slot, of everything queued then.
async fn form(mut receiver: mpsc::Receiver<Pending>, committer: Arc<Committer>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut carried: Option<Pending> = None;
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let first = match carried.take() {
            Some(pending) => pending,
            None => match receiver.recv().await {
                Some(pending) => pending,
                None => return,
            },
        };
        // A batch is committing: wait for it (a short while at most), so that what queues
        // meanwhile goes in one batch rather than many small ones.
        let committed = committer.counters.committed.notified();
        tokio::pin!(committed);
        committed.as_mut().enable();
        if committer.counters.in_flight.load(Ordering::Acquire) > 0 {
            let _ = tokio::time::timeout(SECOND_BATCH_AFTER, committed).await;
        }
        // Let the appenders just answered by the last batch (ready to run, not yet run) queue
        // their next appends first, so that they join this batch rather than the next.
        for _ in 0..GATHER_YIELDS {
            tokio::task::yield_now().await;
        }
        let mut bytes = first.message.body.len();
        let mut batch = vec![first];
        while batch.len() < BATCH_MESSAGES {
            let Ok(pending) = receiver.try_recv() else { break };
            bytes += pending.message.body.len();
            if bytes > BATCH_BYTES {
                carried = Some(pending);
                break;
            }
            batch.push(pending);
        }
        committer.counters.in_flight.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(committer.clone().commit(batch, slot));
    }
}

/// What every batch task shares.
struct Committer {
    pool: Pool,
    connect: fn(&str, PoolError) -> StoreError,
    /// The TLS settings, which a failed connection names.
    tls: Box<str>,
    counters: Arc<Counters>,
    /// A committed batch's statement time and size.
    metrics: GroupCommitMetrics,
}

/// A batch's appends with repeated keys taken out: `leaders` go to PostgreSQL, each
/// `follower` takes its leader's answer as a duplicate.
struct Deduped {
    leaders: Vec<Pending>,
    followers: Vec<(usize, oneshot::Sender<Outcome>)>,
}

fn dedupe(batch: Vec<Pending>) -> Deduped {
    let mut first: HashMap<(ConversationId, UserId, String), usize> = HashMap::new();
    let mut deduped = Deduped { leaders: Vec::with_capacity(batch.len()), followers: Vec::new() };
    for pending in batch {
        let key = (pending.message.conversation, pending.message.sender, pending.message.client_id.clone());
        match first.get(&key) {
            Some(&leader) => deduped.followers.push((leader, pending.reply)),
            None => {
                first.insert(key, deduped.leaders.len());
                deduped.leaders.push(pending);
            }
        }
    }
    deduped
}

/// A follower's answer from its leader's: the same message, as a duplicate.
fn as_follower(leader: &Outcome) -> Outcome {
    match leader {
        Ok(Some(Appended::Created(m) | Appended::Duplicate(m))) => Ok(Some(Appended::Duplicate(m.clone()))),
        Ok(None) => Ok(None),
        Err(error) => Err(StoreError::backend(AppendError::SameKey(error.to_string()))),
    }
}

impl Committer {
    async fn commit(self: Arc<Self>, batch: Vec<Pending>, slot: OwnedSemaphorePermit) {
        let Deduped { leaders, followers } = dedupe(batch);
        let (messages, replies): (Vec<_>, Vec<_>) =
            leaders.into_iter().map(|p| ((p.message, p.checked), p.reply)).unzip();
        let outcomes = self.outcomes(&messages).await;
        drop(slot);
        for (leader, reply) in followers {
            let _ = reply.send(as_follower(&outcomes[leader]));
        }
        for (outcome, reply) in outcomes.into_iter().zip(replies) {
            // A caller that stopped waiting (its future dropped) needs no answer.
            let _ = reply.send(outcome);
        }
        self.counters.in_flight.fetch_sub(1, Ordering::Release);
        self.counters.committed.notify_waiters();
    }

    /// Each message's answer, in order.
    async fn outcomes(&self, messages: &[(NewMessage, bool)]) -> Vec<Outcome> {
        let client = match self.pool.get().await {
            Ok(client) => client,
            Err(error) => {
                let error = (self.connect)(&self.tls, error);
                let text = error.to_string();
                let mut outcomes = vec![Err(error)];
                let unavailable = || Err(StoreError::backend(AppendError::Unavailable(text.clone())));
                outcomes.extend(messages[1..].iter().map(|_| unavailable()));
                return outcomes;
            }
        };
        // A value that does not fit a column (Rust's check): find which one by one.
        let Ok(columns) = Columns::of(messages) else { return self.one_by_one(&client, messages).await };
        let started = std::time::Instant::now();
        let mut rows = columns.run(&client).await;
        if rows.as_ref().is_err_and(raced_by_a_resend) {
            // A resend committed after the statement's snapshot (on another node, or in the
            // batch beside this one): nothing was written, and the same statement run again
            // sees that message as known. A second failure goes one by one, below.
            self.counters.reruns.fetch_add(1, Ordering::Relaxed);
            rows = columns.run(&client).await;
        }
        match rows {
            Ok(rows) => match decode(&rows, messages.len()) {
                Ok(found) => {
                    self.metrics.sync.record(started.elapsed().as_secs_f64());
                    self.metrics.writes.record(messages.len() as f64);
                    self.counters.batches.fetch_add(1, Ordering::Relaxed);
                    self.counters.batched.fetch_add(messages.len() as u64, Ordering::Relaxed);
                    answer(&client, messages, found).await
                }
                Err(error) => {
                    // Committed, but its rows could not be read: unknown, for every append,
                    // as a lost connection.
                    let text = error.to_string();
                    messages.iter().map(|_| Err(StoreError::backend(AppendError::Lost(text.clone())))).collect()
                }
            },
            Err(error) if statement_failed(&error) => {
                tracing::debug!(%error, appends = messages.len(), "a batch of appends failed; appending one by one");
                self.one_by_one(&client, messages).await
            }
            Err(error) => {
                // Out of the pool: the next batch must not take a connection that is gone
                // before the pool has noticed.
                drop(Object::take(client));
                let text = error.to_string();
                messages.iter().map(|_| Err(StoreError::backend(AppendError::Lost(text.clone())))).collect()
            }
        }
    }

    async fn one_by_one(&self, client: &Object, messages: &[(NewMessage, bool)]) -> Vec<Outcome> {
        self.counters.fallbacks.fetch_add(1, Ordering::Relaxed);
        let mut outcomes = Vec::with_capacity(messages.len());
        for (message, checked) in messages {
            outcomes.push(append_one(client, message, *checked).await);
        }
        outcomes
    }
}

/// What the committed statement did with one append.
enum Found {
    /// Stored, at this seq.
    Created(i64),
    /// Its key was stored already: a resend.
    Known,
    /// Refused: its sender is not a member.
    Refused,
}

/// The statement's rows, one per append that the statement answered for, by position.
fn decode(rows: &[tokio_postgres::Row], appends: usize) -> StoreResult<Vec<Option<Found>>> {
    let mut found: Vec<Option<Found>> = (0..appends).map(|_| None).collect();
    for row in rows {
        let ord: i32 = row.try_get(0).map_err(db)?;
        let seq: Option<i64> = row.try_get(1).map_err(db)?;
        let known: bool = row.try_get(2).map_err(db)?;
        let slot = usize::try_from(ord)
            .ok()
            .and_then(|i| found.get_mut(i))
            .ok_or_else(|| StoreError::Corrupt(format!("a batch answered for append {ord}")))?;
        *slot = Some(match (seq, known) {
            (Some(seq), _) => Found::Created(seq),
            (None, true) => Found::Known,
            (None, false) => Found::Refused,
        });
    }
    Ok(found)
}

/// Each append's answer from what the committed statement did. The originals of resends are
/// read after the commit (as the single path reads them after its failed insert: as they are
/// now); a failure to read them fails the resends alone, never the appends the batch created.
async fn answer(client: &Object, messages: &[(NewMessage, bool)], found: Vec<Option<Found>>) -> Vec<Outcome> {
    let known: Vec<uuid::Uuid> = messages
        .iter()
        .zip(&found)
        .filter(|(_, f)| matches!(f, Some(Found::Known)))
        .map(|((m, _), _)| *m.id().as_uuid())
        .collect();
    let originals = if known.is_empty() { Ok(HashMap::new()) } else { originals(client, &known).await };
    let mut outcomes = Vec::with_capacity(messages.len());
    for ((message, checked), found) in messages.iter().zip(found) {
        outcomes.push(match found {
            Some(Found::Created(seq)) => {
                rows::unsigned(seq, "seq").map(|seq| Some(Appended::Created(message.clone().with_seq(Seq(seq)))))
            }
            Some(Found::Known) => match &originals {
                Ok(originals) => match originals.get(&message.id()) {
                    Some(original) if message.is_resend_of(original) => Ok(Some(Appended::Duplicate(original.clone()))),
                    _ => Err(StoreError::Corrupt("client id collided but its message is gone".to_string())),
                },
                Err(error) => Err(StoreError::backend(AppendError::Original(error.to_string()))),
            },
            Some(Found::Refused) if *checked && message.event.is_none() => Ok(None),
            Some(Found::Refused) | None => {
                Err(StoreError::Corrupt("a batch neither stored an append nor knew its key".to_string()))
            }
        });
    }
    outcomes
}

/// The stored messages with these ids.
async fn originals(client: &Object, ids: &[uuid::Uuid]) -> StoreResult<HashMap<MessageId, Message>> {
    let sql = concat!("SELECT ", message_columns!(), " FROM kanect_messages WHERE id = ANY($1)");
    let mut originals = HashMap::new();
    for row in query(client, sql, &[&ids]).await? {
        let message = rows::message(&row)?;
        originals.insert(message.id, message);
    }
    Ok(originals)
}

/// Whether a batch statement failed on a message key that another statement committed after
/// this one's snapshot: a racing resend (or a message id taken meanwhile).
fn raced_by_a_resend(error: &tokio_postgres::Error) -> bool {
    violates(error, "kanect_messages_client_key") || violates(error, "kanect_messages_id_key")
}

/// Whether a batch statement's error is PostgreSQL refusing the statement (which rolled it
/// back: nothing written), rather than a connection that failed with the outcome unknown.
fn statement_failed(error: &tokio_postgres::Error) -> bool {
    error.as_db_error().is_some_and(|e| e.severity() == "ERROR")
}

/// The batch as one array per column, for `unnest`.
struct Columns<'a> {
    ord: Vec<i32>,
    conversation: Vec<uuid::Uuid>,
    id: Vec<uuid::Uuid>,
    sender: Vec<uuid::Uuid>,
    body: Vec<&'a str>,
    client_id: Vec<&'a str>,
    sent_at: Vec<i64>,
    attachments: Vec<Json<&'a [kanect_core::AttachmentMeta]>>,
    reply_to: Vec<Option<i64>>,
    mentions: Vec<Json<&'a [UserId]>>,
    event: Vec<Option<Json<&'a kanect_core::GroupEvent>>>,
    checked: Vec<bool>,
}

impl<'a> Columns<'a> {
    fn of(messages: &'a [(NewMessage, bool)]) -> StoreResult<Columns<'a>> {
        let n = messages.len();
        let mut c = Columns {
            ord: Vec::with_capacity(n),
            conversation: Vec::with_capacity(n),
            id: Vec::with_capacity(n),
            sender: Vec::with_capacity(n),
            body: Vec::with_capacity(n),
            client_id: Vec::with_capacity(n),
            sent_at: Vec::with_capacity(n),
            attachments: Vec::with_capacity(n),
            reply_to: Vec::with_capacity(n),
            mentions: Vec::with_capacity(n),
            event: Vec::with_capacity(n),
            checked: Vec::with_capacity(n),
        };
        for (i, (m, checked)) in messages.iter().enumerate() {
            c.ord.push(i32::try_from(i).unwrap_or(i32::MAX));
            c.conversation.push(*m.conversation.as_uuid());
            c.id.push(*m.id().as_uuid());
            c.sender.push(*m.sender.as_uuid());
            c.body.push(&m.body);
            c.client_id.push(&m.client_id);
            c.sent_at.push(rows::signed(m.sent_at.0, "sent_at")?);
            c.attachments.push(Json(&m.attachments));
            c.reply_to.push(m.reply_to.map(|seq| rows::signed(seq.0, "reply_to")).transpose()?);
            c.mentions.push(Json(&m.mentions));
            c.event.push(m.event.as_ref().map(Json));
            c.checked.push(*checked && m.event.is_none());
        }
        Ok(c)
    }

    async fn run(&self, client: &Object) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
        let params: Params<'_> = &[
            &self.ord,
            &self.conversation,
            &self.id,
            &self.sender,
            &self.body,
            &self.client_id,
            &self.sent_at,
            &self.attachments,
            &self.reply_to,
            &self.mentions,
            &self.event,
            &self.checked,
        ];
        let statement = client.prepare_cached(BATCH).await?;
        client.query(&statement, params).await
    }
}

/// A batch of appends as one statement; see the module docs. Parameters are one array per
/// column; rows come back one per input, `(ord, seq if created, whether the key was known)`.
const BATCH: &str = "\
WITH input AS (
    SELECT * FROM unnest($1::int4[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::int8[],
                         $8::jsonb[], $9::int8[], $10::jsonb[], $11::jsonb[], $12::bool[])
        AS t(ord, conversation, id, sender, body, client_id, sent_at, attachments, reply_to, mentions, event, checked)
),
known AS (
    SELECT i.ord FROM input i CROSS JOIN LATERAL (
        SELECT 1 FROM kanect_messages m
        WHERE m.conversation = i.conversation AND m.sender = i.sender AND m.client_id = i.client_id
        LIMIT 1
    ) m
),
members AS MATERIALIZED (
    SELECT ms.conversation, ms.user_id FROM input i JOIN kanect_memberships ms
        ON ms.conversation = i.conversation AND ms.user_id = i.sender
        WHERE i.checked
        FOR KEY SHARE OF ms
),
fresh AS (
    SELECT i.*, row_number() OVER (PARTITION BY i.conversation ORDER BY i.ord) AS k,
           count(*) OVER (PARTITION BY i.conversation) AS n
    FROM input i
    WHERE i.ord NOT IN (SELECT ord FROM known)
      AND (NOT i.checked OR (i.conversation, i.sender) IN (SELECT conversation, user_id FROM members))
),
seqs AS (
    INSERT INTO kanect_conversation_seqs AS s (conversation, last_seq)
    SELECT conversation, count(*) FROM fresh GROUP BY conversation ORDER BY conversation
    ON CONFLICT (conversation) DO UPDATE SET last_seq = s.last_seq + EXCLUDED.last_seq
    RETURNING conversation, last_seq
),
inserted AS (
    INSERT INTO kanect_messages (conversation, seq, id, sender, body, client_id, sent_at, attachments, reply_to,
                                 mentions, event)
    SELECT f.conversation, s.last_seq - f.n + f.k, f.id, f.sender, f.body, f.client_id, f.sent_at, f.attachments,
           f.reply_to, f.mentions, f.event
    FROM fresh f JOIN seqs s ON s.conversation = f.conversation
    RETURNING id, seq
)
SELECT i.ord, ins.seq, i.ord IN (SELECT ord FROM known) FROM input i LEFT JOIN inserted ins ON ins.id = i.id";

/// The message a (conversation, sender, client id) already names, if any.
pub(super) async fn by_client_id(client: &impl GenericClient, message: &NewMessage) -> StoreResult<Option<Message>> {
    let sql = concat!(
        "SELECT ",
        message_columns!(),
        " FROM kanect_messages WHERE conversation = $1 AND sender = $2 AND client_id = $3"
    );
    let params: Params<'_> = &[message.conversation.as_uuid(), message.sender.as_uuid(), &message.client_id];
    query(client, sql, params).await?.first().map(rows::message).transpose()
}

/// One append as one statement: the path a failed batch falls back to, message by message.
///
/// The upsert locks the conversation's seq row until commit: concurrent appends to this
/// conversation, on any node, wait there and then increment the committed value. A known
/// client id fails the message insert — on the client-id key, or on the id key first, as the
/// id is derived from the client id — which rolls the increment back with it (no gap); the
/// original is then read and returned. A checked user message takes its sender's membership
/// row `FOR KEY SHARE` (the newest committed version, held to commit) and, without one, is
/// not inserted at all: no row comes back, and a known key still answers its original.
pub(super) async fn append_one(client: &impl GenericClient, message: &NewMessage, checked: bool) -> Outcome {
    let sql = "WITH member AS MATERIALIZED (SELECT 1 FROM kanect_memberships \
               WHERE conversation = $1::uuid AND user_id = $3::uuid FOR KEY SHARE), \
               next AS (INSERT INTO kanect_conversation_seqs AS s (conversation, last_seq) \
               SELECT $1::uuid, 1 WHERE NOT $11::bool OR EXISTS (SELECT 1 FROM member) \
               ON CONFLICT (conversation) DO UPDATE SET last_seq = s.last_seq + 1 RETURNING last_seq) \
               INSERT INTO kanect_messages (conversation, seq, id, sender, body, client_id, sent_at, attachments, \
               reply_to, mentions, event) \
               SELECT $1, next.last_seq, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM next RETURNING seq";
    let checked = checked && message.event.is_none();
    let sent_at = rows::signed(message.sent_at.0, "sent_at")?;
    let id = message.id();
    let attachments = Json(&message.attachments);
    let reply_to = message.reply_to.map(|seq| rows::signed(seq.0, "reply_to")).transpose()?;
    let mentions = Json(&message.mentions);
    let event = message.event.as_ref().map(Json);
    let params: Params<'_> = &[
        message.conversation.as_uuid(),
        id.as_uuid(),
        message.sender.as_uuid(),
        &message.body,
        &message.client_id,
        &sent_at,
        &attachments,
        &reply_to,
        &mentions,
        &event,
        &checked,
    ];
    let statement = client.prepare_cached(sql).await.map_err(db)?;
    match client.query(&statement, params).await {
        Ok(rows) => match rows.first() {
            Some(row) => {
                let seq = rows::unsigned(rows::first(row)?, "seq")?;
                Ok(Some(Appended::Created(message.clone().with_seq(Seq(seq)))))
            }
            // Not a member: unless the key is known, refused.
            None => match by_client_id(client, message).await? {
                Some(original) => Ok(Some(Appended::Duplicate(original))),
                None if checked => Ok(None),
                None => Err(StoreError::Corrupt("an append stored nothing".to_string())),
            },
        },
        Err(error) if raced_by_a_resend(&error) => {
            let original = by_client_id(client, message).await?;
            original
                .map(|original| Some(Appended::Duplicate(original)))
                .ok_or_else(|| StoreError::Corrupt("client id collided but its message is gone".to_string()))
        }
        Err(error) => Err(db(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kanect_core::Timestamp;

    fn pending(conversation: ConversationId, sender: UserId, client_id: &str) -> (Pending, oneshot::Receiver<Outcome>) {
        let (reply, answer) = oneshot::channel();
        let message = NewMessage {
            conversation,
            sender,
            body: "x".into(),
            client_id: client_id.into(),
            sent_at: Timestamp(1),
            attachments: Vec::new(),
            reply_to: None,
            mentions: Vec::new(),
            event: None,
        };
        (Pending { message, checked: true, reply }, answer)
    }

    #[test]
    fn a_repeated_key_follows_its_first_append() {
        let (c, a, b) = (ConversationId::new(), UserId::new(), UserId::new());
        let batch: Vec<Pending> = [(a, "k1"), (b, "k1"), (a, "k1"), (a, "k2"), (b, "k1")]
            .into_iter()
            .map(|(sender, key)| pending(c, sender, key).0)
            .collect();
        let deduped = dedupe(batch);
        let leaders: Vec<_> = deduped.leaders.iter().map(|p| (p.message.sender, p.message.client_id.clone())).collect();
        assert_eq!(leaders, [(a, "k1".to_string()), (b, "k1".to_string()), (a, "k2".to_string())]);
        assert_eq!(deduped.followers.iter().map(|(leader, _)| *leader).collect::<Vec<_>>(), [0, 1]);
    }

    /// A prepared statement soon runs on a generic plan, made with the statistics of that
    /// moment. On a young table (or one not analyzed yet), the batch's duplicate check was
    /// planned as a sequential scan of every message, hashed against the batch, for every
    /// batch until the next ANALYZE: at 5,000 messages/s the statement took ~9 ms instead of
    /// under 1 (`benches/cluster.sh` with `RATE=5000`).
    #[tokio::test]
    #[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
    async fn the_batchs_generic_plan_reads_messages_by_their_key_only() {
        let url = std::env::var("KANECT_TEST_PG").expect("KANECT_TEST_PG names a database");
        let schema = format!("kanect_test_plan_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let config = super::super::PgConfig { schema: Some(schema.clone()), ..super::super::PgConfig::new(url) };
        let store = super::super::PgStore::connect_with(config).await.expect("connect");
        let client = store.client().await.expect("a connection");
        let types = "int4[], uuid[], uuid[], uuid[], text[], text[], int8[], jsonb[], int8[], jsonb[], jsonb[], bool[]";
        client.batch_execute(&format!("PREPARE batch({types}) AS {BATCH}")).await.expect("prepare");
        client.batch_execute("SET plan_cache_mode = force_generic_plan").await.expect("generic plans");
        let empty = ["'{}'"; 12].join(", ");
        let plan: Vec<String> = client
            .query(&format!("EXPLAIN EXECUTE batch({empty})"), &[])
            .await
            .expect("explain")
            .iter()
            .map(|row| row.get(0))
            .collect();
        let plan = plan.join("\n");
        client
            .batch_execute(&format!("DEALLOCATE batch; RESET plan_cache_mode; DROP SCHEMA {schema} CASCADE"))
            .await
            .expect("clean up");
        assert!(!plan.contains("Seq Scan on kanect_messages"), "{plan}");
        assert!(plan.contains("kanect_messages_client_key"), "{plan}");
    }

    #[test]
    fn a_follower_gets_its_leaders_message_as_a_duplicate() {
        let message = pending(ConversationId::new(), UserId::new(), "k").0.message.with_seq(Seq(3));
        let created: Outcome = Ok(Some(Appended::Created(message.clone())));
        assert_eq!(as_follower(&created).unwrap(), Some(Appended::Duplicate(message)));
        assert_eq!(as_follower(&Ok(None)).unwrap(), None);
        let failed: Outcome = Err(StoreError::Corrupt("x".into()));
        assert!(matches!(as_follower(&failed), Err(StoreError::Backend(_))));
    }
}
