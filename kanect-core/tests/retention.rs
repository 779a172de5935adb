//! Message retention (`ChatConfig::message_retention`): expired messages become tombstones
//! (seq kept, body gone, `deleted`), announced to members' devices as an administrator's delete
//! is, once; newer ones stay; a message exactly as old as the retention stays, one a
//! millisecond older goes.
//!
//! Time is the test's: messages are written past the engine with the `sent_at` a test chooses,
//! and passes run through `Chat::expire_messages(now)`. Those tests put their clock a thousand
//! days ahead of the system's, so that the engine's own background pass (which runs at start,
//! on the system clock) finds nothing of theirs expired and cannot race them. The background
//! pass has tests of its own, at the end.

mod support;

use kanect_core::backend::{Appended, ConversationStore, MessageStore, NewMessage, StoreResult};
use kanect_core::testing::FaultyStore;
use kanect_core::{
    Caller, Chat, ChatConfig, Conversation, ConversationId, ConversationKind, Event, HistoryPage, MemoryStore, Message,
    MessageId, Receipt, ReceiptKind, Seq, Timestamp, UserId,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

const DAY_MS: u64 = 24 * 3600 * 1000;

/// The tests' "now": far enough ahead of the system clock that the background pass, on the
/// system clock, expires none of their messages.
fn test_now() -> Timestamp {
    Timestamp(Timestamp::now().0 + 1000 * DAY_MS)
}

fn days_before(now: Timestamp, days: u64) -> Timestamp {
    Timestamp(now.0 - days * DAY_MS)
}

fn retaining(days: u64) -> ChatConfig {
    ChatConfig { message_retention: Some(Duration::from_secs(days * 24 * 3600)), ..unlimited_config() }
}

async fn engine(store: &Arc<MemoryStore>, config: ChatConfig) -> Chat {
    Chat::builder_shared(store.clone()).config(config).build().await.unwrap()
}

/// Writes a message past the engine, sent at `sent_at`.
async fn append(
    store: &MemoryStore,
    conversation: ConversationId,
    sender: UserId,
    body: &str,
    sent_at: Timestamp,
) -> Message {
    let new = NewMessage {
        conversation,
        sender,
        body: body.into(),
        client_id: body.into(),
        sent_at,
        attachments: Vec::new(),
        reply_to: None,
        mentions: Vec::new(),
        event: None,
    };
    match store.append_message(new).await.unwrap() {
        Appended::Created(message) => message,
        Appended::Duplicate(message) => panic!("a duplicate: {message:?}"),
    }
}

async fn history(chat: &Chat, caller: &Caller, conversation: ConversationId) -> Vec<Message> {
    chat.history(caller, conversation, HistoryPage::After(Seq::ZERO), 200).await.unwrap()
}

fn deletes(events: &[Event]) -> Vec<Event> {
    events.iter().filter(|event| matches!(event, Event::Delete { .. })).cloned().collect()
}

fn delete_of(message: &Message) -> Event {
    Event::Delete { conversation: message.conversation, id: message.id, seq: message.seq }
}

/// The whole rule in one group: older than the retention goes (as a tombstone, announced to
/// every member's devices and to no one else), exactly as old stays until a millisecond later,
/// newer stays, deleted before is neither counted nor announced again, and a second pass
/// deletes nothing.
#[tokio::test]
async fn expired_messages_become_tombstones_announced_once_to_members() {
    let store = Arc::new(MemoryStore::new());
    let chat = engine(&store, retaining(30)).await;
    let (_, alice) = user(&chat, "alice").await;
    let (_, bob) = user(&chat, "bob").await;
    let (_, carol) = user(&chat, "carol").await;
    let (_, outsider) = user(&chat, "dave").await;
    let group = chat.create_group(&alice, "club", &[bob.user(), carol.user()]).await.unwrap();
    let now = test_now();
    // Seq 1, the group's "created" system line, was written today: 1,000 days before `now`.
    let created = history(&chat, &alice, group.id).await.remove(0);
    let oldest = append(&store, group.id, alice.user(), "forty days", days_before(now, 40)).await;
    let deleted_before = append(&store, group.id, bob.user(), "thirty-five days", days_before(now, 35)).await;
    let boundary = append(&store, group.id, carol.user(), "thirty days", days_before(now, 30)).await;
    let recent = append(&store, group.id, alice.user(), "one day", days_before(now, 1)).await;
    chat.delete(&bob, deleted_before.id).await.unwrap();

    let mut devices = Vec::new();
    for caller in [&alice, &bob, &carol, &outsider] {
        let mut device = chat.subscribe(caller).await.unwrap();
        drain(&mut device);
        devices.push(device);
    }

    assert_eq!(chat.expire_messages(now).await.unwrap(), 2, "the created line and the 40-day-old one only");
    for device in &mut devices[..3] {
        assert_eq!(deletes(&drain(device)), [delete_of(&created), delete_of(&oldest)]);
    }
    assert!(drain(&mut devices[3]).is_empty(), "a non-member hears nothing");

    let mut stored = history(&chat, &carol, group.id).await;
    let line = stored.remove(0);
    assert!(line.deleted && line.event.is_none(), "a system line expires as messages do: {line:?}");
    let seqs: Vec<u64> = stored.iter().map(|m| m.seq.0).collect();
    assert_eq!(seqs, [2, 3, 4, 5], "seqs stay, gap-free");
    let state: Vec<(&str, bool)> = stored.iter().map(|m| (m.body.as_str(), m.deleted)).collect();
    assert_eq!(state, [("", true), ("", true), ("thirty days", false), ("one day", false)]);
    assert_eq!((stored[0].id, stored[0].sender, stored[0].sent_at), (oldest.id, oldest.sender, oldest.sent_at));
    assert_eq!(store.message(oldest.id).await.unwrap().unwrap().body, "", "gone from the store too");

    assert_eq!(chat.expire_messages(now).await.unwrap(), 0, "a second pass deletes nothing");
    for device in &mut devices {
        assert!(deletes(&drain(device)).is_empty(), "and announces nothing");
    }

    // A millisecond later the message exactly 30 days old is older than 30 days.
    assert_eq!(chat.expire_messages(Timestamp(now.0 + 1)).await.unwrap(), 1);
    assert_eq!(deletes(&drain(&mut devices[1])), [delete_of(&boundary)]);
    let stored = history(&chat, &carol, group.id).await;
    assert_eq!((stored[3].body.as_str(), stored[3].deleted), ("", true));
    assert_eq!((stored[4].id, stored[4].body.as_str(), stored[4].deleted), (recent.id, "one day", false));
}

/// A live subscription's `next()` receives the deletion (not only a drained queue).
#[tokio::test]
async fn a_waiting_device_is_told_of_the_deletion() {
    let store = Arc::new(MemoryStore::new());
    let chat = engine(&store, retaining(7)).await;
    let (_, alice) = user(&chat, "alice").await;
    let (_, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob.user()).await.unwrap();
    let now = test_now();
    let old = append(&store, direct.id, alice.user(), "last week", days_before(now, 8)).await;
    let mut bobs = chat.subscribe(&bob).await.unwrap();
    drain(&mut bobs);
    let waiting = tokio::spawn(async move { next_event(&mut bobs).await });
    assert_eq!(chat.expire_messages(now).await.unwrap(), 1);
    assert_eq!(waiting.await.unwrap(), delete_of(&old));
}

/// Without a retention setting a pass does nothing, however old the messages.
#[tokio::test]
async fn retention_off_deletes_nothing() {
    let store = Arc::new(MemoryStore::new());
    let chat = engine(&store, unlimited_config()).await;
    assert_eq!(chat.config().message_retention, None, "off by default");
    let (_, alice) = user(&chat, "alice").await;
    let (_, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob.user()).await.unwrap();
    append(&store, direct.id, alice.user(), "from 1970", Timestamp(1)).await;
    chat.send(&alice, direct.id, "now", "from now").await.unwrap();
    let mut bobs = chat.subscribe(&bob).await.unwrap();
    drain(&mut bobs);
    assert_eq!(chat.expire_messages(Timestamp(u64::MAX)).await.unwrap(), 0);
    let stored = history(&chat, &bob, direct.id).await;
    assert!(stored.iter().all(|m| !m.deleted && !m.body.is_empty()), "{stored:?}");
    assert!(drain(&mut bobs).is_empty());
}

/// Passes follow seqs and stop at the first message not yet expired: one stamped earlier than
/// a message before it (clocks of two nodes apart) waits for that one.
#[tokio::test]
async fn a_message_stamped_earlier_than_the_one_before_it_waits_for_it() {
    let store = Arc::new(MemoryStore::new());
    let chat = engine(&store, retaining(30)).await;
    let (_, alice) = user(&chat, "alice").await;
    let (_, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob.user()).await.unwrap();
    let now = test_now();
    append(&store, direct.id, alice.user(), "old", days_before(now, 40)).await;
    append(&store, direct.id, bob.user(), "fresh", days_before(now, 10)).await;
    append(&store, direct.id, alice.user(), "old, skewed clock", days_before(now, 31)).await;

    assert_eq!(chat.expire_messages(now).await.unwrap(), 1);
    let deleted = |stored: Vec<Message>| stored.iter().map(|m| m.deleted).collect::<Vec<_>>();
    assert_eq!(deleted(history(&chat, &alice, direct.id).await), [true, false, false]);
    assert_eq!(chat.expire_messages(Timestamp(now.0 + 21 * DAY_MS)).await.unwrap(), 2);
    assert_eq!(deleted(history(&chat, &alice, direct.id).await), [true, true, true]);
}

/// More conversations than one page of them, and a conversation with more expired messages
/// than one page of history: every expired message goes, in one pass; the next deletes nothing.
/// An engine started afresh on the same store (its cursors gone) reads the tombstones again but
/// neither counts nor announces them.
#[tokio::test]
async fn passes_page_through_conversations_and_history_and_a_restart_announces_nothing_again() {
    let store = Arc::new(MemoryStore::new());
    let chat = engine(&store, retaining(1)).await;
    let (alice_user, alice) = user(&chat, "alice").await;
    let now = test_now();
    let old = days_before(now, 2);
    let mut groups = Vec::new();
    for n in 0..205u32 {
        let group = Conversation {
            id: ConversationId::new(),
            kind: ConversationKind::Group,
            name: Some(format!("group {n}")),
            owner: Some(alice_user.id),
            members: vec![alice_user.id],
            created_at: old,
        };
        assert!(store.insert_conversation(&group).await.unwrap());
        append(&store, group.id, alice_user.id, "old", old).await;
        groups.push(group.id);
    }
    let big = groups[0];
    for n in 0..449 {
        append(&store, big, alice_user.id, &format!("old {n}"), Timestamp(old.0 + n)).await;
    }
    let kept = append(&store, big, alice_user.id, "today", now).await;

    assert_eq!(chat.expire_messages(now).await.unwrap(), 205 + 449);
    for group in &groups {
        let mut stored = chat.history(&alice, *group, HistoryPage::After(Seq::ZERO), 200).await.unwrap();
        if *group == big {
            stored.extend(chat.history(&alice, big, HistoryPage::After(Seq(200)), 200).await.unwrap());
            stored.extend(chat.history(&alice, big, HistoryPage::After(Seq(400)), 200).await.unwrap());
            let (last, expired) = stored.split_last().unwrap();
            assert_eq!(expired.len(), 450);
            assert!(expired.iter().all(|m| m.deleted && m.body.is_empty()));
            assert_eq!((last.id, last.deleted, last.body.as_str()), (kept.id, false, "today"));
        } else {
            assert!(stored.iter().all(|m| m.deleted && m.body.is_empty()), "{stored:?}");
        }
    }
    assert_eq!(chat.expire_messages(now).await.unwrap(), 0);

    drop(chat);
    let restarted = engine(&store, retaining(1)).await;
    let alice = restarted.act_as(alice_user.id).await.unwrap();
    let mut device = restarted.subscribe(&alice).await.unwrap();
    drain(&mut device);
    assert_eq!(restarted.expire_messages(now).await.unwrap(), 0);
    assert!(drain(&mut device).is_empty(), "tombstones are not announced again");
    assert_eq!(restarted.expire_messages(Timestamp(now.0 + DAY_MS + 1)).await.unwrap(), 1, "then the newest");
    assert_eq!(deletes(&drain(&mut device)), [delete_of(&kept)]);
}

/// The engine's own passes, on the system clock: one at start deletes what expired while the
/// engine was not running (here: before the setting was turned on).
#[tokio::test]
async fn the_engine_runs_a_pass_as_it_starts() {
    let store = Arc::new(MemoryStore::new());
    let before = engine(&store, unlimited_config()).await;
    let (_, alice) = user(&before, "alice").await;
    let (_, bob) = user(&before, "bob").await;
    let direct = before.open_direct(&alice, bob.user()).await.unwrap();
    let now = Timestamp::now();
    let old = append(&store, direct.id, alice.user(), "two days old", days_before(now, 2)).await;
    let fresh = before.send(&alice, direct.id, "c", "just now").await.unwrap();
    drop(before);

    let chat = engine(&store, retaining(1)).await;
    let mut gone = false;
    for _ in 0..200 {
        gone = store.message(old.id).await.unwrap().unwrap().deleted;
        if gone {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone, "the pass at start deleted the expired message");
    assert!(!store.message(fresh.id).await.unwrap().unwrap().deleted);
    drop(chat);
}

/// After the pass at start, the next one comes an hour later (for a retention of a day or
/// more), not before. Tokio's clock is paused: the test's short sleeps move it a millisecond
/// at a time (letting the engine's task run), and `advance` moves it by the hour.
#[tokio::test(flavor = "current_thread")]
async fn the_engine_passes_again_an_hour_later() {
    let store = Arc::new(MemoryStore::new());
    let setup = engine(&store, unlimited_config()).await;
    let (_, alice) = user(&setup, "alice").await;
    let (_, bob) = user(&setup, "bob").await;
    let direct = setup.open_direct(&alice, bob.user()).await.unwrap();
    drop(setup);
    let first = append(&store, direct.id, alice.user(), "first", days_before(Timestamp::now(), 2)).await;

    tokio::time::pause();
    let chat = engine(&store, retaining(1)).await;
    let deleted = |id| {
        let store = store.clone();
        async move { store.message(id).await.unwrap().unwrap().deleted }
    };
    for _ in 0..100 {
        if deleted(first.id).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(deleted(first.id).await, "the pass at start");

    let second = append(&store, direct.id, alice.user(), "second", days_before(Timestamp::now(), 2)).await;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(!deleted(second.id).await, "no second pass within the hour");
    tokio::time::advance(Duration::from_secs(3600)).await;
    for _ in 0..100 {
        if deleted(second.id).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(deleted(second.id).await, "the pass an hour later");
    drop(chat);
}

/// A memory store that notes the size of every history read.
#[derive(Default)]
struct NotedReads {
    inner: MemoryStore,
    /// The `limit` of each `history` call, in order.
    history_limits: Mutex<Vec<usize>>,
}

impl NotedReads {
    fn take_limits(&self) -> Vec<usize> {
        std::mem::take(&mut *self.history_limits.lock().unwrap())
    }
}

kanect_core::delegate_store!(
    impl UserStore, SessionStore, LoginAttemptStore, ConversationStore, AttachmentStore, AdminStore, InviteStore, AccountTokenStore,
    NotificationStore, SecretStore, Store for NotedReads => inner
);

#[kanect_core::testing::async_trait]
impl MessageStore for NotedReads {
    async fn append_message(&self, message: NewMessage) -> StoreResult<Appended> {
        self.inner.append_message(message).await
    }
    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        self.inner.message(id).await
    }
    async fn replace_message(&self, message: &Message) -> StoreResult<bool> {
        self.inner.replace_message(message).await
    }
    async fn react(
        &self,
        conversation: ConversationId,
        seq: Seq,
        id: MessageId,
        change: &kanect_core::ReactionChange,
    ) -> StoreResult<kanect_core::Reacted> {
        self.inner.react(conversation, seq, id, change).await
    }
    async fn history(
        &self,
        conversation: ConversationId,
        page: HistoryPage,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        self.history_limits.lock().unwrap().push(limit);
        self.inner.history(conversation, page, limit).await
    }
    async fn last_seq(&self, conversation: ConversationId) -> StoreResult<Seq> {
        self.inner.last_seq(conversation).await
    }
    async fn advance_receipt(
        &self,
        conversation: ConversationId,
        user: UserId,
        kind: ReceiptKind,
        seq: Seq,
    ) -> StoreResult<Option<Receipt>> {
        self.inner.advance_receipt(conversation, user, kind, seq).await
    }
    async fn receipts(&self, conversation: ConversationId) -> StoreResult<Vec<Receipt>> {
        self.inner.receipts(conversation).await
    }
}

/// Passes remember where they stopped: after the first, the expired messages (tombstones now)
/// are not read again; each conversation costs one read of one message, the first that has not
/// expired. An engine started afresh reads them again, once, in pages. (Without the cursors a
/// pass reads each conversation's tombstones in pages of 200, every time.)
#[tokio::test]
async fn later_passes_do_not_read_the_expired_messages_again() {
    let store = Arc::new(NotedReads::default());
    let chat = Chat::builder_shared(store.clone()).config(retaining(1)).build().await.unwrap();
    let (_, alice) = user(&chat, "alice").await;
    let (_, bob) = user(&chat, "bob").await;
    let (_, carol) = user(&chat, "carol").await;
    let now = test_now();
    let with_bob = chat.open_direct(&alice, bob.user()).await.unwrap();
    let with_carol = chat.open_direct(&alice, carol.user()).await.unwrap();
    for n in 0..300 {
        append(&store.inner, with_bob.id, alice.user(), &format!("old {n}"), days_before(now, 3)).await;
    }
    append(&store.inner, with_bob.id, bob.user(), "new", now).await;
    append(&store.inner, with_carol.id, carol.user(), "new", now).await;

    assert_eq!(chat.expire_messages(now).await.unwrap(), 300);
    store.take_limits();
    assert_eq!(chat.expire_messages(now).await.unwrap(), 0);
    assert_single_reads(store.take_limits());

    let restarted = Chat::builder_shared(store.clone()).config(retaining(1)).build().await.unwrap();
    assert_eq!(restarted.expire_messages(now).await.unwrap(), 0);
    let limits = store.take_limits();
    assert!(limits.iter().filter(|limit| **limit == 200).count() >= 2, "the tombstones, in pages: {limits:?}");
    assert_eq!(restarted.expire_messages(now).await.unwrap(), 0);
    assert_single_reads(store.take_limits());
    drop(chat);
}

/// History reads of one message each: a pass that starts at its cursors reads the first
/// message that has not expired and stops. (The engine's own pass at start, on the system
/// clock, may have read too: it also reads one message of each conversation, none of which has
/// expired for it.)
fn assert_single_reads(limits: Vec<usize>) {
    assert!(!limits.is_empty() && limits.iter().all(|limit| *limit == 1), "{limits:?}");
}

/// A store that fails in the middle of a pass: `unavailable`; what was deleted stays deleted,
/// and the next pass deletes the rest, announcing each message once.
#[tokio::test]
async fn a_pass_that_fails_leaves_its_deletions_and_the_next_goes_on() {
    let store = FaultyStore::new(MemoryStore::new());
    let chat = Chat::builder(store.clone()).config(retaining(1)).build().await.unwrap();
    let (_, alice) = user(&chat, "alice").await;
    let (_, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob.user()).await.unwrap();
    let now = test_now();
    for n in 0..10 {
        let new = NewMessage {
            conversation: direct.id,
            sender: alice.user(),
            body: format!("old {n}"),
            client_id: n.to_string(),
            sent_at: days_before(now, 2),
            attachments: Vec::new(),
            reply_to: None,
            mentions: Vec::new(),
            event: None,
        };
        store.append_message(new).await.unwrap();
    }
    let mut bobs = chat.subscribe(&bob).await.unwrap();
    drain(&mut bobs);

    store.fail_after("replace_message", 4);
    assert_eq!(code(chat.expire_messages(now).await), "unavailable");
    let stored = history(&chat, &bob, direct.id).await;
    assert_eq!(stored.iter().filter(|m| m.deleted).count(), 4);
    store.heal();
    assert_eq!(chat.expire_messages(now).await.unwrap(), 6);
    let announced: Vec<u64> = drain(&mut bobs)
        .into_iter()
        .filter_map(|event| match event {
            Event::Delete { seq, .. } => Some(seq.0),
            _ => None,
        })
        .collect();
    assert_eq!(announced, (1..=10).collect::<Vec<_>>());
    assert!(history(&chat, &bob, direct.id).await.iter().all(|m| m.deleted));
}
