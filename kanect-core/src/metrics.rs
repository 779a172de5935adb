//! Engine metrics, emitted through the [`metrics`] facade so that whatever recorder the
//! application installed sees them: Kanect's Prometheus page (`kanect-http`) or the
//! application's own.
//!
//! # Cost on the hot path
//! A send records a counter and two histograms. The handles are registered once, when the
//! engine is built ([`Metrics::register`]), so recording is the recorder's own atomic update:
//! no name lookup, no lock per message. With no recorder installed the handles are no-ops.
//!
//! # The recorder is the one installed when the engine is built
//! The facade hands out handles from the recorder installed at the time they are registered.
//! Install the recorder first, then build the `Chat`; an engine built before any recorder was
//! installed records into nothing. Several engines in one process share the recorder's series
//! (the facade is process-wide); building one inside `metrics::with_local_recorder` gives it
//! its own.
//!
//! # Names
//! Every name is a constant here, so adapters and dashboards refer to one spelling. Durations
//! are recorded in seconds.

use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};

/// Messages accepted and persisted (duplicates excluded).
pub const MESSAGES_SENT: &str = "kanect_messages_sent_total";
/// Time from a persisted event to its last local device queue.
pub const FANOUT_SECONDS: &str = "kanect_fanout_seconds";
/// Time the store took to append a message (including its durable flush).
pub const STORE_APPEND_SECONDS: &str = "kanect_store_append_seconds";
/// Messages not pushed because too many waited for their pushes already.
pub const PUSHES_DROPPED: &str = "kanect_pushes_dropped_total";
/// Events handed to device queues.
pub const DELIVERIES: &str = "kanect_deliveries_total";
/// Events not queued because the device lagged (it is told to resync).
pub const DELIVERIES_LAGGED: &str = "kanect_deliveries_lagged_total";
/// Devices (sockets and poll sessions) subscribed on this node.
pub const DEVICES_CONNECTED: &str = "kanect_devices_connected";
/// Time a store's group commit took to make one group durable (the journal write and its
/// `fdatasync`; on PostgreSQL, the batch statement and its commit), by `engine`.
pub const STORE_GROUP_SYNC_SECONDS: &str = "kanect_store_group_sync_seconds";
/// Writes one group commit of a store made durable at once, by `engine`: how well the group
/// commit amortises its syncs.
pub const STORE_GROUP_WRITES: &str = "kanect_store_group_writes";
/// Log-ins refused, by `reason` (the error code: `bad_credentials`, `account_disabled`,
/// `too_many_attempts`, ...).
pub const LOGIN_FAILURES: &str = "kanect_login_failures_total";

/// The engine's metric handles, registered with the recorder installed when the engine was
/// built.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// See [`MESSAGES_SENT`].
    pub messages_sent: Counter,
    /// See [`FANOUT_SECONDS`].
    pub fanout: Histogram,
    /// See [`STORE_APPEND_SECONDS`].
    pub store_append: Histogram,
    /// See [`PUSHES_DROPPED`]: a growing count means a push service slower than the messages
    /// ([`ChatConfig::push_backlog`](crate::ChatConfig::push_backlog)).
    pub pushes_dropped: Counter,
    /// See [`DELIVERIES`].
    pub deliveries: Counter,
    /// See [`DELIVERIES_LAGGED`].
    pub deliveries_lagged: Counter,
    /// See [`DEVICES_CONNECTED`].
    pub devices_connected: Gauge,
}

impl Metrics {
    /// Registers the engine's metrics with the recorder installed now (the thread's local one,
    /// else the global one), with their descriptions.
    pub fn register() -> Self {
        describe();
        Metrics {
            messages_sent: counter!(MESSAGES_SENT),
            fanout: histogram!(FANOUT_SECONDS),
            store_append: histogram!(STORE_APPEND_SECONDS),
            pushes_dropped: counter!(PUSHES_DROPPED),
            deliveries: counter!(DELIVERIES),
            deliveries_lagged: counter!(DELIVERIES_LAGGED),
            devices_connected: gauge!(DEVICES_CONNECTED),
        }
    }
}

/// The metrics of a store's group commit (registered by the store, on its committing thread's
/// behalf, when it opens). No-ops by default.
#[derive(Debug, Clone)]
pub struct GroupCommitMetrics {
    /// See [`STORE_GROUP_SYNC_SECONDS`].
    pub sync: Histogram,
    /// See [`STORE_GROUP_WRITES`].
    pub writes: Histogram,
}

impl GroupCommitMetrics {
    /// Registers the group commit metrics of the store engine `engine` (`fjall`, `sled`,
    /// `postgres`) with
    /// the recorder installed now.
    pub fn register(engine: &'static str) -> Self {
        use metrics::{describe_histogram, Unit};
        describe_histogram!(
            STORE_GROUP_SYNC_SECONDS,
            Unit::Seconds,
            "Time a group commit took to make its group durable."
        );
        describe_histogram!(STORE_GROUP_WRITES, "Writes one group commit made durable at once.");
        GroupCommitMetrics {
            sync: histogram!(STORE_GROUP_SYNC_SECONDS, "engine" => engine),
            writes: histogram!(STORE_GROUP_WRITES, "engine" => engine),
        }
    }
}

impl Default for GroupCommitMetrics {
    fn default() -> Self {
        GroupCommitMetrics { sync: Histogram::noop(), writes: Histogram::noop() }
    }
}

/// Counts a refused log-in. Not on a hot path: the series is looked up by its `reason`.
pub(crate) fn login_failed(reason: &'static str) {
    counter!(LOGIN_FAILURES, "reason" => reason).increment(1);
}

/// The help texts a Prometheus page shows.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(MESSAGES_SENT, "Messages accepted and persisted.");
    describe_histogram!(FANOUT_SECONDS, Unit::Seconds, "Time from a persisted event to its last local device queue.");
    describe_histogram!(STORE_APPEND_SECONDS, Unit::Seconds, "Time the store took to append a message durably.");
    describe_counter!(PUSHES_DROPPED, "Messages not pushed because too many waited for their pushes already.");
    describe_counter!(DELIVERIES, "Events handed to device queues.");
    describe_counter!(DELIVERIES_LAGGED, "Events not queued because the device lagged.");
    describe_gauge!(DEVICES_CONNECTED, "Devices (sockets and poll sessions) subscribed on this node.");
    describe_counter!(LOGIN_FAILURES, "Log-ins refused, by reason.");
}
