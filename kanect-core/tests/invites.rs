//! Sign-up modes and invites (kanect-core's `invites` module): every mode, every way an invite
//! is refused, the race for an invite's last use, who may make, list and revoke invites, and
//! the audit entries of it all.

mod support;

use kanect_core::backend::{InviteStore, UserStore};
use kanect_core::{
    Caller, Chat, ChatConfig, InviteLimits, InviteScope, LoginLimits, MemoryStore, NewInvite, Registration, Role,
    SignUpMode, Timestamp, INVITE_MIN_TTL,
};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;
use support::*;

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
const DAY: Duration = Duration::from_secs(24 * 3600);

fn config(mode: SignUpMode, users_may_invite: bool) -> ChatConfig {
    ChatConfig {
        sign_up: mode,
        invites: InviteLimits { users_may_invite, ..InviteLimits::default() },
        // Racing sign-ups from one address all reach the store rather than its admission cap.
        login: LoginLimits { address_in_flight: 64, address_burst: 1000, ..LoginLimits::default() },
        ..unlimited_config()
    }
}

async fn engine(mode: SignUpMode, users_may_invite: bool) -> (Chat, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let chat = Chat::builder_shared(store.clone()).config(config(mode, users_may_invite)).build().await.unwrap();
    (chat, store)
}

async fn admin(chat: &Chat) -> Caller {
    let (user, _) = chat.ensure_admin(Registration::new("root", "root password")).await.unwrap();
    chat.act_as(user.id).await.unwrap()
}

fn with_invite(name: &str, invite: Option<&str>) -> Registration {
    Registration { invite: invite.map(str::to_owned), ..Registration::new(name, format!("{name}-secret-pw")) }
}

fn invite(uses: u32) -> NewInvite {
    NewInvite { uses, expires_in: DAY }
}

async fn actions(chat: &Chat, admin: &Caller) -> Vec<String> {
    chat.audit_log(admin, None, 100).await.unwrap().into_iter().rev().map(|entry| entry.action).collect()
}

#[tokio::test]
async fn open_sign_ups_need_no_invite_and_use_none_given() {
    let (chat, store) = engine(SignUpMode::Open, false).await;
    let root = admin(&chat).await;
    let made = chat.create_invite(&root, invite(1)).await.unwrap();
    chat.sign_up(with_invite("ann", None), CLIENT).await.unwrap();
    chat.sign_up(with_invite("ben", Some("not a token")), CLIENT).await.unwrap();
    chat.sign_up(with_invite("cat", Some(&made.token)), CLIENT).await.unwrap();
    assert_eq!(store.invite(made.invite.id).await.unwrap().unwrap().uses_left, 1, "open mode uses no invite");
}

#[tokio::test]
async fn closed_sign_ups_are_refused_and_admins_still_create_accounts() {
    let (chat, store) = engine(SignUpMode::Closed, false).await;
    let root = admin(&chat).await;
    let made = chat.create_invite(&root, invite(5)).await.unwrap();
    assert_eq!(code(chat.sign_up(with_invite("ann", None), CLIENT).await), "sign_up_closed");
    assert_eq!(code(chat.sign_up(with_invite("ann", Some(&made.token)), CLIENT).await), "sign_up_closed");
    assert_eq!(code(chat.register_from(with_invite("ann", None), CLIENT).await), "sign_up_closed");
    assert!(store.user_by_username("ann").await.unwrap().is_none(), "nothing stored");
    assert_eq!(store.invite(made.invite.id).await.unwrap().unwrap().uses_left, 5);
    // The application's own path and administrators are not the public.
    chat.register(Registration::new("app-made", "app-made password")).await.unwrap();
    let ann = chat.admin_create_user(&root, Registration::new("ann", "ann's password"), Role::User).await.unwrap();
    assert_eq!(chat.login("ann", "ann's password").await.unwrap().user.id, ann.id);
}

#[tokio::test]
async fn invite_only_sign_ups_take_one_use_each_and_are_audited() {
    let (chat, store) = engine(SignUpMode::Invite, false).await;
    let root = admin(&chat).await;
    assert_eq!(code(chat.sign_up(with_invite("ann", None), CLIENT).await), "invite_required");
    assert_eq!(code(chat.sign_up(with_invite("ann", Some("")), CLIENT).await), "invite_required");

    let made = chat.create_invite(&root, invite(2)).await.unwrap();
    assert_eq!(made.token.len(), 64);
    assert!(!format!("{made:?}").contains(&made.token), "Debug leaves the token out");
    assert_eq!(chat.invite_status(&made.token).await.unwrap().uses_left, 2);
    let ann = chat.sign_up(with_invite("ann", Some(&made.token)), CLIENT).await.unwrap();
    assert_eq!(chat.invite_status(&made.token).await.unwrap().uses_left, 1);
    chat.sign_up(with_invite("ben", Some(&made.token)), CLIENT).await.unwrap();
    assert_eq!(code(chat.invite_status(&made.token).await), "invite_used_up");
    assert_eq!(code(chat.sign_up(with_invite("cat", Some(&made.token)), CLIENT).await), "invite_used_up");
    assert!(store.user_by_username("cat").await.unwrap().is_none());

    let log = chat.audit_log(&root, None, 10).await.unwrap();
    let uses: Vec<_> = log.iter().filter(|entry| entry.action == "invite.use").collect();
    assert_eq!(uses.len(), 2);
    assert!(uses.iter().all(|entry| entry.target == made.invite.id.to_string()));
    assert!(uses.iter().any(|entry| entry.actor == ann.user.id && entry.detail.as_deref() == Some("ann")));
}

#[tokio::test]
async fn forged_malformed_revoked_and_expired_invites_are_refused() {
    let (chat, store) = engine(SignUpMode::Invite, false).await;
    let root = admin(&chat).await;
    let forged = "ab".repeat(32);
    for token in [forged.as_str(), "short", &"zz".repeat(32), &"AB".repeat(33)] {
        assert_eq!(code(chat.sign_up(with_invite("ann", Some(token)), CLIENT).await), "invite_invalid", "{token}");
        assert_eq!(code(chat.invite_status(token).await), "invite_invalid");
    }

    let revoked = chat.create_invite(&root, invite(3)).await.unwrap();
    chat.revoke_invite(&root, revoked.invite.id).await.unwrap();
    assert_eq!(code(chat.sign_up(with_invite("ann", Some(&revoked.token)), CLIENT).await), "invite_invalid");
    assert_eq!(code(chat.revoke_invite(&root, revoked.invite.id).await), "invite_not_found");

    let expired = chat.create_invite(&root, invite(3)).await.unwrap();
    let mut record = store.invite(expired.invite.id).await.unwrap().unwrap();
    record.expires_at = Timestamp::now().minus(Duration::from_secs(1));
    store.insert_invite(&record).await.unwrap();
    assert_eq!(code(chat.sign_up(with_invite("ann", Some(&expired.token)), CLIENT).await), "invite_expired");
    assert_eq!(code(chat.invite_status(&expired.token).await), "invite_expired");
    assert!(store.user_by_username("ann").await.unwrap().is_none());
    assert_eq!(store.invite(expired.invite.id).await.unwrap().unwrap().uses_left, 3);
}

#[tokio::test]
async fn a_sign_up_that_fails_uses_nothing() {
    let (chat, store) = engine(SignUpMode::Invite, false).await;
    let root = admin(&chat).await;
    let made = chat.create_invite(&root, invite(1)).await.unwrap();
    let short = Registration { invite: Some(made.token.clone()), ..Registration::new("ann", "short") };
    assert_eq!(code(chat.sign_up(short, CLIENT).await), "too_short");
    let bad_name = Registration { invite: Some(made.token.clone()), ..Registration::new("a b", "long enough pw") };
    assert_eq!(code(chat.sign_up(bad_name, CLIENT).await), "bad_characters");
    assert_eq!(code(chat.sign_up(with_invite("root", Some(&made.token)), CLIENT).await), "username_taken");
    assert_eq!(store.invite(made.invite.id).await.unwrap().unwrap().uses_left, 1);
    chat.sign_up(with_invite("ann", Some(&made.token)), CLIENT).await.unwrap();
    assert_eq!(store.invite(made.invite.id).await.unwrap().unwrap().uses_left, 0);
}

/// Sixteen sign-ups race for an invite's last use (each past validation, the check and the
/// hash, so they meet at the store's redemption): exactly one account is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sign_ups_racing_for_the_last_use_have_one_winner() {
    let (chat, store) = engine(SignUpMode::Invite, false).await;
    let root = admin(&chat).await;
    let made = chat.create_invite(&root, invite(3)).await.unwrap();
    for name in ["early1", "early2"] {
        chat.sign_up(with_invite(name, Some(&made.token)), CLIENT).await.unwrap();
    }
    let racers: Vec<_> = (0..16)
        .map(|i| {
            let (chat, token) = (chat.clone(), made.token.clone());
            tokio::spawn(async move { chat.sign_up(with_invite(&format!("racer{i}"), Some(&token)), CLIENT).await })
        })
        .collect();
    let mut winners = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(_) => winners += 1,
            Err(error) => assert_eq!(error.code(), "invite_used_up"),
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(store.invite(made.invite.id).await.unwrap().unwrap().uses_left, 0);
    let racers = chat.admin_users(&root, Some("racer"), None, 50).await.unwrap();
    assert_eq!(racers.len(), 1, "one account, not more");
}

#[tokio::test]
async fn invites_are_bounded_at_their_limits() {
    let (chat, _) = engine(SignUpMode::Invite, false).await;
    let root = admin(&chat).await;
    let max_ttl = InviteLimits::default().max_ttl;
    let at = |uses, expires_in| NewInvite { uses, expires_in };
    assert_eq!(code(chat.create_invite(&root, at(0, DAY)).await), "out_of_range");
    assert_eq!(code(chat.create_invite(&root, at(1001, DAY)).await), "out_of_range");
    assert_eq!(chat.create_invite(&root, at(1000, DAY)).await.unwrap().invite.uses_left, 1000);
    assert_eq!(chat.create_invite(&root, at(1, DAY)).await.unwrap().invite.uses, 1);
    let short = INVITE_MIN_TTL - Duration::from_secs(1);
    assert_eq!(code(chat.create_invite(&root, at(1, short)).await), "out_of_range");
    chat.create_invite(&root, at(1, INVITE_MIN_TTL)).await.unwrap();
    chat.create_invite(&root, at(1, max_ttl)).await.unwrap();
    let long = max_ttl + Duration::from_secs(1);
    assert_eq!(code(chat.create_invite(&root, at(1, long)).await), "out_of_range");
}

#[tokio::test]
async fn users_invite_only_where_allowed_and_within_their_cap() {
    let (chat, _) = engine(SignUpMode::Invite, false).await;
    let (_, ann) = user(&chat, "ann").await;
    assert!(!chat.may_invite(&ann).await.unwrap());
    assert_eq!(code(chat.create_invite(&ann, invite(1)).await), "admin_only");

    let (chat, _) = engine(SignUpMode::Invite, true).await;
    let root = admin(&chat).await;
    let (_, ann) = user(&chat, "ann").await;
    assert!(chat.may_invite(&ann).await.unwrap());
    let cap = InviteLimits::default().open_per_user;
    let mut made = Vec::new();
    for _ in 0..cap {
        made.push(chat.create_invite(&ann, invite(1)).await.unwrap());
    }
    assert_eq!(code(chat.create_invite(&ann, invite(1)).await), "too_many_invites");
    // A used-up invite no longer counts; nor does one revoked.
    chat.sign_up(with_invite("ben", Some(&made[0].token)), CLIENT).await.unwrap();
    chat.create_invite(&ann, invite(1)).await.unwrap();
    assert_eq!(code(chat.create_invite(&ann, invite(1)).await), "too_many_invites");
    chat.revoke_invite(&ann, made[1].invite.id).await.unwrap();
    chat.create_invite(&ann, invite(1)).await.unwrap();
    // Administrators have no cap.
    for _ in 0..cap + 1 {
        chat.create_invite(&root, invite(1)).await.unwrap();
    }
}

#[tokio::test]
async fn invites_are_listed_to_their_makers_and_revoked_by_them_or_admins() {
    let (chat, _) = engine(SignUpMode::Invite, true).await;
    let root = admin(&chat).await;
    let (_, ann) = user(&chat, "ann").await;
    let (_, ben) = user(&chat, "ben").await;
    let anns = [chat.create_invite(&ann, invite(1)).await.unwrap(), chat.create_invite(&ann, invite(2)).await.unwrap()];
    let bens = chat.create_invite(&ben, invite(1)).await.unwrap();
    let roots = chat.create_invite(&root, invite(9)).await.unwrap();

    let mine = chat.invites(&ann, InviteScope::Mine, None, 10).await.unwrap();
    assert_eq!(mine.iter().map(|i| i.id).collect::<Vec<_>>(), [anns[1].invite.id, anns[0].invite.id]);
    let page = chat.invites(&ann, InviteScope::Mine, Some(anns[1].invite.id), 10).await.unwrap();
    assert_eq!(page.iter().map(|i| i.id).collect::<Vec<_>>(), [anns[0].invite.id]);
    assert_eq!(code(chat.invites(&ann, InviteScope::All, None, 10).await), "admin_only");
    assert_eq!(code(chat.invites(&ann, InviteScope::Mine, None, 0).await), "out_of_range");
    let all = chat.invites(&root, InviteScope::All, None, 10).await.unwrap();
    assert_eq!(all.len(), 4);

    // Another user's invite is not found, as one that never was.
    assert_eq!(code(chat.revoke_invite(&ann, bens.invite.id).await), "invite_not_found");
    assert_eq!(code(chat.revoke_invite(&ann, roots.invite.id).await), "invite_not_found");
    chat.revoke_invite(&ann, anns[0].invite.id).await.unwrap();
    chat.revoke_invite(&root, bens.invite.id).await.unwrap();
    assert_eq!(chat.invites(&root, InviteScope::All, None, 10).await.unwrap().len(), 2);

    let log = chat.audit_log(&root, None, 20).await.unwrap();
    let revokes: Vec<_> =
        log.iter().filter(|e| e.action == "invite.revoke").map(|e| (e.actor, e.target.clone())).collect();
    assert_eq!(revokes, [(root.user(), bens.invite.id.to_string()), (ann.user(), anns[0].invite.id.to_string())]);
    assert_eq!(log.iter().filter(|e| e.action == "invite.create").count(), 4);
}

#[tokio::test]
async fn disabled_or_deleted_makers_cannot_invite() {
    let (chat, _) = engine(SignUpMode::Invite, true).await;
    let root = admin(&chat).await;
    let (ann_user, ann) = user(&chat, "ann").await;
    let ann_again = chat.act_as(ann_user.id).await.unwrap();
    chat.set_disabled(&root, ann_user.id, true).await.unwrap();
    assert_eq!(code(chat.create_invite(&ann_again, invite(1)).await), "account_disabled");
    chat.delete_user(&root, ann_user.id).await.unwrap();
    assert_eq!(code(chat.create_invite(&ann, invite(1)).await), "invalid_session");
}

#[tokio::test]
async fn admins_create_and_edit_accounts_and_the_audit_log_says_so() {
    let (chat, _) = engine(SignUpMode::Closed, false).await;
    let root = admin(&chat).await;
    let (plain_user, plain) = user(&chat, "plain").await;
    let new = || Registration {
        email: Some("dee@example.com".into()),
        display_name: Some("Dee".into()),
        ..Registration::new("dee", "dee's long password")
    };
    assert_eq!(code(chat.admin_create_user(&plain, new(), Role::Admin).await), "admin_only");
    let dee = chat.admin_create_user(&root, new(), Role::Admin).await.unwrap();
    assert_eq!(
        (dee.role, dee.email.as_deref(), dee.display_name.as_deref()),
        (Role::Admin, Some("dee@example.com"), Some("Dee"))
    );
    assert_eq!(code(chat.admin_create_user(&root, new(), Role::User).await), "username_taken");
    let weak = Registration::new("eve", "eve");
    assert_eq!(code(chat.admin_create_user(&root, weak, Role::User).await), "too_short");

    let edit = |display_name: Option<&str>, email: Option<&str>| kanect_core::UserEdit {
        display_name: display_name.map(str::to_owned),
        email: email.map(str::to_owned),
    };
    assert_eq!(code(chat.admin_edit_user(&plain, dee.id, edit(Some("X"), None)).await), "admin_only");
    assert_eq!(code(chat.admin_edit_user(&root, dee.id, edit(None, Some("no-at-sign"))).await), "malformed");
    assert_eq!(code(chat.admin_edit_user(&root, dee.id, edit(Some(&"x".repeat(65)), None)).await), "too_long");
    let ghost = kanect_core::UserId::new();
    assert_eq!(code(chat.admin_edit_user(&root, ghost, edit(Some("X"), None)).await), "user_not_found");
    let mut device = chat.subscribe(&plain).await.unwrap();
    let edited = chat.admin_edit_user(&root, plain_user.id, edit(Some("Plain Jane"), Some("jane@example.org"))).await;
    let edited = edited.unwrap();
    assert_eq!(
        (edited.display_name.as_deref(), edited.email.as_deref()),
        (Some("Plain Jane"), Some("jane@example.org"))
    );
    assert!(
        matches!(next_event(&mut device).await, kanect_core::Event::User { user } if user.display_name.as_deref() == Some("Plain Jane"))
    );
    let cleared = chat.admin_edit_user(&root, plain_user.id, edit(Some(""), Some("  "))).await.unwrap();
    assert_eq!((cleared.display_name, cleared.email), (None, None));
    let unchanged = chat.admin_edit_user(&root, plain_user.id, edit(None, None)).await.unwrap();
    assert_eq!(unchanged.username, "plain");

    let log = chat.audit_log(&root, None, 20).await.unwrap();
    let edits: Vec<_> = log.iter().filter(|e| e.action == "user.edit").map(|e| e.detail.clone()).collect();
    assert_eq!(edits, [Some("display_name,email".to_string()), Some("display_name,email".to_string())]);
    assert_eq!(actions(&chat, &root).await, ["user.create", "user.edit", "user.edit"]);
    let created = log.iter().find(|e| e.action == "user.create").unwrap();
    assert_eq!(
        (created.actor, created.target.clone(), created.detail.as_deref()),
        (root.user(), dee.id.to_string(), Some("dee"))
    );
}
