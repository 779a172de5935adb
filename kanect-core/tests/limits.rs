//! The rate limits, through the public API, on tokio's paused clock: each at its limit and
//! just past it, what a refusal says (`rate_limited`, when to retry), and that nothing past a
//! limit is stored or delivered.

mod support;

use kanect_core::{ChatConfig, Error, HistoryPage, Limit, Rate, RateLimits, Registration};
use std::net::IpAddr;
use std::time::Duration;
use support::*;

/// Every limit at `burst` per `burst` seconds (one more each second).
fn limited(burst: u32) -> ChatConfig {
    let rate = Rate::new(burst, Duration::from_secs(u64::from(burst)));
    let rate_limits = RateLimits::all(rate);
    ChatConfig { rate_limits, ..fast_config() }
}

/// The limit and the wait of a refusal.
fn refusal<T: std::fmt::Debug>(result: kanect_core::Result<T>) -> (Limit, Option<Duration>) {
    match result {
        Err(error @ Error::Limited { limit, retry_after }) => {
            assert_eq!(error.code(), "rate_limited");
            (limit, retry_after)
        }
        other => panic!("expected a rate-limit refusal, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn sends_pass_up_to_the_burst_and_nothing_past_it_is_stored() {
    let chat = chat_with(limited(5)).await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let mut bobs_phone = chat.subscribe(&bob).await.unwrap();
    for i in 0..5 {
        chat.send(&alice, direct.id, &format!("c{i}"), "within the burst").await.unwrap();
    }
    let (limit, wait) = refusal(chat.send(&alice, direct.id, "c5", "one too many").await);
    assert_eq!((limit, wait), (Limit::Sends, Some(Duration::from_secs(1))));
    assert_eq!(chat.history(&bob, direct.id, HistoryPage::Latest, 50).await.unwrap().len(), 5);
    tokio::task::yield_now().await;
    assert_eq!(messages(&drain(&mut bobs_phone)).len(), 5, "nothing past the limit is delivered");
    // Bob's bucket is his own.
    chat.send(&bob, direct.id, "b0", "hi").await.unwrap();

    tokio::time::advance(Duration::from_secs(1)).await;
    let sent = chat.send(&alice, direct.id, "c5", "one a second").await.unwrap();
    assert_eq!(sent.seq.0, 7);
    refusal(chat.send(&alice, direct.id, "c6", "and no more").await);
    // Invalid input is refused before it counts.
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(code(chat.send(&alice, direct.id, "c6", "").await), "empty");
    chat.send(&alice, direct.id, "c6", "the empty one took nothing").await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn edits_count_as_sends_and_renames_as_group_creations() {
    let chat = chat_with(limited(3)).await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let sent = chat.send(&alice, direct.id, "c0", "first").await.unwrap();
    chat.edit(&alice, sent.id, "second").await.unwrap();
    chat.edit(&alice, sent.id, "third").await.unwrap();
    assert_eq!(refusal(chat.edit(&alice, sent.id, "fourth").await).0, Limit::Sends);
    let stored = chat.history(&bob, direct.id, HistoryPage::Latest, 1).await.unwrap();
    assert_eq!(stored[0].body, "third", "nothing past the limit is stored");

    let group = chat.create_group(&alice, "one", &[]).await.unwrap();
    chat.rename_group(&alice, group.id, "two").await.unwrap();
    chat.rename_group(&alice, group.id, "three").await.unwrap();
    assert_eq!(refusal(chat.rename_group(&alice, group.id, "four").await).0, Limit::GroupCreations);
    assert_eq!(chat.conversation(&alice, group.id).await.unwrap().conversation.name.as_deref(), Some("three"));
}

#[tokio::test(start_paused = true)]
async fn typing_past_the_limit_is_refused_and_not_relayed() {
    let chat = chat_with(limited(2)).await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let mut bobs_phone = chat.subscribe(&bob).await.unwrap();
    chat.typing(&alice, direct.id).await.unwrap();
    chat.typing(&alice, direct.id).await.unwrap();
    assert_eq!(refusal(chat.typing(&alice, direct.id).await).0, Limit::Typing);
    tokio::task::yield_now().await;
    let typed = drain(&mut bobs_phone).iter().filter(|e| matches!(e, kanect_core::Event::Typing { .. })).count();
    assert_eq!(typed, 2);
    // Typing and sending have buckets of their own.
    chat.send(&alice, direct.id, "c", "hi").await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn group_creations_past_the_limit_create_nothing() {
    let chat = chat_with(limited(3)).await;
    let (_, alice) = user(&chat, "alice").await;
    for i in 0..3 {
        chat.create_group(&alice, &format!("group {i}"), &[]).await.unwrap();
    }
    let (limit, wait) = refusal(chat.create_group(&alice, "one too many", &[]).await);
    assert_eq!((limit, wait), (Limit::GroupCreations, Some(Duration::from_secs(1))));
    assert_eq!(chat.conversations(&alice, None, 50).await.unwrap().conversations.len(), 3);
    tokio::time::advance(Duration::from_secs(1)).await;
    chat.create_group(&alice, "a second later", &[]).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn member_additions_count_at_creation_and_after() {
    let chat = chat_with(limited(3)).await;
    let (_, alice) = user(&chat, "alice").await;
    let mut others = Vec::new();
    for name in ["bob", "carol", "dave", "erin"] {
        others.push(user(&chat, name).await.0.id);
    }
    // Three members besides the creator: the whole burst.
    let group = chat.create_group(&alice, "crew", &others[..3]).await.unwrap();
    assert_eq!(group.members.len(), 4);
    let (limit, wait) = refusal(chat.add_member(&alice, group.id, others[3]).await);
    assert_eq!((limit, wait), (Limit::MemberAdditions, Some(Duration::from_secs(1))));
    assert!(!chat.conversation(&alice, group.id).await.unwrap().conversation.has_member(others[3]));
    tokio::time::advance(Duration::from_secs(1)).await;
    chat.add_member(&alice, group.id, others[3]).await.unwrap();

    // More members at once than the burst holds can never pass: no retry_after, nothing made.
    let (_, bob) = user(&chat, "bob2").await;
    let (limit, wait) = refusal(chat.create_group(&bob, "too big", &others).await);
    assert_eq!((limit, wait), (Limit::MemberAdditions, None));
    assert!(chat.conversations(&bob, None, 50).await.unwrap().conversations.is_empty());
}

#[tokio::test(start_paused = true)]
async fn sign_ups_are_limited_per_address_and_only_through_register_from() {
    let chat = chat_with(limited(2)).await;
    let here: IpAddr = "198.51.100.7".parse().unwrap();
    let there: IpAddr = "198.51.100.8".parse().unwrap();
    // Refused input takes nothing from the budget.
    let weak = chat.register_from(Registration::new("amy", "short"), here).await;
    assert_eq!(code(weak), "too_short");
    chat.register_from(Registration::new("amy", "correct horse"), here).await.unwrap();
    chat.register_from(Registration::new("ann", "correct horse"), here).await.unwrap();
    let (limit, wait) = refusal(chat.register_from(Registration::new("bea", "correct horse"), here).await);
    assert_eq!((limit, wait), (Limit::SignUps, Some(Duration::from_secs(1))));
    assert_eq!(code(chat.login("bea", "correct horse").await), "bad_credentials", "nothing was stored");
    chat.register_from(Registration::new("bea", "correct horse"), there).await.unwrap();
    // The application's own path is not limited.
    chat.register(Registration::new("cat", "correct horse")).await.unwrap();
    tokio::time::advance(Duration::from_secs(1)).await;
    chat.register_from(Registration::new("dot", "correct horse"), here).await.unwrap();
}

#[tokio::test]
async fn the_defaults_allow_a_burst_of_a_hundred_sends() {
    assert_eq!(RateLimits::default().sends, Rate::new(100, Duration::from_secs(20)));
    let chat = chat().await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, _) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    for i in 0..100 {
        chat.send(&alice, direct.id, &format!("c{i}"), "chatty").await.unwrap();
    }
    let (limit, wait) = refusal(chat.send(&alice, direct.id, "c100", "too chatty").await);
    assert_eq!(limit, Limit::Sends);
    assert!(wait.is_some_and(|wait| wait <= Duration::from_millis(200)), "{wait:?}");
}
