//! Two engines in one process, each on its own [`NatsBus`] (one prefix per test, so tests
//! running at once stay apart) and sharing one store, as two server nodes share PostgreSQL.
//! The cluster behaviours run once per [`Subjects`] mode. Needs a NATS server named by
//! `KANECT_TEST_NATS`.

use async_trait::async_trait;
use futures_util::StreamExt;
use kanect_core::{
    Bus, BusEnvelope, BusInbox, BusMessage, Caller, Chat, ChatConfig, Event, MemoryStore, NodeId, PasswordCost,
    Registration, Store, StoreError, Subscription, User, UserId,
};
use kanect_nats::{NatsBus, NatsConfig, Subjects};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HEARTBEAT: Duration = Duration::from_millis(200);
/// Generous bound for anything that should take a few heartbeats.
const PATIENCE: Duration = Duration::from_secs(10);

fn url() -> String {
    std::env::var("KANECT_TEST_NATS").expect("KANECT_TEST_NATS must name a NATS server")
}

fn prefix() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

async fn bus(prefix: &str, subjects: Subjects) -> NatsBus {
    NatsBus::connect_with(NatsConfig { prefix: prefix.to_string(), subjects, ..NatsConfig::new(url()) }).await.unwrap()
}

async fn engine(store: &Arc<dyn Store>, bus: impl Bus) -> Chat {
    let config = ChatConfig { password_cost: PasswordCost::INSECURE_FAST, heartbeat: HEARTBEAT, ..Default::default() };
    Chat::builder_shared(store.clone()).bus(bus).config(config).build().await.unwrap()
}

/// Two engines on one deployment, with alice and bob registered and a direct conversation.
struct Cluster {
    a: Chat,
    b: Chat,
    alice: User,
    bob: User,
}

impl Cluster {
    /// Node A on `prefix`, node B on `bus_b`.
    async fn start_on(prefix: &str, subjects: Subjects, bus_b: impl Bus) -> Cluster {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let a = engine(&store, bus(prefix, subjects).await).await;
        let b = engine(&store, bus_b).await;
        let alice = a.register(Registration::new("alice", "correct horse")).await.unwrap();
        let bob = a.register(Registration::new("bob", "battery staple")).await.unwrap();
        let caller = a.act_as(alice.id).await.unwrap();
        a.open_direct(&caller, bob.id).await.unwrap();
        Cluster { a, b, alice, bob }
    }

    async fn start(subjects: Subjects) -> Cluster {
        let prefix = prefix();
        Self::start_on(&prefix, subjects, bus(&prefix, subjects).await).await
    }

    async fn on(chat: &Chat, user: &User) -> Caller {
        chat.act_as(user.id).await.unwrap()
    }
}

/// The next event on `device` that `pick` accepts, within [`PATIENCE`].
async fn next_matching<T>(device: &mut Subscription, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
    let mut skipped = Vec::new();
    let wait = async {
        loop {
            let delivery = device.next().await.expect("the stream ended");
            if let Some(found) = pick(delivery.event()) {
                return found;
            }
            skipped.push(delivery.event().clone());
        }
    };
    let found = tokio::time::timeout(PATIENCE, wait).await;
    found.unwrap_or_else(|_| panic!("no matching event in time; skipped {skipped:?}"))
}

/// Polls `condition` until it holds, at most [`PATIENCE`].
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "not within {PATIENCE:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn message_body(event: &Event) -> Option<String> {
    match event {
        Event::Message { message } => Some(message.body.clone()),
        _ => None,
    }
}

fn presence_of(user: UserId) -> impl FnMut(&Event) -> Option<bool> {
    move |event| match event {
        Event::Presence(presence) if presence.user == user => Some(presence.online),
        _ => None,
    }
}

async fn messages_cross_nodes_both_ways_once_each(subjects: Subjects) {
    let Cluster { a, b, alice, bob } = Cluster::start(subjects).await;
    let mut bobs_phone = b.subscribe(&Cluster::on(&b, &bob).await).await.unwrap();
    let mut alices_laptop = a.subscribe(&Cluster::on(&a, &alice).await).await.unwrap();
    let alice_on_a = Cluster::on(&a, &alice).await;
    let direct = a.open_direct(&alice_on_a, bob.id).await.unwrap();

    a.send(&alice_on_a, direct.id, "c1", "first, from node A").await.unwrap();
    a.send(&alice_on_a, direct.id, "c2", "second, from node A").await.unwrap();
    assert_eq!(next_matching(&mut bobs_phone, message_body).await, "first, from node A");
    // The next message event is the second one: the first was not delivered twice.
    assert_eq!(next_matching(&mut bobs_phone, message_body).await, "second, from node A");

    let bob_on_b = Cluster::on(&b, &bob).await;
    let reply = b.send(&bob_on_b, direct.id, "r1", "reply, from node B").await.unwrap();
    let received = next_matching(&mut alices_laptop, |event| match event {
        Event::Message { message } if message.sender == bob.id => Some(message.clone()),
        _ => None,
    })
    .await;
    assert_eq!(received, reply);
}

/// Both nodes send into one conversation at once: every device gets every message exactly
/// once and in seq order (its own node's messages come at once, the other node's a NATS hop
/// later; the subscription fills such gaps from the store).
async fn concurrent_senders_on_both_nodes_reach_every_device_once(subjects: Subjects) {
    const EACH: u64 = 100;
    let Cluster { a, b, alice, bob } = Cluster::start(subjects).await;
    let alice_on_a = Cluster::on(&a, &alice).await;
    let bob_on_b = Cluster::on(&b, &bob).await;
    let mut devices = [a.subscribe(&alice_on_a).await.unwrap(), b.subscribe(&bob_on_b).await.unwrap()];
    let direct = a.open_direct(&alice_on_a, bob.id).await.unwrap();
    let senders = [(a.clone(), alice_on_a), (b.clone(), bob_on_b)].map(|(chat, caller)| {
        tokio::spawn(async move {
            for i in 0..EACH {
                chat.send(&caller, direct.id, &format!("c{i}"), "concurrent").await.unwrap();
            }
        })
    });
    for sender in senders {
        sender.await.unwrap();
    }
    for device in &mut devices {
        let mut seqs = Vec::new();
        for _ in 0..2 * EACH {
            seqs.push(
                next_matching(device, |event| match event {
                    Event::Message { message } => Some(message.seq.0),
                    _ => None,
                })
                .await,
            );
        }
        assert_eq!(seqs, (1..=2 * EACH).collect::<Vec<_>>(), "each message once, in order");
    }
}

async fn logging_out_everywhere_ends_streams_on_other_nodes(subjects: Subjects) {
    let Cluster { a, b, bob, .. } = Cluster::start(subjects).await;
    let login = b.login("bob", "battery staple").await.unwrap();
    let bob_on_b = b.authenticate(login.token.as_str()).await.unwrap();
    let mut bobs_phone = b.subscribe(&bob_on_b).await.unwrap();
    let bob_on_a = a.authenticate(login.token.as_str()).await.unwrap();
    assert_eq!(bob_on_a.user(), bob.id);
    a.logout_everywhere(&bob_on_a).await.unwrap();
    let reason = next_matching(&mut bobs_phone, |event| match event {
        Event::SessionEnded { reason } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert_eq!(reason, "logged_out");
}

async fn a_user_leaving_a_node_goes_offline_everywhere(subjects: Subjects) {
    let Cluster { a, b, alice, bob } = Cluster::start(subjects).await;
    let mut alices_laptop = a.subscribe(&Cluster::on(&a, &alice).await).await.unwrap();
    let bobs_phone = b.subscribe(&Cluster::on(&b, &bob).await).await.unwrap();

    assert!(next_matching(&mut alices_laptop, presence_of(bob.id)).await, "bob came online on B");
    assert!(a.presence(&bob).online);
    // Heartbeats keep him counted on A well past the time a silent node's word lasts.
    tokio::time::sleep(HEARTBEAT * 6).await;
    assert!(a.presence(&bob).online, "heartbeats refresh remote presence");

    drop(bobs_phone);
    drop(b);
    assert!(!next_matching(&mut alices_laptop, presence_of(bob.id)).await, "bob went offline");
    assert!(!a.presence(&bob).online);
}

async fn directory_changes_reach_every_device_on_other_nodes(subjects: Subjects) {
    let Cluster { a, b, alice, .. } = Cluster::start(subjects).await;
    let mut alices_laptop = b.subscribe(&Cluster::on(&b, &alice).await).await.unwrap();
    let carol = a.register(Registration::new("carol", "carol password")).await.unwrap();
    // Alice's device may also hear of bob's account, made on A just before it subscribed.
    let announced = next_matching(&mut alices_laptop, |event| match event {
        Event::User { user } if user.id == carol.id => Some(user.clone()),
        _ => None,
    })
    .await;
    assert_eq!(announced, carol.public());
    let admin = a.create_admin(Registration::new("root", "root password")).await.unwrap();
    a.delete_user(&Cluster::on(&a, &admin).await, carol.id).await.unwrap();
    let deleted = next_matching(&mut alices_laptop, |event| match event {
        Event::UserDeleted { user } => Some(*user),
        _ => None,
    })
    .await;
    assert_eq!(deleted, carol.id);
}

async fn what_a_node_publishes_before_it_flushes_and_exits_arrives(subjects: Subjects) {
    let prefix = prefix();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let b = engine(&store, bus(&prefix, subjects).await).await;
    let alice = b.register(Registration::new("alice", "correct horse")).await.unwrap();
    let mut alices_laptop = b.subscribe(&Cluster::on(&b, &alice).await).await.unwrap();
    // As the server's `create-admin` does: a node of its own makes the account, flushes and
    // exits (its runtime, and with it the NATS connection's task, ends with the thread).
    let root = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let a = engine(&store, bus(&prefix, subjects).await).await;
            let root = a.create_admin(Registration::new("root", "root password")).await.unwrap();
            a.flush().await.unwrap();
            root
        })
    })
    .join()
    .unwrap();
    let announced = next_matching(&mut alices_laptop, |event| match event {
        Event::User { user } if user.id == root.id => Some(user.clone()),
        _ => None,
    })
    .await;
    assert_eq!(announced, root.public());
}

/// A bus that can be cut, as a crashed or partitioned node goes silent without saying goodbye.
struct Cuttable {
    inner: NatsBus,
    cut: Arc<AtomicBool>,
}

#[async_trait]
impl Bus for Cuttable {
    async fn attach(&self, node: NodeId, inbox: BusInbox) -> Result<(), StoreError> {
        self.inner.attach(node, inbox).await
    }

    async fn publish(&self, envelope: BusEnvelope) -> Result<(), StoreError> {
        if self.cut.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.inner.publish(envelope).await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush().await
    }
}

async fn a_silent_node_stops_counting_towards_presence(subjects: Subjects) {
    let prefix = prefix();
    let cut = Arc::new(AtomicBool::new(false));
    let bus_b = Cuttable { inner: bus(&prefix, subjects).await, cut: cut.clone() };
    let Cluster { a, b, alice, bob } = Cluster::start_on(&prefix, subjects, bus_b).await;
    let mut alices_laptop = a.subscribe(&Cluster::on(&a, &alice).await).await.unwrap();
    let _bobs_phone = b.subscribe(&Cluster::on(&b, &bob).await).await.unwrap();
    eventually("A sees bob online", || a.presence(&bob).online).await;

    cut.store(true, Ordering::SeqCst);
    let silent_since = Instant::now();
    eventually("A sees bob offline once B is silent", || !a.presence(&bob).online).await;
    // Not before B's last heartbeat could have lapsed: one period at the very least.
    assert!(silent_since.elapsed() >= HEARTBEAT, "went offline after {:?}", silent_since.elapsed());
    let offline = next_matching(&mut alices_laptop, |event| match event {
        Event::Presence(p) if p.user == bob.id && !p.online => Some(p.online),
        _ => None,
    })
    .await;
    assert!(!offline, "alice's device was told");
    // B is still up: bob is online there.
    assert!(b.presence(&bob).online);
}

async fn deployments_with_other_prefixes_are_invisible(subjects: Subjects) {
    let Cluster { a, b, bob, .. } = Cluster::start_on(&prefix(), subjects, bus(&prefix(), subjects).await).await;
    let _bobs_phone = b.subscribe(&Cluster::on(&b, &bob).await).await.unwrap();
    // A and B use different prefixes: after several heartbeats A still knows nothing of bob.
    tokio::time::sleep(HEARTBEAT * 4).await;
    assert!(!a.presence(&bob).online);
    assert!(b.presence(&bob).online);
}

/// One `#[tokio::test]` per mode for each scenario above.
macro_rules! in_both_modes {
    ($($scenario:ident),* $(,)?) => {
        mod deployment_subject {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(kanect_test_nats), ignore = "set KANECT_TEST_NATS to run")]
                async fn $scenario() {
                    super::$scenario(kanect_nats::Subjects::Deployment).await
                }
            )*
        }
        mod per_user_subjects {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(kanect_test_nats), ignore = "set KANECT_TEST_NATS to run")]
                async fn $scenario() {
                    super::$scenario(kanect_nats::Subjects::PerUser).await
                }
            )*
        }
    };
}

in_both_modes!(
    messages_cross_nodes_both_ways_once_each,
    concurrent_senders_on_both_nodes_reach_every_device_once,
    logging_out_everywhere_ends_streams_on_other_nodes,
    a_user_leaving_a_node_goes_offline_everywhere,
    a_silent_node_stops_counting_towards_presence,
    deployments_with_other_prefixes_are_invisible,
    directory_changes_reach_every_device_on_other_nodes,
    what_a_node_publishes_before_it_flushes_and_exits_arrives,
);

/// Lets a test keep a handle on a bus it gives an engine.
struct Shared(Arc<NatsBus>);

#[async_trait]
impl Bus for Shared {
    async fn attach(&self, node: NodeId, inbox: BusInbox) -> Result<(), StoreError> {
        self.0.attach(node, inbox).await
    }

    async fn publish(&self, envelope: BusEnvelope) -> Result<(), StoreError> {
        self.0.publish(envelope).await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.0.flush().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_nats), ignore = "set KANECT_TEST_NATS to run")]
async fn per_user_deliveries_reach_only_followed_subjects() {
    let prefix = prefix();
    let bus_b = Arc::new(bus(&prefix, Subjects::PerUser).await);
    let Cluster { a, b, alice, bob } = Cluster::start_on(&prefix, Subjects::PerUser, Shared(bus_b.clone())).await;
    let raw = async_nats::connect(url()).await.unwrap();
    let mut everything = raw.subscribe(format!("kanect.{prefix}.>")).await.unwrap();
    // A round trip on the raw connection: its subscription is live once the probe is back.
    let probe_subject = raw.new_inbox();
    let mut probe = raw.subscribe(probe_subject.clone()).await.unwrap();
    raw.publish(probe_subject, Vec::new().into()).await.unwrap();
    tokio::time::timeout(PATIENCE, probe.next()).await.unwrap().unwrap();

    assert_eq!(bus_b.followed_users(), 0, "nobody is connected to B yet");
    let bobs_phone = b.subscribe(&Cluster::on(&b, &bob).await).await.unwrap();
    assert_eq!(bus_b.followed_users(), 1, "B follows bob as soon as his device is subscribed");

    let alice_on_a = Cluster::on(&a, &alice).await;
    let direct = a.open_direct(&alice_on_a, bob.id).await.unwrap();
    // A directory change (a broadcast) goes out before the message.
    a.register(Registration::new("carol", "carol password")).await.unwrap();
    a.send(&alice_on_a, direct.id, "c1", "per user").await.unwrap();
    let mut broadcasts = 0;
    let subject = tokio::time::timeout(PATIENCE, async {
        loop {
            let message = everything.next().await.expect("raw subscription open");
            let envelope: BusEnvelope = serde_json::from_slice(&message.payload).unwrap();
            match envelope.message {
                BusMessage::Deliver { recipients, event: Event::Message { .. } } => {
                    // Each member (sender included, for their other devices) on their own subject.
                    assert_eq!(recipients.len(), 1, "one recipient per per-user envelope");
                    assert_eq!(message.subject.as_str(), bus_b.user_subject(recipients[0]));
                    if recipients[0] == bob.id {
                        break message.subject.to_string();
                    }
                }
                BusMessage::Deliver { .. } | BusMessage::EndSessions { .. } => {
                    assert_ne!(
                        message.subject.as_str(),
                        format!("kanect.{prefix}.events"),
                        "deliveries stay off the deployment subject"
                    );
                }
                BusMessage::Broadcast { .. } => {
                    assert_eq!(
                        message.subject.as_str(),
                        format!("kanect.{prefix}.events"),
                        "broadcasts reach every node"
                    );
                    broadcasts += 1;
                }
                BusMessage::Presence { .. }
                | BusMessage::Heartbeat { .. }
                | BusMessage::PushSubscribed { .. }
                | BusMessage::Forget { .. } => {
                    assert_eq!(message.subject.as_str(), format!("kanect.{prefix}.events"));
                }
            }
        }
    })
    .await
    .expect("the message was published");
    assert_eq!(broadcasts, 1, "carol's account, announced once");
    assert_eq!(subject, format!("kanect.{prefix}.user.{}", bob.id));
    assert_eq!(subject, bus_b.user_subject(bob.id));

    drop(bobs_phone);
    eventually("B stops following bob after two heartbeats without him", || bus_b.followed_users() == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_nats), ignore = "set KANECT_TEST_NATS to run")]
async fn malformed_and_own_envelopes_are_skipped() {
    let prefix = prefix();
    let listener = bus(&prefix, Subjects::Deployment).await;
    let node = NodeId::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    listener.attach(node, BusInbox::new(move |envelope| drop(tx.send(envelope)))).await.unwrap();

    let expected = BusEnvelope {
        origin: NodeId::new(),
        message: BusMessage::Heartbeat { online: vec![UserId::new()], idle: vec![] },
    };
    let own = BusEnvelope { origin: node, message: BusMessage::Heartbeat { online: vec![], idle: vec![] } };
    // One raw connection publishes everything: NATS keeps its order.
    let raw = async_nats::connect(url()).await.unwrap();
    let subject = listener.subject().to_string();
    for payload in [
        b"not json".to_vec(),
        br#"{"origin": 5, "message": null}"#.to_vec(),
        vec![0xff, 0xfe, 0x00],
        serde_json::to_vec(&own).unwrap(),
        serde_json::to_vec(&expected).unwrap(),
    ] {
        raw.publish(subject.clone(), payload.into()).await.unwrap();
    }
    raw.flush().await.unwrap();
    let first = tokio::time::timeout(PATIENCE, rx.recv()).await.expect("listener still running").unwrap();
    assert_eq!(first, expected);
}
