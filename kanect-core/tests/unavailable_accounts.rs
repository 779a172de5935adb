//! Disabled and deleted accounts: a direct conversation with one takes no new messages
//! (`recipient_unavailable`, nothing stored), a disabled one cannot be added to a group or a new
//! direct conversation, and what was written before stays readable.

mod support;

use kanect_core::{Caller, Chat, HistoryPage, Registration, User};
use support::*;

/// An administrator, to disable and delete accounts.
async fn admin(chat: &Chat) -> Caller {
    let root = chat.create_admin(Registration::new("root", "the admin password")).await.unwrap();
    chat.act_as(root.id).await.unwrap()
}

#[tokio::test]
async fn a_direct_conversation_with_a_disabled_account_takes_no_new_messages_until_it_is_enabled() {
    let chat = chat().await;
    let root = admin(&chat).await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, _) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let before = chat.send(&alice, direct.id, "c1", "hi bob").await.unwrap();
    chat.set_disabled(&root, bob_user.id, true).await.unwrap();

    assert_eq!(code(chat.send(&alice, direct.id, "c2", "are you there?").await), "recipient_unavailable");
    let history = chat.history(&alice, direct.id, HistoryPage::Latest, 10).await.unwrap();
    assert_eq!(history, vec![before], "nothing stored, what was there stays readable");
    assert_eq!(code(chat.open_direct(&alice, bob_user.id).await), "recipient_unavailable");

    chat.set_disabled(&root, bob_user.id, false).await.unwrap();
    chat.send(&alice, direct.id, "c2", "welcome back").await.unwrap();
    chat.open_direct(&alice, bob_user.id).await.unwrap();
}

#[tokio::test]
async fn a_direct_conversation_with_a_deleted_account_stays_readable_and_takes_no_new_messages() {
    let chat = chat().await;
    let root = admin(&chat).await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let said = chat.send(&bob, direct.id, "b1", "bye").await.unwrap();
    chat.delete_user(&root, bob_user.id).await.unwrap();

    assert_eq!(code(chat.send(&alice, direct.id, "c1", "hello?").await), "recipient_unavailable");
    assert_eq!(chat.history(&alice, direct.id, HistoryPage::Latest, 10).await.unwrap(), vec![said]);
    assert_eq!(code(chat.open_direct(&alice, bob_user.id).await), "user_not_found");
}

#[tokio::test]
async fn a_disabled_account_cannot_be_added_to_a_group_and_one_already_in_does_not_stop_it() {
    let chat = chat().await;
    let root = admin(&chat).await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, _) = user(&chat, "bob").await;
    let (carol_user, _) = user(&chat, "carol").await;
    let group = chat.create_group(&alice, "crew", &[carol_user.id]).await.unwrap();
    chat.set_disabled(&root, bob_user.id, true).await.unwrap();
    chat.set_disabled(&root, carol_user.id, true).await.unwrap();

    assert_eq!(code(chat.create_group(&alice, "with bob", &[bob_user.id]).await), "recipient_unavailable");
    assert_eq!(chat.conversations(&alice, None, 50).await.unwrap().conversations.len(), 1, "no group was made");
    assert_eq!(code(chat.add_member(&alice, group.id, bob_user.id).await), "recipient_unavailable");
    let members = chat.conversation(&alice, group.id).await.unwrap().conversation.members;
    assert!(!members.contains(&bob_user.id));
    // Carol was in before she was disabled: the group still takes messages.
    chat.send(&alice, group.id, "g1", "still talking").await.unwrap();

    let deleted: User = chat.register(Registration::new("dave", "correct horse")).await.unwrap();
    chat.delete_user(&root, deleted.id).await.unwrap();
    assert_eq!(code(chat.add_member(&alice, group.id, deleted.id).await), "user_not_found");
}
