//! The conversation list in pages: most recently active first, every conversation once across
//! the pages, also while conversations move, and bounded pages for an account in 1,000 groups.

mod support;

use kanect_core::{Caller, Chat, ConversationCursor, ConversationId, ConversationPage};
use std::collections::HashSet;
use support::*;

/// Every page of `caller`'s list, `limit` at a time, as ids.
async fn all_pages(chat: &Chat, caller: &Caller, limit: usize) -> Vec<Vec<ConversationId>> {
    let mut pages = Vec::new();
    let mut after = None;
    for _ in 0..1000 {
        let ConversationPage { conversations, next } = chat.conversations(caller, after, limit).await.unwrap();
        pages.push(conversations.iter().map(|view| view.conversation.id).collect());
        match next {
            Some(next) => after = Some(next),
            None => return pages,
        }
    }
    panic!("the list did not end");
}

#[tokio::test]
async fn pages_come_most_recently_active_first_and_end_without_an_empty_page() {
    let chat = chat_with(unlimited_config()).await;
    let (_, alice) = user(&chat, "alice").await;
    let mut groups = Vec::new();
    for i in 0..6 {
        groups.push(chat.create_group(&alice, &format!("g{i}"), &[]).await.unwrap().id);
    }
    // Activity, oldest first: g3, g0, g5, g1, g4, g2 (each a message a millisecond or more apart).
    for (n, i) in [3, 0, 5, 1, 4, 2].into_iter().enumerate() {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        chat.send(&alice, groups[i], &format!("c{n}"), "news").await.unwrap();
    }
    let newest_first: Vec<ConversationId> = [2, 4, 1, 5, 0, 3].into_iter().map(|i| groups[i]).collect();
    assert_eq!(all_pages(&chat, &alice, 3).await, vec![newest_first[..3].to_vec(), newest_first[3..].to_vec()]);
    assert_eq!(all_pages(&chat, &alice, 4).await, vec![newest_first[..4].to_vec(), newest_first[4..].to_vec()]);
    assert_eq!(all_pages(&chat, &alice, 200).await, vec![newest_first.clone()]);

    let page = chat.conversations(&alice, None, 1).await.unwrap();
    assert_eq!(page.conversations[0].last_message.as_ref().unwrap().body, "news");
    assert_eq!(code(chat.conversations(&alice, None, 0).await), "out_of_range");
    assert_eq!(code(chat.conversations(&alice, None, 201).await), "out_of_range");
    assert_eq!(code("yesterday".parse::<ConversationCursor>()), "malformed");
    assert_eq!(code("12_not-an-id".parse::<ConversationCursor>()), "malformed");
}

#[tokio::test]
async fn conversations_created_at_once_are_each_listed_once() {
    let chat = chat_with(unlimited_config()).await;
    let (_, alice) = user(&chat, "alice").await;
    let mut made = HashSet::new();
    for i in 0..40 {
        // Many in the same millisecond: ordered among themselves by id.
        made.insert(chat.create_group(&alice, &format!("g{i}"), &[]).await.unwrap().id);
    }
    for limit in [1, 3, 7] {
        let listed: Vec<ConversationId> = all_pages(&chat, &alice, limit).await.into_iter().flatten().collect();
        assert_eq!(listed.len(), made.len(), "limit {limit}");
        assert_eq!(listed.iter().copied().collect::<HashSet<_>>(), made);
    }
}

#[tokio::test]
async fn paging_while_conversations_move_never_repeats_one_and_keeps_every_still_one() {
    let chat = chat_with(unlimited_config()).await;
    let (_, alice) = user(&chat, "alice").await;
    let (_, bob) = user(&chat, "bob").await;
    let mut groups = Vec::new();
    for i in 0..9 {
        let group = chat.create_group(&bob, &format!("g{i}"), &[alice.user()]).await.unwrap().id;
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        groups.push(group);
    }
    // Newest first: g8 … g0. Alice reads the first page (g8, g7, g6)...
    let first = chat.conversations(&alice, None, 3).await.unwrap();
    let mut seen: Vec<ConversationId> = first.conversations.iter().map(|v| v.conversation.id).collect();
    assert_eq!(seen, [groups[8], groups[7], groups[6]]);
    // ...then g7 (already listed) and g2 (not yet) get messages, and a new group appears.
    // (A millisecond or more apart: the list orders by the time messages were stamped.)
    let tick = || tokio::time::sleep(std::time::Duration::from_millis(2));
    chat.send(&bob, groups[7], "m1", "again").await.unwrap();
    tick().await;
    chat.send(&bob, groups[2], "m2", "jumps the queue").await.unwrap();
    tick().await;
    let late = chat.create_group(&bob, "late", &[alice.user()]).await.unwrap().id;
    let mut after = first.next;
    while let Some(cursor) = after {
        let page = chat.conversations(&alice, Some(cursor), 3).await.unwrap();
        seen.extend(page.conversations.iter().map(|v| v.conversation.id));
        after = page.next;
    }
    let unique: HashSet<ConversationId> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no conversation twice: {seen:?}");
    for (i, group) in groups.iter().enumerate() {
        if i != 2 {
            assert!(unique.contains(group), "g{i}, which did not move, is listed");
        }
    }
    // g2 and the new group moved in front of the cursor: their events told the client. A fresh
    // read has them first.
    let fresh = chat.conversations(&alice, None, 2).await.unwrap();
    let fresh: HashSet<ConversationId> = fresh.conversations.iter().map(|v| v.conversation.id).collect();
    assert_eq!(fresh, HashSet::from([groups[2], late]));
}

#[tokio::test]
async fn an_account_in_a_thousand_groups_gets_bounded_pages() {
    let chat = chat_with(unlimited_config()).await;
    let (_, victim) = user(&chat, "victim").await;
    let (_, mallory) = user(&chat, "mallory").await;
    for i in 0..1000 {
        chat.create_group(&mallory, &format!("spam {i}"), &[victim.user()]).await.unwrap();
    }
    let page = chat.conversations(&victim, None, 50).await.unwrap();
    assert_eq!(page.conversations.len(), 50);
    assert!(page.next.is_some());
    let listed: usize = all_pages(&chat, &victim, 200).await.iter().map(Vec::len).sum();
    assert_eq!(listed, 1000);
}
