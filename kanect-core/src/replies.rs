//! Replies: a message may answer an earlier message of its conversation, and shows what it
//! answers.
//!
//! A reply stores only its original's seq ([`Message::reply_to`]); the preview it is shown
//! with ([`Message::reply`]: the original's sender and first line, or that it was deleted) is
//! read from the original whenever the engine hands a reply out — in history pages, `message`,
//! `edit` and `reaction` events and acknowledgements. Stored previews would be simpler to
//! serve, but they would keep a deleted original's text alive in every reply to it (and show
//! an edited one's old text); read fresh, a preview never outlives its original. The cost is a
//! read per reply whose original is not in the same page, bounded by the page size.

use crate::chat::Chat;
use crate::error::{Denied, Error, Invalid, Result};
use crate::id::{ConversationId, Seq};
use crate::model::{Message, ReplyPreview};
use crate::store::HistoryPage;
use crate::validate::REPLY_PREVIEW_CHARS;
use std::collections::HashMap;

/// The preview of `original` as a reply to it shows it.
pub(crate) fn preview(original: &Message) -> ReplyPreview {
    if original.deleted {
        return ReplyPreview { sender: original.sender, text: String::new(), deleted: true };
    }
    let line = original.body.lines().map(str::trim).find(|line| !line.is_empty());
    let text = match line {
        Some(line) => cut(line),
        None => original.attachments.first().map(|file| cut(&file.name)).unwrap_or_default(),
    };
    ReplyPreview { sender: original.sender, text, deleted: false }
}

/// `text` cut to [`REPLY_PREVIEW_CHARS`] characters, with `…` when cut.
fn cut(text: &str) -> String {
    match text.char_indices().nth(REPLY_PREVIEW_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

impl Chat {
    /// Checks that a new message of `conversation` may reply to `seq`: an earlier message,
    /// not deleted. Returns the original.
    ///
    /// # Errors
    /// `out_of_range` (field `reply_to`) for seq 0 or a seq past the newest message;
    /// `message_deleted` (field `reply_to`) for a deleted original; `system_message` for a
    /// system line; `unavailable`.
    pub(crate) async fn reply_original(&self, conversation: ConversationId, seq: Seq) -> Result<Message> {
        let original = self.message_at(conversation, seq).await?;
        let original = original.ok_or(Error::invalid("reply_to", Invalid::OutOfRange))?;
        if original.deleted {
            return Err(Error::invalid("reply_to", Invalid::Deleted));
        }
        if original.event.is_some() {
            return Err(Error::Forbidden(Denied::SystemMessage));
        }
        Ok(original)
    }

    /// The message at `seq` of `conversation`, if there is one.
    async fn message_at(&self, conversation: ConversationId, seq: Seq) -> Result<Option<Message>> {
        let Some(before) = seq.0.checked_sub(1) else { return Ok(None) };
        let page = self.store().history(conversation, HistoryPage::After(Seq(before)), 1).await?;
        Ok(page.into_iter().next().filter(|message| message.seq == seq))
    }

    /// Fills in [`Message::reply`] for every reply among `messages` (all of one conversation,
    /// or several), from the originals among them where they are, from the store otherwise.
    pub(crate) async fn fill_reply_previews(&self, messages: &mut [Message]) -> Result<()> {
        let mut originals: HashMap<(ConversationId, Seq), ReplyPreview> =
            messages.iter().map(|m| ((m.conversation, m.seq), preview(m))).collect();
        for message in messages.iter_mut() {
            let Some(seq) = message.reply_to else { continue };
            let key = (message.conversation, seq);
            if let Some(known) = originals.get(&key) {
                message.reply = Some(known.clone());
                continue;
            }
            // A reply's original exists (the send checked it, and deletion keeps seqs); a
            // store that lost it shows the reply as one to a deleted message.
            let found = self.message_at(message.conversation, seq).await?;
            let shown = found
                .as_ref()
                .map_or_else(|| ReplyPreview { sender: message.sender, text: String::new(), deleted: true }, preview);
            message.reply = Some(shown.clone());
            originals.insert(key, shown);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{MessageId, UserId};
    use crate::model::Timestamp;

    fn message(body: &str) -> Message {
        Message {
            id: MessageId::new(),
            conversation: ConversationId::new(),
            sender: UserId::new(),
            seq: Seq(1),
            body: body.to_string(),
            client_id: "c".into(),
            sent_at: Timestamp(1),
            edited_at: None,
            deleted: false,
            attachments: Vec::new(),
            reply_to: None,
            reply: None,
            mentions: Vec::new(),
            reactions: Vec::new(),
            event: None,
        }
    }

    #[test]
    fn a_preview_is_the_first_line_cut_at_the_limit() {
        assert_eq!(preview(&message("\n  \n  lunch?  \nsecond line")).text, "lunch?");
        let long = "é".repeat(REPLY_PREVIEW_CHARS);
        assert_eq!(preview(&message(&long)).text, long, "at the limit: whole");
        let past = format!("{long}x");
        assert_eq!(preview(&message(&past)).text, format!("{long}…"), "past it: cut, marked");
        let deleted = Message { deleted: true, body: String::new(), ..message("gone") };
        let shown = preview(&deleted);
        assert!(shown.deleted && shown.text.is_empty());
    }
}
