//! [`Subscription`]: one device's live event stream, with resume by cursor.
//!
//! The stream is a bounded queue fed by the hub. For messages it is exactly-once and in seq
//! order per conversation, whatever the path they took:
//!
//! - **Spans.** The subscription remembers, per conversation, the span of seqs it has handed
//!   out. A live message inside the span is a duplicate (it came from the store first); the
//!   next seq extends the span; a message beyond the next seq means some went missing or are
//!   still in flight on another node's path, so the gap is **filled from the store** first
//!   (the store holds every seq below one it holds). A lower seq that arrives after a higher one
//!   for a conversation first seen with that higher one is passed on, late, rather than lost.
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

/// The seqs of one conversation a device has been handed: all of `low..=high`.
#[derive(Clone, Copy, Debug)]
struct Span {
    low: Seq,
    high: Seq,
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
    pub(crate) fn new(chat: Chat, caller: Caller, device: Arc<Device>, rx: mpsc::Receiver<Delivery>) -> Self {
        Subscription {
            chat,
            caller,
            device,
            rx,
            backlog: VecDeque::new(),
            spans: HashMap::new(),
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
                        self.spans.insert(message.conversation, Span { low: seq, high: seq });
                        Admit::Pass(delivery)
                    }
                    Some(span) if seq >= span.low && seq <= span.high => Admit::Skip,
                    Some(span) if seq < span.low => {
                        // Late from another node's path, for a conversation first seen after it.
                        if seq.next() == span.low {
                            span.low = seq;
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
        let span = self.spans.entry(message.conversation).or_insert(Span { low: message.seq, high: message.seq });
        span.low = span.low.min(message.seq);
        span.high = span.high.max(message.seq);
    }

    /// Queues every message after each cursor (the last seq the device has, per
    /// conversation), oldest first, ahead of live events; later live copies are skipped.
    ///
    /// # Errors
    /// `not_member` / `conversation_not_found` for a conversation the caller cannot read
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
            let handed = self.spans.get(&conversation).map_or(Seq::ZERO, |span| span.high);
            let through = handed.max(seq);
            // The device is registered, so a message written after this read arrives live; one
            // written before it and routed later falls inside the span and is skipped.
            let page = self.chat.store().history(conversation, HistoryPage::After(through), RESUME_BATCH).await?;
            truncated |= page.len() == RESUME_BATCH;
            // The device has everything up to its cursor, and this subscription up to `through`.
            self.spans.insert(conversation, Span { low: Seq(1), high: through });
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
