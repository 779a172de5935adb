//! Conformance cases of [`UserStore`](crate::backend::UserStore).

use crate::error::{Conflict, StoreError};
use crate::id::UserId;
use crate::model::{AccountToken, Role, Session, Timestamp, TokenHash, TokenPurpose, User};
use crate::store::{Store, UserQuery, UserUpdate};
use crate::testing::user;
use std::sync::Arc;

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
    // A display name is searchable by its new value, not its old one; an e-mail is set and
    // cleared.
    let named = store.update_user(bob.id, UserUpdate::DisplayName(Some("Robert Tables".into()))).await.unwrap();
    assert_eq!(named.unwrap().display_name.as_deref(), Some("Robert Tables"));
    let query = |text: &str| UserQuery { search: Some(text.into()), after: None, limit: 10 };
    assert_eq!(store.users(&query("tables")).await.unwrap().len(), 1);
    let cleared = store.update_user(bob.id, UserUpdate::Email(None)).await.unwrap().unwrap();
    assert_eq!(cleared.email, None);
    let emailed = store.update_user(bob.id, UserUpdate::Email(Some("b@example.org".into()))).await.unwrap().unwrap();
    assert_eq!(emailed.email.as_deref(), Some("b@example.org"));
    assert_eq!(emailed.display_name.as_deref(), Some("Robert Tables"), "the other fields stay");
    assert!(store.user_by_username("ghost").await.unwrap().is_none(), "no record made for an unknown id");

    // Many accounts, each changed in three fields by three concurrent tasks: every change stays.
    let accounts: Vec<User> = (0..20).map(|i| user(&format!("racer{i}"))).collect();
    for account in &accounts {
        store.insert_user(account, "h").await.unwrap();
    }
    let updates = [
        UserUpdate::Role(Role::Admin),
        UserUpdate::Disabled(true),
        UserUpdate::LastSeen(Timestamp(7)),
        UserUpdate::DisplayName(Some("Racer".into())),
    ];
    let tasks: Vec<_> = updates
        .into_iter()
        .map(|update| {
            let (store, ids) = (store.clone(), accounts.iter().map(|a| a.id).collect::<Vec<_>>());
            tokio::spawn(async move {
                for id in ids {
                    store.update_user(id, update.clone()).await.unwrap().expect("the account exists");
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
        assert_eq!(stored.display_name.as_deref(), Some("Racer"));
    }
}

/// A user's display name, status and avatar change one at a time, stay as set (read by id and
/// by username), and the new display name is what a search finds.
pub async fn profile_fields_change_and_stay<S: Store>(store: Arc<S>) {
    let fay = user("fay");
    store.insert_user(&fay, "h").await.unwrap();
    let avatar = crate::id::AttachmentId::new();
    let named = store.update_user(fay.id, UserUpdate::DisplayName(Some("Fée Ünï".into()))).await.unwrap();
    assert_eq!(named.unwrap().display_name.as_deref(), Some("Fée Ünï"));
    store.update_user(fay.id, UserUpdate::Status(Some("🌴 on leave".into()))).await.unwrap();
    let stored = store.update_user(fay.id, UserUpdate::Avatar(Some(avatar))).await.unwrap().unwrap();
    let expected = User {
        display_name: Some("Fée Ünï".into()),
        status: Some("🌴 on leave".into()),
        avatar: Some(avatar),
        ..fay.clone()
    };
    assert_eq!(stored, expected);
    assert_eq!(store.user(fay.id).await.unwrap().as_ref(), Some(&expected));
    assert_eq!(store.user_by_username("FAY").await.unwrap().as_ref(), Some(&expected));
    let found = store.users(&UserQuery { search: Some("fée ü".into()), after: None, limit: 10 }).await.unwrap();
    assert_eq!(found, std::slice::from_ref(&expected));
    // Cleared again, one by one.
    store.update_user(fay.id, UserUpdate::DisplayName(None)).await.unwrap();
    store.update_user(fay.id, UserUpdate::Status(None)).await.unwrap();
    let cleared = store.update_user(fay.id, UserUpdate::Avatar(None)).await.unwrap();
    assert_eq!(cleared, Some(fay.clone()));
    assert!(store.users(&UserQuery { search: Some("fée".into()), after: None, limit: 10 }).await.unwrap().is_empty());
    // A record inserted with them keeps them.
    let gil = User { status: Some("here".into()), avatar: Some(avatar), ..user("gil") };
    store.insert_user(&gil, "h").await.unwrap();
    assert_eq!(store.user(gil.id).await.unwrap(), Some(gil));
}

/// Deleting a user removes the username, the password hash and the sessions.
pub async fn deleting_a_user_removes_credentials_and_sessions<S: Store>(store: Arc<S>) {
    let carol = user("carol");
    store.insert_user(&carol, "h").await.unwrap();
    let session = Session {
        token_hash: TokenHash([7; 32]),
        user: carol.id,
        created_at: Timestamp(1),
        expires_at: Timestamp(2),
        last_used: Some(Timestamp(1)),
        user_agent: Some("Firefox".into()),
    };
    store.insert_session(&session).await.unwrap();
    let token = AccountToken {
        token_hash: TokenHash([8; 32]),
        purpose: TokenPurpose::Reset,
        user: carol.id,
        address: "carol@example.com".into(),
        created_at: Timestamp(1),
        expires_at: Timestamp(2),
    };
    assert!(store.put_account_token(&token).await.unwrap());
    assert!(store.delete_user(carol.id).await.unwrap());
    assert!(!store.delete_user(carol.id).await.unwrap());
    assert!(store.user(carol.id).await.unwrap().is_none());
    assert!(store.user_by_username("carol").await.unwrap().is_none());
    assert!(store.password_hash(carol.id).await.unwrap().is_none());
    assert!(store.session(&session.token_hash).await.unwrap().is_none());
    assert!(store.account_tokens(None, 10).await.unwrap().is_empty(), "a deleted account's tokens go with it");
    assert!(store.users_by_email("carol@example.com").await.unwrap().is_empty(), "nor is it found by address");
    store.insert_user(&user("carol"), "h2").await.unwrap();
}

/// Users are found by address, ASCII case-insensitively, several to an address (in id order),
/// and the lookup follows every change: creation, a change of address (or its removal),
/// deletion.
pub async fn users_are_found_by_email_through_every_change<S: Store>(store: Arc<S>) {
    let with_email = |name: &str, email: Option<&str>| User { email: email.map(str::to_string), ..user(name) };
    let mut pair = [with_email("gus", Some("Shared@Example.com")), with_email("hal", Some("shared@example.COM"))];
    pair.sort_by_key(|user| user.id);
    let [first, second] = pair;
    let ida = with_email("ida", Some("ida@example.com"));
    let jo = with_email("jo", None);
    let kim = with_email("kim", Some("Ärger@example.com"));
    for user in [&first, &second, &ida, &jo, &kim] {
        store.insert_user(user, "h").await.unwrap();
    }
    let names = |users: Vec<User>| users.into_iter().map(|user| user.username).collect::<Vec<_>>();
    let found = |address: &'static str| {
        let store = store.clone();
        async move { names(store.users_by_email(address).await.unwrap()) }
    };
    assert_eq!(found("SHARED@example.com").await, [first.username.clone(), second.username.clone()]);
    assert_eq!(found("ida@EXAMPLE.com").await, ["ida"]);
    assert_eq!(found("Ärger@EXAMPLE.COM").await, ["kim"]);
    assert!(found("ärger@example.com").await.is_empty(), "only ASCII letters fold");
    assert!(found("nobody@example.com").await.is_empty());
    assert!(found("shared@example.com\0").await.is_empty());
    assert!(found("shared@example.co").await.is_empty(), "the whole address, not a prefix");

    store.update_user(second.id, UserUpdate::Email(Some("hal@example.com".into()))).await.unwrap();
    assert_eq!(found("shared@example.com").await, [first.username.as_str()]);
    assert_eq!(found("HAL@example.com").await, [second.username.as_str()]);
    store.update_user(ida.id, UserUpdate::Email(Some("SHARED@EXAMPLE.COM".into()))).await.unwrap();
    assert!(found("ida@example.com").await.is_empty(), "the old address finds no one");
    let mut expected = vec![(first.id, first.username.clone()), (ida.id, ida.username.clone())];
    expected.sort();
    assert_eq!(found("shared@example.com").await, expected.into_iter().map(|(_, name)| name).collect::<Vec<_>>());
    store.update_user(jo.id, UserUpdate::Email(Some("jo@example.com".into()))).await.unwrap();
    assert_eq!(found("jo@example.com").await, ["jo"]);
    store.update_user(jo.id, UserUpdate::Email(None)).await.unwrap();
    assert!(found("jo@example.com").await.is_empty(), "a removed address finds no one");
    store.update_user(kim.id, UserUpdate::DisplayName(Some("Kim".into()))).await.unwrap();
    assert_eq!(found("Ärger@example.com").await, ["kim"], "other changes keep the entry");
    store.delete_user(first.id).await.unwrap();
    assert_eq!(found("shared@example.com").await, [ida.username.as_str()]);
}

/// The e-mail fields: a new address is unverified; a verification counts only for the address
/// the account has; digest settings and the last digest's time are kept.
pub async fn email_updates_verify_only_the_current_address<S: Store>(store: Arc<S>) {
    let fay = user("fay");
    store.insert_user(&fay, "h").await.unwrap();
    let stale = store.update_user(fay.id, UserUpdate::EmailVerified("old@example.com".into())).await.unwrap();
    assert!(!stale.unwrap().email_verified, "not the account's address");
    let verified = store.update_user(fay.id, UserUpdate::EmailVerified("fay@example.com".into())).await.unwrap();
    assert!(verified.unwrap().email_verified);
    let moved = store.update_user(fay.id, UserUpdate::Email(Some("new@example.com".into()))).await.unwrap().unwrap();
    assert_eq!((moved.email.as_deref(), moved.email_verified), (Some("new@example.com"), false));
    store.update_user(fay.id, UserUpdate::DigestsOff(true)).await.unwrap();
    store.update_user(fay.id, UserUpdate::DigestedAt(Timestamp(77))).await.unwrap();
    let stored = store.user(fay.id).await.unwrap().unwrap();
    let expected = User {
        email: Some("new@example.com".into()),
        digests_off: true,
        digested_at: Some(Timestamp(77)),
        ..fay.clone()
    };
    assert_eq!(stored, expected);
    let removed = store.update_user(fay.id, UserUpdate::Email(None)).await.unwrap().unwrap();
    assert_eq!((removed.email, removed.email_verified), (None, false));
    let verified = store.update_user(fay.id, UserUpdate::EmailVerified("new@example.com".into())).await.unwrap();
    assert!(!verified.unwrap().email_verified, "no address, nothing verified");
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
