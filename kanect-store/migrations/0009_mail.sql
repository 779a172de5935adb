-- Kanect schema version 8: e-mail. Users gain their address's verification and their
-- missed-message digest state; the single-use tokens mailed to them (verification, password
-- reset, digest unsubscribe) are kept by the SHA-256 of the token (kanect_core::AccountToken).
--
-- Times are milliseconds since the Unix epoch, as everywhere. No foreign key to kanect_users,
-- as for sessions: deleting a user deletes its tokens in the same statement.

ALTER TABLE kanect_users
    ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN digests_off BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN digested_at BIGINT;

CREATE TABLE kanect_account_tokens (
    token_hash BYTEA PRIMARY KEY,
    purpose TEXT NOT NULL,
    user_id UUID NOT NULL,
    address TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX kanect_account_tokens_user ON kanect_account_tokens (user_id);
