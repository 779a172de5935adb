//! Mentions: `@username` in a body names a member, who is told apart from the rest.
//!
//! The engine reads the names when a message is sent or edited and keeps the members they
//! name in the message ([`Message::mentions`]); the body stays as written. A name is `@`
//! followed by username characters, at the start of the body or after a character that
//! cannot be in a username (so `ann@example.com` names nobody), without a trailing `.` or `-`
//! (`thanks @bob.` names bob). Names of people who are not members, or of nobody, stay plain
//! text. A conversation view counts the unread messages that mention the caller apart
//! ([`ConversationView::unread_mentions`](crate::ConversationView::unread_mentions)).

use crate::chat::Chat;
use crate::error::{Error, Invalid, Result};
use crate::id::UserId;
use crate::model::{Conversation, User};
use crate::validate::{self, MENTIONS_MAX};

/// The folded usernames `body` names with `@`, each once, in order of first use.
pub(crate) fn names(body: &str) -> Vec<String> {
    let is_name_byte = |b: u8| b.is_ascii_alphanumeric() || b"_.-".contains(&b);
    let bytes = body.as_bytes();
    let mut found: Vec<String> = Vec::new();
    for (at, _) in body.match_indices('@') {
        // `@` is ASCII, so `at` and the bytes around it are on character boundaries.
        if at > 0 && (is_name_byte(bytes[at - 1]) || bytes[at - 1] == b'@') {
            continue;
        }
        let rest = &bytes[at + 1..];
        let len = rest.iter().take_while(|&&b| is_name_byte(b)).count();
        let name = body[at + 1..at + 1 + len].trim_end_matches(['.', '-']);
        if validate::username(name).is_ok() {
            let folded = User::fold(name);
            if !found.contains(&folded) {
                found.push(folded);
            }
        }
    }
    found
}

impl Chat {
    /// The members of `conversation` that `body` names, sorted.
    ///
    /// # Errors
    /// `too_long` (field `body`) for more than [`MENTIONS_MAX`] different names;
    /// `unavailable`.
    pub(crate) async fn mentioned(&self, conversation: &Conversation, body: &str) -> Result<Vec<UserId>> {
        let names = names(body);
        if names.len() > MENTIONS_MAX {
            return Err(Error::invalid("body", Invalid::TooLong));
        }
        let mut mentioned = Vec::new();
        for name in names {
            if let Some(user) = self.store().user_by_username(&name).await? {
                if conversation.has_member(user.id) {
                    mentioned.push(user.id);
                }
            }
        }
        mentioned.sort_unstable();
        mentioned.dedup();
        Ok(mentioned)
    }
}

#[cfg(test)]
mod tests {
    use super::names;

    #[test]
    fn names_are_read_where_a_username_can_start_and_end() {
        assert_eq!(names("@Bob and @carol, also @bob"), ["bob", "carol"], "folded, once each");
        assert_eq!(names("thanks @dave. (@erin-)"), ["dave", "erin"], "a trailing . or - is punctuation");
        assert_eq!(names("mail ann@example.com"), Vec::<String>::new(), "inside a word: an address");
        assert_eq!(names("@@bob @ x @ab @_bob"), Vec::<String>::new(), "no username after the @");
        assert_eq!(names("é@bob"), ["bob"], "after a non-ASCII character");
        assert_eq!(names("**@bob**"), ["bob"]);
        assert_eq!(names(&format!("@{}", "a".repeat(33))), Vec::<String>::new(), "too long for a username");
    }
}
