//! The store conformance suite: one set of tests, written once, that every [`Store`] runs.
//!
//! A backend crate instantiates it in a test file with a fresh-store expression:
//!
//! ```no_run
//! // tests/memory_conformance.rs
//! use kanect_core::MemoryStore;
//! kanect_core::store_conformance!(async { MemoryStore::new() });
//! # fn main() {}
//! ```
//!
//! Attributes given before the expression go on every generated test (for example a
//! `cfg_attr(..., ignore)` for a backend that needs a running database). The suite includes a
//! model test: random operation sequences applied to the store and to a plain in-memory model,
//! compared after every step. A backend is done when the whole suite passes on it.
//!
//! [`FaultyStore`] (module `faulty`) wraps a store and fails the calls a test chooses;
//! [`run_in_child`] (module `child`) runs a test again in a process of its own.

mod child;
mod faulty;

pub use child::run_in_child;
pub use faulty::FaultyStore;

use crate::error::{Conflict, StoreError};
use crate::id::{AuditId, ConversationId, MessageId, Seq, UserId};
use crate::model::{
    Appended, AuditEntry, Conversation, ConversationKind, Message, NewMessage, ReceiptKind, Role, Session, Timestamp,
    TokenHash, User,
};
use crate::store::{HistoryPage, Store, StoreHealth, UserQuery, UserUpdate};
use crate::throttle::{Attempt, AttemptKey, LoginAttempts, SlowDown};
use proptest::prelude::*;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

#[doc(hidden)]
pub use proptest;

/// Generates one `#[tokio::test]` per conformance case, plus the model test.
///
/// `$make` is an expression evaluating to a future of a fresh, empty store; it is evaluated
/// once per test (and once per model-test case). The calling crate needs `tokio` with the
/// `macros` and `rt-multi-thread` features among its dev-dependencies.
#[macro_export]
macro_rules! store_conformance {
    // Leading attributes are gathered one at a time: a single `$(#[$attr:meta])* $make:expr`
    // matcher is ambiguous (an expression may itself start with an attribute) and rejected.
    (@attrs [$($attrs:tt)*] #[$attr:meta] $($rest:tt)*) => {
        $crate::store_conformance!(@attrs [$($attrs)* #[$attr]] $($rest)*);
    };
    (@attrs [$(#[$attr:meta])*] $make:expr) => {
        $crate::store_conformance!(@cases [$(#[$attr])*] $make;
            users_are_unique_case_insensitively,
            user_updates_change_one_field,
            deleting_a_user_removes_credentials_and_sessions,
            users_page_in_username_order_and_search,
            sessions_round_trip,
            login_attempts_slow_down_per_key,
            a_refused_login_attempt_counts_at_no_key,
            concurrent_login_attempts_never_exceed_the_allowance,
            concurrent_login_attempts_count_at_every_key_or_none,
            conversations_insert_once_and_index_members,
            memberships_change_atomically,
            appends_assign_gap_free_seqs_and_dedupe_client_ids,
            concurrent_appends_are_gap_free,
            history_pages_in_both_directions,
            messages_are_found_by_id_and_replaced,
            receipts_only_move_forward,
            audit_log_pages_newest_first,
            stats_count_everything,
            a_working_store_reports_itself_healthy,
        );

        $(#[$attr])*
        #[test]
        fn store_matches_model_under_random_operations() {
            $crate::testing::model_test(|| $make);
        }
    };
    (@cases $attrs:tt $make:expr; $case:ident, $($rest:ident,)*) => {
        $crate::store_conformance!(@case $attrs $make; $case);
        $crate::store_conformance!(@cases $attrs $make; $($rest,)*);
    };
    (@cases $attrs:tt $make:expr;) => {};
    (@case [$(#[$attr:meta])*] $make:expr; $case:ident) => {
        $(#[$attr])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let store = ::std::sync::Arc::new($make.await);
            $crate::testing::$case(store).await;
        }
    };
    ($($input:tt)*) => {
        $crate::store_conformance!(@attrs [] $($input)*);
    };
}

/// A fresh user record named `name` (role user, an example.com email), for store tests.
pub fn user(name: &str) -> User {
    User {
        id: UserId::new(),
        username: name.to_string(),
        display_name: None,
        email: Some(format!("{name}@example.com")),
        role: Role::User,
        created_at: Timestamp(1_700_000_000_000),
        disabled: false,
        last_seen: None,
    }
}

/// A group conversation record with a new id, for store tests.
pub fn group(members: &[UserId]) -> Conversation {
    let mut members = members.to_vec();
    members.sort();
    Conversation {
        id: ConversationId::new(),
        kind: ConversationKind::Group,
        name: Some("team".into()),
        owner: members.first().copied(),
        members,
        created_at: Timestamp(1_700_000_000_000),
    }
}

/// A message to append, as the engine would hand it to a store, for store tests.
pub fn new_message(conversation: ConversationId, sender: UserId, client_id: &str, body: &str) -> NewMessage {
    NewMessage {
        conversation,
        sender,
        body: body.to_string(),
        client_id: client_id.to_string(),
        sent_at: Timestamp(1_700_000_000_000),
    }
}

fn created(appended: Appended) -> Message {
    match appended {
        Appended::Created(message) => message,
        Appended::Duplicate(message) => panic!("expected a new message, got duplicate {message:?}"),
    }
}

/// Usernames collide case-insensitively; lookups ignore case.
pub async fn users_are_unique_case_insensitively<S: Store>(store: Arc<S>) {
    let alice = user("Alice");
    store.insert_user(&alice, "hash-a").await.unwrap();
    let clash = store.insert_user(&user("aLICE"), "hash-b").await;
    assert!(matches!(clash, Err(StoreError::Conflict(Conflict::UsernameTaken))), "{clash:?}");
    assert_eq!(store.user_by_username("ALICE").await.unwrap(), Some(alice.clone()));
    assert_eq!(store.user(alice.id).await.unwrap(), Some(alice.clone()));
    assert_eq!(store.password_hash(alice.id).await.unwrap().as_deref(), Some("hash-a"));
    assert!(store.user(UserId::new()).await.unwrap().is_none());
    assert!(store.user_by_username("nobody").await.unwrap().is_none());
    assert!(store.set_password_hash(alice.id, "hash-c").await.unwrap());
    assert_eq!(store.password_hash(alice.id).await.unwrap().as_deref(), Some("hash-c"));
    assert!(!store.set_password_hash(UserId::new(), "x").await.unwrap());
}

/// `update_user` changes one field and keeps the others as stored, also under concurrent
/// updates of different fields.
pub async fn user_updates_change_one_field<S: Store>(store: Arc<S>) {
    let bob = user("bob");
    store.insert_user(&bob, "h").await.unwrap();
    let promoted = store.update_user(bob.id, UserUpdate::Role(Role::Admin)).await.unwrap();
    assert_eq!(promoted, Some(User { role: Role::Admin, ..bob.clone() }));
    let disabled = store.update_user(bob.id, UserUpdate::Disabled(true)).await.unwrap();
    assert_eq!(disabled, Some(User { role: Role::Admin, disabled: true, ..bob.clone() }));
    let seen = store.update_user(bob.id, UserUpdate::LastSeen(Timestamp(42))).await.unwrap();
    let expected = User { role: Role::Admin, disabled: true, last_seen: Some(Timestamp(42)), ..bob.clone() };
    assert_eq!(seen.as_ref(), Some(&expected));
    assert_eq!(store.user(bob.id).await.unwrap(), Some(expected.clone()));
    assert_eq!(store.user_by_username("BOB").await.unwrap(), Some(expected));
    assert_eq!(store.update_user(UserId::new(), UserUpdate::Disabled(true)).await.unwrap(), None);
    assert!(store.user_by_username("ghost").await.unwrap().is_none(), "no record made for an unknown id");

    // Many accounts, each changed in three fields by three concurrent tasks: every change stays.
    let accounts: Vec<User> = (0..20).map(|i| user(&format!("racer{i}"))).collect();
    for account in &accounts {
        store.insert_user(account, "h").await.unwrap();
    }
    let updates = [UserUpdate::Role(Role::Admin), UserUpdate::Disabled(true), UserUpdate::LastSeen(Timestamp(7))];
    let tasks: Vec<_> = updates
        .into_iter()
        .map(|update| {
            let (store, ids) = (store.clone(), accounts.iter().map(|a| a.id).collect::<Vec<_>>());
            tokio::spawn(async move {
                for id in ids {
                    store.update_user(id, update).await.unwrap().expect("the account exists");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for account in accounts {
        let stored = store.user(account.id).await.unwrap().unwrap();
        assert_eq!((stored.role, stored.disabled, stored.last_seen), (Role::Admin, true, Some(Timestamp(7))));
    }
}

/// Deleting a user removes the username, the password hash and the sessions.
pub async fn deleting_a_user_removes_credentials_and_sessions<S: Store>(store: Arc<S>) {
    let carol = user("carol");
    store.insert_user(&carol, "h").await.unwrap();
    let session =
        Session { token_hash: TokenHash([7; 32]), user: carol.id, created_at: Timestamp(1), expires_at: Timestamp(2) };
    store.insert_session(&session).await.unwrap();
    assert!(store.delete_user(carol.id).await.unwrap());
    assert!(!store.delete_user(carol.id).await.unwrap());
    assert!(store.user(carol.id).await.unwrap().is_none());
    assert!(store.user_by_username("carol").await.unwrap().is_none());
    assert!(store.password_hash(carol.id).await.unwrap().is_none());
    assert!(store.session(&session.token_hash).await.unwrap().is_none());
    store.insert_user(&user("carol"), "h2").await.unwrap();
}

/// The user list pages by folded username and filters by search text.
pub async fn users_page_in_username_order_and_search<S: Store>(store: Arc<S>) {
    for name in ["delta", "Alpha", "charlie", "bravo", "echo"] {
        let mut u = user(name);
        if name == "echo" {
            u.display_name = Some("Big Bird".into());
        }
        store.insert_user(&u, "h").await.unwrap();
    }
    let names = |users: Vec<User>| users.into_iter().map(|u| u.username).collect::<Vec<_>>();
    let first = store.users(&UserQuery { limit: 2, ..Default::default() }).await.unwrap();
    assert_eq!(names(first), ["Alpha", "bravo"]);
    let next = store.users(&UserQuery { after: Some("bravo".into()), limit: 2, ..Default::default() }).await.unwrap();
    assert_eq!(names(next), ["charlie", "delta"]);
    let search = store.users(&UserQuery { search: Some("a".into()), limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(names(search), ["Alpha", "bravo", "charlie", "delta"]);
    let by_display =
        store.users(&UserQuery { search: Some("bird".into()), limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(names(by_display), ["echo"]);
}

/// Sessions are stored, found by hash, and removed one by one or per user.
pub async fn sessions_round_trip<S: Store>(store: Arc<S>) {
    let dave = user("dave");
    store.insert_user(&dave, "h").await.unwrap();
    let session = |byte| Session {
        token_hash: TokenHash([byte; 32]),
        user: dave.id,
        created_at: Timestamp(1),
        expires_at: Timestamp(99),
    };
    for byte in 1..=3 {
        store.insert_session(&session(byte)).await.unwrap();
    }
    assert_eq!(store.session(&TokenHash([2; 32])).await.unwrap(), Some(session(2)));
    assert!(store.delete_session(&TokenHash([2; 32])).await.unwrap());
    assert!(!store.delete_session(&TokenHash([2; 32])).await.unwrap());
    assert!(store.session(&TokenHash([2; 32])).await.unwrap().is_none());
    assert_eq!(store.delete_sessions_of(dave.id).await.unwrap(), 2);
    assert!(store.session(&TokenHash([1; 32])).await.unwrap().is_none());
}

fn attempt_rule() -> SlowDown {
    SlowDown {
        free_attempts: 5,
        first_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(60),
        forget_after: Duration::from_secs(600),
    }
}

/// The record of an attempt at one key that was counted.
fn counted_once(attempt: Attempt) -> LoginAttempts {
    match attempt {
        Attempt::Counted(records) if records.len() == 1 => records[0],
        other => panic!("expected one counted record, got {other:?}"),
    }
}

/// The counts of an attempt counted at every key, in the keys' order.
fn counted_counts(attempt: Attempt) -> Vec<u32> {
    match attempt {
        Attempt::Counted(records) => records.iter().map(|record| record.count).collect(),
        Attempt::Refused { retry_after } => panic!("refused for {retry_after:?}"),
    }
}

/// Log-in attempts are counted as [`SlowDown`] says, per key; a refusal changes nothing;
/// clearing forgets; expiry deletes only expired records.
pub async fn login_attempts_slow_down_per_key<S: Store>(store: Arc<S>) {
    let rule = attempt_rule();
    let (alice, bob) = (AttemptKey([1; 32]), AttemptKey([2; 32]));
    let count = |key: AttemptKey, now: Timestamp| {
        let store = store.clone();
        async move { store.count_login_attempt(&[(key, rule)], now).await.unwrap() }
    };
    let start = Timestamp(1_700_000_000_000);
    for n in 1..=5 {
        assert_eq!(counted_once(count(alice, start).await).count, n);
    }
    let refused = count(alice, start.plus(Duration::from_millis(400))).await;
    assert_eq!(refused, Attempt::Refused { retry_after: Duration::from_millis(600) });
    assert_eq!(counted_once(count(bob, start).await).count, 1, "per key");
    // The refusal counted nothing: the sixth attempt, once the wait is over, is the sixth.
    let sixth = counted_once(count(alice, start.plus(Duration::from_secs(1))).await);
    assert_eq!((sixth.count, sixth.not_before), (6, start.plus(Duration::from_secs(3))));
    store.clear_login_attempts(&alice).await.unwrap();
    store.clear_login_attempts(&AttemptKey([9; 32])).await.unwrap();
    assert_eq!(counted_once(count(alice, start).await).count, 1, "cleared");

    // Expiry: alice's record expires 600 s after its attempt, bob's too; a third key later.
    let later = start.plus(Duration::from_secs(300));
    let carol = AttemptKey([3; 32]);
    count(carol, later).await;
    let expired_at = start.plus(Duration::from_secs(600));
    assert_eq!(store.expire_login_attempts(Timestamp(expired_at.0 - 1)).await.unwrap(), 0);
    // An expired record counts as none even before it is deleted.
    assert_eq!(counted_once(count(bob, expired_at).await).count, 1);
    assert_eq!(store.expire_login_attempts(expired_at).await.unwrap(), 1, "alice's only: bob's was renewed");
    assert_eq!(counted_once(count(carol, expired_at).await).count, 2);
    assert_eq!(counted_once(count(alice, expired_at).await).count, 1);
}

/// An attempt at several keys is counted at every key or at none: a key that refuses keeps it
/// off the others (given first or last), and the refusal's wait is the longest of theirs.
pub async fn a_refused_login_attempt_counts_at_no_key<S: Store>(store: Arc<S>) {
    let rule = attempt_rule();
    let (owner, attacker, account) = (AttemptKey([5; 32]), AttemptKey([6; 32]), AttemptKey([7; 32]));
    let start = Timestamp(1_700_000_000_000);
    let at = |millis| start.plus(Duration::from_millis(millis));
    // The account's key, used up from elsewhere, waits until 1 s.
    for _ in 0..5 {
        counted_once(store.count_login_attempt(&[(account, rule)], start).await.unwrap());
    }
    // Retries at the owner's key and the account's, in either order, are refused with the
    // account's wait and count at neither key.
    for keys in [[(owner, rule), (account, rule)], [(account, rule), (owner, rule)]] {
        for _ in 0..10 {
            let refused = store.count_login_attempt(&keys, at(400)).await.unwrap();
            assert_eq!(refused, Attempt::Refused { retry_after: Duration::from_millis(600) });
        }
    }
    // Once both allow it, the attempt counts at both: the owner's first, the account's sixth.
    let both = store.count_login_attempt(&[(owner, rule), (account, rule)], at(1000)).await.unwrap();
    let Attempt::Counted(records) = both else { panic!("refused: {both:?}") };
    assert_eq!(records.iter().map(|record| record.count).collect::<Vec<_>>(), [1, 6]);
    assert_eq!(records[1].not_before, at(3000), "the account's wait doubled");

    // The attacker's key, used up, waits until 2 s: its refusals keep attempts off the
    // account's key, and of two waits the longer is given.
    for _ in 0..5 {
        counted_once(store.count_login_attempt(&[(attacker, rule)], at(1000)).await.unwrap());
    }
    let keys = [(attacker, rule), (account, rule)];
    let refused = store.count_login_attempt(&keys, at(1500)).await.unwrap();
    assert_eq!(refused, Attempt::Refused { retry_after: Duration::from_millis(1500) }, "the account's, not 500 ms");
    let refused = store.count_login_attempt(&keys, at(2000)).await.unwrap();
    assert_eq!(refused, Attempt::Refused { retry_after: Duration::from_millis(1000) }, "the attacker's key allows it");
    // No refusal counted anything: the attacker's sixth attempt, the account's seventh.
    assert_eq!(counted_counts(store.count_login_attempt(&keys, at(3000)).await.unwrap()), [6, 7]);
}

/// 40 attempts at one key at once: exactly the free allowance is counted, each with its own
/// count, and the rest are refused.
pub async fn concurrent_login_attempts_never_exceed_the_allowance<S: Store>(store: Arc<S>) {
    let rule = attempt_rule();
    let key = AttemptKey([4; 32]);
    let now = Timestamp(1_700_000_000_000);
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.count_login_attempt(&[(key, rule)], now).await.unwrap() })
        })
        .collect();
    let mut counts = Vec::new();
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Attempt::Counted(records) => counts.push(records[0].count),
            Attempt::Refused { .. } => refused += 1,
        }
    }
    counts.sort_unstable();
    assert_eq!((counts, refused), ((1..=5).collect::<Vec<_>>(), 35));
}

/// 40 attempts at one account at once, 5 from each of 8 addresses (each attempt at its
/// address's key and the account's, given in either order): each is counted at both keys or at
/// neither, and none fails (two attempts that take the same keys in opposite orders must not
/// deadlock). The account's allowance (5) is counted exactly, no address gets past its own (3),
/// and no refused attempt left a count behind at either key.
pub async fn concurrent_login_attempts_count_at_every_key_or_none<S: Store>(store: Arc<S>) {
    let (per_address, per_account) = (SlowDown { free_attempts: 3, ..attempt_rule() }, attempt_rule());
    // Keys on both sides of the account's, in byte order.
    let account = AttemptKey([101; 32]);
    let address = |n: usize| AttemptKey([96 + (n % 8) as u8 * 2; 32]);
    let now = Timestamp(1_700_000_000_000);
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let store = store.clone();
            let mut keys = [(address(n), per_address), (account, per_account)];
            if n % 2 == 1 {
                keys.reverse();
            }
            tokio::spawn(async move { (n % 2 == 1, store.count_login_attempt(&keys, now).await.unwrap()) })
        })
        .collect();
    let (mut address_counts, mut account_counts) = (vec![Vec::new(); 8], Vec::new());
    for (n, task) in tasks.into_iter().enumerate() {
        if let (reversed, Attempt::Counted(mut records)) = task.await.unwrap() {
            if reversed {
                records.reverse();
            }
            address_counts[n % 8].push(records[0].count);
            account_counts.push(records[1].count);
        }
    }
    account_counts.sort_unstable();
    assert_eq!(account_counts, (1..=5).collect::<Vec<_>>(), "exactly the account's allowance");
    // Once every wait is over, each key's next count follows only the attempts counted there.
    let later = now.plus(Duration::from_secs(60));
    for (n, counts) in address_counts.iter_mut().enumerate() {
        counts.sort_unstable();
        assert!(counts.len() <= 3, "address {n} got past its allowance: {counts:?}");
        assert_eq!(*counts, (1..=counts.len() as u32).collect::<Vec<_>>());
        let next = counted_once(store.count_login_attempt(&[(address(n), per_address)], later).await.unwrap());
        assert_eq!(next.count as usize, counts.len() + 1, "address {n}");
    }
    let next = counted_once(store.count_login_attempt(&[(account, per_account)], later).await.unwrap());
    assert_eq!(next.count, 6);
}

/// Inserting an existing conversation id changes nothing; memberships are indexed.
pub async fn conversations_insert_once_and_index_members<S: Store>(store: Arc<S>) {
    let (a, b) = (UserId::new(), UserId::new());
    let mut direct = group(&[a, b]);
    direct.kind = ConversationKind::Direct;
    direct.id = ConversationId::direct(a, b);
    direct.name = None;
    direct.owner = None;
    assert!(store.insert_conversation(&direct).await.unwrap());
    let mut again = direct.clone();
    again.members = vec![a];
    assert!(!store.insert_conversation(&again).await.unwrap());
    assert_eq!(store.conversation(direct.id).await.unwrap(), Some(direct.clone()));
    assert_eq!(store.conversations_of(a).await.unwrap(), vec![direct.id]);
    assert_eq!(store.conversations_of(b).await.unwrap(), vec![direct.id]);
    assert!(store.conversation(ConversationId::new()).await.unwrap().is_none());
    let other = group(&[a]);
    store.insert_conversation(&other).await.unwrap();
    let all = store.conversations(None, 10).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].id < all[1].id);
    let after = store.conversations(Some(all[0].id), 10).await.unwrap();
    assert_eq!(after, vec![all[1].clone()]);
}

/// add/remove member keep the member list sorted and the index in step.
pub async fn memberships_change_atomically<S: Store>(store: Arc<S>) {
    let (a, b, c) = (UserId::new(), UserId::new(), UserId::new());
    let conversation = group(&[a, b]);
    store.insert_conversation(&conversation).await.unwrap();
    let added = store.add_member(conversation.id, c).await.unwrap().unwrap();
    let mut expected = vec![a, b, c];
    expected.sort();
    assert_eq!(added.members, expected);
    assert!(matches!(store.add_member(conversation.id, c).await, Err(StoreError::Conflict(Conflict::AlreadyMember))));
    assert_eq!(store.conversations_of(c).await.unwrap(), vec![conversation.id]);
    let removed = store.remove_member(conversation.id, a).await.unwrap().unwrap();
    assert!(!removed.has_member(a));
    assert!(store.conversations_of(a).await.unwrap().is_empty());
    assert!(store.add_member(ConversationId::new(), a).await.unwrap().is_none());
    assert!(store.remove_member(ConversationId::new(), a).await.unwrap().is_none());
    let renamed =
        store.set_conversation_details(conversation.id, Some("renamed".into()), Some(c)).await.unwrap().unwrap();
    assert_eq!((renamed.name.as_deref(), renamed.owner), (Some("renamed"), Some(c)));
    assert_eq!(store.conversation(conversation.id).await.unwrap(), Some(renamed));
}

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

/// Messages are found by id; replace changes body, edited_at and deleted only.
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

/// The audit log returns entries newest first and pages with `before`.
pub async fn audit_log_pages_newest_first<S: Store>(store: Arc<S>) {
    let actor = UserId::new();
    let mut ids = Vec::new();
    for i in 0..5 {
        let entry = AuditEntry {
            id: AuditId::new(),
            at: Timestamp(i),
            actor,
            action: "user.disable".into(),
            target: format!("target-{i}"),
            detail: (i % 2 == 0).then(|| "detail".to_string()),
        };
        store.append_audit(&entry).await.unwrap();
        ids.push(entry.id);
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let page = store.audit_log(None, 2).await.unwrap();
    assert_eq!(page.iter().map(|e| e.target.as_str()).collect::<Vec<_>>(), ["target-4", "target-3"]);
    assert_eq!(page[0].detail.as_deref(), Some("detail"));
    let next = store.audit_log(Some(page[1].id), 10).await.unwrap();
    assert_eq!(next.iter().map(|e| e.id).collect::<Vec<_>>(), [ids[2], ids[1], ids[0]]);
}

/// Stats count users, conversations and messages.
pub async fn stats_count_everything<S: Store>(store: Arc<S>) {
    let a = user("erin");
    store.insert_user(&a, "h").await.unwrap();
    let conversation = group(&[a.id]);
    store.insert_conversation(&conversation).await.unwrap();
    for i in 0..3 {
        store.append_message(new_message(conversation.id, a.id, &format!("c{i}"), "x")).await.unwrap();
    }
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.users, stats.conversations, stats.messages), (1, 1, 3));
    store.flush().await.unwrap();
}

/// A store whose writes and reads work reports [`StoreHealth::Ok`], before and after them.
pub async fn a_working_store_reports_itself_healthy<S: Store>(store: Arc<S>) {
    assert_eq!(store.health().await, StoreHealth::Ok);
    let a = user("frank");
    store.insert_user(&a, "h").await.unwrap();
    let conversation = group(&[a.id]);
    store.insert_conversation(&conversation).await.unwrap();
    store.append_message(new_message(conversation.id, a.id, "c1", "x")).await.unwrap();
    store.flush().await.unwrap();
    assert_eq!(store.health().await, StoreHealth::Ok);
}

/// One step of the model test.
#[derive(Clone, Debug)]
enum Op {
    Append { conversation: usize, sender: usize, client: u8, body: u16 },
    Edit { pick: usize, body: u16 },
    Delete { pick: usize },
    Receipt { conversation: usize, user: usize, read: bool, seq: u64 },
    History { conversation: usize, kind: u8, seq: u64, limit: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, 0..3usize, 0..6u8, any::<u16>())
            .prop_map(|(conversation, sender, client, body)| Op::Append { conversation, sender, client, body }),
        1 => (any::<usize>(), any::<u16>()).prop_map(|(pick, body)| Op::Edit { pick, body }),
        1 => any::<usize>().prop_map(|pick| Op::Delete { pick }),
        1 => (0..2usize, 0..3usize, any::<bool>(), 0..20u64)
            .prop_map(|(conversation, user, read, seq)| Op::Receipt { conversation, user, read, seq }),
        2 => (0..2usize, 0..3u8, 0..20u64, 1..8usize)
            .prop_map(|(conversation, kind, seq, limit)| Op::History { conversation, kind, seq, limit }),
    ]
}

/// What the store should hold, kept the simplest way.
#[derive(Default)]
struct Model {
    messages: HashMap<ConversationId, Vec<Message>>,
    clients: HashMap<(ConversationId, UserId, String), Seq>,
    receipts: HashMap<(ConversationId, UserId), (Seq, Seq)>,
}

/// Applies random operation sequences to fresh stores made by `make` and to a plain model,
/// comparing every answer. Runs 24 sequences of up to 40 operations.
pub fn model_test<S, F, Fut>(make: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let config = proptest::test_runner::Config { cases: 24, failure_persistence: None, ..Default::default() };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let result = runner.run(&proptest::collection::vec(op(), 1..40), |ops| {
        runtime.block_on(async {
            let store = make().await;
            run_model(&store, ops).await;
        });
        Ok(())
    });
    if let Err(error) = result {
        panic!("store diverged from the model: {error}");
    }
}

async fn run_model<S: Store>(store: &S, ops: Vec<Op>) {
    let conversations = [ConversationId::new(), ConversationId::new()];
    let users = [UserId::new(), UserId::new(), UserId::new()];
    let mut model = Model::default();
    for op in ops {
        match op {
            Op::Append { conversation, sender, client, body } => {
                let (c, s) = (conversations[conversation], users[sender]);
                let client_id = format!("client-{client}");
                let appended =
                    store.append_message(new_message(c, s, &client_id, &format!("body {body}"))).await.unwrap();
                let list = model.messages.entry(c).or_default();
                match model.clients.get(&(c, s, client_id.clone())) {
                    Some(seq) => assert_eq!(appended, Appended::Duplicate(list[seq.0 as usize - 1].clone())),
                    None => {
                        let message = created(appended);
                        assert_eq!(message.seq, Seq(list.len() as u64 + 1));
                        model.clients.insert((c, s, client_id), message.seq);
                        list.push(message);
                    }
                }
            }
            Op::Edit { pick, body } => {
                let Some(message) = pick_message(&mut model, pick) else { continue };
                message.body = format!("edited {body}");
                message.edited_at = Some(Timestamp(body as u64));
                assert!(store.replace_message(message).await.unwrap());
            }
            Op::Delete { pick } => {
                let Some(message) = pick_message(&mut model, pick) else { continue };
                message.body.clear();
                message.deleted = true;
                assert!(store.replace_message(message).await.unwrap());
            }
            Op::Receipt { conversation, user, read, seq } => {
                let (c, u) = (conversations[conversation], users[user]);
                let kind = if read { ReceiptKind::Read } else { ReceiptKind::Delivered };
                let moved = store.advance_receipt(c, u, kind, Seq(seq)).await.unwrap();
                let (delivered, was_read) = model.receipts.get(&(c, u)).copied().unwrap_or_default();
                let new_read = if read { was_read.max(Seq(seq)) } else { was_read };
                let new_delivered = delivered.max(Seq(seq)).max(new_read);
                let changed = (new_delivered, new_read) != (delivered, was_read);
                model.receipts.insert((c, u), (new_delivered, new_read));
                assert_eq!(moved.map(|r| (r.delivered, r.read)), changed.then_some((new_delivered, new_read)));
            }
            Op::History { conversation, kind, seq, limit } => {
                let c = conversations[conversation];
                let page = match kind {
                    0 => HistoryPage::Latest,
                    1 => HistoryPage::Before(Seq(seq)),
                    _ => HistoryPage::After(Seq(seq)),
                };
                let got = store.history(c, page, limit).await.unwrap();
                let all = model.messages.get(&c).cloned().unwrap_or_default();
                let expected: Vec<Message> = match page {
                    HistoryPage::Latest => all.iter().rev().take(limit).rev().cloned().collect(),
                    HistoryPage::Before(s) => {
                        let older: Vec<Message> = all.iter().filter(|m| m.seq < s).cloned().collect();
                        older[older.len().saturating_sub(limit)..].to_vec()
                    }
                    HistoryPage::After(s) => all.iter().filter(|m| m.seq > s).take(limit).cloned().collect(),
                };
                assert_eq!(got, expected);
                assert_eq!(store.last_seq(c).await.unwrap(), Seq(all.len() as u64));
            }
        }
    }
    for (c, list) in &model.messages {
        for message in list {
            assert_eq!(store.message(message.id).await.unwrap().as_ref(), Some(message));
        }
        let mut receipts = store.receipts(*c).await.unwrap();
        receipts.sort_by_key(|r| r.user);
        let mut expected: Vec<_> =
            model.receipts.iter().filter(|((rc, _), _)| rc == c).map(|((_, u), v)| (*u, *v)).collect();
        expected.sort();
        assert_eq!(receipts.iter().map(|r| (r.user, (r.delivered, r.read))).collect::<Vec<_>>(), expected);
    }
}

fn pick_message(model: &mut Model, pick: usize) -> Option<&mut Message> {
    let total: usize = model.messages.values().map(Vec::len).sum();
    if total == 0 {
        return None;
    }
    let mut keys: Vec<ConversationId> = model.messages.keys().copied().collect();
    keys.sort();
    let mut index = pick % total;
    let key = keys.into_iter().find(|key| {
        let len = model.messages[key].len();
        if index < len {
            return true;
        }
        index -= len;
        false
    })?;
    model.messages.get_mut(&key)?.get_mut(index)
}
