-- Kanect schema version 11: one account token per user and purpose, and the e-mail lookup.
--
-- A user keeps at most one token of each purpose, the newest (kanect_core::AccountTokenStore):
-- the unique index makes storing a new one an INSERT ... ON CONFLICT that replaces the old one
-- in one statement, so two racing password-reset requests on any nodes leave one working link.
-- Older builds could leave several; the newest of each stays (ties: the greater hash).
--
-- A password reset finds accounts by address without reading the user list
-- (kanect_core::User::fold_email): the index is on the address with ASCII letters lower-cased,
-- written with translate() so that it folds exactly as Rust's to_ascii_lowercase does,
-- whatever the database's locale (lower() follows it).

DELETE FROM kanect_account_tokens old USING kanect_account_tokens newer
    WHERE old.user_id = newer.user_id AND old.purpose = newer.purpose
      AND (old.created_at, old.token_hash) < (newer.created_at, newer.token_hash);
DROP INDEX kanect_account_tokens_user;
CREATE UNIQUE INDEX kanect_account_tokens_user_purpose ON kanect_account_tokens (user_id, purpose);

CREATE INDEX kanect_users_email_folded ON kanect_users
    (translate(email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'))
    WHERE email IS NOT NULL;
