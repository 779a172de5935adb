-- Kanect schema version 2: log-in attempt records, shared by every node (see
-- kanect_core::Store::count_login_attempt).
--
-- `key` is a SHA-256 (kanect_core::AttemptKey): no username or address is stored. Times are
-- milliseconds since the Unix epoch. UNLOGGED: these records change on every log-in attempt
-- and only ever shorten a slow-down if lost, so they skip the write-ahead log (after a crash
-- PostgreSQL empties the table; standbys do not have it).

CREATE UNLOGGED TABLE kanect_login_attempts (
    key BYTEA PRIMARY KEY,
    count BIGINT NOT NULL,
    not_before BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX kanect_login_attempts_expiry ON kanect_login_attempts (expires_at);
