-- Kanect schema version 7: invite links (kanect_core::backend::InviteStore).
--
-- One row per invite. The token itself is never stored, only its SHA-256 (`token_hash`,
-- unique: how a sign-up finds its invite). A redemption is one UPDATE that takes a use only
-- while `uses_left > 0` and the invite is unexpired, so concurrent sign-ups on any node never
-- take more uses than it has. `created_by` is indexed for a user's own list. Uses are BIGINT
-- (they hold a u32); timestamps are milliseconds since the Unix epoch, as everywhere.

CREATE TABLE kanect_invites (
    id UUID PRIMARY KEY,
    token_hash BYTEA NOT NULL UNIQUE,
    created_by UUID NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    uses BIGINT NOT NULL,
    uses_left BIGINT NOT NULL,
    CONSTRAINT kanect_invites_uses CHECK (uses_left >= 0 AND uses_left <= uses)
);
CREATE INDEX kanect_invites_created_by ON kanect_invites (created_by, id);
