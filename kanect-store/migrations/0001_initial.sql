-- Kanect schema version 1: everything the Store trait persists.
--
-- Ids are UUIDs; timestamps are milliseconds since the Unix epoch (BIGINT); seqs are BIGINT.
-- There are no foreign keys to users: messages and memberships outlive accounts (the engine
-- decides what a deleted user's messages become), and several nodes write concurrently.

CREATE TABLE kanect_users (
    id UUID PRIMARY KEY,
    username TEXT NOT NULL,
    -- User::fold(username); byte order ("C") so that paging matches every other backend.
    username_folded TEXT COLLATE "C" NOT NULL,
    display_name TEXT,
    -- display_name lower-cased by the application (Unicode rules do not depend on the
    -- database's locale this way); used by the user search.
    display_name_lower TEXT,
    email TEXT,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    disabled BOOLEAN NOT NULL,
    last_seen BIGINT,
    password_hash TEXT NOT NULL,
    CONSTRAINT kanect_users_username_folded_key UNIQUE (username_folded)
);

CREATE TABLE kanect_sessions (
    token_hash BYTEA PRIMARY KEY,
    user_id UUID NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX kanect_sessions_user ON kanect_sessions (user_id);

CREATE TABLE kanect_conversations (
    id UUID PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT,
    owner UUID,
    created_at BIGINT NOT NULL
);

CREATE TABLE kanect_memberships (
    conversation UUID NOT NULL REFERENCES kanect_conversations (id) ON DELETE CASCADE,
    user_id UUID NOT NULL,
    -- Join order: a user's conversations are listed in the order they joined.
    joined BIGSERIAL NOT NULL,
    PRIMARY KEY (conversation, user_id)
);
CREATE INDEX kanect_memberships_user ON kanect_memberships (user_id, joined);

-- The last seq handed out per conversation. Appends increment it with a row lock held until
-- their transaction commits, which is what makes seqs gap-free across nodes.
CREATE TABLE kanect_conversation_seqs (
    conversation UUID PRIMARY KEY,
    last_seq BIGINT NOT NULL
);

CREATE TABLE kanect_messages (
    conversation UUID NOT NULL,
    seq BIGINT NOT NULL,
    id UUID NOT NULL,
    sender UUID NOT NULL,
    body TEXT NOT NULL,
    client_id TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    edited_at BIGINT,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (conversation, seq),
    CONSTRAINT kanect_messages_id_key UNIQUE (id),
    CONSTRAINT kanect_messages_client_key UNIQUE (conversation, sender, client_id)
);

CREATE TABLE kanect_receipts (
    conversation UUID NOT NULL,
    user_id UUID NOT NULL,
    delivered BIGINT NOT NULL,
    read_up_to BIGINT NOT NULL,
    PRIMARY KEY (conversation, user_id)
);

CREATE TABLE kanect_audit (
    id UUID PRIMARY KEY,
    at BIGINT NOT NULL,
    actor UUID NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT
);
