-- Kanect schema version 6: replies, mentions, reactions and system lines (kanect_core::Message).
--
-- `reply_to` is the seq of the message of the same conversation a message replies to (NULL:
-- none); the preview shown with a reply is read from that message, never stored. `mentions`
-- is a JSON array of the user ids the body names (sorted); `reactions` a JSON array of
-- kanect_core::Reaction (emoji and who reacted, in order), changed only by a transaction that
-- holds the row (SELECT ... FOR UPDATE), so two reactions at once both count. `event` is the
-- kanect_core::GroupEvent a system line records, as JSON (NULL: a member's message). Every existing
-- message replies to nothing and has no mentions or reactions: constant defaults, so adding
-- the columns rewrites no row.

ALTER TABLE kanect_messages
    ADD COLUMN reply_to BIGINT,
    ADD COLUMN mentions JSONB NOT NULL DEFAULT '[]',
    ADD COLUMN reactions JSONB NOT NULL DEFAULT '[]',
    ADD COLUMN event JSONB;
