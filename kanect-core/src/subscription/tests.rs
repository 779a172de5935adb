//! The exactly-once bookkeeping of a [`Subscription`] against a model: random writes,
//! deliveries by any path (late, twice, never), takes, leaves and re-joins, resumes from any
//! cursor, a small queue that lags, and messages big enough that a few fill a backlog's bytes.
//!
//! The model is the client's view, per conversation: the seqs handed out, the seqs it said it
//! has (resume cursors), and the floor below which lies history it reads itself. Each seq is
//! handed out at most once, never after the device said it has it; above the floor, while a
//! member, in order and without skipping one; a gap fill loads nothing of the history; what
//! was routed to the device is handed out unless a resync followed; and after a resume from a
//! cursor, everything after it is handed out.

use super::*;
use crate::chat::ChatConfig;
use crate::limits::RateLimits;
use crate::model::{NewMessage, Timestamp};
use crate::{MemoryStore, PasswordCost, Registration};
use proptest::prelude::*;
use std::collections::BTreeSet;

/// What a check returns: a failure names the property broken.
type Checked = std::result::Result<(), TestCaseError>;

/// Conversations in a run.
const CONVERSATIONS: usize = 2;
/// A body that takes a good part of [`RESUME_BYTES`]: three do not fit in one backlog.
const BIG: usize = RESUME_BYTES * 2 / 5;

#[derive(Clone, Debug)]
enum Op {
    /// Alice writes to conversation `k`, big or small; nothing is routed yet.
    Write { k: usize, big: bool },
    /// One of the messages of `k` written while bob was in reaches his device; with
    /// `again`, it may arrive once more later (a second path).
    Route { k: usize, pick: usize, again: bool },
    /// The device takes up to `n` events that are ready. With `fill`, it fills a gap from
    /// the store when it meets one; without, it leaves it waiting, as a socket does whose
    /// `next` lost a `select!` to a frame from its client (a resume, say).
    Take { n: usize, fill: bool },
    /// Bob leaves `k` (if in).
    Leave { k: usize },
    /// Alice adds bob to `k` again (if out).
    Rejoin { k: usize },
    /// The device resumes from cursors, each anywhere from 0 to one past the newest seq.
    Resume { cursors: Vec<(usize, usize)> },
}

fn op() -> impl Strategy<Value = Op> {
    let k = || 0..CONVERSATIONS;
    prop_oneof![
        4 => (k(), prop::bool::weighted(0.4)).prop_map(|(k, big)| Op::Write { k, big }),
        4 => (k(), any::<usize>(), any::<bool>()).prop_map(|(k, pick, again)| Op::Route { k, pick, again }),
        3 => (1..6usize, prop::bool::weighted(0.7)).prop_map(|(n, fill)| Op::Take { n, fill }),
        1 => k().prop_map(|k| Op::Leave { k }),
        1 => k().prop_map(|k| Op::Rejoin { k }),
        1 => prop::collection::vec((k(), any::<usize>()), 1..4).prop_map(|cursors| Op::Resume { cursors }),
    ]
}

/// One conversation: what the store holds, and what the device was handed, as a client
/// would see it.
struct Model {
    id: ConversationId,
    /// The newest seq written.
    last: u64,
    /// Whether bob is a member, as the store says.
    in_store: bool,
    /// Messages written while bob was in and not routed yet: each may still reach him.
    routable: Vec<Message>,
    /// What was routed to the device, and when (op index).
    routed: Vec<(u64, usize)>,
    /// Seqs handed out.
    handed: BTreeSet<u64>,
    /// Seqs the device said it has (at or below a served resume cursor), unless already
    /// loaded for it then: those are never handed out after.
    claimed: BTreeSet<u64>,
    /// Below it lies history: what was written before the device subscribed or re-joined.
    floor: u64,
    /// Whether bob is a member, as the device was last told.
    member: bool,
    /// The highest seq handed out above the floor while a member: the next one is higher.
    ordered: u64,
}

impl Model {
    /// A conversation bob is in, with nothing written yet.
    fn new(id: ConversationId) -> Model {
        Model {
            id,
            last: 0,
            in_store: true,
            routable: Vec::new(),
            routed: Vec::new(),
            handed: BTreeSet::new(),
            claimed: BTreeSet::new(),
            floor: 0,
            member: true,
            ordered: 0,
        }
    }

    /// The highest seq the device is past.
    fn top(&self) -> u64 {
        [self.floor, self.handed.last().copied().unwrap_or(0), self.claimed.last().copied().unwrap_or(0)]
            .into_iter()
            .max()
            .unwrap_or(0)
    }
}

struct Run {
    chat: Chat,
    alice: Caller,
    bob: Caller,
    device: Subscription,
    models: Vec<Model>,
    /// Op index of the last resync handed out.
    resynced: Option<usize>,
}

impl Run {
    /// Alice and bob in a group per entry of `initial`, with that many messages written
    /// before bob's device subscribes (history, which may still be routed late).
    async fn start(initial: Vec<usize>) -> Run {
        let config = ChatConfig {
            password_cost: PasswordCost::INSECURE_FAST,
            rate_limits: RateLimits::UNLIMITED,
            device_queue: 6,
            ..ChatConfig::default()
        };
        let chat = Chat::builder(MemoryStore::new()).config(config).build().await.unwrap();
        let alice = chat.register(Registration::new("alice", "alice password")).await.unwrap();
        let bob = chat.register(Registration::new("bob", "bob password")).await.unwrap();
        let (alice, bob) = (chat.act_as(alice.id).await.unwrap(), chat.act_as(bob.id).await.unwrap());
        let mut models = Vec::new();
        for written in initial {
            let group = chat.create_group(&alice, "g", &[bob.user()]).await.unwrap();
            let mut model = Model::new(group.id);
            // Seq 1 is the group's "created" system line.
            model.last = 1;
            for _ in 0..written {
                write(&chat, alice.user(), &mut model, false).await;
            }
            model.floor = model.last;
            models.push(model);
        }
        let device = chat.subscribe(&bob).await.unwrap();
        Run { chat, alice, bob, device, models, resynced: None }
    }

    async fn apply(&mut self, op: Op, at: usize) -> Checked {
        match op {
            Op::Write { k, big } => write(&self.chat, self.alice.user(), &mut self.models[k], big).await,
            Op::Route { k, pick, again } => {
                let model = &mut self.models[k];
                if model.routable.is_empty() {
                    return Ok(());
                }
                let at_pick = pick % model.routable.len();
                let message = if again { model.routable[at_pick].clone() } else { model.routable.remove(at_pick) };
                model.routed.push((message.seq.0, at));
                self.chat.hub().deliver(&[self.bob.user()], &Delivery::new(Event::Message { message }));
            }
            Op::Take { n, fill } => self.take(n, fill, at).await?,
            Op::Leave { k } if self.models[k].in_store => {
                self.chat.leave(&self.bob, self.models[k].id).await.unwrap();
                self.models[k].in_store = false;
                // The "left" system line: history, routed to alice only.
                self.models[k].last += 1;
            }
            Op::Rejoin { k } if !self.models[k].in_store => {
                self.chat.add_member(&self.alice, self.models[k].id, self.bob.user()).await.unwrap();
                self.models[k].in_store = true;
                // The "added" system line, routed by the engine to every member, bob too.
                let model = &mut self.models[k];
                model.last += 1;
                model.routed.push((model.last, at));
            }
            Op::Leave { .. } | Op::Rejoin { .. } => {}
            Op::Resume { cursors } => {
                let cursors =
                    cursors.into_iter().map(|(k, pick)| (k, (pick % (self.models[k].last as usize + 2)) as u64));
                self.resume(cursors.collect()).await?;
            }
        }
        Ok(())
    }

    /// Resumes from `cursors` (conversation index, seq) and checks which were served.
    async fn resume(&mut self, cursors: Vec<(usize, u64)>) -> Checked {
        let mut lowest: HashMap<usize, u64> = HashMap::new();
        for (k, seq) in &cursors {
            let at = lowest.entry(*k).or_insert(*seq);
            *at = (*at).min(*seq);
        }
        let ids = cursors.iter().map(|(k, seq)| (self.models[*k].id, Seq(*seq)));
        let resumed = self.device.resume(ids.collect::<Vec<_>>()).await.unwrap();
        let skipped: BTreeSet<ConversationId> = resumed.skipped.iter().map(|s| s.conversation).collect();
        let loaded: BTreeSet<(ConversationId, u64)> =
            self.device.backlog.iter().map(|message| (message.conversation, message.seq.0)).collect();
        for (k, cursor) in lowest {
            let model = &mut self.models[k];
            let id = model.id;
            let served = model.in_store && cursor <= model.last;
            prop_assert_eq!(!skipped.contains(&id), served, "cursor {} of conversation {}", cursor, k);
            if served {
                model.member = true;
                model.claimed.extend((1..=cursor).filter(|seq| !loaded.contains(&(id, *seq))));
            }
        }
        Ok(())
    }

    /// Takes up to `n` events (all that are ready, for `usize::MAX`); with `fill`, fills a
    /// gap when it meets one, as [`Subscription::next`] does before it waits.
    async fn take(&mut self, n: usize, fill: bool, at: usize) -> Checked {
        let mut taken = 0;
        while taken < n {
            match self.device.try_next() {
                TryNext::Ready(delivery) => {
                    taken += 1;
                    self.observe(delivery.event(), at)?;
                }
                TryNext::Ended => return Err(TestCaseError::fail("the stream ended")),
                TryNext::Pending if fill && self.device.gap.is_some() => self.fill_gap().await?,
                TryNext::Pending => return Ok(()),
            }
        }
        Ok(())
    }

    /// Fills the waiting gap, and checks that it loaded nothing at or below the floor: the
    /// history the device reads itself (written before it subscribed, or while it was out).
    async fn fill_gap(&mut self) -> Checked {
        let before = self.device.backlog.len();
        self.device.fill_gap().await;
        for message in self.device.backlog.iter().skip(before) {
            let model = self.models.iter().find(|model| model.id == message.conversation).unwrap();
            prop_assert!(
                message.seq.0 > model.floor,
                "gap fill loaded seq {} below floor {}",
                message.seq,
                model.floor
            );
        }
        Ok(())
    }

    fn model(&mut self, id: ConversationId) -> &mut Model {
        self.models.iter_mut().find(|model| model.id == id).expect("a conversation of the run")
    }

    /// Checks one event the device was handed against the model, and updates the model.
    fn observe(&mut self, event: &Event, at: usize) -> Checked {
        match event {
            Event::Message { message } => {
                let seq = message.seq.0;
                let model = self.model(message.conversation);
                prop_assert!(!model.handed.contains(&seq), "seq {} handed out twice", seq);
                prop_assert!(!model.claimed.contains(&seq), "seq {} handed out after the device had it", seq);
                if model.member && seq > model.floor {
                    prop_assert!(seq <= model.top() + 1, "seq {} skips past {}", seq, model.top());
                    prop_assert!(seq > model.ordered, "seq {} after {}", seq, model.ordered);
                    model.ordered = seq;
                }
                model.handed.insert(seq);
            }
            Event::Conversation { conversation, last_seq } => {
                let member = conversation.members.contains(&self.bob.user());
                let model = self.model(conversation.id);
                if member && !model.member {
                    model.floor = model.floor.max(last_seq.0);
                }
                model.member = member;
            }
            Event::Resync => self.resynced = Some(at),
            _ => {}
        }
        Ok(())
    }

    /// Everything routed to the device was handed out, unless it had it, or was told to
    /// resync after.
    fn check_routed(&self) -> Checked {
        for (k, model) in self.models.iter().enumerate() {
            for (seq, at) in &model.routed {
                let had = model.handed.contains(seq) || model.claimed.contains(seq);
                let resynced = self.resynced.is_some_and(|resynced| resynced >= *at);
                prop_assert!(had || resynced, "seq {} of conversation {} was routed and lost", seq, k);
            }
        }
        Ok(())
    }

    /// Resumes from `cursors` until no resync follows; then the device has everything after
    /// them in the conversations it is in.
    async fn finish(&mut self, cursors: Vec<usize>, at: usize) -> Checked {
        let cursors: Vec<(usize, u64)> = cursors
            .iter()
            .enumerate()
            .filter(|(k, _)| self.models[*k].in_store)
            .map(|(k, pick)| (k, (pick % (self.models[k].last as usize + 1)) as u64))
            .collect();
        for round in 0.. {
            prop_assert!(round < 100, "resumes make no progress");
            self.resynced = None;
            self.resume(cursors.clone()).await?;
            self.take(usize::MAX, true, at).await?;
            if self.resynced.is_none() {
                break;
            }
        }
        for (k, cursor) in cursors {
            let model = &self.models[k];
            for seq in cursor + 1..=model.last {
                prop_assert!(
                    model.handed.contains(&seq) || model.claimed.contains(&seq),
                    "seq {} of conversation {} never handed out after a resume from {}",
                    seq,
                    k,
                    cursor
                );
            }
        }
        Ok(())
    }
}

/// Writes a message to `model`'s conversation, past the engine: routing it is up to the run.
async fn write(chat: &Chat, sender: UserId, model: &mut Model, big: bool) {
    let body = if big { "x".repeat(BIG) } else { "y".into() };
    let client_id = format!("c{}", model.last + 1);
    let message = NewMessage {
        conversation: model.id,
        sender,
        body,
        client_id,
        sent_at: Timestamp::now(),
        attachments: Vec::new(),
        reply_to: None,
        mentions: Vec::new(),
        event: None,
    };
    let message = chat.store().append_message(message).await.unwrap().message().clone();
    assert_eq!(message.seq, Seq(model.last + 1));
    model.last += 1;
    if model.in_store {
        model.routable.push(message);
    }
}

async fn check(initial: Vec<usize>, ops: Vec<Op>, last_cursors: Vec<usize>) -> Checked {
    let mut run = Run::start(initial).await;
    let end = ops.len();
    for (at, op) in ops.into_iter().enumerate() {
        run.apply(op, at).await?;
        // The budget, and the live message a gap fill was for.
        let backlog = &run.device.backlog;
        let bytes: usize = backlog.iter().map(|message| message.body.len()).sum();
        prop_assert!(backlog.len() <= RESUME_BATCH + 1 && bytes <= RESUME_BYTES + BIG, "backlog of {} bytes", bytes);
    }
    run.take(usize::MAX, true, end).await?;
    run.check_routed()?;
    run.finish(last_cursors, end + 1).await
}

fn run(initial: Vec<usize>, ops: Vec<Op>, last_cursors: Vec<usize>) -> Checked {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(check(initial, ops, last_cursors))
}

/// A live message waits for the seqs before it (the socket's `next` lost a `select!`), and
/// the device resumes meanwhile: the resume loads the message, and the gap fill must not
/// queue it again.
#[test]
fn a_gap_waiting_through_a_resume_is_not_filled_twice() {
    let ops = vec![
        Op::Write { k: 0, big: false },
        Op::Write { k: 0, big: false },
        Op::Route { k: 0, pick: 1, again: false },
        Op::Write { k: 0, big: false },
        Op::Take { n: 1, fill: false },
        Op::Resume { cursors: vec![(0, 0)] },
    ];
    run(vec![0], ops, vec![0]).unwrap();
}

proptest! {
    #[test]
    fn each_message_is_handed_out_once_in_order_and_none_is_lost(
        initial in prop::collection::vec(0..3usize, CONVERSATIONS),
        ops in prop::collection::vec(op(), 0..40),
        last_cursors in prop::collection::vec(any::<usize>(), CONVERSATIONS),
    ) {
        run(initial, ops, last_cursors)?;
    }
}
