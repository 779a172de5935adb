//! Conformance cases of [`InviteStore`](crate::backend::InviteStore).

use crate::error::InviteRefused;
use crate::id::InviteId;
use crate::model::{Timestamp, TokenHash};
use crate::store::{Invite, Store};
use crate::testing::user;
use std::sync::Arc;

fn invite(byte: u8, created_by: crate::UserId, uses: u32) -> Invite {
    Invite {
        id: InviteId::new(),
        token_hash: TokenHash([byte; 32]),
        created_by,
        created_at: Timestamp(10),
        expires_at: Timestamp(1_000),
        uses,
        uses_left: uses,
    }
}

/// Invites are found by id and by token hash, page newest first (all, or one creator's), and
/// go when deleted, from both look-ups.
pub async fn invites_round_trip_and_page_newest_first<S: Store>(store: Arc<S>) {
    let (ann, ben) = (user("ann"), user("ben"));
    let made: Vec<Invite> = (1..=5).map(|byte| invite(byte, if byte % 2 == 1 { ann.id } else { ben.id }, 3)).collect();
    for one in &made {
        store.insert_invite(one).await.unwrap();
    }
    assert_eq!(store.invite(made[1].id).await.unwrap(), Some(made[1].clone()));
    assert_eq!(store.invite_by_token(&TokenHash([3; 32])).await.unwrap(), Some(made[2].clone()));
    assert_eq!(store.invite_by_token(&TokenHash([9; 32])).await.unwrap(), None);

    let newest_first: Vec<_> = made.iter().rev().cloned().collect();
    assert_eq!(store.invites(None, None, 10).await.unwrap(), newest_first);
    assert_eq!(store.invites(None, None, 2).await.unwrap(), newest_first[..2]);
    assert_eq!(store.invites(None, Some(made[3].id), 2).await.unwrap(), newest_first[2..4]);
    let anns: Vec<_> = newest_first.iter().filter(|i| i.created_by == ann.id).cloned().collect();
    assert_eq!(store.invites(Some(ann.id), None, 10).await.unwrap(), anns);
    assert_eq!(store.invites(Some(ann.id), Some(made[4].id), 1).await.unwrap(), anns[1..2]);

    assert!(store.delete_invite(made[2].id).await.unwrap());
    assert!(!store.delete_invite(made[2].id).await.unwrap());
    assert_eq!(store.invite(made[2].id).await.unwrap(), None);
    assert_eq!(store.invite_by_token(&TokenHash([3; 32])).await.unwrap(), None);
    assert_eq!(store.redeem_invite(&TokenHash([3; 32]), Timestamp(20)).await.unwrap(), Err(InviteRefused::Unknown));
}

/// A redemption takes one use, and is refused (writing nothing) for an unknown token, an
/// expired invite, or one used up; a use given back counts again, never beyond the invite's uses.
pub async fn redemptions_take_one_use_each<S: Store>(store: Arc<S>) {
    let cleo = user("cleo");
    let two = invite(7, cleo.id, 2);
    store.insert_invite(&two).await.unwrap();
    let hash = TokenHash([7; 32]);

    let first = store.redeem_invite(&hash, Timestamp(20)).await.unwrap().unwrap();
    assert_eq!(first.uses_left, 1);
    assert_eq!(store.redeem_invite(&hash, Timestamp(1_000)).await.unwrap(), Err(InviteRefused::Expired));
    assert_eq!(store.invite(two.id).await.unwrap().unwrap().uses_left, 1, "a refusal writes nothing");
    assert_eq!(store.redeem_invite(&hash, Timestamp(21)).await.unwrap().unwrap().uses_left, 0);
    assert_eq!(store.redeem_invite(&hash, Timestamp(22)).await.unwrap(), Err(InviteRefused::UsedUp));
    assert_eq!(store.redeem_invite(&TokenHash([8; 32]), Timestamp(22)).await.unwrap(), Err(InviteRefused::Unknown));

    assert!(store.restore_invite_use(two.id).await.unwrap());
    assert_eq!(store.invite(two.id).await.unwrap().unwrap().uses_left, 1);
    assert!(store.restore_invite_use(two.id).await.unwrap());
    assert!(store.restore_invite_use(two.id).await.unwrap());
    assert_eq!(store.invite(two.id).await.unwrap().unwrap().uses_left, 2, "never beyond its uses");
    assert!(!store.restore_invite_use(InviteId::new()).await.unwrap());
}

/// Concurrent redemptions of an invite with `n` uses left succeed exactly `n` times.
pub async fn concurrent_redemptions_never_exceed_the_uses<S: Store>(store: Arc<S>) {
    let dora = user("dora");
    for (byte, uses) in [(1u8, 1u32), (2, 5)] {
        let made = invite(byte, dora.id, uses);
        store.insert_invite(&made).await.unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.redeem_invite(&TokenHash([byte; 32]), Timestamp(20)).await.unwrap() })
            })
            .collect();
        let mut won = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => won += 1,
                Err(refused) => assert_eq!(refused, InviteRefused::UsedUp),
            }
        }
        assert_eq!(won, uses);
        assert_eq!(store.invite(made.id).await.unwrap().unwrap().uses_left, 0);
    }
}
