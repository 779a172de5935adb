-- Kanect schema version 12: rate-limit buckets every node shares (see
-- kanect_core::backend::SharedRateBuckets), so that a client spreading its requests over the
-- nodes of a cluster gets each limit once, not once per node.
--
-- `key` is a SHA-256 (kanect_core::backend::BucketKey): no account id, username or address is
-- stored. `full_at` is the bucket's theoretical arrival time (GCRA) in microseconds since the
-- Unix epoch, by the database's clock; a bucket whose time has passed is full and may be
-- deleted. UNLOGGED, as the log-in attempt records: they change on every limited action and
-- losing them only refills buckets early.

CREATE UNLOGGED TABLE kanect_rate_buckets (
    key BYTEA PRIMARY KEY,
    full_at BIGINT NOT NULL
);
