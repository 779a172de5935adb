-- Message search (PgStore::search_index): PostgreSQL's own full-text search, so a cluster
-- needs no search service. The words of each body, kept by PostgreSQL itself in the same row
-- (so never behind the message: an edit or a delete rewrites them in the same statement), with
-- the 'simple' configuration: lower-cased words, no stemming, no stop words (chat is
-- multilingual). A deleted message's body is empty, so it has no words.
ALTER TABLE kanect_messages
    ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, body)) STORED;

CREATE INDEX kanect_messages_search ON kanect_messages USING GIN (search);
