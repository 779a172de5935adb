//! Everything the engine keeps survives closing and reopening a [`SledStore`] (and a
//! `FjallStore`, feature `fjall`).

use kanect_core::backend::{Store, UserQuery};
use kanect_core::{
    Chat, ChatConfig, GroupEvent, HistoryPage, PasswordCost, ReceiptKind, Registration, Role, Seq, SessionToken,
};
use std::path::Path;
use std::sync::Arc;

/// An engine on the store that `open` opens at `path`, and the store, to look at what it holds.
async fn engine<S: Store>(open: fn(&Path) -> S, path: &Path) -> (Chat, Arc<S>) {
    let config = ChatConfig { password_cost: PasswordCost::INSECURE_FAST, ..Default::default() };
    let store = Arc::new(open(path));
    (Chat::builder_shared(store.clone()).config(config).build().await.unwrap(), store)
}

#[cfg(feature = "sled")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_survives_close_and_reopen() {
    survives_close_and_reopen(|path| kanect_store::SledStore::open(path).unwrap()).await;
}

#[cfg(feature = "fjall")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_survives_close_and_reopen_in_fjall() {
    survives_close_and_reopen(|path| kanect_store::FjallStore::open(path).unwrap()).await;
}

/// Writes a bit of everything through an engine, closes it, opens the directory again and
/// checks that everything is there.
async fn survives_close_and_reopen<S: Store>(open: fn(&Path) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kanect-data");

    // First life: write a bit of everything.
    let (chat, store) = engine(open, &path).await;
    let admin = chat.create_admin(Registration::new("root", "admin-secret-pw")).await.unwrap();
    let mut registration = Registration::new("alice", "alice-secret-pw");
    registration.display_name = Some("Alice A.".into());
    let alice = chat.register(registration).await.unwrap();
    let bob = chat.register(Registration::new("bob", "bob-secret-pw")).await.unwrap();
    let carol = chat.register(Registration::new("carol", "carol-secret-pw")).await.unwrap();
    let login = chat.login("alice", "alice-secret-pw").await.unwrap();
    let token: SessionToken = login.token.clone();
    let as_alice = chat.authenticate(token.as_str()).await.unwrap();
    let as_bob = chat.act_as(bob.id).await.unwrap();
    let as_admin = chat.act_as(admin.id).await.unwrap();

    let direct = chat.open_direct(&as_alice, bob.id).await.unwrap();
    let group = chat.create_group(&as_alice, "team", &[bob.id]).await.unwrap();
    chat.add_member(&as_alice, group.id, carol.id).await.unwrap();
    for i in 1..=5 {
        chat.send(&as_alice, direct.id, &format!("d{i}"), &format!("direct {i}")).await.unwrap();
    }
    let edited = chat.send(&as_bob, group.id, "g1", "first draft").await.unwrap();
    chat.edit(&as_bob, edited.id, "final text").await.unwrap();
    let doomed = chat.send(&as_alice, group.id, "g2", "oops").await.unwrap();
    chat.delete(&as_alice, doomed.id).await.unwrap();
    chat.mark(&as_bob, direct.id, ReceiptKind::Read, Seq(4)).await.unwrap();
    chat.set_disabled(&as_admin, carol.id, true).await.unwrap();
    let audit_before = chat.audit_log(&as_admin, None, 10).await.unwrap();
    assert!(!audit_before.is_empty());
    let stats_before = store.stats().await.unwrap();
    drop((chat, store, as_alice, as_bob, as_admin));

    // Second life: the same directory, a new store and engine.
    let (chat, store) = engine(open, &path).await;
    let as_alice = chat.authenticate(token.as_str()).await.expect("session survives");
    assert_eq!(as_alice.user(), alice.id);
    let me = chat.me(&as_alice).await.unwrap();
    assert_eq!(me.display_name.as_deref(), Some("Alice A."));
    chat.login("bob", "bob-secret-pw").await.expect("password hash survives");
    let as_admin = chat.act_as(admin.id).await.unwrap();
    assert_eq!(chat.me(&as_admin).await.unwrap().role, Role::Admin);
    let carol_now = store.user(carol.id).await.unwrap().unwrap();
    assert!(carol_now.disabled);
    let users = store.users(&UserQuery { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(users.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(), ["alice", "bob", "carol", "root"]);

    let mut conversations = chat.conversations(&as_alice, None, 50).await.unwrap().conversations;
    conversations.sort_by_key(|view| view.conversation.id);
    let mut expected = vec![direct.id, group.id];
    expected.sort();
    assert_eq!(conversations.iter().map(|v| v.conversation.id).collect::<Vec<_>>(), expected);
    let stored_group = store.conversation(group.id).await.unwrap().unwrap();
    assert!(stored_group.has_member(carol.id) && stored_group.has_member(bob.id));
    assert_eq!(stored_group.name.as_deref(), Some("team"));

    let history = chat.history(&as_alice, direct.id, HistoryPage::Latest, 50).await.unwrap();
    assert_eq!(
        history.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        (1..=5).map(|i| format!("direct {i}")).collect::<Vec<_>>()
    );
    let group_history = chat.history(&as_alice, group.id, HistoryPage::Latest, 50).await.unwrap();
    // The system lines survive: created, and carol added.
    assert_eq!(group_history[0].event, Some(GroupEvent::Created { name: "team".into() }));
    assert_eq!(group_history[1].event, Some(GroupEvent::Added { user: carol.id }));
    assert_eq!(group_history[2].body, "final text");
    assert!(group_history[2].edited_at.is_some());
    assert!(group_history[3].deleted && group_history[3].body.is_empty());

    let receipts = store.receipts(direct.id).await.unwrap();
    assert_eq!(receipts.iter().map(|r| (r.user, r.read)).collect::<Vec<_>>(), [(bob.id, Seq(4))]);
    assert_eq!(chat.audit_log(&as_admin, None, 10).await.unwrap(), audit_before);
    assert_eq!(store.stats().await.unwrap(), stats_before);

    // A resend after the restart is still recognised; new sends continue the sequence.
    let resent = chat.send(&as_alice, direct.id, "d5", "direct 5").await.unwrap();
    assert_eq!(resent.seq, Seq(5));
    assert_eq!(chat.send(&as_alice, direct.id, "d6", "direct 6").await.unwrap().seq, Seq(6));
}
