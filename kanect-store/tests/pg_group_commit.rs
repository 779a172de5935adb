//! PgStore's group commit (`pg::append_batch`): appends waiting on a node share one statement
//! and one commit, and every guarantee of a single append holds across nodes and within a
//! batch. Needs `KANECT_TEST_PG`.
//!
//! A batch is made deterministic by holding the seq row of a "blocker" conversation from a
//! plain connection: one blocker append per pipeline slot waits on that lock, so the appends
//! queued next wait for a slot, and once the lock goes they all go as one batch.
#![cfg(feature = "postgres")]

mod pg_support;

use kanect_core::backend::{Appended, ConversationStore, MessageStore, NewMessage};
use kanect_core::testing::group;
use kanect_core::{ConversationId, GroupEvent, HistoryPage, Seq, StoreError, UserId};
use kanect_store::{PgConfig, PgStore};
use pg_support::{config, raw_client, schema_name};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Outcome = Result<Option<Appended>, StoreError>;

fn message(conversation: ConversationId, sender: UserId, client_id: &str, body: &str) -> NewMessage {
    kanect_core::testing::new_message(conversation, sender, client_id, body)
}

/// Polls `condition` every 2 ms until it holds; fails after 20 s. (What it waits for, a
/// batch stuck on a lock or an append in the queue, has nothing to await.)
async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Within 30 s.
async fn bounded<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future).await.expect("bounded in time")
}

/// The backends waiting on a lock that one connection holds.
struct LockWaiters {
    holder: i32,
    watcher: tokio_postgres::Client,
}

impl LockWaiters {
    async fn of(holder: &tokio_postgres::Client) -> LockWaiters {
        let holder: i32 = holder.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
        LockWaiters { holder, watcher: raw_client("public").await }
    }

    /// Until `n` backends wait on the holder, or on a backend that waits on it (the second
    /// waiter for a row queues behind the first); fails after 20 s.
    async fn until_waiting(&self, n: usize) {
        let waiting = "WITH RECURSIVE blocked(pid) AS (\
                       SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)) \
                       UNION SELECT a.pid FROM pg_stat_activity a JOIN blocked b ON b.pid = ANY(pg_blocking_pids(a.pid))) \
                       SELECT count(*) FROM blocked";
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.watcher.query_one(waiting, &[&self.holder]).await.unwrap().get::<_, i64>(0) < n as i64 {
            assert!(Instant::now() < deadline, "timed out waiting for {n} backends to reach the lock");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// Every pipeline slot of `store` taken by a batch that waits on a lock this holds.
struct Blocked {
    tx_client: tokio_postgres::Client,
    /// What the blockers append.
    messages: Vec<NewMessage>,
    blockers: Vec<tokio::task::JoinHandle<Result<Appended, StoreError>>>,
}

impl Blocked {
    async fn new(store: &Arc<PgStore>, schema: &str) -> Blocked {
        let conversation = ConversationId::new();
        let client = raw_client(schema).await;
        client
            .execute(
                "INSERT INTO kanect_conversation_seqs (conversation, last_seq) VALUES ($1, 0)",
                &[conversation.as_uuid()],
            )
            .await
            .unwrap();
        client.batch_execute("BEGIN").await.unwrap();
        let lock = "SELECT 1 FROM kanect_conversation_seqs WHERE conversation = $1 FOR UPDATE";
        client.execute(lock, &[conversation.as_uuid()]).await.unwrap();
        let holder = LockWaiters::of(&client).await;
        let before = store.append_batches_in_flight();
        let (mut blockers, mut messages) = (Vec::new(), Vec::new());
        for k in 0..PgStore::APPEND_BATCHES_IN_FLIGHT {
            let (node, new) = (store.clone(), message(conversation, UserId::new(), &format!("block{k}"), "b"));
            messages.push(new.clone());
            blockers.push(tokio::spawn(async move { node.append_message(new).await }));
            until("a blocker's batch", || store.append_batches_in_flight() == before + k + 1).await;
            holder.until_waiting(k + 1).await;
        }
        Blocked { tx_client: client, messages, blockers }
    }

    /// Releases the lock; every blocker's append succeeds.
    async fn release(self) {
        self.tx_client.batch_execute("COMMIT").await.unwrap();
        for blocker in self.blockers {
            assert!(matches!(bounded(blocker).await.unwrap(), Ok(Appended::Created(_))));
        }
    }
}

/// `appends` (message, through `append_member_message` or not), all in one batch of `store`;
/// their answers in order.
async fn in_one_batch(store: &Arc<PgStore>, schema: &str, appends: Vec<(NewMessage, bool)>) -> Vec<Outcome> {
    let blocked = Blocked::new(store, schema).await;
    let count = appends.len();
    let mut tasks = Vec::new();
    for (new, checked) in appends {
        let node = store.clone();
        tasks.push(tokio::spawn(async move {
            if checked {
                node.append_member_message(new).await
            } else {
                node.append_message(new).await.map(Some)
            }
        }));
        // In queue order: each in the queue before the next is sent.
        until("an append in the queue", || store.appends_queued() == tasks.len()).await;
    }
    assert_eq!(store.appends_queued(), count);
    let batches = store.append_batches() + store.append_fallbacks();
    blocked.release().await;
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(bounded(task).await.unwrap());
    }
    // The blockers' batches and one more (committed as a batch, or gone one by one).
    let after = store.append_batches() + store.append_fallbacks();
    assert_eq!(after - batches, PgStore::APPEND_BATCHES_IN_FLIGHT as u64 + 1);
    outcomes
}

fn created(outcome: &Outcome) -> kanect_core::Message {
    match outcome {
        Ok(Some(Appended::Created(message))) => message.clone(),
        other => panic!("expected a new message, got {other:?}"),
    }
}

async fn store_on(schema: &str) -> Arc<PgStore> {
    Arc::new(PgStore::connect_with(config(schema)).await.unwrap())
}

/// A store on a fresh schema, with a group of two members: the schema, the store, the
/// members and the group's id.
async fn group_of_two() -> (String, Arc<PgStore>, [UserId; 2], ConversationId) {
    let schema = schema_name();
    let store = store_on(&schema).await;
    let members = [UserId::new(), UserId::new()];
    let conversation = group(&members);
    store.insert_conversation(&conversation).await.unwrap();
    (schema, store, members, conversation.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn two_nodes_appending_at_once_keep_seqs_gap_free_and_resends_deduped() {
    const CONVERSATIONS: usize = 8;
    const PER_TASK: usize = 100; // 2 nodes x 2 tasks x 100 = 400 messages per conversation
    let schema = schema_name();
    let nodes = [store_on(&schema).await, store_on(&schema).await];
    let mut conversations = Vec::new();
    for _ in 0..CONVERSATIONS {
        let senders: Vec<UserId> = (0..4).map(|_| UserId::new()).collect();
        let conversation = group(&senders);
        assert!(nodes[0].insert_conversation(&conversation).await.unwrap());
        conversations.push((conversation.id, senders));
    }
    let mut tasks = Vec::new();
    for (conversation, senders) in &conversations {
        for (task, &sender) in senders.iter().enumerate() {
            let (home, other) = (nodes[task % 2].clone(), nodes[(task + 1) % 2].clone());
            let conversation = *conversation;
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                for i in 0..PER_TASK {
                    let new = message(conversation, sender, &format!("t{task}-{i}"), &format!("body {i}"));
                    mine.push(created(&home.append_member_message(new).await));
                    if i % 10 == 9 {
                        // A resend of an earlier one, through the other node: its original.
                        let earlier = &mine[i - 5];
                        let again = message(conversation, sender, &earlier.client_id, "resent");
                        let answer = other.append_member_message(again).await.unwrap();
                        assert_eq!(answer, Some(Appended::Duplicate(earlier.clone())));
                    }
                }
                mine
            }));
        }
    }
    let mut by_conversation: HashMap<ConversationId, Vec<kanect_core::Message>> = HashMap::new();
    for task in tasks {
        for message in bounded(task).await.unwrap() {
            by_conversation.entry(message.conversation).or_default().push(message);
        }
    }
    for (conversation, _) in &conversations {
        let mut sent = by_conversation.remove(conversation).unwrap();
        sent.sort_by_key(|m| m.seq);
        let seqs: Vec<u64> = sent.iter().map(|m| m.seq.0).collect();
        assert_eq!(seqs, (1..=4 * PER_TASK as u64).collect::<Vec<_>>(), "gap-free, no duplicates");
        let mut stored = Vec::new();
        let mut after = Seq::ZERO;
        loop {
            let page = nodes[1].history(*conversation, HistoryPage::After(after), 100).await.unwrap();
            let Some(last) = page.last() else { break };
            after = last.seq;
            stored.extend(page);
        }
        assert_eq!(stored, sent, "what each append answered is what is stored");
        assert_eq!(nodes[0].last_seq(*conversation).await.unwrap(), Seq(4 * PER_TASK as u64));
    }
    // Batching happened: 32 appenders on 2 nodes share commits, several appends each on average.
    let sum = |count: fn(&PgStore) -> u64| nodes.iter().map(|node| count(node)).sum::<u64>();
    let (batches, batched) = (sum(PgStore::append_batches), sum(PgStore::appends_batched));
    assert_eq!(sum(PgStore::append_fallbacks), 0);
    assert_eq!(batched, (CONVERSATIONS * 4 * (PER_TASK + PER_TASK / 10)) as u64, "every append, resends too");
    assert!(batches * 2 <= batched, "{batches} commits for {batched} appends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn one_batch_dedupes_a_repeated_key_and_refuses_non_members() {
    let schema = schema_name();
    let store = store_on(&schema).await;
    let (alice, bob, mallory) = (UserId::new(), UserId::new(), UserId::new());
    let conversation = group(&[alice, bob]);
    store.insert_conversation(&conversation).await.unwrap();
    let id = conversation.id;
    let mut left = message(id, mallory, "~left", "");
    left.event = Some(GroupEvent::Left);
    let outcomes = in_one_batch(
        &store,
        &schema,
        vec![
            (message(id, alice, "a1", "one"), true),
            (message(id, bob, "b1", "two"), true),
            (message(id, alice, "a1", "one, resent"), true),
            (message(id, mallory, "m1", "not a member"), true),
            (left, true),
            // Unchecked: what an import replays, a former member's message included.
            (message(id, mallory, "m2", "imported"), false),
            (message(id, bob, "b2", "three"), true),
        ],
    )
    .await;
    let first = created(&outcomes[0]);
    assert_eq!(first.seq, Seq(1));
    assert_eq!(created(&outcomes[1]).seq, Seq(2));
    assert_eq!(outcomes[2].as_ref().unwrap(), &Some(Appended::Duplicate(first.clone())));
    assert_eq!(outcomes[3].as_ref().unwrap(), &None, "a non-member's message is refused");
    let line = created(&outcomes[4]);
    assert_eq!((line.seq, line.event.clone()), (Seq(3), Some(GroupEvent::Left)), "a system line is exempt");
    assert_eq!(created(&outcomes[5]).seq, Seq(4));
    assert_eq!(created(&outcomes[6]).seq, Seq(5));
    assert_eq!(store.append_fallbacks(), 0, "all in the batch statement");
    let stored = store.history(id, HistoryPage::After(Seq::ZERO), 10).await.unwrap();
    assert_eq!(stored.iter().map(|m| m.client_id.as_str()).collect::<Vec<_>>(), ["a1", "b1", "~left", "m2", "b2"]);
    // Resent later, by itself: the original, also from a sender who is no longer a member.
    let again = store.append_member_message(message(id, mallory, "m2", "again")).await.unwrap();
    assert_eq!(again, Some(Appended::Duplicate(stored[3].clone())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_removed_member_cannot_send_through_either_node() {
    let schema = schema_name();
    let nodes = [store_on(&schema).await, store_on(&schema).await];
    let (alice, bob) = (UserId::new(), UserId::new());
    let conversation = group(&[alice, bob]);
    nodes[0].insert_conversation(&conversation).await.unwrap();
    let sent = nodes[1].append_member_message(message(conversation.id, bob, "b1", "hi")).await.unwrap();
    assert!(matches!(sent, Some(Appended::Created(_))));
    // Removed through node 0; node 1 (whose caller checked membership earlier) appends.
    nodes[0].remove_member(conversation.id, bob).await.unwrap().unwrap();
    let refused = nodes[1].append_member_message(message(conversation.id, bob, "b2", "still here?")).await.unwrap();
    assert_eq!(refused, None);
    let alone = nodes[1].append_member_message(message(conversation.id, alice, "a1", "bye")).await.unwrap();
    assert!(matches!(alone, Some(Appended::Created(m)) if m.seq == Seq(2)), "no seq taken by the refused one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_message_postgresql_refuses_fails_alone() {
    let schema = schema_name();
    let store = store_on(&schema).await;
    let (alice, bob, mallory) = (UserId::new(), UserId::new(), UserId::new());
    let conversation = group(&[alice, bob]);
    store.insert_conversation(&conversation).await.unwrap();
    let id = conversation.id;
    let other = ConversationId::new();
    let outcomes = in_one_batch(
        &store,
        &schema,
        vec![
            (message(id, alice, "a1", "one"), true),
            (message(other, alice, "x1", "elsewhere"), false),
            (message(id, bob, "b1", "nul \0 byte"), true),
            (message(id, mallory, "m1", "not a member"), true),
            (message(id, bob, "b2", "two"), true),
            (message(id, alice, "a1", "one, resent"), true),
            (message(other, alice, "x2", "elsewhere too"), false),
        ],
    )
    .await;
    assert_eq!(store.append_fallbacks(), 1, "the batch failed as a whole and went one by one");
    let first = created(&outcomes[0]);
    assert_eq!(first.seq, Seq(1));
    assert_eq!(created(&outcomes[1]).seq, Seq(1));
    assert!(matches!(outcomes[2], Err(StoreError::Backend(_))), "{:?}", outcomes[2]);
    assert_eq!(outcomes[3].as_ref().unwrap(), &None);
    assert_eq!(created(&outcomes[4]).seq, Seq(2), "gap-free: the refused body took no seq");
    assert_eq!(outcomes[5].as_ref().unwrap(), &Some(Appended::Duplicate(first)));
    assert_eq!(created(&outcomes[6]).seq, Seq(2));
    assert_eq!(store.last_seq(id).await.unwrap(), Seq(2));
    let stored = store.history(id, HistoryPage::After(Seq::ZERO), 10).await.unwrap();
    assert_eq!(stored.iter().map(|m| m.client_id.as_str()).collect::<Vec<_>>(), ["a1", "b2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn an_original_that_cannot_be_read_fails_its_resend_alone() {
    let (schema, store, [alice, bob], id) = group_of_two().await;
    let first = store.append_member_message(message(id, alice, "a1", "one")).await.unwrap();
    assert!(matches!(first, Some(Appended::Created(_))));
    // The stored original no longer reads as a message: its resend's answer cannot be made
    // once the batch has committed.
    raw_client(&schema)
        .await
        .execute("UPDATE kanect_messages SET attachments = '\"not a list\"' WHERE client_id = 'a1'", &[])
        .await
        .unwrap();
    let outcomes = in_one_batch(
        &store,
        &schema,
        vec![(message(id, alice, "a1", "one, resent"), true), (message(id, bob, "b1", "two"), true)],
    )
    .await;
    assert_eq!(store.append_fallbacks(), 0, "the batch committed");
    assert!(
        matches!(&outcomes[0], Err(StoreError::Backend(e)) if e.to_string().contains("could not be read")),
        "{:?}",
        outcomes[0]
    );
    assert_eq!(created(&outcomes[1]).seq, Seq(2), "what the batch created is answered as created");
    assert_eq!(store.last_seq(id).await.unwrap(), Seq(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_resend_committed_while_a_batch_runs_is_answered_by_the_batch_run_again() {
    let (schema, store, [alice, bob], id) = group_of_two().await;
    let resent = message(id, alice, "a1", "one");
    // Another node stores the same message, and holds the conversation's seq row until it
    // commits: the batch takes its snapshot first, then waits on that row.
    let other = raw_client(&schema).await;
    other.batch_execute("BEGIN").await.unwrap();
    let seq: i64 = other
        .query_one(
            "INSERT INTO kanect_conversation_seqs (conversation, last_seq) VALUES ($1, 1) \
             ON CONFLICT (conversation) DO UPDATE SET last_seq = kanect_conversation_seqs.last_seq + 1 RETURNING last_seq",
            &[id.as_uuid()],
        )
        .await
        .unwrap()
        .get(0);
    other
        .execute(
            "INSERT INTO kanect_messages (conversation, seq, id, sender, body, client_id, sent_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[id.as_uuid(), &seq, resent.id().as_uuid(), alice.as_uuid(), &resent.body, &resent.client_id, &0i64],
        )
        .await
        .unwrap();
    let waiters = LockWaiters::of(&other).await;
    let node = store.clone();
    let append = tokio::spawn(async move { node.append_member_message(resent).await });
    waiters.until_waiting(1).await;
    other.batch_execute("COMMIT").await.unwrap();
    let outcome = bounded(append).await.unwrap().unwrap();
    let original = store.history(id, HistoryPage::After(Seq::ZERO), 10).await.unwrap();
    assert_eq!(original.len(), 1);
    assert_eq!(outcome, Some(Appended::Duplicate(original[0].clone())));
    assert_eq!((store.append_reruns(), store.append_fallbacks()), (1, 0), "run again as a batch, not one by one");
    // And the next append takes the next seq.
    assert_eq!(created(&store.append_member_message(message(id, bob, "b1", "two")).await).seq, Seq(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_batch_whose_connection_dies_fails_every_append_and_a_retry_stores_once() {
    let schema = schema_name();
    let application = format!("kt_{}", &schema[schema.len() - 12..]);
    let separator = if pg_support::url().contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}application_name={application}", pg_support::url());
    let store = Arc::new(PgStore::connect_with(PgConfig { url, ..config(&schema) }).await.unwrap());
    let conversation = ConversationId::new();
    let blocked = Blocked::new(&store, &schema).await;
    let mut tasks = Vec::new();
    for i in 0..5 {
        let (node, new) = (store.clone(), message(conversation, UserId::new(), &format!("c{i}"), "x"));
        tasks.push(tokio::spawn(async move { node.append_message(new).await }));
        until("an append in the queue", || store.appends_queued() == tasks.len()).await;
    }
    // The blockers' connections die while their batches wait on the lock.
    let killer = raw_client("public").await;
    let kill = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                WHERE application_name = $1 AND wait_event_type = 'Lock'";
    let killed: i64 = killer.query_one(kill, &[&application]).await.unwrap().get(0);
    assert_eq!(killed, PgStore::APPEND_BATCHES_IN_FLIGHT as i64);
    for blocker in blocked.blockers {
        let failed = bounded(blocker).await.unwrap();
        assert!(matches!(failed, Err(StoreError::Backend(_))), "{failed:?}");
    }
    blocked.tx_client.batch_execute("COMMIT").await.unwrap();
    // The queued ones go in a batch of their own, on a new connection.
    for task in tasks {
        let appended = bounded(task).await.unwrap();
        assert!(matches!(appended, Ok(Appended::Created(_))), "{appended:?}");
    }
    // Retried (twice), each failed append is stored once: those batches never committed.
    for (n, new) in blocked.messages.iter().enumerate() {
        let first = bounded(store.append_message(new.clone())).await.unwrap();
        assert!(matches!(&first, Appended::Created(m) if m.seq == Seq(n as u64 + 1)), "{first:?}");
        let again = bounded(store.append_message(new.clone())).await.unwrap();
        assert_eq!(again, Appended::Duplicate(first.message().clone()));
    }
}
