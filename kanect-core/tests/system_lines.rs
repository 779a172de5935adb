//! System lines: a group's history records its changes, each with a seq among the messages.

mod support;

use kanect_core::{Event, GroupEvent, HistoryPage, Message, Outgoing, Seq};
use support::*;

fn lines(history: &[Message]) -> Vec<(GroupEvent, kanect_core::UserId)> {
    history.iter().filter_map(|m| m.event.clone().map(|event| (event, m.sender))).collect()
}

#[tokio::test]
async fn every_group_change_is_a_line_in_the_history_by_whoever_made_it() {
    let chat = chat_with(unlimited_config()).await;
    let (alice_user, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let (carol_user, carol) = user(&chat, "carol").await;
    let group = chat.create_group(&alice, "Lunch", &[bob_user.id]).await.unwrap();
    chat.send(&bob, group.id, "b1", "hi").await.unwrap();
    chat.rename_group(&alice, group.id, "Lunch crew").await.unwrap();
    chat.add_member(&alice, group.id, carol_user.id).await.unwrap();
    chat.remove_member(&alice, group.id, bob_user.id).await.unwrap();
    chat.leave(&carol, group.id).await.unwrap();

    let history = chat.history(&alice, group.id, HistoryPage::Latest, 50).await.unwrap();
    let seqs: Vec<u64> = history.iter().map(|m| m.seq.0).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6], "lines take seqs like messages: one gap-free sequence");
    assert_eq!(
        lines(&history),
        [
            (GroupEvent::Created { name: "Lunch".into() }, alice_user.id),
            (GroupEvent::Renamed { name: "Lunch crew".into() }, alice_user.id),
            (GroupEvent::Added { user: carol_user.id }, alice_user.id),
            (GroupEvent::Removed { user: bob_user.id }, alice_user.id),
            (GroupEvent::Left, carol_user.id),
        ]
    );
    assert!(history.iter().filter(|m| m.event.is_some()).all(|m| m.body.is_empty()));
    // Direct conversations have none.
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    chat.send(&alice, direct.id, "d1", "hello").await.unwrap();
    assert!(lines(&chat.history(&alice, direct.id, HistoryPage::Latest, 50).await.unwrap()).is_empty());
}

#[tokio::test]
async fn a_line_reaches_the_members_after_the_change_and_is_never_unread() {
    let chat = chat_with(unlimited_config()).await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let (carol_user, carol) = user(&chat, "carol").await;
    let group = chat.create_group(&alice, "team", &[bob_user.id]).await.unwrap();
    let mut bobs = chat.subscribe(&bob).await.unwrap();
    let mut carols = chat.subscribe(&carol).await.unwrap();

    // Added: carol hears of the conversation, then gets the line that adds her, live.
    chat.add_member(&alice, group.id, carol_user.id).await.unwrap();
    let Event::Conversation { last_seq, .. } = next_event(&mut carols).await else { panic!("conversation first") };
    let line = next_message(&mut carols).await;
    assert_eq!((line.seq, line.event.clone()), (Seq(last_seq.0 + 1), Some(GroupEvent::Added { user: carol_user.id })));
    assert_eq!(next_message(&mut bobs).await, line, "and every other member");

    // Removed: bob is told by the conversation event, not by the line.
    chat.remove_member(&alice, group.id, bob_user.id).await.unwrap();
    tokio::task::yield_now().await;
    let told = drain(&mut bobs);
    assert!(told.iter().any(|e| matches!(e, Event::Conversation { .. })), "{told:?}");
    assert!(messages(&told).is_empty(), "no line to the member removed: {told:?}");
    let removed = next_message(&mut carols).await;
    assert_eq!(removed.event, Some(GroupEvent::Removed { user: bob_user.id }));

    // Three lines (created, added, removed), none unread for anyone.
    let views = chat.conversations(&carol, None, 10).await.unwrap().conversations;
    assert_eq!((views[0].unread, views[0].last_seq), (0, Seq(3)));
}

#[tokio::test]
async fn a_line_takes_no_edit_deletion_reaction_or_reply() {
    let chat = chat_with(unlimited_config()).await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let group = chat.create_group(&alice, "team", &[bob_user.id]).await.unwrap();
    let line = chat.history(&alice, group.id, HistoryPage::Latest, 1).await.unwrap().remove(0);
    assert!(line.event.is_some());
    assert_eq!(code(chat.edit(&alice, line.id, "rewritten").await), "system_message");
    assert_eq!(code(chat.delete(&alice, line.id).await), "system_message");
    assert_eq!(code(chat.react(&bob, line.id, "👍", true).await), "system_message");
    let reply = Outgoing { client_id: "r1", body: "re", reply_to: Some(line.seq), ..Outgoing::default() };
    assert_eq!(code(chat.send_message(&bob, group.id, reply).await), "system_message");
    // A client id that looks like the engine's is just a client id.
    let sent = chat.send(&bob, group.id, "~not-a-line", "plain").await.unwrap();
    assert!(sent.event.is_none());
}

#[tokio::test]
async fn deleting_an_account_removes_it_from_its_groups_in_a_line_by_the_administrator() {
    let chat = chat_with(unlimited_config()).await;
    let root = chat.create_admin(kanect_core::Registration::new("root", "the admin password")).await.unwrap();
    let root = chat.act_as(root.id).await.unwrap();
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, _) = user(&chat, "bob").await;
    let group = chat.create_group(&alice, "team", &[bob_user.id]).await.unwrap();
    chat.delete_user(&root, bob_user.id).await.unwrap();
    let history = chat.history(&alice, group.id, HistoryPage::Latest, 10).await.unwrap();
    assert_eq!(lines(&history).last(), Some(&(GroupEvent::Removed { user: bob_user.id }, root.user())));
}
