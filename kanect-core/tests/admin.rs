//! Roles are enforced by the engine itself, and every admin action is audited.

mod support;

use kanect_core::{Event, GroupEvent, HistoryPage, Registration, Role};
use support::*;

#[tokio::test]
async fn non_admins_are_refused_every_admin_operation() {
    let chat = chat().await;
    let (_, other) = user(&chat, "other").await;
    let (target, user) = user(&chat, "plain").await;
    let direct = chat.open_direct(&user, other.user()).await.unwrap();
    let message = chat.send(&user, direct.id, "c", "hi").await.unwrap();
    assert_eq!(code(chat.admin_users(&user, None, None, 10).await), "admin_only");
    assert_eq!(code(chat.admin_user(&user, target.id).await), "admin_only");
    assert_eq!(code(chat.set_disabled(&user, other.user(), true).await), "admin_only");
    assert_eq!(code(chat.set_role(&user, user.user(), Role::Admin).await), "admin_only");
    assert_eq!(code(chat.reset_password(&user, other.user(), "new password!").await), "admin_only");
    assert_eq!(code(chat.delete_user(&user, other.user()).await), "admin_only");
    assert_eq!(code(chat.admin_conversations(&user, None, 10).await), "admin_only");
    assert_eq!(code(chat.admin_history(&user, direct.id, HistoryPage::Latest, 10).await), "admin_only");
    assert_eq!(code(chat.admin_delete_message(&user, message.id).await), "admin_only");
    assert_eq!(code(chat.server_stats(&user).await), "admin_only");
    assert_eq!(code(chat.audit_log(&user, None, 10).await), "admin_only");
    assert!(chat.audit_log(&admin(&chat).await, None, 10).await.unwrap().is_empty(), "refusals change nothing");
}

async fn admin(chat: &kanect_core::Chat) -> kanect_core::Caller {
    let (user, _) = chat.ensure_admin(Registration::new("root", "root password")).await.unwrap();
    chat.act_as(user.id).await.unwrap()
}

#[tokio::test]
async fn disabling_ends_sessions_and_live_streams_at_once() {
    let chat = chat().await;
    let admin = admin(&chat).await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let mut device = chat.subscribe(&bob).await.unwrap();
    chat.set_disabled(&admin, bob_user.id, true).await.unwrap();
    assert_eq!(next_event(&mut device).await, Event::SessionEnded { reason: "account_disabled".into() });
    assert!(device.next().await.is_none());
    assert_eq!(code(chat.login("bob", "bob-secret-pw").await), "account_disabled");
    assert_eq!(code(chat.act_as(bob_user.id).await), "account_disabled");
    chat.set_disabled(&admin, bob_user.id, false).await.unwrap();
    chat.login("bob", "bob-secret-pw").await.unwrap();
    assert_eq!(code(chat.set_disabled(&admin, admin.user(), true).await), "self_action");
    let log = chat.audit_log(&admin, None, 10).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["user.enable", "user.disable"]);
    assert!(log.iter().all(|e| e.actor == admin.user() && e.target == bob_user.id.to_string()));
}

#[tokio::test]
async fn disabled_users_leave_the_list_without_shortening_its_pages() {
    let chat = chat().await;
    let admin = admin(&chat).await;
    let mut names = Vec::new();
    for name in ["ann", "ben", "cal", "dee", "eve"] {
        let (user, caller) = user(&chat, name).await;
        names.push((name, user.id, caller));
    }
    for (_, id, _) in &names[..3] {
        chat.set_disabled(&admin, *id, true).await.unwrap();
    }
    let viewer = &names[4].2;
    let listed = |page: Vec<kanect_core::UserView>| page.into_iter().map(|u| u.user.username).collect::<Vec<_>>();
    // "ann", "ben" and "cal" are disabled: a page of two must still hold two users.
    assert_eq!(listed(chat.users(viewer, None, None, 2).await.unwrap()), ["dee", "eve"]);
    assert_eq!(listed(chat.users(viewer, None, Some("dee"), 2).await.unwrap()), ["eve", "root"]);
    assert!(chat.users(viewer, None, Some("root"), 2).await.unwrap().is_empty());
    assert_eq!(chat.admin_users(&admin, None, None, 10).await.unwrap().len(), 6, "admins still see everyone");
}

#[tokio::test]
async fn admin_message_delete_reaches_members_and_is_audited() {
    let chat = chat().await;
    let admin = admin(&chat).await;
    let (_, alice) = user(&chat, "alice").await;
    let (_, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob.user()).await.unwrap();
    let message = chat.send(&alice, direct.id, "c", "spam").await.unwrap();
    let mut bobs = chat.subscribe(&bob).await.unwrap();
    drain(&mut bobs);
    assert_eq!(chat.admin_conversations(&admin, None, 10).await.unwrap()[0].id, direct.id);
    assert_eq!(chat.admin_history(&admin, direct.id, HistoryPage::Latest, 10).await.unwrap()[0].body, "spam");
    chat.admin_delete_message(&admin, message.id).await.unwrap();
    assert_eq!(
        next_event(&mut bobs).await,
        Event::Delete { conversation: direct.id, id: message.id, seq: message.seq }
    );
    assert_eq!(code(chat.admin_delete_message(&admin, message.id).await), "message_deleted");
    let entry = &chat.audit_log(&admin, None, 1).await.unwrap()[0];
    assert_eq!((entry.action.as_str(), entry.detail.clone()), ("message.delete", Some(direct.id.to_string())));
}

#[tokio::test]
async fn roles_passwords_deletion_and_stats() {
    let chat = chat().await;
    let admin = admin(&chat).await;
    let (carol_user, carol) = user(&chat, "carol").await;
    let (_, dave) = user(&chat, "dave").await;
    let group = chat.create_group(&carol, "club", &[dave.user()]).await.unwrap();
    chat.send(&carol, group.id, "c", "hello club").await.unwrap();

    chat.set_role(&admin, carol_user.id, Role::Admin).await.unwrap();
    assert_eq!(chat.server_stats(&carol).await.unwrap().users, 3, "promotion takes effect at once");
    chat.set_role(&admin, carol_user.id, Role::User).await.unwrap();
    assert_eq!(code(chat.server_stats(&carol).await), "admin_only", "and so does demotion");

    let mut device = chat.subscribe(&carol).await.unwrap();
    chat.reset_password(&admin, carol_user.id, "brand new pass").await.unwrap();
    assert_eq!(next_event(&mut device).await, Event::SessionEnded { reason: "password_reset".into() });
    assert_eq!(code(chat.login("carol", "carol-secret-pw").await), "bad_credentials");
    chat.login("carol", "brand new pass").await.unwrap();
    assert_eq!(code(chat.reset_password(&admin, carol_user.id, "short").await), "too_short");

    chat.delete_user(&admin, carol_user.id).await.unwrap();
    assert_eq!(code(chat.login("carol", "brand new pass").await), "bad_credentials");
    let remaining = chat.conversation(&dave, group.id).await.unwrap();
    assert!(!remaining.conversation.has_member(carol_user.id), "memberships go");
    assert_eq!(remaining.conversation.owner, Some(dave.user()), "ownership passes on");
    let history = chat.history(&dave, group.id, HistoryPage::Latest, 10).await.unwrap();
    assert_eq!(history[1].body, "hello club", "messages stay");
    // Between the "created" and "removed" system lines (the administrator removed carol).
    assert_eq!(history[0].event, Some(GroupEvent::Created { name: "club".into() }));
    assert_eq!(history[2].event, Some(GroupEvent::Removed { user: carol_user.id }));
    assert_eq!(history[2].sender, admin.user());
    let stats = chat.server_stats(&admin).await.unwrap();
    assert_eq!((stats.users, stats.conversations, stats.messages), (2, 1, 3), "system lines are messages");
    let actions: Vec<String> = chat.audit_log(&admin, None, 10).await.unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions, ["user.delete", "user.password_reset", "user.role", "user.role"]);
}

#[tokio::test]
async fn directory_changes_reach_every_device_and_refusals_send_nothing() {
    let chat = chat().await;
    let admin = admin(&chat).await;
    // Alice shares no conversation with anyone and watches nobody: she hears of every account.
    let (_, alice) = user(&chat, "alice").await;
    let mut device = chat.subscribe(&alice).await.unwrap();
    drain(&mut device);

    let registration =
        Registration { email: Some("bob@example.com".into()), ..Registration::new("bob", "bob password") };
    let bob = chat.register(registration).await.unwrap();
    let announced = |event: Event| match event {
        Event::User { user } => user,
        other => panic!("expected a user event, got {other:?}"),
    };
    assert_eq!(announced(next_event(&mut device).await), bob.public(), "the public record: no email");

    let promoted = chat.set_role(&admin, bob.id, Role::Admin).await.unwrap();
    assert_eq!(announced(next_event(&mut device).await), promoted.public());
    let disabled = chat.set_disabled(&admin, bob.id, true).await.unwrap();
    assert_eq!(announced(next_event(&mut device).await), disabled.public());
    assert!(disabled.disabled);
    let enabled = chat.set_disabled(&admin, bob.id, false).await.unwrap();
    assert_eq!(announced(next_event(&mut device).await), enabled.public());
    assert!(!enabled.disabled);

    // Refused changes announce nothing.
    assert_eq!(code(chat.register(Registration::new("BOB", "another password")).await), "username_taken");
    assert_eq!(code(chat.set_disabled(&alice, bob.id, true).await), "admin_only");
    assert_eq!(code(chat.delete_user(&admin, admin.user()).await), "self_action");
    tokio::task::yield_now().await;
    assert_eq!(drain(&mut device), Vec::new());

    chat.delete_user(&admin, bob.id).await.unwrap();
    assert_eq!(next_event(&mut device).await, Event::UserDeleted { user: bob.id });
}
