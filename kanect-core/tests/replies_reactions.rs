//! Replies, reactions and mentions through the engine's public API: who may, what every
//! member's devices hear, the limits, deletion, and two engines on one bus (a cluster).

mod support;

use kanect_core::{Event, HistoryPage, Outgoing, Reaction, Registration, Seq, REACTIONS_MAX};
use support::*;

fn reply<'a>(client_id: &'a str, body: &'a str, to: u64) -> Outgoing<'a> {
    Outgoing { client_id, body, reply_to: Some(Seq(to)), ..Outgoing::default() }
}

#[tokio::test]
async fn a_reply_carries_a_preview_of_its_original_that_follows_edits_and_deletion() {
    let chat = chat_with(unlimited_config()).await;
    let (alice_user, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let original = chat.send(&alice, direct.id, "c1", "\n lunch at noon? \nor one").await.unwrap();
    let mut bobs_device = chat.subscribe(&bob).await.unwrap();
    drain(&mut bobs_device);

    let answer = chat.send_message(&bob, direct.id, reply("c2", "yes!", 1)).await.unwrap();
    assert_eq!(answer.reply_to, Some(Seq(1)));
    let preview = answer.reply.clone().expect("a preview in the acknowledgement");
    assert_eq!((preview.sender, preview.text.as_str(), preview.deleted), (alice_user.id, "lunch at noon?", false));
    let live = next_message(&mut bobs_device).await;
    assert_eq!(live.reply, answer.reply, "and in the live message");

    // Edited: the preview shows the new first line. Deleted: it says so, and shows no text.
    chat.edit(&alice, original.id, "lunch at one?").await.unwrap();
    let page = chat.history(&bob, direct.id, HistoryPage::After(Seq(1)), 10).await.unwrap();
    assert_eq!(page[0].reply.as_ref().unwrap().text, "lunch at one?", "original not in the page: read");
    chat.delete(&alice, original.id).await.unwrap();
    let page = chat.history(&bob, direct.id, HistoryPage::Latest, 10).await.unwrap();
    let shown = page[1].reply.clone().unwrap();
    assert!(shown.deleted && shown.text.is_empty(), "{shown:?}");
    assert_eq!(page[1].reply_to, Some(Seq(1)));
}

#[tokio::test]
async fn a_reply_must_answer_an_earlier_live_message_of_its_own_conversation() {
    let chat = chat_with(unlimited_config()).await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, _) = user(&chat, "bob").await;
    let (carol_user, _) = user(&chat, "carol").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let other = chat.open_direct(&alice, carol_user.id).await.unwrap();
    chat.send(&alice, direct.id, "c1", "one").await.unwrap();
    let gone = chat.send(&alice, direct.id, "c2", "two").await.unwrap();
    chat.delete(&alice, gone.id).await.unwrap();
    chat.send(&alice, other.id, "c1", "elsewhere").await.unwrap();
    chat.send(&alice, other.id, "c2", "elsewhere too").await.unwrap();
    chat.send(&alice, other.id, "c3", "and three").await.unwrap();

    assert_eq!(code(chat.send_message(&alice, direct.id, reply("r0", "x", 0)).await), "out_of_range");
    assert_eq!(code(chat.send_message(&alice, direct.id, reply("r3", "x", 3)).await), "out_of_range", "no seq 3 here");
    assert_eq!(code(chat.send_message(&alice, direct.id, reply("r2", "x", 2)).await), "message_deleted");
    let err = chat.send_message(&alice, direct.id, reply("r4", "x", u64::MAX)).await.unwrap_err();
    assert!(matches!(err, kanect_core::Error::Invalid { field: "reply_to", .. }), "{err:?}");
    // Nothing of that was stored.
    assert_eq!(chat.history(&alice, direct.id, HistoryPage::Latest, 10).await.unwrap().len(), 2);
    let fine = chat.send_message(&alice, direct.id, reply("r1", "x", 1)).await.unwrap();
    assert_eq!(fine.seq, Seq(3));
}

#[tokio::test]
async fn reactions_reach_every_member_and_count_each_user_once() {
    let chat = chat_with(unlimited_config()).await;
    let (alice_user, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let (_, carol) = user(&chat, "carol").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let message = chat.send(&alice, direct.id, "c1", "hi").await.unwrap();
    let mut alices_device = chat.subscribe(&alice).await.unwrap();
    drain(&mut alices_device);

    let reacted = chat.react(&bob, message.id, "👍", true).await.unwrap();
    assert_eq!(reacted.reactions, vec![Reaction { emoji: "👍".into(), users: vec![bob_user.id] }]);
    match next_event(&mut alices_device).await {
        Event::Reaction { id, user, emoji, added, reactions, .. } => {
            assert_eq!((id, user, emoji.as_str(), added), (message.id, bob_user.id, "👍", true));
            assert_eq!(reactions, reacted.reactions);
        }
        other => panic!("expected a reaction event, got {other:?}"),
    }
    // Again: nothing changes, nobody is told.
    assert_eq!(chat.react(&bob, message.id, "👍", true).await.unwrap().reactions, reacted.reactions);
    // The unqualified heart is the heart.
    chat.react(&alice, message.id, "❤", true).await.unwrap();
    let both = chat.react(&bob, message.id, "❤\u{fe0f}", true).await.unwrap();
    assert_eq!(both.reactions[1], Reaction { emoji: "❤\u{fe0f}".into(), users: vec![alice_user.id, bob_user.id] });
    tokio::task::yield_now().await;
    let told: Vec<Event> = drain(&mut alices_device);
    assert_eq!(told.iter().filter(|e| matches!(e, Event::Reaction { .. })).count(), 2, "{told:?}");
    // Taking back.
    let after = chat.react(&bob, message.id, "👍", false).await.unwrap();
    assert_eq!(after.reactions.len(), 1);
    let history = chat.history(&alice, direct.id, HistoryPage::Latest, 10).await.unwrap();
    assert_eq!(history[0].reactions, after.reactions, "history carries them");

    // Who may not: an outsider learns nothing; bad emoji; deleted messages.
    assert_eq!(code(chat.react(&carol, message.id, "👍", true).await), "message_not_found");
    assert_eq!(code(chat.react(&bob, message.id, "👍👍", true).await), "not_emoji");
    assert_eq!(code(chat.react(&bob, message.id, "ok", true).await), "not_emoji");
    assert_eq!(code(chat.react(&bob, kanect_core::MessageId::new(), "👍", true).await), "message_not_found");
    chat.delete(&alice, message.id).await.unwrap();
    assert_eq!(code(chat.react(&bob, message.id, "👍", true).await), "message_deleted");
    let history = chat.history(&alice, direct.id, HistoryPage::Latest, 10).await.unwrap();
    assert!(history[0].reactions.is_empty(), "a deletion takes the reactions with it");
}

#[tokio::test]
async fn a_message_takes_reactions_up_to_the_limit_of_different_emoji() {
    let chat = chat_with(unlimited_config()).await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let message = chat.send(&alice, direct.id, "c1", "hi").await.unwrap();
    let emoji: Vec<&str> = ["😀", "😃", "😄", "😁", "😆", "😅", "🤣", "😂", "🙂", "🙃", "🫠", "😉", "😊", "😇", "🥰"]
        .into_iter()
        .chain(["😍", "🤩", "😘", "😗", "😚", "😙"])
        .collect();
    assert!(emoji.len() > REACTIONS_MAX);
    for e in &emoji[..REACTIONS_MAX] {
        chat.react(&alice, message.id, e, true).await.unwrap();
    }
    assert_eq!(code(chat.react(&bob, message.id, emoji[REACTIONS_MAX], true).await), "too_many_reactions");
    let joined = chat.react(&bob, message.id, emoji[0], true).await.unwrap();
    assert_eq!(joined.reactions.len(), REACTIONS_MAX);
    assert_eq!(joined.reactions[0].users.len(), 2);
}

#[tokio::test]
async fn mentions_name_members_only_and_count_apart_among_the_unread() {
    let chat = chat_with(unlimited_config()).await;
    let (alice_user, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let (carol_user, _) = user(&chat, "carol").await;
    let (_, dave) = user(&chat, "dave").await;
    let group = chat.create_group(&alice, "team", &[alice_user.id, bob_user.id]).await.unwrap();

    let sent = chat.send(&alice, group.id, "c1", "@Bob and @carol, mail bob@example.com or @nobody").await.unwrap();
    assert_eq!(sent.mentions, vec![bob_user.id], "carol is no member; nobody is nobody");
    chat.send(&alice, group.id, "c2", "no mention").await.unwrap();
    chat.send(&alice, group.id, "c3", "again @bob.").await.unwrap();
    let views = chat.conversations(&bob, None, 10).await.unwrap().conversations;
    let view = views.iter().find(|v| v.conversation.id == group.id).unwrap();
    assert_eq!((view.unread, view.unread_mentions), (3, 2));
    chat.mark(&bob, group.id, kanect_core::ReceiptKind::Read, sent.seq).await.unwrap();
    let views = chat.conversations(&bob, None, 10).await.unwrap().conversations;
    let view = views.iter().find(|v| v.conversation.id == group.id).unwrap();
    assert_eq!((view.unread, view.unread_mentions), (2, 1));

    // An edit reads the names again.
    let edited = chat.edit(&alice, sent.id, "never mind").await.unwrap();
    assert!(edited.mentions.is_empty());
    let added = chat.add_member(&alice, group.id, carol_user.id).await.unwrap();
    assert!(added.has_member(carol_user.id));
    let edited = chat.edit(&alice, sent.id, "@carol @bob").await.unwrap();
    let mut both = vec![bob_user.id, carol_user.id];
    both.sort_unstable();
    assert_eq!(edited.mentions, both);
    // At the limit of different names, and past it (nothing stored).
    let names = |n: usize| (0..n).map(|i| format!("@name{i:03}")).collect::<Vec<_>>().join(" ");
    chat.send(&alice, group.id, "c4", &names(kanect_core::validate::MENTIONS_MAX)).await.unwrap();
    let past = chat.send(&alice, group.id, "c5", &names(kanect_core::validate::MENTIONS_MAX + 1)).await;
    assert_eq!(code(past), "too_long");
    assert_eq!(code(chat.send(&dave, group.id, "c1", "@bob").await), "conversation_not_found");
}

#[tokio::test]
async fn reactions_and_replies_cross_nodes() {
    let (a, b) = two_nodes(unlimited_config()).await;
    let (_, alice) = user(&a, "alice").await;
    let bob_user = b.register(Registration::new("bob", "battery staple")).await.unwrap();
    let bob = b.act_as(bob_user.id).await.unwrap();
    let direct = a.open_direct(&alice, bob_user.id).await.unwrap();
    let original = a.send(&alice, direct.id, "c1", "on node a").await.unwrap();
    let mut bob_on_b = b.subscribe(&bob).await.unwrap();
    drain(&mut bob_on_b);
    let answer = a.send_message(&alice, direct.id, reply("c2", "me again", original.seq.0)).await.unwrap();
    let live = next_message(&mut bob_on_b).await;
    assert_eq!((live.reply_to, live.reply.clone()), (answer.reply_to, answer.reply.clone()));
    a.react(&alice, original.id, "🎉", true).await.unwrap();
    loop {
        if let Event::Reaction { emoji, reactions, .. } = next_event(&mut bob_on_b).await {
            assert_eq!((emoji.as_str(), reactions.len()), ("🎉", 1));
            break;
        }
    }
}
