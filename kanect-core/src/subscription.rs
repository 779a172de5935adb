//! [`Subscription`]: one device's live event stream, with resume by cursor.
//!
//! The stream is a bounded queue fed by the hub. For messages it is exactly-once and in seq
//! order per conversation, whatever the path they took:
//!
//! - **Spans.** The subscription remembers, per conversation, the seqs it has handed out
//!   (above a base: the newest seq when it subscribed, or when an [`Event::Conversation`] said
//!   the user joined). A live message inside the span is a duplicate (it came from the store
//!   first); the next seq extends it; a message beyond the next seq means some were never
//!   routed here or are still on another node's path, so the gap is **filled from the store**
//!   first (the store holds every seq below one it holds). A message at or below the base —
//!   committed before the device subscribed but routed after — is passed on once.
//! - **Resume.** [`Subscription::resume`] loads what the device missed after its cursors from
//!   the store. The device was registered *before* the load, so a message committed during
//!   the load arrives live as well, and falls inside the span.
//! - **Lag.** When the queue overflows the hub stops feeding the device; once the consumer has
//!   drained what was queued it receives [`Event::Resync`], and a `resume` with its cursors
//!   fills the gap from the store.

use crate::chat::{Caller, Chat};
use crate::error::{Error, Invalid, Result};
use crate::event::{Delivery, Event};
use crate::hub::Device;
use crate::id::{ConversationId, Seq, UserId};
use crate::model::Message;
use crate::store::HistoryPage;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The seqs of one conversation this subscription has handed out: `base` (exclusive) to
/// `high` (inclusive). Seqs up to `base` predate it (the device has them from history or its
/// own cursor) unless one turns up live, late.
#[derive(Clone, Copy, Debug)]
struct Span {
    base: Seq,
    high: Seq,
}

impl Span {
    /// Nothing handed out yet; everything up to `seq` is history.
    fn from(seq: Seq) -> Span {
        Span { base: seq, high: seq }
    }

    fn handed(&self, seq: Seq) -> bool {
        seq > self.base && seq <= self.high
    }
}

/// What to do with a queued delivery.
enum Admit {
    Pass(Delivery),
    Skip,
    /// A message beyond the span's next seq: fill the gap first.
    Gap(Message),
}

/// How many missed messages one resume loads per conversation; beyond it the device gets a
/// [`Event::Resync`] after them and resumes again from where it got to.
pub const RESUME_BATCH: usize = 1000;

/// How many users one device may follow the presence of.
pub const WATCH_MAX: usize = 1000;

/// A device's live event stream. Dropping it disconnects the device (and, for the user's last
/// device, announces them offline).
///
/// # Backpressure
/// Each subscription has a bounded queue (`ChatConfig::device_queue`). A consumer that falls
/// behind is never waited for: it is sent [`Event::Resync`] once it has caught up with what
/// was queued, and should then [`resume`](Subscription::resume) with its cursors.
pub struct Subscription {
    chat: Chat,
    caller: Caller,
    device: Arc<Device>,
    rx: mpsc::Receiver<Delivery>,
    backlog: VecDeque<Message>,
    /// Per conversation, the seqs handed out (or queued in `backlog`).
    spans: HashMap<ConversationId, Span>,
    /// A live message waiting for the seqs before it to be fetched from the store.
    gap: Option<Message>,
    /// Set when a resume was cut at [`RESUME_BATCH`]: a resync follows the backlog.
    resync_after_backlog: bool,
    ended: bool,
}

impl Subscription {
    /// A subscription for a device already registered; `known` holds the newest seq of each
    /// of the caller's conversations as of registration: anything after it comes live.
    pub(crate) fn new(
        chat: Chat,
        caller: Caller,
        device: Arc<Device>,
        rx: mpsc::Receiver<Delivery>,
        known: Vec<(ConversationId, Seq)>,
    ) -> Self {
        Subscription {
            chat,
            caller,
            device,
            rx,
            backlog: VecDeque::new(),
            spans: known.into_iter().map(|(id, seq)| (id, Span::from(seq))).collect(),
            gap: None,
            resync_after_backlog: false,
            ended: false,
        }
    }

    /// Who this device belongs to.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The next event, waiting for one if none is queued. `None` once the session has ended
    /// (after its [`Event::SessionEnded`]) or the engine is gone.
    pub async fn next(&mut self) -> Option<Delivery> {
        loop {
            if let Some(message) = self.gap.take() {
                self.fill_gap(message).await;
            }
            if let Some(delivery) = self.poll_ready() {
                return delivery;
            }
            let delivery = self.rx.recv().await?;
            match self.admit(delivery) {
                Admit::Pass(delivery) => return Some(delivery),
                Admit::Skip => {}
                Admit::Gap(message) => self.gap = Some(message),
            }
        }
    }

    /// The next event if one is ready now, without waiting: `Some(None)` means the stream
    /// ended, `None` means nothing is ready.
    pub fn try_next(&mut self) -> Option<Option<Delivery>> {
        loop {
            if self.gap.is_some() {
                return None; // needs the store: `next` fills it
            }
            if let Some(delivery) = self.poll_ready() {
                return Some(delivery);
            }
            match self.rx.try_recv() {
                Ok(delivery) => match self.admit(delivery) {
                    Admit::Pass(delivery) => return Some(Some(delivery)),
                    Admit::Skip => {}
                    Admit::Gap(message) => self.gap = Some(message),
                },
                Err(mpsc::error::TryRecvError::Empty) => return None,
                Err(mpsc::error::TryRecvError::Disconnected) => return Some(None),
            }
        }
    }

    /// Queues the messages between the span and `message` from the store, then `message`.
    /// If the store fails, the device is told to resync instead.
    async fn fill_gap(&mut self, message: Message) {
        let conversation = message.conversation;
        let high = self.spans.get(&conversation).map_or(Seq::ZERO, |span| span.high);
        let missing = (message.seq.0 - high.0 - 1).min(RESUME_BATCH as u64) as usize;
        match self.chat.store().history(conversation, HistoryPage::After(high), missing).await {
            Ok(page) => {
                self.backlog.extend(page.into_iter().filter(|m| m.seq < message.seq));
                self.backlog.push_back(message);
            }
            Err(error) => {
                tracing::warn!(%error, "could not fill a gap from the store; asking the device to resync");
                self.resync_after_backlog = true;
            }
        }
    }

    /// What is ready without touching the queue: the end, the backlog, a pending resync.
    fn poll_ready(&mut self) -> Option<Option<Delivery>> {
        if self.ended {
            return Some(None);
        }
        if let Some(reason) = self.device.ended.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            self.ended = true;
            return Some(Some(Delivery::new(Event::SessionEnded { reason })));
        }
        if let Some(message) = self.backlog.pop_front() {
            self.mark(&message);
            return Some(Some(Delivery::new(Event::Message { message })));
        }
        if std::mem::take(&mut self.resync_after_backlog) {
            return Some(Some(Delivery::new(Event::Resync)));
        }
        if self.rx.is_empty() && self.device.lagged.swap(false, Ordering::AcqRel) {
            return Some(Some(Delivery::new(Event::Resync)));
        }
        None
    }

    /// Sorts a queued delivery: pass it on, skip a duplicate, or fill a gap first.
    fn admit(&mut self, delivery: Delivery) -> Admit {
        match delivery.event() {
            Event::Message { message } => {
                let seq = message.seq;
                match self.spans.get_mut(&message.conversation) {
                    None => {
                        self.spans.insert(message.conversation, Span { base: Seq(seq.0 - 1), high: seq });
                        Admit::Pass(delivery)
                    }
                    Some(span) if span.handed(seq) => Admit::Skip,
                    Some(span) if seq <= span.base => {
                        // Committed before this subscription began, routed after it (or late
                        // from another node's path): live all the same, and only once.
                        if seq == span.base {
                            span.base = Seq(seq.0 - 1);
                        }
                        Admit::Pass(delivery)
                    }
                    Some(span) if seq == span.high.next() => {
                        span.high = seq;
                        Admit::Pass(delivery)
                    }
                    Some(_) => Admit::Gap(message.clone()),
                }
            }
            Event::Conversation { conversation, last_seq } => {
                // Joined (or created) now: what came before is history, not live.
                self.spans.entry(conversation.id).or_insert(Span::from(*last_seq));
                Admit::Pass(delivery)
            }
            Event::SessionEnded { .. } => match self.poll_ready().flatten() {
                // The device's `ended` flag carries the reason; poll_ready yields it.
                Some(ended) => Admit::Pass(ended),
                None => Admit::Skip,
            },
            _ => Admit::Pass(delivery),
        }
    }

    /// Records a message handed out from the store.
    fn mark(&mut self, message: &Message) {
        let span = self.spans.entry(message.conversation).or_insert(Span::from(Seq(message.seq.0 - 1)));
        span.high = span.high.max(message.seq);
    }

    /// Queues every message after each cursor (the last seq the device has, per
    /// conversation), oldest first, ahead of live events; later live copies are skipped.
    ///
    /// # Errors
    /// `conversation_not_found` for a conversation the caller cannot read
    /// (nothing is queued then); `unavailable` if the store fails.
    pub async fn resume(&mut self, cursors: impl IntoIterator<Item = (ConversationId, Seq)>) -> Result<()> {
        let cursors: Vec<(ConversationId, Seq)> = cursors.into_iter().collect();
        if cursors.len() > WATCH_MAX {
            return Err(Error::invalid("cursors", Invalid::TooLong));
        }
        let mut loaded = Vec::new();
        let mut truncated = false;
        for (conversation, seq) in cursors {
            self.chat.member_conversation(&self.caller, conversation).await?;
            let span = self.spans.get(&conversation).copied().unwrap_or(Span::from(seq));
            // The device is registered, so a message written after this read arrives live; one
            // written before it and routed later falls inside the span and is skipped.
            let page = self.chat.store().history(conversation, HistoryPage::After(seq), RESUME_BATCH).await?;
            truncated |= page.len() == RESUME_BATCH;
            let page: Vec<Message> = page.into_iter().filter(|m| !span.handed(m.seq)).collect();
            let high = page.last().map_or(span.high, |m| m.seq.max(span.high));
            // Now the device has everything up to its cursor, and was handed the rest to `high`.
            self.spans.insert(conversation, Span { base: seq, high: high.max(seq) });
            loaded.extend(page);
        }
        self.backlog.extend(loaded);
        self.resync_after_backlog |= truncated;
        Ok(())
    }

    /// Follows the presence of these users (replacing the previous list): their online and
    /// offline changes arrive as [`Event::Presence`]. Members of the caller's conversations
    /// are followed without asking.
    ///
    /// # Errors
    /// `too_long` for more than [`WATCH_MAX`] users.
    pub fn watch_presence(&self, users: Vec<UserId>) -> Result<()> {
        if users.len() > WATCH_MAX {
            return Err(Error::invalid("users", Invalid::TooLong));
        }
        self.chat.hub().set_watch(&self.device, users);
        Ok(())
    }

    /// Adds to the users whose presence is followed (see [`Subscription::watch_presence`]):
    /// cheaper than sending the whole list again when a few users are new.
    ///
    /// # Errors
    /// `too_long` if more than [`WATCH_MAX`] users would then be followed; the list is left
    /// as it was.
    pub fn watch_more_presence(&self, users: Vec<UserId>) -> Result<()> {
        if !self.chat.hub().add_watch(&self.device, users, WATCH_MAX) {
            return Err(Error::invalid("users", Invalid::TooLong));
        }
        Ok(())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.chat.device_left(&self.device);
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("user", &self.caller.user()).field("device", &self.device.id).finish()
    }
}
