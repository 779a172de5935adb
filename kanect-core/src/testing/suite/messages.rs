//! Conformance cases of [`MessageStore`](crate::backend::MessageStore).

use crate::id::{ConversationId, MessageId, Seq, UserId};
use crate::model::{Appended, GroupEvent, Message, NewMessage, Reaction, ReceiptKind, Timestamp};
use crate::reactions::{Reacted, ReactionChange, REACTIONS_MAX};
use crate::store::{HistoryPage, Store};
use crate::testing::{created, new_message};
use std::sync::Arc;

/// Seqs start at 1 and step by one; a message's id is its key's derived id; a known client
/// id returns the original, writes nothing.
pub async fn appends_assign_gap_free_seqs_and_dedupe_client_ids<S: Store>(store: Arc<S>) {
    let (a, b) = (UserId::new(), UserId::new());
    let conversation = ConversationId::new();
    let other = ConversationId::new();
    let first = created(store.append_message(new_message(conversation, a, "c1", "one")).await.unwrap());
    let second = created(store.append_message(new_message(conversation, b, "c1", "two")).await.unwrap());
    assert_eq!((first.seq, second.seq), (Seq(1), Seq(2)));
    assert_eq!(first.id, MessageId::for_client(conversation, a, "c1"));
    assert_eq!(store.message(second.id).await.unwrap(), Some(second.clone()));
    let again = store.append_message(new_message(conversation, a, "c1", "one, resent")).await.unwrap();
    assert_eq!(again, Appended::Duplicate(first.clone()));
    assert_eq!(store.last_seq(conversation).await.unwrap(), Seq(2));
    let elsewhere = created(store.append_message(new_message(other, a, "c1", "x")).await.unwrap());
    assert_eq!(elsewhere.seq, Seq(1));
    assert_eq!(store.last_seq(ConversationId::new()).await.unwrap(), Seq::ZERO);
}

/// 8 tasks × 250 concurrent appends into one conversation give exactly seqs 1..=2000.
pub async fn concurrent_appends_are_gap_free<S: Store>(store: Arc<S>) {
    const TASKS: usize = 8;
    const EACH: usize = 250;
    let conversation = ConversationId::new();
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let sender = UserId::new();
            let mut seqs = Vec::new();
            for i in 0..EACH {
                let message = new_message(conversation, sender, &format!("t{task}-{i}"), "x");
                seqs.push(created(store.append_message(message).await.unwrap()).seq.0);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for handle in handles {
        let seqs = handle.await.unwrap();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "one sender's seqs must increase");
        all.extend(seqs);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=(TASKS * EACH) as u64).collect::<Vec<_>>());
    let history = store.history(conversation, HistoryPage::After(Seq::ZERO), 200).await.unwrap();
    assert_eq!(history.iter().map(|m| m.seq.0).collect::<Vec<_>>(), (1..=200).collect::<Vec<_>>());
}

/// Latest / Before / After pages, always oldest first, clipped at the ends.
pub async fn history_pages_in_both_directions<S: Store>(store: Arc<S>) {
    let conversation = ConversationId::new();
    let sender = UserId::new();
    for i in 1..=10 {
        store.append_message(new_message(conversation, sender, &format!("c{i}"), &format!("m{i}"))).await.unwrap();
    }
    let seqs = |page: Vec<Message>| page.into_iter().map(|m| m.seq.0).collect::<Vec<_>>();
    let h = |page, limit| {
        let store = store.clone();
        async move { seqs(store.history(conversation, page, limit).await.unwrap()) }
    };
    assert_eq!(h(HistoryPage::Latest, 3).await, [8, 9, 10]);
    assert_eq!(h(HistoryPage::Latest, 50).await, (1..=10).collect::<Vec<_>>());
    assert_eq!(h(HistoryPage::Before(Seq(8)), 3).await, [5, 6, 7]);
    assert_eq!(h(HistoryPage::Before(Seq(3)), 5).await, [1, 2]);
    assert_eq!(h(HistoryPage::Before(Seq(1)), 5).await, Vec::<u64>::new());
    assert_eq!(h(HistoryPage::Before(Seq(99)), 2).await, [9, 10]);
    assert_eq!(h(HistoryPage::After(Seq(7)), 2).await, [8, 9]);
    assert_eq!(h(HistoryPage::After(Seq(9)), 5).await, [10]);
    assert_eq!(h(HistoryPage::After(Seq(10)), 5).await, Vec::<u64>::new());
    assert_eq!(h(HistoryPage::After(Seq::ZERO), 2).await, [1, 2]);
    let empty = store.history(ConversationId::new(), HistoryPage::Latest, 5).await.unwrap();
    assert!(empty.is_empty());
    let page = store.history(conversation, HistoryPage::After(Seq(4)), 1).await.unwrap();
    assert_eq!(page[0].body, "m5");
}

/// Messages are found by id; replace changes body, edited_at and deleted only, and never a
/// deleted message.
pub async fn messages_are_found_by_id_and_replaced<S: Store>(store: Arc<S>) {
    let conversation = ConversationId::new();
    let sender = UserId::new();
    let message = created(store.append_message(new_message(conversation, sender, "c1", "hello")).await.unwrap());
    assert_eq!(store.message(message.id).await.unwrap(), Some(message.clone()));
    assert!(store.message(MessageId::new()).await.unwrap().is_none());
    let edited = Message { body: "hello, edited".into(), edited_at: Some(Timestamp(5)), ..message.clone() };
    assert!(store.replace_message(&edited).await.unwrap());
    assert_eq!(store.message(message.id).await.unwrap(), Some(edited.clone()));
    let deleted = Message { body: String::new(), deleted: true, ..edited.clone() };
    assert!(store.replace_message(&deleted).await.unwrap());
    let history = store.history(conversation, HistoryPage::Latest, 5).await.unwrap();
    assert_eq!(history, vec![deleted.clone()]);
    // A deletion is final: an edit, or another deletion, that read the message before it
    // changes nothing.
    let late_edit = Message { body: "back from the dead".into(), deleted: false, ..edited.clone() };
    assert!(!store.replace_message(&late_edit).await.unwrap());
    assert!(!store.replace_message(&deleted).await.unwrap());
    assert_eq!(store.message(message.id).await.unwrap(), Some(deleted.clone()));
    let ghost = Message { id: MessageId::new(), ..deleted };
    assert!(!store.replace_message(&ghost).await.unwrap());
    // A resend after deletion still finds the original.
    let again = store.append_message(new_message(conversation, sender, "c1", "hello")).await.unwrap();
    assert!(matches!(again, Appended::Duplicate(m) if m.deleted));
}

/// Receipts move forward only; read drags delivered along.
pub async fn receipts_only_move_forward<S: Store>(store: Arc<S>) {
    let conversation = ConversationId::new();
    let (a, b) = (UserId::new(), UserId::new());
    let r = store.advance_receipt(conversation, a, ReceiptKind::Delivered, Seq(5)).await.unwrap().unwrap();
    assert_eq!((r.delivered, r.read), (Seq(5), Seq::ZERO));
    assert!(store.advance_receipt(conversation, a, ReceiptKind::Delivered, Seq(3)).await.unwrap().is_none());
    let r = store.advance_receipt(conversation, a, ReceiptKind::Read, Seq(7)).await.unwrap().unwrap();
    assert_eq!((r.delivered, r.read), (Seq(7), Seq(7)));
    assert!(store.advance_receipt(conversation, a, ReceiptKind::Read, Seq(7)).await.unwrap().is_none());
    store.advance_receipt(conversation, b, ReceiptKind::Read, Seq(1)).await.unwrap().unwrap();
    let mut receipts = store.receipts(conversation).await.unwrap();
    receipts.sort_by_key(|r| r.user);
    let mut expected = vec![(a, Seq(7), Seq(7)), (b, Seq(1), Seq(1))];
    expected.sort();
    assert_eq!(receipts.iter().map(|r| (r.user, r.delivered, r.read)).collect::<Vec<_>>(), expected);
    assert!(store.receipts(ConversationId::new()).await.unwrap().is_empty());
}

/// A reply's seq and a message's mentions are stored with it and read back, also through
/// history pages; a store never fills in a reply's preview (the engine does).
pub async fn replies_and_mentions_are_stored_with_the_message<S: Store>(store: Arc<S>) {
    let (a, b) = (UserId::new(), UserId::new());
    let conversation = ConversationId::new();
    let first = created(store.append_message(new_message(conversation, a, "c1", "lunch?")).await.unwrap());
    let mut mentions = vec![a, b];
    mentions.sort_unstable();
    let reply = NewMessage {
        reply_to: Some(first.seq),
        mentions: mentions.clone(),
        ..new_message(conversation, b, "c2", "@a yes")
    };
    let stored = created(store.append_message(reply).await.unwrap());
    assert_eq!((stored.reply_to, &stored.mentions, &stored.reply), (Some(Seq(1)), &mentions, &None));
    assert_eq!(store.message(stored.id).await.unwrap(), Some(stored.clone()));
    let page = store.history(conversation, HistoryPage::Latest, 10).await.unwrap();
    assert_eq!(page, vec![first, stored.clone()]);
    // An edit replaces the mentions; the reply's seq stays.
    let edited = Message { body: "yes".into(), mentions: Vec::new(), edited_at: Some(Timestamp(9)), ..stored.clone() };
    assert!(store.replace_message(&edited).await.unwrap());
    assert_eq!(store.message(stored.id).await.unwrap(), Some(edited));

    // A system line keeps its event; a deletion takes it (a group's name is text too).
    let event = GroupEvent::Renamed { name: "Lunch «crew» 🍜".into() };
    let line = NewMessage { event: Some(event.clone()), ..new_message(conversation, a, "~1", "") };
    let line = created(store.append_message(line).await.unwrap());
    assert_eq!(store.message(line.id).await.unwrap().unwrap().event, Some(event));
    let page = store.history(conversation, HistoryPage::After(Seq(2)), 10).await.unwrap();
    assert_eq!(page, vec![line.clone()]);
    let gone = Message { deleted: true, event: None, edited_at: Some(Timestamp(10)), ..line.clone() };
    assert!(store.replace_message(&Message { event: line.event.clone(), ..gone.clone() }).await.unwrap());
    assert_eq!(store.message(line.id).await.unwrap(), Some(gone));
}

/// Reactions: added once per user and emoji, in order, taken back, refused past the limit
/// with nothing written, kept by an edit (whatever the editor read), dropped by a deletion,
/// refused on a deleted or absent message.
pub async fn reactions_change_atomically_and_go_with_a_deletion<S: Store>(store: Arc<S>) {
    let (a, b) = (UserId::new(), UserId::new());
    let conversation = ConversationId::new();
    let message = created(store.append_message(new_message(conversation, a, "c1", "hi")).await.unwrap());
    let react = |user, emoji: &str, add| ReactionChange { user, emoji: emoji.to_string(), add };
    let apply = |change: ReactionChange| {
        let store = store.clone();
        async move { store.react(conversation, message.seq, message.id, &change).await.unwrap() }
    };
    let Reacted::Changed(after) = apply(react(a, "👍", true)).await else { panic!("first reaction") };
    assert_eq!(after.reactions, vec![Reaction { emoji: "👍".into(), users: vec![a] }]);
    assert!(matches!(apply(react(a, "👍", true)).await, Reacted::Unchanged(m) if m.reactions == after.reactions));
    assert!(matches!(apply(react(b, "👍", true)).await, Reacted::Changed(_)));
    assert!(matches!(apply(react(b, "🎉", true)).await, Reacted::Changed(_)));
    let stored = store.message(message.id).await.unwrap().unwrap();
    assert_eq!(
        stored.reactions,
        vec![Reaction { emoji: "👍".into(), users: vec![a, b] }, Reaction { emoji: "🎉".into(), users: vec![b] }]
    );
    assert!(matches!(apply(react(b, "🎉", false)).await, Reacted::Changed(m) if m.reactions.len() == 1));
    assert!(matches!(apply(react(b, "🎉", false)).await, Reacted::Unchanged(_)));

    // At the limit of different emoji, and past it: refused, nothing written.
    let more: Vec<&str> = emojis::iter().map(|e| e.as_str()).filter(|e| *e != "👍").take(REACTIONS_MAX).collect();
    for emoji in &more[..REACTIONS_MAX - 1] {
        assert!(matches!(apply(react(a, emoji, true)).await, Reacted::Changed(_)), "{emoji}");
    }
    let full = store.message(message.id).await.unwrap().unwrap();
    assert_eq!(full.reactions.len(), REACTIONS_MAX);
    assert_eq!(apply(react(b, more[REACTIONS_MAX - 1], true)).await, Reacted::TooMany);
    assert_eq!(store.message(message.id).await.unwrap().unwrap(), full, "nothing written");
    assert!(matches!(apply(react(b, more[0], true)).await, Reacted::Changed(_)), "joining one is no new emoji");

    // An edit made from a copy read before the reactions keeps the stored ones.
    let edit = Message { body: "hi!".into(), edited_at: Some(Timestamp(5)), ..message.clone() };
    assert!(store.replace_message(&edit).await.unwrap());
    let edited = store.message(message.id).await.unwrap().unwrap();
    assert_eq!((edited.body.as_str(), edited.reactions.len()), ("hi!", REACTIONS_MAX));
    // A deletion drops them; a deleted message takes none.
    let deleted = Message { body: String::new(), deleted: true, ..edit };
    assert!(store.replace_message(&deleted).await.unwrap());
    assert!(store.message(message.id).await.unwrap().unwrap().reactions.is_empty());
    assert_eq!(apply(react(a, "👍", true)).await, Reacted::Gone);
    // Absent: an unknown seq, or a known seq with another id.
    let absent = store.react(conversation, Seq(99), message.id, &react(a, "👍", true)).await.unwrap();
    assert_eq!(absent, Reacted::Gone);
    let other = created(store.append_message(new_message(conversation, a, "c2", "two")).await.unwrap());
    let wrong_id = store.react(conversation, other.seq, message.id, &react(a, "👍", true)).await.unwrap();
    assert_eq!(wrong_id, Reacted::Gone);
}

/// 8 users reacting at once, each adding then taking back one of two emoji: every change
/// counts (none is lost to another's write).
pub async fn concurrent_reactions_all_count<S: Store>(store: Arc<S>) {
    let conversation = ConversationId::new();
    let message = created(store.append_message(new_message(conversation, UserId::new(), "c1", "hi")).await.unwrap());
    let users: Vec<UserId> = (0..8).map(|_| UserId::new()).collect();
    let mut tasks = Vec::new();
    for (n, &user) in users.iter().enumerate() {
        let store = store.clone();
        let message = message.clone();
        tasks.push(tokio::spawn(async move {
            for emoji in ["👍", "🎉"] {
                let add = ReactionChange { user, emoji: emoji.to_string(), add: true };
                store.react(conversation, message.seq, message.id, &add).await.unwrap();
            }
            if n % 2 == 0 {
                let remove = ReactionChange { user, emoji: "🎉".to_string(), add: false };
                store.react(conversation, message.seq, message.id, &remove).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let stored = store.message(message.id).await.unwrap().unwrap();
    let who = |emoji: &str| {
        let mut users = stored.reactions.iter().find(|r| r.emoji == emoji).map(|r| r.users.clone()).unwrap_or_default();
        users.sort_unstable();
        users
    };
    let mut everyone = users.clone();
    everyone.sort_unstable();
    let mut odd: Vec<UserId> = users.iter().enumerate().filter(|(n, _)| n % 2 == 1).map(|(_, u)| *u).collect();
    odd.sort_unstable();
    assert_eq!(who("👍"), everyone);
    assert_eq!(who("🎉"), odd);
}
