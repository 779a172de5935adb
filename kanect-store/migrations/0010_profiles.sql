-- Kanect schema version 7: self-service profiles (kanect_core::User, kanect_core::Session).
--
-- `status` is the short text a user shows beside their name (NULL: none); `avatar` the id of
-- their avatar's blob, which is also its version (NULL: none, the initials are shown). A
-- session's `last_used` (milliseconds, NULL: not recorded yet) is written at most once a minute
-- per session; `user_agent` is the client's, cut at 256 bytes. No defaults to fill: adding
-- the columns rewrites no row.

ALTER TABLE kanect_users
    ADD COLUMN status TEXT,
    ADD COLUMN avatar UUID;

ALTER TABLE kanect_sessions
    ADD COLUMN last_used BIGINT,
    ADD COLUMN user_agent TEXT;
