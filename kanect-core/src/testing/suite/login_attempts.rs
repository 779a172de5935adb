//! Conformance cases of [`LoginAttemptStore`](crate::backend::LoginAttemptStore).

use crate::model::Timestamp;
use crate::store::Store;
use crate::throttle::{Attempt, AttemptKey, LoginAttempts, SlowDown};
use std::sync::Arc;
use std::time::Duration;

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
