//! Records as one reader sees them: a user with their presence, a conversation with its
//! member's unread count and receipts, a user as an administrator sees them.
//!
//! A view is its record's fields and a few more, side by side in one JSON object (serde's
//! `flatten`), so a client that knows the record reads a view with the same code. PROTOCOL.md's
//! "Records" section describes them.

use crate::ids::Seq;
use crate::records::{Conversation, Message, Presence, Receipt, User};
use serde::{Deserialize, Serialize};

/// A user as other users see them (`GET /users`, `GET /users/{id}`): the record without
/// `email`, and whether they are online.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct UserView {
    /// The user; `email` left out.
    #[serde(flatten)]
    pub user: User,
    /// Online now, and when last seen.
    pub presence: Presence,
}

/// A user as an administrator sees them (`GET /admin/users`): the whole record, presence, and
/// how many conversations they are in.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AdminUserView {
    /// The user, `email` included.
    #[serde(flatten)]
    pub user: User,
    /// Online now, and when last seen.
    pub presence: Presence,
    /// How many conversations the user is in.
    pub conversations: u64,
}

/// A conversation as one of its members sees it in their list (`GET /conversations`,
/// `GET /conversations/{id}`).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ConversationView {
    /// The conversation.
    #[serde(flatten)]
    pub conversation: Conversation,
    /// The newest message's seq (`0`: none yet).
    pub last_seq: Seq,
    /// The newest message, for a list's preview line.
    pub last_message: Option<Message>,
    /// Messages from others after the reader's read mark, capped at 100 ("99+" in a UI).
    pub unread: u64,
    /// Those of them that mention the reader.
    #[serde(default)]
    pub unread_mentions: u64,
    /// Every member's delivered and read marks.
    pub receipts: Vec<Receipt>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConversationKind, Role, Timestamp};
    use serde_json::json;
    use uuid::Uuid;

    #[test]
    fn a_view_is_its_record_with_fields_beside_it() {
        let user = User {
            id: Uuid::nil().into(),
            username: "bob".into(),
            display_name: None,
            email: None,
            role: Role::User,
            created_at: Timestamp(5),
            disabled: false,
            last_seen: Some(Timestamp(7)),
            email_verified: false,
            digests_off: false,
            status: None,
            avatar: None,
        };
        let presence = Presence { user: user.id, online: true, away: false, last_seen: None };
        let view = UserView { user, presence };
        let json = serde_json::to_value(&view).unwrap();
        let nil = Uuid::nil().to_string();
        assert_eq!(
            json,
            json!({"id": nil, "username": "bob", "display_name": null, "role": "user", "created_at": 5,
                   "disabled": false, "last_seen": 7, "presence": {"user": nil, "online": true, "last_seen": null}})
        );
        assert_eq!(serde_json::from_value::<UserView>(json).unwrap(), view);
    }

    #[test]
    fn a_conversation_view_reads_back() {
        let conversation = Conversation {
            id: Uuid::nil().into(),
            kind: ConversationKind::Direct,
            name: None,
            owner: None,
            members: vec![Uuid::nil().into()],
            created_at: Timestamp(1),
        };
        let view = ConversationView {
            conversation,
            last_seq: Seq(0),
            last_message: None,
            unread: 0,
            unread_mentions: 0,
            receipts: vec![],
        };
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!((json["kind"].clone(), json["last_message"].clone()), (json!("direct"), json!(null)));
        assert_eq!(serde_json::from_value::<ConversationView>(json).unwrap(), view);
    }
}
