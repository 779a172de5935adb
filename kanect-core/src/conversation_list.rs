//! The caller's conversations as a list: most recently active first, in pages, each with its
//! newest message, unread count and receipts.
//!
//! One account may be in thousands of groups (anyone may add it to theirs), so the list is read
//! a page at a time ([`Chat::conversations`]) and no answer grows with the account.
//!
//! **Order.** A conversation's *activity* is when its newest message was sent, or when it was
//! created if it has none; the list is by activity, newest first, ties by id (both descending).
//!
//! **Empty direct conversations are not listed**, for either member: opening one is looking
//! someone up, not talking to them, and must not show on their side ("No messages yet" in
//! their list) before anything is said. Its first message brings it into both lists; the
//! opener reads it meanwhile by its id ([`Chat::conversation`]).
//!
//! **Cursor.** A page's `next` is the position of its last conversation in that order (its
//! activity and id), not an offset, and the next page holds the conversations that sort after
//! it *when that page is read*. So, while a client pages and conversations keep moving:
//! - no conversation comes on two pages: activity only grows (a new message), which moves a
//!   conversation towards the front, behind the cursor;
//! - every conversation whose activity did not change while paging comes exactly once;
//! - one that became active after its page position was passed, or that the caller joined
//!   meanwhile, may be missing from the later pages: its `message` or `conversation` event tells
//!   the client of it (the web app reads a conversation it does not know when an event names
//!   it).
//!
//! The exception is a message stamped earlier than the one before it, as when two nodes'
//! clocks disagree: its conversation moves *back*, and may then come twice (clients keep
//! conversations by id).
//!
//! **Cost.** Ordering reads one record per conversation of the caller (its newest message, or
//! the conversation itself when it has none); only the page's conversations are then read in
//! full (members, receipts, unread count). So the answer is bounded by the page, and the work
//! grows with the account by one point read per conversation. A per-user activity index in
//! every store would make the work independent of the account's size, at the price of a storage
//! format change and a second write on every send; not worth it while the reads are point reads.

use crate::chat::{Caller, Chat};
use crate::error::{Error, Invalid, Result};
use crate::id::{ConversationId, Seq};
use crate::model::{Conversation, ConversationKind, Message, Receipt, Timestamp};
use crate::store::HistoryPage;
use crate::validate;
use serde::{Serialize, Serializer};
use std::str::FromStr;

/// Unread counts stop at this many ("99+" in a UI).
pub const UNREAD_CAP: usize = 100;

/// A conversation as its member sees it in a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConversationView {
    /// The conversation.
    #[serde(flatten)]
    pub conversation: Conversation,
    /// Seq of the newest message.
    pub last_seq: Seq,
    /// The newest message, if any.
    pub last_message: Option<Message>,
    /// Messages from others after the caller's read mark, up to [`UNREAD_CAP`] (system lines
    /// are never unread).
    pub unread: usize,
    /// Those of them that mention the caller (counted among the first [`UNREAD_CAP`] unread).
    pub unread_mentions: usize,
    /// Every member's delivered/read marks.
    pub receipts: Vec<Receipt>,
}

/// A position in the conversation list (see the module docs): where the next page starts.
/// Written as text for clients, who hand it back unchanged.
///
/// ```
/// use kanect_core::ConversationCursor;
/// let text = "1764550000123_0193a000-0000-7000-8000-000000000000";
/// let cursor: ConversationCursor = text.parse()?;
/// assert_eq!(cursor.to_string(), text);
/// # Ok::<_, kanect_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConversationCursor {
    /// First in the order: newest activity first.
    activity: Timestamp,
    /// Then by id, for conversations equally recent.
    id: ConversationId,
}

impl std::fmt::Display for ConversationCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.activity.0, self.id)
    }
}

impl FromStr for ConversationCursor {
    type Err = Error;

    /// # Errors
    /// `malformed` (field `after`) for anything but a cursor this engine wrote.
    fn from_str(text: &str) -> Result<Self> {
        let malformed = || Error::invalid("after", Invalid::Malformed);
        let (activity, id) = text.split_once('_').ok_or_else(malformed)?;
        let activity = Timestamp(activity.parse().map_err(|_| malformed())?);
        let id = id.parse().map_err(|_| malformed())?;
        Ok(ConversationCursor { activity, id })
    }
}

impl Serialize for ConversationCursor {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One page of the conversation list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConversationPage {
    /// Most recently active first.
    pub conversations: Vec<ConversationView>,
    /// Where the next page starts; None on the last page (no conversation sorts after these).
    pub next: Option<ConversationCursor>,
}

/// A conversation placed in the order, with what was read to place it.
struct Placed {
    at: ConversationCursor,
    newest: Option<Message>,
    /// Read to place an empty conversation (by its creation time).
    record: Option<Conversation>,
}

impl Placed {
    /// A direct conversation nobody has written in yet: not listed (see the module docs).
    fn is_empty_direct(&self) -> bool {
        self.record.as_ref().is_some_and(|record| record.kind == ConversationKind::Direct)
    }
}

impl Chat {
    /// One conversation the caller belongs to, with unread count and receipts.
    ///
    /// # Errors
    /// `conversation_not_found` (also for one the caller is not in), `unavailable`.
    pub async fn conversation(&self, caller: &Caller, id: ConversationId) -> Result<ConversationView> {
        let conversation = self.member_conversation(caller, id).await?;
        let newest = self.store().history(id, HistoryPage::Latest, 1).await?.pop();
        self.conversation_view(caller, conversation, newest).await
    }

    /// A page of the caller's conversations, most recently active first: the first `limit`,
    /// or the `limit` after a cursor (a previous page's `next`). See the module docs for what
    /// the cursor guarantees while conversations keep moving.
    ///
    /// # Errors
    /// `out_of_range` limit (1–200); `unavailable`.
    pub async fn conversations(
        &self,
        caller: &Caller,
        after: Option<ConversationCursor>,
        limit: usize,
    ) -> Result<ConversationPage> {
        let limit = validate::limit(limit)?;
        let mut placed = Vec::new();
        for id in self.store().conversations_of(caller.user()).await? {
            if let Some(place) = self.place(id).await? {
                if place.is_empty_direct() {
                    continue;
                }
                if after.is_none_or(|after| place.at < after) {
                    placed.push(place);
                }
            }
        }
        placed.sort_unstable_by_key(|place| std::cmp::Reverse(place.at));
        let next = (placed.len() > limit).then(|| placed[limit - 1].at);
        placed.truncate(limit);
        let mut conversations = Vec::with_capacity(placed.len());
        for Placed { at, newest, record } in placed {
            let record = match record {
                Some(record) => Some(record),
                None => self.store().conversation(at.id).await?,
            };
            // Left or removed since the list of ids was read: not the caller's any more.
            let Some(conversation) = record.filter(|c| c.has_member(caller.user())) else { continue };
            conversations.push(self.conversation_view(caller, conversation, newest).await?);
        }
        Ok(ConversationPage { conversations, next })
    }

    /// Where a conversation goes in the list; None if it is gone.
    async fn place(&self, id: ConversationId) -> Result<Option<Placed>> {
        let newest = self.store().history(id, HistoryPage::Latest, 1).await?.pop();
        if let Some(message) = newest {
            let at = ConversationCursor { activity: message.sent_at, id };
            return Ok(Some(Placed { at, newest: Some(message), record: None }));
        }
        Ok(self.store().conversation(id).await?.map(|record| Placed {
            at: ConversationCursor { activity: record.created_at, id },
            newest: None,
            record: Some(record),
        }))
    }

    /// The view of a conversation the caller is in, whose newest message is `newest`.
    async fn conversation_view(
        &self,
        caller: &Caller,
        conversation: Conversation,
        newest: Option<Message>,
    ) -> Result<ConversationView> {
        let id = conversation.id;
        let last_seq = newest.as_ref().map_or(Seq::ZERO, |m| m.seq);
        let receipts = self.store().receipts(id).await?;
        let read = receipts.iter().find(|r| r.user == caller.user()).map_or(Seq::ZERO, |r| r.read);
        let (unread, unread_mentions) = if read >= last_seq {
            (0, 0)
        } else {
            let after = self.store().history(id, HistoryPage::After(read), UNREAD_CAP).await?;
            let unread: Vec<&Message> =
                after.iter().filter(|m| m.sender != caller.user() && !m.deleted && m.event.is_none()).collect();
            (unread.len(), unread.iter().filter(|m| m.mentions(caller.user())).count())
        };
        Ok(ConversationView { conversation, last_seq, last_message: newest, unread, unread_mentions, receipts })
    }
}
