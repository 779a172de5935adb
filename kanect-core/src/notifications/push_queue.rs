//! The messages waiting for their push, and what this node knows of who can receive one.
//!
//! Most recipients of most messages have no push subscription, and finding that out from the
//! store for every message cost more than the send itself (a task and a timer per message, then
//! reads of the receipts, the settings and the subscriptions of every recipient, a third of a
//! node's send throughput). So each node remembers, per user, whether they had a subscription
//! when last read ([`PushQueue::audience`] leaves out those known to have none), and the
//! messages that remain wait in one queue for their grace, worked by one task
//! ([`push_when_due`]) that sends at most [`PUSH_CONCURRENCY`] messages' pushes at once.
//!
//! Keeping the knowledge right: a subscription made on this node is noted at once
//! ([`PushQueue::subscribed`]), and on the other nodes when they hear of it over the bus
//! (`BusMessage::PushSubscribed`). A read of the store that found none is only remembered if no
//! subscription was noted while it ran (the `epoch`), so a stale read cannot hide a newer
//! subscription; and "none" is forgotten after [`RECHECK_AFTER`], which bounds what a lost bus
//! message costs: a user who subscribed is pushed to, at the latest, that long after.
//!
//! The queue is bounded ([`ChatConfig::push_backlog`](crate::ChatConfig::push_backlog)): when
//! the push service is slower than the messages, a message past the bound is not pushed, and
//! counted (`Metrics::pushes_dropped`); sends never wait for pushes.

use crate::chat::WeakChat;
use crate::id::UserId;
use crate::model::Message;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How many messages' pushes are sent at once, each to all of its recipients.
pub(crate) const PUSH_CONCURRENCY: usize = 16;

/// How long "this user has no subscription" is believed before the store is read again.
pub(crate) const RECHECK_AFTER: Duration = Duration::from_secs(60);

/// What this node knows of one user's push subscriptions.
#[derive(Clone, Copy)]
enum Known {
    /// They have one, or subscribed since the store was last read.
    Subscribed,
    /// The store had none for them at this time.
    NoneAt(Instant),
}

#[derive(Default)]
struct Knowledge {
    users: HashMap<UserId, Known>,
    /// Counts the subscriptions noted: a read that saw none is only believed if this did not
    /// move while it ran.
    epoch: u64,
}

/// A message whose recipients may be pushed to once its grace has passed.
pub(crate) struct PendingPush {
    pub(crate) due: Instant,
    pub(crate) message: Message,
    pub(crate) group: Option<String>,
    pub(crate) recipients: Vec<UserId>,
}

/// The pending pushes of one node, and what it knows of who has subscriptions.
pub(crate) struct PushQueue {
    knowledge: Mutex<Knowledge>,
    pending: Mutex<VecDeque<PendingPush>>,
    /// Wakes the worker when the queue goes from empty to not.
    arrived: tokio::sync::Notify,
    capacity: usize,
}

impl PushQueue {
    /// A queue that holds at most `capacity` messages.
    pub(crate) fn new(capacity: usize) -> Self {
        PushQueue {
            knowledge: Mutex::default(),
            pending: Mutex::default(),
            arrived: tokio::sync::Notify::new(),
            capacity,
        }
    }

    /// Those of `recipients` who may have a push subscription: all but the ones the store had
    /// none for less than [`RECHECK_AFTER`] ago.
    pub(crate) fn audience(&self, recipients: impl Iterator<Item = UserId>) -> Vec<UserId> {
        let now = Instant::now();
        let knowledge = self.knowledge.lock().expect("push knowledge poisoned");
        recipients
            .filter(|user| match knowledge.users.get(user) {
                Some(Known::NoneAt(at)) => now.duration_since(*at) >= RECHECK_AFTER,
                Some(Known::Subscribed) | None => true,
            })
            .collect()
    }

    /// Notes that `user` made a subscription (on this node, or another told of it).
    pub(crate) fn subscribed(&self, user: UserId) {
        let mut knowledge = self.knowledge.lock().expect("push knowledge poisoned");
        knowledge.epoch += 1;
        knowledge.users.insert(user, Known::Subscribed);
    }

    /// The epoch to give [`PushQueue::found`] for a read of the store starting now.
    pub(crate) fn epoch(&self) -> u64 {
        self.knowledge.lock().expect("push knowledge poisoned").epoch
    }

    /// Notes what a read of the store that started at `epoch` found of `user`'s subscriptions.
    pub(crate) fn found(&self, user: UserId, any: bool, epoch: u64) {
        let mut knowledge = self.knowledge.lock().expect("push knowledge poisoned");
        if any {
            knowledge.users.insert(user, Known::Subscribed);
        } else if knowledge.epoch == epoch {
            knowledge.users.insert(user, Known::NoneAt(Instant::now()));
        }
    }

    /// Queues `push`. False, and nothing queued, if the queue is full.
    pub(crate) fn enqueue(&self, push: PendingPush) -> bool {
        let mut pending = self.pending.lock().expect("push queue poisoned");
        if pending.len() >= self.capacity {
            return false;
        }
        pending.push_back(push);
        if pending.len() == 1 {
            self.arrived.notify_one();
        }
        true
    }

    /// The first pending push if it is due now, else when the first one will be (None: the
    /// queue is empty). Pushes are queued with the same grace, so the first is due first.
    fn take_due(&self) -> Result<PendingPush, Option<Instant>> {
        let mut pending = self.pending.lock().expect("push queue poisoned");
        match pending.front() {
            Some(first) if first.due <= Instant::now() => Ok(pending.pop_front().expect("a first")),
            Some(first) => Err(Some(first.due)),
            None => Err(None),
        }
    }
}

/// Works `queue` for the engine behind `weak`: each pending push, once due, is sent on a task
/// of its own, [`PUSH_CONCURRENCY`] at most at a time. Ends when the engine is gone.
pub(crate) async fn push_when_due(weak: WeakChat, queue: Arc<PushQueue>) {
    let turns = Arc::new(tokio::sync::Semaphore::new(PUSH_CONCURRENCY));
    loop {
        match queue.take_due() {
            Ok(push) => {
                let Ok(turn) = turns.clone().acquire_owned().await else { return };
                let Some(chat) = weak.upgrade() else { return };
                tokio::spawn(async move {
                    if let Err(error) = chat.push_to_members(&push.message, push.group, &push.recipients).await {
                        tracing::warn!(%error, "pushes of a message failed");
                    }
                    drop(turn);
                });
            }
            Err(Some(due)) => tokio::time::sleep_until(due).await,
            Err(None) => {
                // Waits for a push, looking now and then whether the engine is still there.
                let _ = tokio::time::timeout(Duration::from_secs(1), queue.arrived.notified()).await;
                if weak.upgrade().is_none() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(due: Instant) -> PendingPush {
        let message = Message {
            id: crate::id::MessageId::new(),
            conversation: crate::id::ConversationId::new(),
            seq: crate::id::Seq(1),
            sender: UserId::new(),
            body: "hi".into(),
            client_id: "c".into(),
            sent_at: crate::model::Timestamp::now(),
            edited_at: None,
            deleted: false,
            attachments: vec![],
            reply_to: None,
            reply: None,
            mentions: vec![],
            reactions: vec![],
            event: None,
        };
        PendingPush { due, message, group: None, recipients: vec![UserId::new()] }
    }

    #[tokio::test(start_paused = true)]
    async fn a_user_found_without_subscriptions_is_left_out_until_the_recheck() {
        let queue = PushQueue::new(10);
        let (nobody, unknown) = (UserId::new(), UserId::new());
        queue.found(nobody, false, queue.epoch());
        assert_eq!(queue.audience([nobody, unknown].into_iter()), vec![unknown]);
        tokio::time::advance(RECHECK_AFTER - Duration::from_millis(1)).await;
        assert_eq!(queue.audience([nobody].into_iter()), vec![]);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(queue.audience([nobody].into_iter()), vec![nobody], "read again at the recheck");
    }

    #[test]
    fn a_read_that_began_before_a_subscription_does_not_hide_it() {
        let queue = PushQueue::new(10);
        let user = UserId::new();
        let epoch = queue.epoch();
        queue.subscribed(user); // heard over the bus while the read ran
        queue.found(user, false, epoch);
        assert_eq!(queue.audience([user].into_iter()), vec![user]);
        // A read that began after it is believed, either way.
        queue.found(user, false, queue.epoch());
        assert_eq!(queue.audience([user].into_iter()), vec![]);
        queue.found(user, true, queue.epoch());
        assert_eq!(queue.audience([user].into_iter()), vec![user]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_queue_holds_its_capacity_and_gives_pushes_when_due() {
        let queue = PushQueue::new(2);
        let due = Instant::now() + Duration::from_secs(2);
        assert!(queue.enqueue(push(due)));
        assert!(queue.enqueue(push(due + Duration::from_millis(1))));
        assert!(!queue.enqueue(push(due)), "one past the capacity is refused");
        assert!(matches!(queue.take_due(), Err(Some(when)) if when == due));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(queue.take_due().is_ok());
        assert!(matches!(queue.take_due(), Err(Some(_))), "the second is not due yet");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(queue.take_due().is_ok());
        assert!(matches!(queue.take_due(), Err(None)));
        assert!(queue.enqueue(push(due)), "room again");
    }
}
