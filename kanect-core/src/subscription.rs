//! [`Subscription`]: one device's live event stream, with resume by cursor.
//!
//! The stream is a bounded queue fed by the hub. For messages it is exactly-once per device,
//! and in seq order per conversation, whatever path each message took:
//!
//! - **What the device has.** Per conversation the subscription keeps the set of seqs the
//!   device has ([`SeqSet`]): those it handed out (or queued), and everything up to a cursor
//!   the device resumed from. A message in the set is never handed out again, whether it comes
//!   live, from a resume or from a gap fill. Only what was really handed out counts: the newest
//!   seq when the device subscribed (or joined) is a *floor* below which lies history the
//!   device reads itself, not a claim that it has those messages; so a resume from an older
//!   cursor still loads them.
//! - **Live messages.** The next seq above what the device has (or the floor) is passed on; one
//!   further ahead means some were never routed here or are still on another node's path, so
//!   the gap is **filled from the store** first (the store holds every seq below one it holds).
//!   One below — committed before the device subscribed, routed after — is passed on once.
//! - **Membership.** A [`Event::Conversation`] that names the caller a member after it was not
//!   (created, added, re-added) raises the floor to that event's `last_seq`: what was written
//!   while the caller was out is history, never replayed as live messages. One that no longer
//!   names the caller stops gap fills for that conversation (it may not read the store there);
//!   messages routed to it from while it was in still arrive.
//! - **Resume.** [`Subscription::resume`] loads what the device missed after its cursors from
//!   the store, skipping what it has. The device was registered *before* the load, so a message
//!   committed during the load arrives live as well, and is then skipped. A resume validates
//!   and loads everything first and changes the subscription only once nothing can fail: an
//!   error changes nothing. A cursor the caller cannot use (a conversation it cannot read, a
//!   seq past the newest) is skipped and reported, and the others are served.
//! - **Bounded memory.** What one subscription holds loaded from the store (its backlog) is at
//!   most [`RESUME_BATCH`] messages and [`RESUME_BYTES`] of text, however many cursors or
//!   resumes a client sends (repeated cursors count once, the lowest seq winning); the backlog
//!   also holds the one live message a gap fill was for, behind what it loaded. When a load is
//!   cut short, [`Event::Resync`] follows the backlog and the device resumes again from where
//!   it got to.
//! - **Lag.** When the queue overflows the hub stops feeding the device; once the consumer has
//!   drained what was queued it receives [`Event::Resync`], and a `resume` with its cursors
//!   fills the gap from the store.

use crate::chat::{Caller, Chat};
use crate::error::{AuthFailure, Error, Invalid, Result};
use crate::event::{Delivery, Event};
use crate::hub::Device;
use crate::id::{ConversationId, Seq, UserId};
use crate::model::Message;
use crate::presence::WATCH_MAX;
use crate::seq_set::SeqSet;
use crate::store::{HistoryPage, Store, StoreResult};
use crate::validate;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Most messages a subscription holds loaded from the store at once (a resume, a gap fill);
/// past it the device gets an [`Event::Resync`] after them and resumes again from where it got
/// to.
pub const RESUME_BATCH: usize = 1000;

/// Most message text (bytes of bodies) a subscription holds loaded from the store at once; see
/// [`RESUME_BATCH`]. Always more than one message's worth, so every resume makes progress.
pub const RESUME_BYTES: usize = 2 * 1024 * 1024;

/// One conversation as this subscription sees it.
#[derive(Debug)]
struct Track {
    /// The seqs the device has: handed out (or queued in the backlog), or at or below a
    /// cursor it resumed from.
    has: SeqSet,
    /// The newest seq when the device subscribed or (re)joined: below it lies history, which
    /// the device reads itself; a message there not in `has` that still turns up live is
    /// passed on once.
    floor: Seq,
    /// Whether the caller is a member, as the last word on it said (subscription, resume,
    /// `conversation` event).
    member: bool,
}

impl Track {
    fn joined(floor: Seq) -> Track {
        Track { has: SeqSet::default(), floor, member: true }
    }

    /// The highest seq the device is past: handed out, or history.
    fn top(&self) -> Seq {
        self.has.max().map_or(self.floor, |max| max.max(self.floor))
    }
}

/// What to do with a queued delivery.
enum Admit {
    Pass(Delivery),
    Skip,
    /// A message beyond the next seq: fill the gap first.
    Gap(Box<Message>),
}

/// What [`Subscription::try_next`] found.
#[derive(Debug)]
pub enum TryNext {
    /// The next event.
    Ready(Delivery),
    /// Nothing is ready without waiting: the queue is empty, or what comes next must first be
    /// read from the store. [`Subscription::next`] waits for it.
    Pending,
    /// The stream has ended: the session ended (after its [`Event::SessionEnded`]) or the
    /// engine is gone.
    Ended,
}

impl TryNext {
    /// The event, if one was ready; `None` whether the stream is pending or ended.
    pub fn into_ready(self) -> Option<Delivery> {
        match self {
            TryNext::Ready(delivery) => Some(delivery),
            TryNext::Pending | TryNext::Ended => None,
        }
    }
}

/// A resume cursor that was not served, and why.
#[derive(Debug)]
pub struct SkippedCursor {
    /// The conversation it named.
    pub conversation: ConversationId,
    /// Why: `conversation_not_found` for a conversation the caller cannot read (not a member,
    /// or none), `out_of_range` for a seq past the conversation's newest message.
    pub reason: Error,
}

/// What a [`Subscription::resume`] did: the cursors it could not serve (the others were).
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Resumed {
    /// Cursors skipped, in the order given.
    pub skipped: Vec<SkippedCursor>,
}

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
    /// Messages loaded from the store, handed out before anything from the queue.
    backlog: VecDeque<Message>,
    /// Per conversation, what the device has (see the module docs).
    tracks: HashMap<ConversationId, Track>,
    /// A live message waiting for the seqs before it to be fetched from the store.
    gap: Option<Message>,
    /// Set when a load was cut short: a resync follows the backlog.
    resync_after_backlog: bool,
    ended: bool,
}

impl Subscription {
    /// A subscription for a device just registered; it owns the device (dropping it
    /// unregisters the device). See [`Subscription::start_from`].
    pub(crate) fn new(chat: Chat, caller: Caller, device: Arc<Device>, rx: mpsc::Receiver<Delivery>) -> Self {
        Subscription {
            chat,
            caller,
            device,
            rx,
            backlog: VecDeque::new(),
            tracks: HashMap::new(),
            gap: None,
            resync_after_backlog: false,
            ended: false,
        }
    }

    /// Where the device starts: `known` holds the newest seq of each of the caller's
    /// conversations as of registration; anything after it comes live.
    pub(crate) fn start_from(&mut self, known: Vec<(ConversationId, Seq)>) {
        self.tracks = known.into_iter().map(|(id, seq)| (id, Track::joined(seq))).collect();
    }

    /// Who this device belongs to.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// Resolves once this device's session has ended (logged out, disabled, password reset,
    /// account deleted), whether or not anyone is reading the stream: a transport that holds
    /// events back (a socket waiting for its client's `resume`) closes at once all the same.
    /// The stream then yields [`Event::SessionEnded`] before anything else.
    pub fn ended(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut ended = self.device.ended.subscribe();
        async move {
            // An error means the device is gone, which ends the wait as well.
            let _ = ended.wait_for(Option::is_some).await;
        }
    }

    /// Checks that this device's session is still valid ([`Chat::verify`]); if it is not,
    /// ends the stream as a revocation does ([`Event::SessionEnded`], with the reason). What
    /// holds a device for long calls it now and then (the WebSocket server: at every ping), so
    /// that a revocation takes effect even when its own event never reached this node (a
    /// message between nodes lost), and so that a session that expires ends its sockets too.
    ///
    /// The check holds nothing of the subscription (it is `'static`), so a caller can run it
    /// beside its reading of events: with the store slow or unreachable it may take as long as
    /// the store's own timeouts, and the device keeps being served meanwhile.
    ///
    /// # Errors
    /// `unavailable` if the store fails; the stream is left as it is.
    pub fn recheck(&self) -> impl Future<Output = Result<()>> + Send + 'static {
        let (chat, caller, device) = (self.chat.clone(), self.caller.clone(), self.device.clone());
        async move {
            match chat.verify(&caller).await {
                Err(Error::Unauthorized(failure)) => {
                    let reason = match failure {
                        AuthFailure::AccountDisabled => "account_disabled",
                        AuthFailure::SessionExpired => "session_expired",
                        _ => "logged_out",
                    };
                    device.end(reason);
                    Ok(())
                }
                other => other,
            }
        }
    }

    /// The next event, waiting for one if none is queued. `None` once the session has ended
    /// (after its [`Event::SessionEnded`]) or the engine is gone.
    ///
    /// Cancel-safe: dropping the future (a `select!` that took another branch) loses nothing;
    /// the next call picks up where it left off.
    pub async fn next(&mut self) -> Option<Delivery> {
        loop {
            self.fill_gap().await;
            if let Some(delivery) = self.poll_ready() {
                return delivery;
            }
            let delivery = self.rx.recv().await?;
            match self.admit(delivery) {
                Admit::Pass(delivery) => return Some(delivery),
                Admit::Skip => {}
                Admit::Gap(message) => self.gap = Some(*message),
            }
        }
    }

    /// The next event if one is ready now, without waiting (see [`TryNext`]).
    pub fn try_next(&mut self) -> TryNext {
        loop {
            if self.gap.is_some() {
                return TryNext::Pending; // needs the store: `next` fills it
            }
            match self.poll_ready() {
                Some(Some(delivery)) => return TryNext::Ready(delivery),
                Some(None) => return TryNext::Ended,
                None => {}
            }
            match self.rx.try_recv() {
                Ok(delivery) => match self.admit(delivery) {
                    Admit::Pass(delivery) => return TryNext::Ready(delivery),
                    Admit::Skip => {}
                    Admit::Gap(message) => self.gap = Some(*message),
                },
                Err(mpsc::error::TryRecvError::Empty) => return TryNext::Pending,
                Err(mpsc::error::TryRecvError::Disconnected) => return TryNext::Ended,
            }
        }
    }

    /// If a live message waits for a gap before it (`gap`), queues the messages between what
    /// the device has and it from the store, then it. If they cannot all be loaded (the store
    /// fails, or the gap is larger than a backlog may be), queues what was loaded and asks the
    /// device to resync instead: the device resumes from its cursor, and the message comes with
    /// the rest.
    ///
    /// Changes nothing before its one wait (the store), and clears `gap` only with its changes
    /// after it: a call dropped while it waits leaves the gap to the next. A resume in between
    /// may have queued the message (or the device said it has it): it is then not queued again.
    async fn fill_gap(&mut self) {
        let Some(message) = self.gap.clone() else { return };
        let conversation = message.conversation;
        let Some(track) = self.tracks.get(&conversation) else {
            self.gap = None;
            return;
        };
        let mut budget = Budget::left_by(&self.backlog);
        let store = self.chat.store();
        let loaded = budget.load(store, conversation, track.top(), Some(message.seq), &track.has).await;
        let (page, complete) = match loaded {
            Ok(loaded) => loaded,
            Err(error) => {
                tracing::warn!(%error, "could not fill a gap from the store; asking the device to resync");
                (Vec::new(), false)
            }
        };
        self.gap = None;
        let track = self.tracks.get_mut(&conversation).expect("tracked above");
        for missed in &page {
            track.has.insert(missed.seq);
        }
        self.backlog.extend(page);
        if !complete {
            self.resync_after_backlog = true;
        } else if !track.has.contains(message.seq) {
            track.has.insert(message.seq);
            self.backlog.push_back(message);
        }
    }

    /// What is ready without touching the queue: the end, the backlog, a pending resync.
    fn poll_ready(&mut self) -> Option<Option<Delivery>> {
        if self.ended {
            return Some(None);
        }
        if let Some(reason) = self.device.ended.borrow().clone() {
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

    /// Sorts a queued delivery: pass it on, skip a duplicate, or fill a gap first.
    fn admit(&mut self, delivery: Delivery) -> Admit {
        match delivery.event() {
            Event::Message { message } => {
                let seq = message.seq;
                // Routed here, so the caller was a member when it was sent.
                let track = self.tracks.entry(message.conversation).or_insert_with(|| Track::joined(seq.before()));
                if track.has.contains(seq) {
                    Admit::Skip
                } else if seq <= track.top().next() || !track.member {
                    track.has.insert(seq);
                    Admit::Pass(delivery)
                } else {
                    Admit::Gap(Box::new(message.clone()))
                }
            }
            Event::Conversation { conversation, last_seq } => {
                let member = conversation.members.contains(&self.caller.user());
                match self.tracks.entry(conversation.id) {
                    Entry::Occupied(mut entry) => {
                        let track = entry.get_mut();
                        if member && !track.member {
                            // Back in: what was written meanwhile is history, not live.
                            track.floor = track.floor.max(*last_seq);
                        }
                        track.member = member;
                    }
                    Entry::Vacant(entry) => {
                        entry.insert(Track { member, ..Track::joined(*last_seq) });
                    }
                }
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

    /// Queues every message after each cursor (the last seq the device has, per
    /// conversation) that this device does not have yet, oldest first, ahead of live events;
    /// later live copies are skipped. A conversation named twice counts once, from the lower
    /// seq. Past [`RESUME_BATCH`] messages or [`RESUME_BYTES`] in the backlog the load stops,
    /// and an [`Event::Resync`] follows the backlog.
    ///
    /// A cursor for a conversation the caller cannot read, or past its newest message, is
    /// skipped (see [`Resumed::skipped`]); the others are served.
    ///
    /// # Errors
    /// `too_long` for more than [`WATCH_MAX`] cursors; `unavailable` if the store fails. On an
    /// error nothing changes: nothing is queued, and the device's state is as before.
    pub async fn resume(&mut self, cursors: impl IntoIterator<Item = (ConversationId, Seq)>) -> Result<Resumed> {
        let cursors = lowest_per_conversation(cursors)?;
        let mut resumed = Resumed::default();
        let mut usable = Vec::with_capacity(cursors.len());
        for (conversation, seq) in cursors {
            match self.usable_cursor(conversation, seq).await {
                Ok(()) => usable.push((conversation, seq)),
                Err(Error::Unavailable(error)) => return Err(Error::Unavailable(error)),
                Err(reason) => resumed.skipped.push(SkippedCursor { conversation, reason }),
            }
        }
        let mut budget = Budget::left_by(&self.backlog);
        let mut loads = Vec::with_capacity(usable.len());
        let mut complete = true;
        let empty = SeqSet::default();
        for (conversation, seq) in usable {
            let has = self.tracks.get(&conversation).map_or(&empty, |track| &track.has);
            let (page, done) = budget.load(self.chat.store(), conversation, seq, None, has).await?;
            complete &= done;
            loads.push((conversation, seq, page));
        }
        // Nothing can fail from here on: the subscription changes only now.
        for (conversation, seq, page) in loads {
            let track = self.tracks.entry(conversation).or_insert_with(|| Track::joined(seq));
            track.member = true;
            track.has.insert_range(Seq(1), seq);
            for message in &page {
                track.has.insert(message.seq);
            }
            self.backlog.extend(page);
        }
        self.resync_after_backlog |= !complete;
        Ok(resumed)
    }

    /// Whether a resume may load `conversation` after `seq` for the caller.
    async fn usable_cursor(&self, conversation: ConversationId, seq: Seq) -> Result<()> {
        self.chat.member_conversation(&self.caller, conversation).await?;
        if seq > self.chat.store().last_seq(conversation).await? {
            return Err(Error::invalid("seq", Invalid::OutOfRange));
        }
        Ok(())
    }

    /// Says that this device's client is in use now (its user typed, clicked, touched, or
    /// brought its tab back into view): a user shows as away once none of their devices has
    /// said so for [`ChatConfig::away_after`](crate::ChatConfig::away_after) (see the
    /// `presence` module docs, "Away"). A user coming back from away is announced at once.
    pub async fn mark_active(&self) {
        self.device.mark_active();
        self.chat.sweep_away([self.caller.user()]).await;
    }

    /// Follows the presence of these users (replacing the previous list): their online and
    /// offline changes arrive as [`Event::Presence`]. Members of the caller's conversations
    /// are followed without asking.
    ///
    /// # Errors
    /// `too_long` for more than [`WATCH_MAX`] users.
    pub fn watch_presence(&self, users: Vec<UserId>) -> Result<()> {
        self.chat.watch(&self.device, users)
    }

    /// Adds to the users whose presence is followed (see [`Subscription::watch_presence`]):
    /// cheaper than sending the whole list again when a few users are new.
    ///
    /// # Errors
    /// `too_long` if more than [`WATCH_MAX`] users would then be followed; the list is left
    /// as it was.
    pub fn watch_more_presence(&self, users: Vec<UserId>) -> Result<()> {
        self.chat.watch_more(&self.device, users)
    }
}

/// The cursors with each conversation once, at its lowest seq, in the order first named.
fn lowest_per_conversation(
    cursors: impl IntoIterator<Item = (ConversationId, Seq)>,
) -> Result<Vec<(ConversationId, Seq)>> {
    let mut order: Vec<(ConversationId, Seq)> = Vec::new();
    let mut index: HashMap<ConversationId, usize> = HashMap::new();
    for (given, (conversation, seq)) in cursors.into_iter().enumerate() {
        if given >= WATCH_MAX {
            return Err(Error::invalid("cursors", Invalid::TooLong));
        }
        match index.entry(conversation) {
            Entry::Occupied(at) => order[*at.get()].1 = order[*at.get()].1.min(seq),
            Entry::Vacant(at) => {
                at.insert(order.len());
                order.push((conversation, seq));
            }
        }
    }
    Ok(order)
}

/// What a subscription may still load from the store before its backlog is full.
struct Budget {
    messages: usize,
    bytes: usize,
}

impl Budget {
    /// What is left beside `backlog`.
    fn left_by(backlog: &VecDeque<Message>) -> Budget {
        let bytes: usize = backlog.iter().map(|message| message.body.len()).sum();
        Budget { messages: RESUME_BATCH.saturating_sub(backlog.len()), bytes: RESUME_BYTES.saturating_sub(bytes) }
    }

    /// Takes one message's share, if there is room for it.
    fn take(&mut self, message: &Message) -> bool {
        if self.messages == 0 || self.bytes < message.body.len() {
            self.messages = 0;
            return false;
        }
        self.messages -= 1;
        self.bytes -= message.body.len();
        true
    }

    /// Loads the messages of `conversation` after `from` (and before `until`, if given) that
    /// are not in `has`, oldest first, while the budget lasts. Returns them and whether that
    /// was all of them (false: cut short by the budget; the rest is for the next resume).
    async fn load(
        &mut self,
        store: &dyn Store,
        conversation: ConversationId,
        from: Seq,
        until: Option<Seq>,
        has: &SeqSet,
    ) -> StoreResult<(Vec<Message>, bool)> {
        let mut loaded = Vec::new();
        let mut position = from;
        loop {
            if until.is_some_and(|until| position.next() >= until) {
                return Ok((loaded, true));
            }
            if let Some(end) = has.covering(position.next()) {
                position = end; // the device has these: jump over them
                continue;
            }
            if self.messages == 0 {
                return Ok((loaded, false));
            }
            // Read up to the next seqs the device has (or `until`), a page at a time.
            let stop = [has.next_start_after(position), until].into_iter().flatten().min();
            let wanted = stop.map_or(u64::MAX, |stop| stop.0 - position.0 - 1);
            let limit = self.messages.min(validate::PAGE_MAX).min(usize::try_from(wanted).unwrap_or(usize::MAX));
            let page = store.history(conversation, HistoryPage::After(position), limit).await?;
            let short = page.len() < limit;
            for message in page {
                if !self.take(&message) {
                    return Ok((loaded, false));
                }
                position = message.seq;
                loaded.push(message);
            }
            if short {
                // The history ends here (for a gap: the rest is not in the store yet).
                return Ok((loaded, until.is_none()));
            }
        }
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

#[cfg(test)]
mod tests;
