//! Log-in throttling through the public API: slow-downs per account and client address and per
//! account, counted before the password is checked (so concurrent guesses cannot get past
//! them), at both keys or at neither, that never lock the owner out from their own address; and
//! this node's per-address budget of password hashes.

mod support;

use kanect_core::testing::FaultyStore;
use kanect_core::{Chat, ChatConfig, Error, Limit, LoginLimits, MemoryStore, Registration, SlowDown};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use support::*;

const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 66));
const OWNER: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

/// The default slow-downs, with this node's per-address admission out of the way.
fn slow_downs_only() -> ChatConfig {
    let login = LoginLimits { address_burst: 10_000, address_in_flight: 10_000, ..LoginLimits::default() };
    ChatConfig { login, ..fast_config() }
}

/// An engine with `config` and one account, alice, whose password is "correct horse".
async fn with_alice(config: ChatConfig) -> Chat {
    let chat = chat_with(config).await;
    chat.register(Registration::new("alice", "correct horse")).await.unwrap();
    chat
}

/// How long a refusal says to wait.
fn retry_after<T: std::fmt::Debug>(result: kanect_core::Result<T>) -> Duration {
    match result {
        Err(Error::Limited { retry_after: Some(wait), .. }) => wait,
        other => panic!("expected too_many_attempts with a wait, got {other:?}"),
    }
}

/// Runs `guesses` wrong log-ins for alice at once (through `log_in`), and counts the answers
/// by code.
async fn at_once<F, Fut>(chat: &Chat, guesses: usize, log_in: F) -> (usize, usize)
where
    F: Fn(Chat, String) -> Fut,
    Fut: std::future::Future<Output = kanect_core::Result<kanect_core::Login>> + Send + 'static,
{
    let tasks: Vec<_> = (0..guesses).map(|i| tokio::spawn(log_in(chat.clone(), format!("guess number {i}")))).collect();
    let (mut checked, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap().unwrap_err().code() {
            "bad_credentials" => checked += 1,
            "too_many_attempts" => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    (checked, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_guesses_from_one_address_cannot_exceed_its_allowance() {
    let chat = with_alice(slow_downs_only()).await;
    let (checked, refused) =
        at_once(&chat, 40, |chat, guess| async move { chat.login_from("alice", &guess, ATTACKER).await }).await;
    assert_eq!((checked, refused), (5, 35), "only the 5 free attempts reach the password check");
    // The allowance is spent: the right password must wait too.
    assert_eq!(code(chat.login_from("alice", "correct horse", ATTACKER).await), "too_many_attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_guesses_without_an_address_are_capped_per_account() {
    let chat = with_alice(slow_downs_only()).await;
    let free = LoginLimits::default().per_account.free_attempts as usize;
    let (checked, refused) =
        at_once(&chat, free + 20, |chat, guess| async move { chat.login("alice", &guess).await }).await;
    assert_eq!((checked, refused), (free, 20));
    assert_eq!(code(chat.login("alice", "correct horse").await), "too_many_attempts");
}

#[tokio::test]
async fn an_attackers_failures_do_not_slow_the_owner_down() {
    let chat = with_alice(slow_downs_only()).await;
    for _ in 0..20 {
        let _ = chat.login_from("alice", "wrong horse", ATTACKER).await;
    }
    assert_eq!(code(chat.login_from("alice", "wrong horse", ATTACKER).await), "too_many_attempts");
    chat.login_from("alice", "correct horse", OWNER).await.expect("the owner, from their address, gets in");
    // An unknown account is throttled the same way: refusals say nothing about who exists.
    for _ in 0..5 {
        assert_eq!(code(chat.login_from("nobody", "wrong horse", ATTACKER).await), "bad_credentials");
    }
    assert_eq!(code(chat.login_from("nobody", "wrong horse", ATTACKER).await), "too_many_attempts");
}

#[tokio::test]
async fn an_attacker_keeping_the_account_waiting_never_slows_the_owner_at_their_own_address() {
    // The account-wide slow-down after 3 attempts, each wait its longest (10 s by default).
    let cap = LoginLimits::default().per_account.max_delay;
    let per_account =
        SlowDown { free_attempts: 3, first_delay: cap, max_delay: cap, ..LoginLimits::default().per_account };
    let login = LoginLimits { per_account, ..slow_downs_only().login };
    // The engine times slow-downs by the wall clock; the store's clock is moved ahead instead
    // of waiting.
    let store = FaultyStore::new(MemoryStore::new());
    let chat = Chat::builder(store.clone()).config(ChatConfig { login, ..fast_config() }).build().await.unwrap();
    chat.register(Registration::new("alice", "correct horse")).await.unwrap();
    // Every guess from an address of its own (or an IPv6 /64 of its own): no per-address key
    // ever slows the attacker down.
    let fresh_address = |n: u32| IpAddr::V4(Ipv4Addr::from(0xCB00_7100 + n)); // 203.0.113.n
    for n in 0..3 {
        assert_eq!(code(chat.login_from("alice", "wrong horse", fresh_address(n)).await), "bad_credentials");
    }
    // One guess as each wait ends keeps the account-wide key waiting; meanwhile the owner tries
    // again and again from their own address, with the right password. Each refusal says at
    // most what is left of the account-wide wait: the owner's own key never refuses them.
    for n in 3..30 {
        let mut into_the_wait = Duration::ZERO;
        for at in [1, 4, 9].map(Duration::from_secs) {
            store.advance_clock(at - into_the_wait);
            into_the_wait = at;
            let wait = retry_after(chat.login_from("alice", "correct horse", OWNER).await);
            assert!(wait <= cap - at, "round {n}, {at:?} into the wait: told to wait {wait:?}");
        }
        store.advance_clock(cap - into_the_wait);
        assert_eq!(code(chat.login_from("alice", "wrong horse", fresh_address(n)).await), "bad_credentials");
    }
    // The attacker stops; the owner gets in as soon as the account-wide wait is over.
    store.advance_clock(cap);
    chat.login_from("alice", "correct horse", OWNER).await.expect("the owner's own key never slowed them");
}

#[tokio::test]
async fn a_right_password_clears_the_count_and_refusals_say_how_long_to_wait() {
    let chat = with_alice(slow_downs_only()).await;
    for _ in 0..4 {
        assert_eq!(code(chat.login_from("ALICE", "wrong horse", OWNER).await), "bad_credentials");
    }
    chat.login_from("alice", "correct horse", OWNER).await.unwrap();
    // Five free attempts again, then the first wait (1 s).
    for _ in 0..5 {
        assert_eq!(code(chat.login_from("alice", "wrong horse", OWNER).await), "bad_credentials");
    }
    assert_eq!(retry_after(chat.login_from("alice", "correct horse", OWNER).await), Duration::from_secs(1));
}

#[tokio::test]
async fn one_address_has_a_budget_of_password_checks_across_accounts() {
    let login = LoginLimits { address_burst: 3, ..LoginLimits::default() };
    let chat = with_alice(ChatConfig { login, ..fast_config() }).await;
    // Password spraying: one guess at each of many accounts.
    for name in ["alice", "bob", "carol"] {
        assert_eq!(code(chat.login_from(name, "wrong horse", ATTACKER).await), "bad_credentials");
    }
    let wait = retry_after(chat.login_from("dave", "wrong horse", ATTACKER).await);
    assert_eq!(wait, LoginLimits::default().address_interval, "one more per interval");
    chat.login_from("alice", "correct horse", OWNER).await.expect("other addresses have their own budget");
}

#[tokio::test]
async fn log_in_slow_downs_are_shared_by_engines_on_one_store() {
    // Two nodes of a cluster share the store: guesses spread over both count together.
    let store: std::sync::Arc<dyn kanect_core::Store> = std::sync::Arc::new(kanect_core::MemoryStore::new());
    let node = || Chat::builder_shared(store.clone()).config(slow_downs_only()).build();
    let (a, b) = (node().await.unwrap(), node().await.unwrap());
    a.register(Registration::new("alice", "correct horse")).await.unwrap();
    for chat in [&a, &b, &a, &b, &a] {
        assert_eq!(code(chat.login_from("alice", "wrong horse", ATTACKER).await), "bad_credentials");
    }
    assert_eq!(code(b.login_from("alice", "wrong horse", ATTACKER).await), "too_many_attempts");
}

/// How a sign-up was refused: the limit and the wait.
fn refusal<T: std::fmt::Debug>(result: kanect_core::Result<T>) -> (Limit, Option<Duration>) {
    match result {
        Err(Error::Limited { limit, retry_after }) => (limit, retry_after),
        other => panic!("expected a limit, got {other:?}"),
    }
}

/// Signs up `count` users (`flood0`, `flood1`, ...) from the attacker's address at once, and one
/// from the owner's, on an engine with `config` whose store holds each sign-up a second
/// (reading it), so that all are in flight together. Returns the engine and the flood's
/// refusals, by index; the owner's sign-up must pass.
async fn sign_ups_at_once(config: ChatConfig, count: usize) -> (Chat, Vec<(usize, (Limit, Option<Duration>))>) {
    let store = FaultyStore::new(MemoryStore::new());
    store.slow("user_by_username", Duration::from_secs(1));
    let chat = Chat::builder(store).config(config).build().await.unwrap();
    let sign_up = |name: String, client| {
        let chat = chat.clone();
        tokio::spawn(async move { chat.sign_up(Registration::new(name, "correct horse"), client).await })
    };
    let flood: Vec<_> = (0..count).map(|n| sign_up(format!("flood{n}"), ATTACKER)).collect();
    let other = sign_up("owner".into(), OWNER);
    let mut refused = Vec::new();
    for (n, task) in flood.into_iter().enumerate() {
        if let Err(error) = task.await.unwrap() {
            refused.push((n, refusal::<()>(Err(error))));
        }
    }
    other.await.unwrap().expect("another address is not held up");
    (chat, refused)
}

#[tokio::test(start_paused = true)]
async fn sign_ups_from_one_address_hold_at_most_its_places_in_the_hashing_queue() {
    let in_flight = LoginLimits::default().address_in_flight;
    // 20 at once: within the address's sign-up limit (20 at once).
    let (chat, refused) = sign_ups_at_once(fast_config(), 20).await;
    assert_eq!(refused.len(), 20 - in_flight, "only {in_flight} hashes in flight from one address");
    let in_flight_refusal = (Limit::SignUps, Some(Duration::from_secs(1)));
    assert!(refused.iter().all(|(_, refusal)| *refusal == in_flight_refusal), "{refused:?}");
    let (first_refused, _) = refused[0];
    assert_eq!(code(chat.login(&format!("flood{first_refused}"), "correct horse").await), "bad_credentials");
    // Their places are free again once answered.
    chat.sign_up(Registration::new("flood20", "correct horse"), ATTACKER).await.expect("the address's hashes are done");
}

#[tokio::test(start_paused = true)]
async fn load_tests_can_lift_the_admission_of_password_hashes() {
    let login = LoginLimits::default().without_address_admission();
    assert_eq!(login.per_account, LoginLimits::default().per_account, "the slow-downs stay");
    let config = ChatConfig { login, rate_limits: kanect_core::RateLimits::UNLIMITED, ..fast_config() };
    let (_, refused) = sign_ups_at_once(config, 40).await;
    assert!(refused.is_empty(), "{refused:?}");
}

#[tokio::test(start_paused = true)]
async fn sign_ups_and_log_ins_draw_on_one_budget_of_password_hashes_per_address() {
    let login = LoginLimits { address_burst: 3, ..LoginLimits::default() };
    let chat = with_alice(ChatConfig { login, ..fast_config() }).await;
    let interval = LoginLimits::default().address_interval;
    // Invalid input is refused before it takes anything.
    assert_eq!(code(chat.sign_up(Registration::new("amy", "short"), ATTACKER).await), "too_short");
    // Three hashes, whatever they are for, use up the burst...
    chat.sign_up(Registration::new("amy", "correct horse"), ATTACKER).await.unwrap();
    for _ in 0..2 {
        assert_eq!(code(chat.login_from("alice", "wrong horse", ATTACKER).await), "bad_credentials");
    }
    // ... and the next waits for the budget, as a sign-up or as a log-in, with nothing stored.
    assert_eq!(
        refusal(chat.register_from(Registration::new("bea", "correct horse"), ATTACKER).await),
        (Limit::SignUps, Some(interval))
    );
    assert_eq!(retry_after(chat.login_from("amy", "correct horse", ATTACKER).await), interval);
    chat.sign_up(Registration::new("bea", "correct horse"), OWNER).await.expect("another address has its own budget");
    tokio::time::advance(interval).await;
    chat.sign_up(Registration::new("cat", "correct horse"), ATTACKER).await.expect("one more per interval");
    // The application's own path takes nothing from it.
    chat.register(Registration::new("dot", "correct horse")).await.unwrap();
}
