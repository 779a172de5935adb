//! The engine's guarantees, through the public API.

mod support;

use kanect_core::backend::{MessageStore, UserStore};
use kanect_core::{
    Chat, ChatConfig, ConversationId, Event, HistoryPage, LocalBus, MemoryStore, MessageId, ReceiptKind, Registration,
    Seq, Store, UserId,
};
use std::sync::Arc;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seqs_are_gap_free_under_concurrent_senders() {
    let chat = chat_with(unlimited_config()).await;
    let mut callers = Vec::new();
    for i in 0..8 {
        callers.push(user(&chat, &format!("sender{i}")).await.1);
    }
    let members: Vec<UserId> = callers.iter().map(|c| c.user()).collect();
    let group = chat.create_group(&callers[0], "load", &members).await.unwrap();
    let mut tasks = Vec::new();
    for caller in callers {
        let chat = chat.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..1000 {
                let message = chat.send(&caller, group.id, &format!("c{i}"), "x").await.unwrap();
                seqs.push(message.seq.0);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort_unstable();
    // Seq 1 is the group's "created" system line.
    assert_eq!(all, (2..=8001).collect::<Vec<u64>>());
}

#[tokio::test]
async fn a_resend_with_the_same_client_id_returns_the_original() {
    let chat = chat().await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let mut bobs_device = chat.subscribe(&bob).await.unwrap();
    let first = chat.send(&alice, direct.id, "same", "hello").await.unwrap();
    let again = chat.send(&alice, direct.id, "same", "hello (retry)").await.unwrap();
    assert_eq!(first, again);
    assert_eq!(again.body, "hello");
    let history = chat.history(&bob, direct.id, HistoryPage::Latest, 10).await.unwrap();
    assert_eq!(history, vec![first.clone()]);
    // Bob's device saw it once.
    tokio::task::yield_now().await;
    assert_eq!(messages(&drain(&mut bobs_device)), vec![first]);
    // Another sender may use the same client id.
    let bobs = chat.send(&bob, direct.id, "same", "hi").await.unwrap();
    assert_eq!(bobs.seq, Seq(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_device_of_every_member_gets_every_message_once_in_order() {
    let chat = chat_with(unlimited_config()).await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let (carol_user, carol) = user(&chat, "carol").await;
    let group = chat.create_group(&alice, "trio", &[bob_user.id, carol_user.id]).await.unwrap();
    let mut devices = vec![
        chat.subscribe(&alice).await.unwrap(),
        chat.subscribe(&bob).await.unwrap(),
        chat.subscribe(&bob).await.unwrap(), // bob's second device
        chat.subscribe(&carol).await.unwrap(),
    ];
    let mut tasks = Vec::new();
    for (n, caller) in [alice, bob, carol].into_iter().enumerate() {
        let chat = chat.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..200 {
                chat.send(&caller, group.id, &format!("{n}-{i}"), "x").await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    for device in &mut devices {
        let mut seqs = Vec::new();
        while seqs.len() < 600 {
            seqs.push(next_message(device).await.seq.0);
        }
        // After the group's "created" line (seq 1, before the devices subscribed).
        assert_eq!(seqs, (2..=601).collect::<Vec<u64>>());
        assert!(messages(&drain(device)).is_empty(), "no duplicates");
    }
}

#[tokio::test]
async fn a_slow_consumer_gets_resync_and_catches_up_without_slowing_others() {
    let config = ChatConfig { device_queue: 16, ..unlimited_config() };
    let chat = chat_with(config).await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let mut slow = chat.subscribe(&bob).await.unwrap();
    let mut fast = chat.subscribe(&bob).await.unwrap();
    let mut fast_seen = Vec::new();
    for i in 0..100 {
        // The sender is never blocked by the slow device: each send completes immediately.
        chat.send(&alice, direct.id, &format!("c{i}"), &format!("m{i}")).await.unwrap();
        fast_seen.extend(messages(&drain(&mut fast)).into_iter().map(|m| m.seq.0));
    }
    assert_eq!(fast_seen, (1..=100).collect::<Vec<u64>>());

    // The slow device gets what fit in its queue, then a resync.
    let queued = drain(&mut slow);
    let resync_at = queued.iter().position(|e| *e == Event::Resync).expect("a resync");
    assert_eq!(resync_at, queued.len() - 1);
    let got = messages(&queued);
    assert!(!got.is_empty() && got.len() < 100);
    let cursor = got.last().unwrap().seq;
    // It resumes from its cursor and gets the rest exactly once, then live messages.
    slow.resume([(direct.id, cursor)]).await.unwrap();
    chat.send(&alice, direct.id, "live", "after").await.unwrap();
    let mut rest: Vec<u64> = got.iter().map(|m| m.seq.0).collect();
    while rest.len() < 101 {
        rest.push(next_message(&mut slow).await.seq.0);
    }
    assert_eq!(rest, (1..=101).collect::<Vec<u64>>());
    assert!(messages(&drain(&mut slow)).is_empty());
}

#[tokio::test]
async fn reconnect_with_cursor_gets_missed_messages_exactly_once() {
    let chat = chat().await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let mut device = chat.subscribe(&bob).await.unwrap();
    for i in 0..3 {
        chat.send(&alice, direct.id, &format!("a{i}"), "before").await.unwrap();
    }
    let seen = next_message(&mut device).await.seq;
    drop(device); // connection lost after seeing seq 1
    for i in 0..5 {
        chat.send(&alice, direct.id, &format!("b{i}"), "while away").await.unwrap();
    }
    let mut device = chat.subscribe(&bob).await.unwrap();
    device.resume([(direct.id, seen)]).await.unwrap();
    // A message racing with the resume arrives once too.
    chat.send(&alice, direct.id, "c", "just now").await.unwrap();
    let mut seqs = Vec::new();
    while seqs.len() < 8 {
        seqs.push(next_message(&mut device).await.seq.0);
    }
    assert_eq!(seqs, (2..=9).collect::<Vec<u64>>());
    tokio::task::yield_now().await;
    assert!(messages(&drain(&mut device)).is_empty());
}

#[tokio::test]
async fn non_members_can_neither_read_nor_write() {
    let chat = chat().await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, _) = user(&chat, "bob").await;
    let (_, eve) = user(&chat, "eve").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let message = chat.send(&alice, direct.id, "c1", "private").await.unwrap();
    assert_eq!(code(chat.send(&eve, direct.id, "c", "hi").await), "conversation_not_found");
    assert_eq!(code(chat.history(&eve, direct.id, HistoryPage::Latest, 10).await), "conversation_not_found");
    // Message ids can be derived from (conversation, sender, client id): an outsider learns
    // nothing, not even that the message exists.
    assert_eq!(code(chat.edit(&eve, message.id, "mine now").await), "message_not_found");
    assert_eq!(code(chat.delete(&eve, message.id).await), "message_not_found");
    let mut device = chat.subscribe(&eve).await.unwrap();
    let resumed = device.resume([(direct.id, Seq::ZERO)]).await.unwrap();
    assert_eq!(resumed.skipped[0].reason.code(), "conversation_not_found", "the cursor is skipped");
    assert!(drain(&mut device).is_empty());
}

/// The errors of every conversation operation, as the engine words them, for `id`.
async fn outsider_view(chat: &Chat, caller: &kanect_core::Caller, id: ConversationId) -> Vec<String> {
    let mut device = chat.subscribe(caller).await.unwrap();
    let someone = UserId::new();
    let errors = [
        chat.conversation(caller, id).await.map(drop),
        chat.history(caller, id, HistoryPage::Latest, 10).await.map(drop),
        chat.send(caller, id, "c", "hi").await.map(drop),
        chat.mark(caller, id, ReceiptKind::Read, Seq(1)).await.map(drop),
        chat.typing(caller, id).await,
        chat.leave(caller, id).await.map(drop),
        chat.add_member(caller, id, someone).await.map(drop),
        chat.remove_member(caller, id, someone).await.map(drop),
        chat.rename_group(caller, id, "mine").await.map(drop),
        // A resume skips the cursor, with the same error as the others.
        device.resume([(id, Seq::ZERO)]).await.and_then(|resumed| match resumed.skipped.into_iter().next() {
            Some(skipped) => Err(skipped.reason),
            None => Ok(()),
        }),
    ];
    errors
        .into_iter()
        .map(|result| {
            let error = result.expect_err("an outsider is refused");
            format!("{} {error}", error.code())
        })
        .collect()
}

#[tokio::test]
async fn to_an_outsider_a_conversation_it_is_not_in_looks_like_none_at_all() {
    let chat = chat().await;
    let (alice_user, alice) = user(&chat, "alice").await;
    let (bob_user, _) = user(&chat, "bob").await;
    let (carol_user, _) = user(&chat, "carol").await;
    let (_, eve) = user(&chat, "eve").await;
    // Alice has talked to Bob, not to Carol: both ids are computable by anyone.
    let talked = chat.open_direct(&alice, bob_user.id).await.unwrap().id;
    chat.send(&alice, talked, "c1", "hi bob").await.unwrap();
    let never = ConversationId::direct(alice_user.id, carol_user.id);
    let group = chat.create_group(&alice, "secret", &[bob_user.id]).await.unwrap().id;
    let nothing = ConversationId::new();

    let expected = outsider_view(&chat, &eve, nothing).await;
    assert!(expected.iter().all(|e| e.starts_with("conversation_not_found ")), "{expected:?}");
    assert_eq!(outsider_view(&chat, &eve, never).await, expected);
    assert_eq!(outsider_view(&chat, &eve, talked).await, expected, "a direct conversation that exists");
    assert_eq!(outsider_view(&chat, &eve, group).await, expected, "a group that exists");
}

#[tokio::test]
async fn a_removed_member_sees_the_group_as_an_outsider_does_but_still_owns_their_messages() {
    let chat = chat().await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let group = chat.create_group(&alice, "team", &[bob_user.id]).await.unwrap().id;
    let mine = chat.send(&bob, group, "b1", "bob was here").await.unwrap();
    chat.remove_member(&alice, group, bob_user.id).await.unwrap();
    assert_eq!(outsider_view(&chat, &bob, group).await, outsider_view(&chat, &bob, ConversationId::new()).await);
    // His message stays in the group's history, and he may not change it from outside.
    assert_eq!(code(chat.edit(&bob, mine.id, "edited from outside").await), "not_member");
    let history = chat.history(&alice, group, HistoryPage::Latest, 10).await.unwrap();
    assert_eq!(history[1], mine, "between the created and removed lines");
    assert_eq!(history.len(), 3);
}

#[tokio::test]
async fn logged_out_and_expired_sessions_are_refused() {
    let chat = chat().await;
    chat.register(Registration::new("alice", "correct horse")).await.unwrap();
    let login = chat.login("alice", "correct horse").await.unwrap();
    let caller = chat.authenticate(login.token.as_str()).await.unwrap();
    let mut device = chat.subscribe(&caller).await.unwrap();
    chat.logout(&caller).await.unwrap();
    let err = chat.authenticate(login.token.as_str()).await.unwrap_err();
    assert_eq!(err.code(), "invalid_session");
    assert_eq!(next_event(&mut device).await, Event::SessionEnded { reason: "logged_out".into() });
    assert!(device.next().await.is_none());

    let expiring = chat_with(ChatConfig { session_ttl: std::time::Duration::ZERO, ..fast_config() }).await;
    expiring.register(Registration::new("bob", "battery staple")).await.unwrap();
    let login = expiring.login("bob", "battery staple").await.unwrap();
    let err = expiring.authenticate(login.token.as_str()).await.unwrap_err();
    assert_eq!(err.code(), "session_expired");
    // And once expired, it is gone.
    assert_eq!(expiring.authenticate(login.token.as_str()).await.unwrap_err().code(), "invalid_session");

    for bad in ["", "zz", &"g".repeat(64), &"a".repeat(10_000)] {
        assert_eq!(chat.authenticate(bad).await.unwrap_err().code(), "invalid_session");
    }
}

#[tokio::test]
async fn logout_everywhere_ends_every_device() {
    let chat = chat().await;
    let (_, alice) = user(&chat, "alice").await;
    let second = chat.login("alice", "alice-secret-pw").await.unwrap();
    let alice2 = chat.authenticate(second.token.as_str()).await.unwrap();
    let mut one = chat.subscribe(&alice).await.unwrap();
    let mut two = chat.subscribe(&alice2).await.unwrap();
    assert_eq!(chat.logout_everywhere(&alice).await.unwrap(), 2);
    for device in [&mut one, &mut two] {
        assert!(matches!(next_event(device).await, Event::SessionEnded { .. }));
        assert!(device.next().await.is_none());
    }
    assert!(chat.authenticate(second.token.as_str()).await.is_err());
}

#[tokio::test]
async fn bad_input_gets_typed_errors_and_stores_nothing() {
    let (chat, store) = chat_and_store().await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, _) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    assert_eq!(code(chat.send(&alice, direct.id, "c", "").await), "empty");
    assert_eq!(code(chat.send(&alice, direct.id, "c", " \n\t ").await), "empty");
    let max = kanect_core::validate::BODY_MAX_CHARS;
    assert_eq!(code(chat.send(&alice, direct.id, "c", &"x".repeat(max + 1)).await), "too_long");
    assert_eq!(code(chat.send(&alice, direct.id, "c", &"x".repeat(1 << 20)).await), "too_long");
    assert_eq!(code(chat.send(&alice, direct.id, "", "hi").await), "empty");
    assert_eq!(code(chat.send(&alice, direct.id, "a b", "hi").await), "bad_characters");
    assert_eq!(code(chat.send(&alice, ConversationId::new(), "c", "hi").await), "conversation_not_found");
    assert_eq!(code(chat.edit(&alice, MessageId::new(), "hi").await), "message_not_found");
    assert_eq!(code(chat.delete(&alice, MessageId::new()).await), "message_not_found");
    assert_eq!(code(chat.open_direct(&alice, UserId::new()).await), "user_not_found");
    assert_eq!(code(chat.open_direct(&alice, alice.user()).await), "self_conversation");
    assert_eq!(code(chat.history(&alice, direct.id, HistoryPage::Latest, 0).await), "out_of_range");
    assert_eq!(code(chat.history(&alice, direct.id, HistoryPage::Latest, 10_000).await), "out_of_range");
    assert_eq!(code(chat.mark(&alice, direct.id, ReceiptKind::Read, Seq(1)).await), "out_of_range");
    assert_eq!(code(chat.users(&alice, Some(&"x".repeat(10_000)), None, 10).await), "too_long");
    assert_eq!(code(chat.create_group(&alice, "  ", &[]).await), "empty");
    assert_eq!(code(chat.create_group(&alice, "ok", &[UserId::new()]).await), "user_not_found");
    assert_eq!(store.last_seq(direct.id).await.unwrap(), Seq::ZERO);

    let register = |name: &str, password: &str| chat.register(Registration::new(name, password));
    assert_eq!(code(register("ali\u{0}ce", "correct horse").await), "bad_characters");
    assert_eq!(code(register("ali\u{2003}ce", "correct horse").await), "bad_characters");
    assert_eq!(code(register("al ice", "correct horse").await), "bad_characters");
    assert_eq!(code(register("carol", &"p".repeat(1 << 20)).await), "too_long");
    assert_eq!(code(register("carol", "short").await), "too_short");
    assert_eq!(code(register("ALICE", "correct horse").await), "username_taken");
    let with_email = Registration { email: Some("not-an-email".into()), ..Registration::new("dave", "correct horse") };
    assert_eq!(code(chat.register(with_email).await), "malformed");
    assert_eq!(code(chat.login("alice", &"p".repeat(1 << 20)).await), "bad_credentials");
    assert_eq!(code(chat.login(&"u".repeat(1 << 20), "x").await), "bad_credentials");
    assert!(store.user_by_username("carol").await.unwrap().is_none());
}

#[tokio::test]
async fn login_failures_are_uniform() {
    let chat = chat().await;
    chat.register(Registration::new("alice", "correct horse")).await.unwrap();
    assert_eq!(chat.login("alice", "wrong horse").await.unwrap_err().code(), "bad_credentials");
    assert_eq!(chat.login("nobody", "wrong horse").await.unwrap_err().code(), "bad_credentials");
    assert_eq!(chat.login("ALICE", "correct horse").await.unwrap().user.username, "alice");
}

#[tokio::test]
async fn edits_deletes_receipts_and_typing_reach_the_other_member() {
    let chat = chat().await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let mut bobs = chat.subscribe(&bob).await.unwrap();
    let mut alices = chat.subscribe(&alice).await.unwrap();
    let sent = chat.send(&alice, direct.id, "c1", "helo").await.unwrap();
    assert_eq!(next_message(&mut bobs).await, sent);

    let edited = chat.edit(&alice, sent.id, "hello").await.unwrap();
    assert!(edited.edited_at.is_some());
    assert_eq!(next_event(&mut bobs).await, Event::Edit { message: edited.clone() });
    assert_eq!(chat.edit(&bob, sent.id, "hijack").await.unwrap_err().code(), "not_sender");
    assert_eq!(chat.delete(&bob, sent.id).await.unwrap_err().code(), "not_sender");

    chat.typing(&alice, direct.id).await.unwrap();
    assert_eq!(next_event(&mut bobs).await, Event::Typing { conversation: direct.id, user: alice.user() });

    assert_eq!(chat.conversation(&bob, direct.id).await.unwrap().unread, 1);
    let receipt = chat.mark(&bob, direct.id, ReceiptKind::Read, sent.seq).await.unwrap().unwrap();
    assert_eq!((receipt.delivered, receipt.read), (Seq(1), Seq(1)));
    assert_eq!(chat.mark(&bob, direct.id, ReceiptKind::Read, sent.seq).await.unwrap(), None);
    assert_eq!(chat.conversation(&bob, direct.id).await.unwrap().unread, 0);
    let alice_events = drain(&mut alices);
    assert!(alice_events.contains(&Event::Receipt(receipt)), "{alice_events:?}");
    assert!(!alice_events.iter().any(|e| matches!(e, Event::Typing { .. })), "no echo of own typing");

    // Bob's own devices hear of his receipt too (to sync unread counts).
    assert_eq!(next_event(&mut bobs).await, Event::Receipt(receipt));
    chat.delete(&alice, sent.id).await.unwrap();
    assert_eq!(next_event(&mut bobs).await, Event::Delete { conversation: direct.id, id: sent.id, seq: sent.seq });
    let history = chat.history(&bob, direct.id, HistoryPage::Latest, 10).await.unwrap();
    assert!(history[0].deleted && history[0].body.is_empty());
    assert_eq!(chat.edit(&alice, sent.id, "again").await.unwrap_err().code(), "message_deleted");
}

#[tokio::test]
async fn presence_follows_devices_and_reaches_contacts_and_watchers() {
    let chat = chat().await;
    let (alice_user, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let (_, carol) = user(&chat, "carol").await;
    chat.open_direct(&alice, bob_user.id).await.unwrap();
    let mut bobs = chat.subscribe(&bob).await.unwrap();
    let carols = chat.subscribe(&carol).await.unwrap();
    let mut carols = carols;
    carols.watch_presence(vec![alice.user()]).unwrap();
    drain(&mut bobs);
    drain(&mut carols);

    let alices = chat.subscribe(&alice).await.unwrap();
    let online = |e: &Event| matches!(e, Event::Presence(p) if p.user == alice_user.id && p.online);
    assert!(online(&next_event(&mut bobs).await), "contact told");
    assert!(online(&next_event(&mut carols).await), "watcher told");
    let listed = chat.users(&bob, Some("ali"), None, 10).await.unwrap();
    assert!(listed[0].presence.online);
    assert!(listed[0].user.email.is_none(), "others never see the email");

    let second = chat.subscribe(&alice).await.unwrap();
    drop(alices); // one device left: still online, nothing announced
    drop(second);
    match next_event(&mut bobs).await {
        Event::Presence(p) => assert!(!p.online && p.last_seen.is_some()),
        other => panic!("expected presence, got {other:?}"),
    }
    let me = chat.user(&bob, alice_user.id).await.unwrap();
    assert!(!me.presence.online);
    assert!(me.presence.last_seen.is_some());
}

#[tokio::test]
async fn watching_more_users_adds_to_the_list_up_to_its_cap() {
    let chat = chat().await;
    let (alice_user, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let (_, carol) = user(&chat, "carol").await;
    let mut carols = chat.subscribe(&carol).await.unwrap();
    carols.watch_presence(vec![alice_user.id]).unwrap();
    carols.watch_more_presence(vec![bob_user.id, alice_user.id]).unwrap();
    drain(&mut carols);
    let _alices = chat.subscribe(&alice).await.unwrap();
    let _bobs = chat.subscribe(&bob).await.unwrap();
    let mut online = Vec::new();
    for _ in 0..2 {
        match next_event(&mut carols).await {
            Event::Presence(p) if p.online => online.push(p.user),
            other => panic!("expected presence, got {other:?}"),
        }
    }
    assert_eq!(online, vec![alice_user.id, bob_user.id], "both followed, alice once");

    // Two followed (alice counted once): 998 more fit, 999 do not, and a refusal adds nothing.
    let fresh = |n: usize| (0..n).map(|_| UserId::new()).collect::<Vec<_>>();
    assert_eq!(code(carols.watch_more_presence(fresh(999))), "too_long");
    carols.watch_more_presence(fresh(998)).unwrap();
    assert_eq!(code(carols.watch_more_presence(fresh(1))), "too_long");
    carols.watch_more_presence(vec![bob_user.id]).unwrap();
}

#[tokio::test]
async fn groups_have_owners_and_tell_members_about_changes() {
    let chat = chat().await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let (carol_user, carol) = user(&chat, "carol").await;
    let group = chat.create_group(&alice, " Weekend ", &[bob_user.id]).await.unwrap();
    assert_eq!(group.name.as_deref(), Some("Weekend"));
    assert_eq!(chat.add_member(&bob, group.id, carol_user.id).await.unwrap_err().code(), "not_owner");
    let mut carols = chat.subscribe(&carol).await.unwrap();
    let added = chat.add_member(&alice, group.id, carol_user.id).await.unwrap();
    assert!(added.has_member(carol_user.id));
    assert!(matches!(next_event(&mut carols).await, Event::Conversation { .. }));
    assert_eq!(chat.add_member(&alice, group.id, carol_user.id).await.unwrap_err().code(), "already_member");
    chat.send(&carol, group.id, "c", "hi all").await.unwrap();
    let removed = chat.remove_member(&alice, group.id, carol_user.id).await.unwrap();
    assert!(!removed.has_member(carol_user.id));
    assert_eq!(chat.send(&carol, group.id, "c2", "still here?").await.unwrap_err().code(), "conversation_not_found");
    let left = chat.leave(&alice, group.id).await.unwrap();
    assert_eq!(left.owner, Some(bob_user.id), "ownership passes on");
    let renamed = chat.rename_group(&bob, group.id, "Bob's").await.unwrap();
    assert_eq!(renamed.name.as_deref(), Some("Bob's"));
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    assert_eq!(chat.leave(&alice, direct.id).await.unwrap_err().code(), "direct_conversation");
    assert_eq!(chat.open_direct(&bob, alice.user()).await.unwrap().id, direct.id);
    let list = chat.conversations(&bob, None, 50).await.unwrap();
    assert_eq!(list.conversations.len(), 1, "the group; the direct conversation has no message yet");
    chat.send(&alice, direct.id, "d", "hi").await.unwrap();
    let list = chat.conversations(&bob, None, 50).await.unwrap();
    assert_eq!(list.conversations.len(), 2);
}

/// Opening a direct conversation is looking someone up: the other side hears of it with its
/// first message, not before, and an empty one is in neither member's list.
#[tokio::test]
async fn opening_a_direct_conversation_shows_nothing_on_the_other_side_until_a_message() {
    let chat = chat().await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let mut alices = chat.subscribe(&alice).await.unwrap();
    let mut bobs = chat.subscribe(&bob).await.unwrap();
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    assert!(
        matches!(next_event(&mut alices).await, Event::Conversation { conversation, .. } if conversation.id == direct.id),
        "the opener's devices learn of it"
    );
    for caller in [&alice, &bob] {
        assert!(chat.conversations(caller, None, 50).await.unwrap().conversations.is_empty());
    }
    assert_eq!(chat.conversation(&alice, direct.id).await.unwrap().conversation.id, direct.id, "read by its id");
    chat.send(&alice, direct.id, "c1", "hello bob").await.unwrap();
    // Bob's first event is the message itself: no conversation event came before it.
    assert!(matches!(next_event(&mut bobs).await, Event::Message { message } if message.body == "hello bob"));
    for caller in [&alice, &bob] {
        let listed = chat.conversations(caller, None, 50).await.unwrap().conversations;
        assert_eq!(listed.iter().map(|view| view.conversation.id).collect::<Vec<_>>(), [direct.id]);
    }
}

#[tokio::test]
async fn two_engines_on_one_bus_route_messages_and_presence() {
    let (a, b) = two_nodes(fast_config()).await;
    let (_, alice) = user(&a, "alice").await;
    let bob_user = b.register(Registration::new("bob", "battery staple")).await.unwrap();
    let bob = b.act_as(bob_user.id).await.unwrap();
    let direct = a.open_direct(&alice, bob_user.id).await.unwrap();
    let mut bob_on_b = b.subscribe(&bob).await.unwrap();
    drain(&mut bob_on_b);
    let alice_on_a = a.subscribe(&alice).await.unwrap();
    assert!(matches!(next_event(&mut bob_on_b).await, Event::Presence(p) if p.online));
    let sent = a.send(&alice, direct.id, "c1", "across nodes").await.unwrap();
    assert_eq!(next_message(&mut bob_on_b).await, sent);
    drop(alice_on_a);
    assert!(matches!(next_event(&mut bob_on_b).await, Event::Presence(p) if !p.online));
}

/// Two engines on one bus and store, and alice connected to the first; the second has heard so.
struct AliceOnA {
    a: Chat,
    b: Chat,
    store: Arc<dyn Store>,
    alice: kanect_core::User,
    alice_on_a: kanect_core::Subscription,
}

async fn alice_online_on_one_of_two_nodes() -> AliceOnA {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let bus = LocalBus::new();
    let a = Chat::builder_shared(store.clone()).bus(bus.clone()).config(fast_config()).build().await.unwrap();
    let b = Chat::builder_shared(store.clone()).bus(bus).config(fast_config()).build().await.unwrap();
    let (alice, caller) = user(&a, "alice").await;
    let alice_on_a = a.subscribe(&caller).await.unwrap();
    assert!(b.presence(&alice).online, "node b heard that alice came online");
    AliceOnA { a, b, store, alice, alice_on_a }
}

#[tokio::test]
async fn flush_waits_for_departures_so_other_nodes_hear_of_them() {
    let AliceOnA { a, b, store, alice, alice_on_a } = alice_online_on_one_of_two_nodes().await;
    // As at shutdown: the socket closes, then the node flushes and its runtime ends, so
    // nothing spawned after the flush would run.
    drop(alice_on_a);
    a.flush().await.unwrap();
    assert!(!b.presence(&alice).online, "node b heard that alice went offline");
    let last_seen = store.user(alice.id).await.unwrap().unwrap().last_seen;
    assert!(last_seen.is_some(), "last seen recorded before the flush");
}

#[tokio::test]
async fn a_flush_given_up_cancels_no_departure() {
    let AliceOnA { a, b, alice, alice_on_a, .. } = alice_online_on_one_of_two_nodes().await;
    drop(alice_on_a);
    // Polled once, then dropped: it was waiting for the departure.
    let flushed = tokio::select! {
        biased;
        _ = a.flush() => true,
        () = std::future::ready(()) => false,
    };
    assert!(!flushed, "the flush was waiting for the departure");
    for _ in 0..100 {
        if !b.presence(&alice).online {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("alice's departure was cancelled with the flush");
}

#[tokio::test]
async fn directory_changes_reach_devices_on_other_nodes() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let bus = LocalBus::new();
    let a = Chat::builder_shared(store.clone()).bus(bus.clone()).config(fast_config()).build().await.unwrap();
    let b = Chat::builder_shared(store).bus(bus).config(fast_config()).build().await.unwrap();
    let (_, alice) = user(&b, "alice").await;
    let mut alice_on_b = b.subscribe(&alice).await.unwrap();
    drain(&mut alice_on_b);
    let carol = a.register(Registration::new("carol", "carol password")).await.unwrap();
    assert_eq!(next_event(&mut alice_on_b).await, Event::User { user: carol.public() });
}

#[tokio::test]
async fn a_message_that_was_never_routed_is_filled_in_from_the_store_in_order() {
    let (chat, store) = chat_and_store().await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let mut device = chat.subscribe(&bob).await.unwrap();
    chat.send(&alice, direct.id, "c1", "one").await.unwrap();
    // Written but never fanned out, as when a node dies between its append and its routing.
    let orphan = kanect_core::backend::NewMessage {
        conversation: direct.id,
        sender: alice.user(),
        body: "two".into(),
        client_id: "c2".into(),
        sent_at: kanect_core::Timestamp::now(),
        attachments: Vec::new(),
        reply_to: None,
        mentions: Vec::new(),
        event: None,
    };
    store.append_message(orphan).await.unwrap();
    chat.send(&alice, direct.id, "c3", "three").await.unwrap();
    let mut bodies = Vec::new();
    while bodies.len() < 3 {
        bodies.push(next_message(&mut device).await.body);
    }
    assert_eq!(bodies, ["one", "two", "three"]);
    tokio::task::yield_now().await;
    assert!(messages(&drain(&mut device)).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_send_that_fails_in_the_store_still_releases_the_messages_waiting_behind_it_on_every_node() {
    use kanect_core::testing::FaultyStore;
    use std::time::Duration;
    let store = Arc::new(FaultyStore::new(MemoryStore::new()));
    let shared: Arc<dyn Store> = store.clone();
    let bus = LocalBus::new();
    let node = || Chat::builder_shared(shared.clone()).bus(bus.clone()).config(unlimited_config()).build();
    let (a, b) = (node().await.unwrap(), node().await.unwrap());
    let (_, alice) = user(&a, "alice").await;
    let (bob, bob_caller) = user(&a, "bob").await;
    let (carol, carol_caller) = user(&a, "carol").await;
    let group = a.create_group(&alice, "g", &[bob.id, carol.id]).await.unwrap();
    let mut carol_on_b = b.subscribe(&carol_caller).await.unwrap();

    // Alice's send through node a takes its place in the group's order, then waits in the store.
    store.slow("append_member_message", Duration::from_secs(60));
    let failing = tokio::spawn({
        let (a, alice) = (a.clone(), alice.clone());
        async move { a.send(&alice, group.id, "a1", "from alice").await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    // Bob's send through node a is stored at once: its fan-out waits for Alice's.
    store.heal();
    let sent = a.send(&bob_caller, group.id, "b1", "from bob").await.unwrap();
    // Alice's append fails.
    store.fail("append_member_message");
    assert_eq!(code(failing.await.unwrap()), "unavailable");
    store.heal();

    // Carol, on node b, gets Bob's message all the same.
    let received = tokio::time::timeout(Duration::from_secs(5), next_message(&mut carol_on_b)).await;
    assert_eq!(received.expect("Bob's message reached node b").id, sent.id);
}
