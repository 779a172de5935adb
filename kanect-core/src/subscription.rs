//! [`Subscription`]: one device's live event stream, with resume by cursor.
//!
//! The stream is a bounded queue fed by the hub. Two things make it exactly-once for
//! messages:
//!
//! - **Resume.** [`Subscription::resume`] loads what the device missed after its cursors from
//!   the store. The device was registered *before* the load, so a message committed during
//!   the load arrives live as well; the subscription remembers the last seq it yielded per
//!   conversation and skips a live copy at or below it.
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
    /// Per resumed conversation, the seq up to which messages came (or will come) from the
    /// store: a live copy at or below it is a duplicate. Live fan-out itself is exactly-once
    /// and in order, so nothing else is filtered.
    resumed: HashMap<ConversationId, Seq>,
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
            resumed: HashMap::new(),
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
            if let Some(delivery) = self.poll_ready() {
                return delivery;
            }
            let delivery = self.rx.recv().await?;
            if let Some(delivery) = self.admit(delivery) {
                return Some(delivery);
            }
        }
    }

    /// The next event if one is ready now, without waiting: `Some(None)` means the stream
    /// ended, `None` means nothing is ready.
    pub fn try_next(&mut self) -> Option<Option<Delivery>> {
        loop {
            if let Some(delivery) = self.poll_ready() {
                return Some(delivery);
            }
            match self.rx.try_recv() {
                Ok(delivery) => {
                    if let Some(delivery) = self.admit(delivery) {
                        return Some(Some(delivery));
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => return None,
                Err(mpsc::error::TryRecvError::Disconnected) => return Some(None),
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

    /// Filters a queued delivery: drops live copies of messages already yielded.
    fn admit(&mut self, delivery: Delivery) -> Option<Delivery> {
        match delivery.event() {
            Event::Message { message }
                if self.resumed.get(&message.conversation).is_some_and(|through| message.seq <= *through) =>
            {
                None
            }
            Event::SessionEnded { .. } => {
                // The device's `ended` flag carries the reason; poll_ready yields it.
                self.poll_ready().flatten()
            }
            _ => Some(delivery),
        }
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
            let through = self.resumed.get(&conversation).copied().unwrap_or(Seq::ZERO).max(seq);
            // The device is registered, so a message written after this read arrives live; one
            // written before it and routed later is dropped as a duplicate (`resumed`).
            let page = self.chat.store().history(conversation, HistoryPage::After(through), RESUME_BATCH).await?;
            truncated |= page.len() == RESUME_BATCH;
            let last = page.last().map_or(through, |m| m.seq);
            self.resumed.insert(conversation, last);
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
