//! Delivery to one device, exactly once and in order, on every path a message can take to it:
//! live, resumed from a cursor (once, twice, cut short, with cursors it may not use), filled
//! from the store after a lag, across leaving and re-joining a group. The last test drives a
//! subscription with random interleavings of all of these against a model.

mod support;

use kanect_core::testing::FaultyStore;
use kanect_core::{
    Caller, Chat, ChatConfig, ConversationId, Event, Seq, Subscription, User, RESUME_BATCH, RESUME_BYTES,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use support::*;

/// Sends `count` messages from `sender`, with client ids `{tag}-{n}`. (The tests send far
/// faster than the default send rate allows: their engines run `unlimited_config`.)
async fn send_many(chat: &Chat, sender: &Caller, conversation: ConversationId, tag: &str, count: usize) {
    send_sized(chat, sender, conversation, tag, count, 1).await;
}

/// As [`send_many`], with bodies of `len` characters.
async fn send_sized(chat: &Chat, sender: &Caller, conversation: ConversationId, tag: &str, count: usize, len: usize) {
    let body = "x".repeat(len);
    for n in 0..count {
        chat.send(sender, conversation, &format!("{tag}-{n}"), &body).await.unwrap();
    }
}

/// Everything the device is handed until nothing more comes (the store fills gaps as needed).
async fn settle(device: &mut Subscription) -> Vec<Event> {
    let mut events = Vec::new();
    while let Ok(Some(delivery)) = tokio::time::timeout(Duration::from_millis(50), device.next()).await {
        events.push(delivery.event().clone());
    }
    events
}

fn seqs_in(events: &[Event], conversation: ConversationId) -> Vec<u64> {
    messages(events).iter().filter(|m| m.conversation == conversation).map(|m| m.seq.0).collect()
}

fn range(from: u64, to: u64) -> Vec<u64> {
    (from..=to).collect()
}

/// Alice, bob and a group of the two, whose seq 1 is its "created" system line.
async fn alice_bob_and_a_group(chat: &Chat) -> (Caller, User, Caller, ConversationId) {
    let (_, alice) = user(chat, "alice").await;
    let (bob_user, bob) = user(chat, "bob").await;
    let group = chat.create_group(&alice, "G", &[bob_user.id]).await.unwrap().id;
    (alice, bob_user, bob, group)
}

#[tokio::test]
async fn a_second_resume_after_a_full_batch_delivers_the_rest() {
    let chat = chat_with(unlimited_config()).await;
    let (alice, _, bob, group) = alice_bob_and_a_group(&chat).await;
    send_many(&chat, &alice, group, "m", RESUME_BATCH + 5).await;
    let mut device = chat.subscribe(&bob).await.unwrap();

    device.resume([(group, Seq::ZERO)]).await.unwrap();
    let first = settle(&mut device).await;
    assert_eq!(seqs_in(&first, group), range(1, RESUME_BATCH as u64));
    assert_eq!(first.last(), Some(&Event::Resync), "cut at the batch: resync after it");

    device.resume([(group, Seq(RESUME_BATCH as u64))]).await.unwrap();
    let rest = settle(&mut device).await;
    // The created line and the messages: one more than were sent.
    assert_eq!(seqs_in(&rest, group), range(RESUME_BATCH as u64 + 1, RESUME_BATCH as u64 + 6));
    assert!(!rest.contains(&Event::Resync));
}

#[tokio::test]
async fn a_resume_skips_a_cursor_it_cannot_use_and_serves_the_others() {
    let chat = chat_with(unlimited_config()).await;
    let (alice, bob_user, bob, group) = alice_bob_and_a_group(&chat).await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap().id;
    chat.remove_member(&alice, group, bob_user.id).await.unwrap();
    send_many(&chat, &alice, direct, "d", 3).await;
    let mut device = chat.subscribe(&bob).await.unwrap();

    let resumed = device.resume([(direct, Seq(1)), (group, Seq::ZERO), (direct, Seq(9))]).await.unwrap();
    let skipped: Vec<(ConversationId, &str)> =
        resumed.skipped.iter().map(|s| (s.conversation, s.reason.code())).collect();
    assert_eq!(skipped, vec![(group, "conversation_not_found")]);
    assert_eq!(seqs_in(&settle(&mut device).await, direct), vec![2, 3]);

    // A cursor past the newest message is skipped too, and claims nothing.
    let resumed = device.resume([(direct, Seq(7))]).await.unwrap();
    assert_eq!(resumed.skipped[0].reason.code(), "out_of_range");
    send_many(&chat, &alice, direct, "later", 1).await;
    assert_eq!(seqs_in(&settle(&mut device).await, direct), vec![4]);
}

#[tokio::test]
async fn a_resume_that_fails_changes_nothing() {
    let store = FaultyStore::new(kanect_core::MemoryStore::new());
    let chat = Chat::builder(store.clone()).config(unlimited_config()).build().await.unwrap();
    let (alice, bob_user, bob, group) = alice_bob_and_a_group(&chat).await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap().id;
    send_many(&chat, &alice, direct, "d", 3).await;
    send_many(&chat, &alice, group, "g", 3).await;
    let mut device = chat.subscribe(&bob).await.unwrap();

    // The direct conversation's history loads, the group's fails: the resume as a whole fails.
    store.fail_after("history", 1);
    let failed = device.resume([(direct, Seq::ZERO), (group, Seq::ZERO)]).await;
    assert_eq!(failed.map(|_| ()).unwrap_err().code(), "unavailable");
    assert!(settle(&mut device).await.is_empty(), "nothing was queued");

    // ... and changed nothing: sent again, it delivers everything.
    store.heal();
    device.resume([(direct, Seq::ZERO), (group, Seq::ZERO)]).await.unwrap();
    let events = settle(&mut device).await;
    assert_eq!((seqs_in(&events, direct), seqs_in(&events, group)), (range(1, 3), range(1, 4)));
}

#[tokio::test]
async fn a_member_removed_and_re_added_gets_only_what_came_after_live() {
    let chat = chat_with(unlimited_config()).await;
    let (alice, bob_user, bob, group) = alice_bob_and_a_group(&chat).await;
    let mut device = chat.subscribe(&bob).await.unwrap();
    send_many(&chat, &alice, group, "in", 2).await;
    chat.remove_member(&alice, group, bob_user.id).await.unwrap();
    send_many(&chat, &alice, group, "out", 30).await;
    chat.add_member(&alice, group, bob_user.id).await.unwrap();
    send_many(&chat, &alice, group, "back", 2).await;
    let events = settle(&mut device).await;
    // 1 created (before the device), 2-3 in, 4 removed (not told to him), 5-34 out, 35 added
    // (his first live one again), 36-37 back.
    assert_eq!(seqs_in(&events, group), vec![2, 3, 35, 36, 37], "the 30 from while he was out are history");
    // ... which a resume from his cursor may still ask for, as any member may read history.
    device.resume([(group, Seq(3))]).await.unwrap();
    assert_eq!(seqs_in(&settle(&mut device).await, group), range(4, 34));
}

#[tokio::test]
async fn repeated_cursors_load_once_and_one_resume_holds_a_bounded_backlog() {
    let chat = chat_with(unlimited_config()).await;
    let (alice, _, bob, group) = alice_bob_and_a_group(&chat).await;
    send_many(&chat, &alice, group, "m", 50).await;
    let mut device = chat.subscribe(&bob).await.unwrap();
    let repeated = std::iter::repeat_n((group, Seq(10)), 100).chain([(group, Seq(20))]);
    device.resume(repeated).await.unwrap();
    // Resumed again before reading: the second load skips what the first queued.
    device.resume([(group, Seq(10))]).await.unwrap();
    let events = settle(&mut device).await;
    assert_eq!(seqs_in(&events, group), range(11, 51), "each once, from the lowest cursor");
    assert!(!events.contains(&Event::Resync));

    // Many conversations: the backlog stops at RESUME_BATCH in all, then resync.
    let mut groups = Vec::new();
    for n in 0..3 {
        let g = chat.create_group(&alice, &format!("g{n}"), &[bob.user()]).await.unwrap().id;
        send_many(&chat, &alice, g, "n", 400).await;
        groups.push(g);
    }
    let mut device = chat.subscribe(&bob).await.unwrap();
    device.resume(groups.iter().map(|g| (*g, Seq::ZERO))).await.unwrap();
    let events = settle(&mut device).await;
    assert_eq!(messages(&events).len(), RESUME_BATCH);
    assert_eq!(events.last(), Some(&Event::Resync));
    let cursors: Vec<(ConversationId, Seq)> =
        groups.iter().map(|g| (*g, Seq(seqs_in(&events, *g).last().copied().unwrap_or(0)))).collect();
    device.resume(cursors).await.unwrap();
    assert_eq!(messages(&settle(&mut device).await).len(), 3 * 401 - RESUME_BATCH, "with their created lines");
}

#[tokio::test]
async fn the_backlog_is_bounded_in_bytes_too() {
    let chat = chat_with(unlimited_config()).await;
    let (alice, _, bob, group) = alice_bob_and_a_group(&chat).await;
    let len = kanect_core::validate::BODY_MAX_CHARS;
    let fits = RESUME_BYTES / len;
    send_sized(&chat, &alice, group, "big", fits + 3, len).await;
    let mut device = chat.subscribe(&bob).await.unwrap();
    device.resume([(group, Seq::ZERO)]).await.unwrap();
    let events = settle(&mut device).await;
    // The created line has no text: it and the big ones that fit.
    assert_eq!(seqs_in(&events, group), range(1, fits as u64 + 1), "exactly what fits");
    assert_eq!(events.last(), Some(&Event::Resync));
    device.resume([(group, Seq(fits as u64 + 1))]).await.unwrap();
    assert_eq!(seqs_in(&settle(&mut device).await, group), range(fits as u64 + 2, fits as u64 + 4));
}

#[tokio::test]
async fn a_gap_larger_than_a_batch_is_not_jumped_over() {
    // Another node wrote a whole batch and more that never reached this one (no bus between
    // them): the next live message here is past them all. The device gets a batch, then
    // resync; never the live one past the hole.
    let store: std::sync::Arc<dyn kanect_core::Store> = std::sync::Arc::new(kanect_core::MemoryStore::new());
    let here = Chat::builder_shared(store.clone()).config(unlimited_config()).build().await.unwrap();
    let there = Chat::builder_shared(store).config(unlimited_config()).build().await.unwrap();
    let (alice, _, bob, group) = alice_bob_and_a_group(&here).await;
    let mut device = here.subscribe(&bob).await.unwrap();
    let alice_there = there.act_as(alice.user()).await.unwrap();
    send_many(&there, &alice_there, group, "there", RESUME_BATCH + 10).await;
    send_many(&here, &alice, group, "here", 1).await;
    let events = settle(&mut device).await;
    // Seq 1 (the created line) came before the device; the hole starts at 2.
    assert_eq!(seqs_in(&events, group), range(2, RESUME_BATCH as u64 + 1));
    assert_eq!(events.last(), Some(&Event::Resync));
    device.resume([(group, Seq(RESUME_BATCH as u64 + 1))]).await.unwrap();
    let rest = seqs_in(&settle(&mut device).await, group);
    assert_eq!(rest, range(RESUME_BATCH as u64 + 2, RESUME_BATCH as u64 + 12));
}

#[tokio::test(start_paused = true)]
async fn a_read_dropped_while_a_gap_is_filled_loses_nothing() {
    // As on PostgreSQL, the store answers late: a socket's `select!` may drop `next` while it
    // waits for the messages of a gap.
    let store = FaultyStore::new(kanect_core::MemoryStore::new());
    let shared: std::sync::Arc<dyn kanect_core::Store> = std::sync::Arc::new(store.clone());
    let here = Chat::builder_shared(shared.clone()).config(unlimited_config()).build().await.unwrap();
    let there = Chat::builder_shared(shared).config(unlimited_config()).build().await.unwrap();
    let (alice, _, bob, group) = alice_bob_and_a_group(&here).await;
    let mut device = here.subscribe(&bob).await.unwrap();
    send_many(&there, &there.act_as(alice.user()).await.unwrap(), group, "there", 1).await;
    send_many(&here, &alice, group, "here", 1).await; // seq 3, live: seq 2 is a gap

    store.slow("history", Duration::from_millis(100));
    let dropped = tokio::time::timeout(Duration::from_millis(20), device.next()).await;
    assert!(dropped.is_err(), "dropped while the gap is read: {dropped:?}");
    store.heal();
    assert_eq!(seqs_in(&settle(&mut device).await, group), vec![2, 3]);
}

#[tokio::test]
async fn a_session_ended_is_heard_without_reading_the_stream() {
    let chat = chat_with(unlimited_config()).await;
    let (_, bob) = user(&chat, "bob").await;
    let device = chat.subscribe(&bob).await.unwrap();
    let ended = device.ended();
    chat.logout(&bob).await.unwrap();
    tokio::time::timeout(Duration::from_secs(2), ended).await.expect("heard at once");
}

/// One step of the model test.
#[derive(Clone, Debug)]
enum Step {
    /// Alice sends this many messages into the group (or the direct conversation).
    Send { group: bool, count: usize },
    /// The device reads up to this many events.
    Read(usize),
    /// The device resumes with its cursors, each repeated, plus cursors it may not use.
    Resume { repeat: usize, refused: bool },
    /// Alice removes Bob from the group, or adds him back.
    Membership,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (any::<bool>(), 1usize..12).prop_map(|(group, count)| Step::Send { group, count }),
        3 => (1usize..30).prop_map(Step::Read),
        2 => (1usize..4, any::<bool>()).prop_map(|(repeat, refused)| Step::Resume { repeat, refused }),
        1 => Just(Step::Membership),
    ]
}

/// A client as the protocol asks it to be: it resumes with its cursors (the last seq it has
/// per conversation) when it starts and after every resync, and reads nothing in between.
struct Client {
    device: Subscription,
    received: BTreeMap<ConversationId, Vec<u64>>,
    must_resume: bool,
    /// Whether a resync ever came: without one, nothing may be missing from the live stream.
    resynced: bool,
}

impl Client {
    fn cursors(&self) -> Vec<(ConversationId, Seq)> {
        self.received.iter().map(|(c, seqs)| (*c, Seq(seqs.last().copied().unwrap_or(0)))).collect()
    }

    async fn resume(&mut self, extra: &[(ConversationId, Seq)], repeat: usize) {
        let mut cursors = Vec::new();
        for _ in 0..repeat {
            cursors.extend(self.cursors());
        }
        cursors.extend_from_slice(extra);
        self.device.resume(cursors).await.unwrap();
        self.must_resume = false;
    }

    fn take(&mut self, event: &Event) {
        match event {
            Event::Message { message } => self.received.entry(message.conversation).or_default().push(message.seq.0),
            Event::Resync => {
                self.must_resume = true;
                self.resynced = true;
            }
            _ => {}
        }
    }

    async fn read(&mut self, at_most: usize) {
        for _ in 0..at_most {
            if self.must_resume {
                return;
            }
            match tokio::time::timeout(Duration::from_millis(20), self.device.next()).await {
                Ok(Some(delivery)) => self.take(delivery.event()),
                _ => return,
            }
        }
    }
}

/// Runs the steps, catches up, and checks what the client received: per conversation each seq
/// at most once and in order, and every message sent since Bob last joined, if he is a member
/// at the end (a member who was removed may no longer read what he missed).
async fn run(steps: Vec<Step>) {
    let chat = chat_with(ChatConfig { device_queue: 8, ..unlimited_config() }).await;
    let (alice, bob_user, bob, group) = alice_bob_and_a_group(&chat).await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap().id;
    let (_, carol) = user(&chat, "carol").await;
    let elsewhere = chat.open_direct(&alice, carol.user()).await.unwrap().id;
    let mut client = Client {
        device: chat.subscribe(&bob).await.unwrap(),
        received: BTreeMap::new(),
        must_resume: false,
        resynced: false,
    };
    client.received.insert(group, Vec::new());
    client.received.insert(direct, Vec::new());
    client.resume(&[], 1).await;
    let mut member = true;
    let mut owed: BTreeMap<ConversationId, BTreeSet<u64>> = BTreeMap::new();
    // The newest seq written: the group's starts at its "created" line.
    let mut sent: BTreeMap<ConversationId, u64> = BTreeMap::from([(group, 1)]);
    let mut n = 0;
    for step in steps {
        match step {
            Step::Send { group: to_group, count } => {
                let conversation = if to_group { group } else { direct };
                for _ in 0..count {
                    n += 1;
                    let seq = chat.send(&alice, conversation, &format!("m{n}"), "hi").await.unwrap().seq.0;
                    sent.insert(conversation, seq);
                    if member || !to_group {
                        owed.entry(conversation).or_default().insert(seq);
                    }
                }
            }
            Step::Read(count) => client.read(count).await,
            Step::Resume { repeat, refused } => {
                let extra = if refused {
                    vec![(elsewhere, Seq::ZERO), (direct, Seq(u64::MAX)), (group, Seq::ZERO)]
                } else {
                    Vec::new()
                };
                // Refused extras are skipped; the group's cursor 0, when Bob is a member, asks
                // for history the client may have: it must not come twice.
                if refused && member {
                    client.resume(&extra[..2], repeat).await;
                } else {
                    client.resume(&extra, repeat).await;
                }
            }
            Step::Membership => {
                // Each change writes a system line: "removed" (history to him), or "added"
                // (the first he gets live again).
                let line = sent.get(&group).copied().unwrap_or(0) + 1;
                sent.insert(group, line);
                if member {
                    chat.remove_member(&alice, group, bob_user.id).await.unwrap();
                } else {
                    chat.add_member(&alice, group, bob_user.id).await.unwrap();
                    // What came before is history to a member who (re)joins: he reads it
                    // himself (the `conversation` event says from where on it comes live).
                    owed.remove(&group);
                    owed.entry(group).or_default().insert(line);
                }
                member = !member;
            }
        }
    }
    // Catch up at the end, as a client does after reconnecting (or after a resync, or after
    // being re-added, when it reads what it missed): resume from its cursors until quiet.
    // The live stream alone (no resume): if the device never fell behind, every message of the
    // direct conversation (Bob is always in it) came, in order, none missing.
    client.read(usize::MAX).await;
    if !client.resynced {
        let direct_seqs = client.received.get(&direct).cloned().unwrap_or_default();
        assert_eq!(direct_seqs, (1..=sent.get(&direct).copied().unwrap_or(0)).collect::<Vec<_>>());
    }
    let mut quiet = false;
    for _ in 0..20 {
        client.resume(&[], 1).await;
        let before = client.received.values().map(Vec::len).sum::<usize>();
        client.read(usize::MAX).await;
        if !client.must_resume && client.received.values().map(Vec::len).sum::<usize>() == before {
            quiet = true;
            break;
        }
    }
    assert!(quiet, "caught up within 20 rounds");
    if !member {
        owed.remove(&group);
    }
    for (conversation, seqs) in &client.received {
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "exactly once, in order: {seqs:?}");
        let got: BTreeSet<u64> = seqs.iter().copied().collect();
        let owed = owed.remove(conversation).unwrap_or_default();
        assert!(got.is_superset(&owed), "missing {:?}", owed.difference(&got).collect::<Vec<_>>());
        assert!(seqs.last().copied().unwrap_or(0) <= sent.get(conversation).copied().unwrap_or(0));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn every_message_exactly_once_in_order_whatever_the_interleaving(steps in prop::collection::vec(step(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        runtime.block_on(run(steps));
    }
}
