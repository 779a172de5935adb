//! Helpers shared by the engine tests.
#![allow(dead_code, unreachable_pub)]

use kanect_core::{
    Caller, Chat, ChatConfig, Event, MemoryStore, Message, PasswordCost, RateLimits, Registration, Subscription,
    TryNext, User,
};
use std::sync::Arc;
use std::time::Duration;

/// A config with cheap hashing, for tests that create many users.
pub fn fast_config() -> ChatConfig {
    ChatConfig { password_cost: PasswordCost::INSECURE_FAST, ..Default::default() }
}

/// [`fast_config`] without rate limits, for tests that send far faster than people do.
pub fn unlimited_config() -> ChatConfig {
    ChatConfig { rate_limits: RateLimits::UNLIMITED, ..fast_config() }
}

pub async fn chat() -> Chat {
    chat_with(fast_config()).await
}

pub async fn chat_with(config: ChatConfig) -> Chat {
    Chat::builder(MemoryStore::new()).config(config).build().await.unwrap()
}

/// An engine on a memory store, and the store, for tests that look at what was stored or write
/// past the engine.
pub async fn chat_and_store() -> (Chat, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let chat = Chat::builder_shared(store.clone()).config(fast_config()).build().await.unwrap();
    (chat, store)
}

/// Two engines ("nodes") on one memory store and one local bus, as a cluster is.
pub async fn two_nodes(config: ChatConfig) -> (Chat, Chat) {
    let store: Arc<dyn kanect_core::Store> = Arc::new(MemoryStore::new());
    let bus = kanect_core::LocalBus::new();
    let node = || Chat::builder_shared(store.clone()).bus(bus.clone()).config(config.clone()).build();
    (node().await.unwrap(), node().await.unwrap())
}

/// Registers `name` and returns the user and a caller for them (through a real log-in).
pub async fn user(chat: &Chat, name: &str) -> (User, Caller) {
    let password = format!("{name}-secret-pw");
    let user = chat.register(Registration::new(name, password.clone())).await.unwrap();
    let login = chat.login(name, &password).await.unwrap();
    (user, chat.authenticate(login.token.as_str()).await.unwrap())
}

/// The next event within two seconds.
pub async fn next_event(subscription: &mut Subscription) -> Event {
    tokio::time::timeout(Duration::from_secs(2), subscription.next())
        .await
        .expect("no event within 2 s")
        .expect("stream ended")
        .event()
        .clone()
}

/// The next message event, skipping others.
pub async fn next_message(subscription: &mut Subscription) -> Message {
    loop {
        if let Event::Message { message } = next_event(subscription).await {
            return message;
        }
    }
}

/// Everything queued right now.
pub fn drain(subscription: &mut Subscription) -> Vec<Event> {
    let mut events = Vec::new();
    while let TryNext::Ready(delivery) = subscription.try_next() {
        events.push(delivery.event().clone());
    }
    events
}

pub fn messages(events: &[Event]) -> Vec<Message> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message { message } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

/// The error code of a result that must be an error.
pub fn code<T: std::fmt::Debug>(result: kanect_core::Result<T>) -> &'static str {
    result.expect_err("expected an error").code()
}

/// One series of a [`snapshot`]: its name, labels and value.
pub type Series = (String, Vec<(String, String)>, metrics_util::debugging::DebugValue);

/// What `snapshotter`'s recorder recorded since the last snapshot: a snapshot resets its
/// counters and drains its histograms, so take one and read everything from it.
pub fn snapshot(snapshotter: &metrics_util::debugging::Snapshotter) -> Vec<Series> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let labels = key.key().labels().map(|l| (l.key().to_string(), l.value().to_string())).collect();
            (key.key().name().to_string(), labels, value)
        })
        .collect()
}

/// The series of `snapshot` named `name`: their labels and values.
pub fn series(snapshot: &[Series], name: &str) -> Vec<(Vec<(String, String)>, metrics_util::debugging::DebugValue)> {
    use metrics_util::debugging::DebugValue;
    // (DebugValue is not Clone.)
    let copy = |value: &DebugValue| match value {
        DebugValue::Counter(count) => DebugValue::Counter(*count),
        DebugValue::Gauge(level) => DebugValue::Gauge(*level),
        DebugValue::Histogram(values) => DebugValue::Histogram(values.clone()),
    };
    snapshot.iter().filter(|(n, ..)| n == name).map(|(_, labels, value)| (labels.clone(), copy(value))).collect()
}

/// The sum of the counters named `name` in `snapshot` (0 if none).
pub fn counter_value(snapshot: &[Series], name: &str) -> u64 {
    series(snapshot, name)
        .into_iter()
        .map(|(_, value)| match value {
            metrics_util::debugging::DebugValue::Counter(count) => count,
            other => panic!("{name} is not a counter: {other:?}"),
        })
        .sum()
}
