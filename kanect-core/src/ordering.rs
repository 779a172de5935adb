//! Per-conversation ordering of fan-out, without holding anything across the durable write.
//!
//! The store assigns seqs in order, but concurrent sends into one conversation return from the
//! store (after their group commit) in any order; routing each as it returns could show a
//! device seq 6 before seq 5. Holding a lock across the append would keep order but serialise
//! every conversation on its flush, so one busy conversation could never share a group commit
//! with itself.
//!
//! Instead each send takes a [`Ticket`] *before* appending. When its append returns, the
//! message is parked with a *barrier*: the newest ticket still outstanding at that moment.
//! Parked messages are routed in seq order, each once every ticket up to its barrier has
//! finished. That is exactly enough: an append that started after message N returned gets a
//! seq above N, and one outstanding when N returned is waited for, so nothing lower than N can
//! turn up after N was routed. A ticket finishes on success, duplicate, error or
//! cancellation (drop), so a failed send never stalls the others.
//!
//! Order holds per node: messages another node routes arrive through the bus on their own.

use crate::event::{Delivery, Event};
use crate::hub::Hub;
use crate::id::{ConversationId, Seq, UserId};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// What a released message is: its recipients and event, ready to route.
pub(crate) type Release = (Vec<UserId>, Delivery);

#[derive(Default)]
pub(crate) struct Sequencer {
    lanes: Mutex<HashMap<ConversationId, Arc<Mutex<Lane>>>>,
}

#[derive(Default)]
struct Lane {
    next_ticket: u64,
    outstanding: BTreeSet<u64>,
    parked: BTreeMap<Seq, Parked>,
}

struct Parked {
    barrier: u64,
    recipients: Vec<UserId>,
    event: Event,
}

/// A send's place in its conversation's order; finish it with [`Ticket::finish`].
pub(crate) struct Ticket<'a> {
    owner: &'a Sequencer,
    /// Where what a dropped ticket releases goes.
    hub: &'a Hub,
    conversation: ConversationId,
    lane: Arc<Mutex<Lane>>,
    id: u64,
    finished: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Sequencer {
    /// Takes a ticket; call before appending. What a ticket dropped unfinished releases goes
    /// to `hub`'s devices.
    pub(crate) fn begin<'a>(&'a self, conversation: ConversationId, hub: &'a Hub) -> Ticket<'a> {
        let lane = lock(&self.lanes).entry(conversation).or_default().clone();
        let id = {
            let mut lane = lock(&lane);
            let id = lane.next_ticket;
            lane.next_ticket += 1;
            lane.outstanding.insert(id);
            id
        };
        Ticket { owner: self, hub, conversation, lane, id, finished: false }
    }
}

impl Ticket<'_> {
    /// Ends the ticket, parking `message` (a new message's seq, recipients and event) if
    /// any, and hands every message now due to `deliver`, in seq order, while the lane is
    /// held (so two finishing sends cannot interleave their deliveries). Returns what was
    /// released, for publishing to other nodes.
    pub(crate) fn finish(
        mut self,
        message: Option<(Seq, Vec<UserId>, Event)>,
        deliver: impl FnMut(&Release),
    ) -> Vec<Release> {
        self.finished = true;
        self.settle(message, deliver)
    }

    fn settle(
        &mut self,
        message: Option<(Seq, Vec<UserId>, Event)>,
        mut deliver: impl FnMut(&Release),
    ) -> Vec<Release> {
        let mut released = Vec::new();
        {
            let mut guard = lock(&self.lane);
            let lane = &mut *guard;
            lane.outstanding.remove(&self.id);
            if let Some((seq, recipients, event)) = message {
                let barrier = lane.outstanding.last().copied().unwrap_or(self.id);
                lane.parked.insert(seq, Parked { barrier, recipients, event });
            }
            while let Some(entry) = lane.parked.first_entry() {
                let waiting = lane.outstanding.first().is_some_and(|oldest| *oldest <= entry.get().barrier);
                if waiting {
                    break;
                }
                let parked = entry.remove();
                let release = (parked.recipients, Delivery::new(parked.event));
                deliver(&release);
                released.push(release);
            }
        }
        self.forget_if_idle();
        released
    }

    fn forget_if_idle(&self) {
        let mut lanes = lock(&self.owner.lanes);
        let idle = {
            let lane = lock(&self.lane);
            lane.outstanding.is_empty() && lane.parked.is_empty()
        };
        // Only the map and this ticket hold the lane: nobody else can be using it.
        if idle && Arc::strong_count(&self.lane) == 2 {
            lanes.remove(&self.conversation);
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.finished {
            // Cancelled before finishing (a caller that went away mid-send): release whoever
            // waits on this ticket. What it releases was due anyway: delivered here (no bus from
            // a destructor; other nodes' devices read it from the store at their next message
            // or resume). The engine's own failures finish their tickets, bus included.
            self.finished = true;
            let hub = self.hub;
            self.settle(None, |(recipients, delivery)| hub.deliver(recipients, delivery));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(seq: u64) -> Option<(Seq, Vec<UserId>, Event)> {
        Some((Seq(seq), Vec::new(), Event::Resync))
    }

    fn seqs(released: &[Release]) -> usize {
        released.len()
    }

    fn hub() -> Hub {
        Hub::new(8, 4, crate::metrics::Metrics::register())
    }

    #[test]
    fn a_later_return_waits_for_an_earlier_outstanding_ticket() {
        let (sequencer, hub) = (Sequencer::default(), hub());
        let conversation = ConversationId::new();
        let first = sequencer.begin(conversation, &hub);
        let second = sequencer.begin(conversation, &hub);
        // The second send's append returns first, with seq 2: it must wait for the first.
        assert_eq!(seqs(&second.finish(message(2), |_| {})), 0);
        let mut order = Vec::new();
        let released = first.finish(message(1), |_| order.push(()));
        assert_eq!(seqs(&released), 2);
        assert!(sequencer.lanes.lock().unwrap().is_empty(), "idle lanes are forgotten");
    }

    #[test]
    fn a_ticket_started_later_does_not_hold_back_an_earlier_message() {
        let (sequencer, hub) = (Sequencer::default(), hub());
        let conversation = ConversationId::new();
        let first = sequencer.begin(conversation, &hub);
        let released = first.finish(message(1), |_| {});
        assert_eq!(seqs(&released), 1);
        let later = sequencer.begin(conversation, &hub);
        drop(later);
        assert!(sequencer.lanes.lock().unwrap().is_empty());
    }

    #[test]
    fn a_dropped_ticket_releases_those_waiting_on_it() {
        let (sequencer, hub) = (Sequencer::default(), hub());
        let conversation = ConversationId::new();
        let failing = sequencer.begin(conversation, &hub);
        let ok = sequencer.begin(conversation, &hub);
        assert_eq!(seqs(&ok.finish(message(1), |_| {})), 0);
        let mut delivered = 0;
        // The failing send finishes with nothing (error, duplicate): seq 1 goes out.
        let released = failing.finish(None, |_| delivered += 1);
        assert_eq!((seqs(&released), delivered), (1, 1));
    }

    #[test]
    fn a_ticket_dropped_unfinished_delivers_what_it_releases_here() {
        // A caller that went away mid-send: the message parked behind its ticket still reaches
        // the devices of this node.
        let (sequencer, hub) = (Sequencer::default(), hub());
        let (conversation, carol) = (ConversationId::new(), UserId::new());
        let (_device, mut carols_queue, _) = hub.register(carol, None).expect("registered");
        let cancelled = sequencer.begin(conversation, &hub);
        let sent = sequencer.begin(conversation, &hub);
        let parked = Some((Seq(1), vec![carol], Event::Resync));
        assert_eq!(seqs(&sent.finish(parked, |_| {})), 0, "waits for the earlier ticket");
        assert!(carols_queue.try_recv().is_err());
        drop(cancelled);
        let delivered = carols_queue.try_recv().expect("delivered when the earlier ticket was dropped");
        assert_eq!(*delivered.event(), Event::Resync);
    }
}
