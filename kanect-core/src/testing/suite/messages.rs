//! Conformance cases of [`MessageStore`](crate::backend::MessageStore).

use crate::id::{ConversationId, MessageId, Seq, UserId};
use crate::model::{Appended, Message, ReceiptKind, Timestamp};
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
