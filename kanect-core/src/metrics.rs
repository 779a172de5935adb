//! Engine metrics: counters and fixed-bucket latency histograms, lock-free.
//!
//! The engine records; adapters render (kanect-http writes the Prometheus text format).
//! Buckets are fixed so that recording is two atomic adds on the hot path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the histogram buckets, in microseconds (the last bucket is +Inf).
pub const BUCKETS_MICROS: [u64; 12] = [10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000, 250_000];

/// A latency histogram with [`BUCKETS_MICROS`] buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS_MICROS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn record(&self, elapsed: Duration) {
        let micros = elapsed.as_micros().min(u64::MAX as u128) as u64;
        let bucket = BUCKETS_MICROS.iter().position(|&bound| micros <= bound).unwrap_or(BUCKETS_MICROS.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Per-bucket counts (not cumulative), the last being +Inf.
    pub fn counts(&self) -> Vec<u64> {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect()
    }

    /// Sum of all observations, in microseconds.
    pub fn sum_micros(&self) -> u64 {
        self.sum_micros.load(Ordering::Relaxed)
    }
}

/// What the engine counts.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Messages accepted and persisted (duplicates excluded).
    pub messages_sent: AtomicU64,
    /// Time from a persisted event to its last local device queue.
    pub fanout: Histogram,
    /// Time the store took to append a message (including its durable flush).
    pub store_append: Histogram,
    /// Messages not pushed because too many were waiting for their pushes already
    /// ([`ChatConfig::push_backlog`](crate::ChatConfig::push_backlog)): a growing count means a
    /// push service slower than the messages.
    pub pushes_dropped: AtomicU64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_into_buckets() {
        let histogram = Histogram::default();
        histogram.record(Duration::from_micros(5));
        histogram.record(Duration::from_micros(30));
        histogram.record(Duration::from_secs(10));
        let counts = histogram.counts();
        assert_eq!(counts[0], 1);
        assert_eq!(counts[2], 1);
        assert_eq!(counts[BUCKETS_MICROS.len()], 1);
        assert_eq!(histogram.sum_micros(), 10_000_035);
    }
}
