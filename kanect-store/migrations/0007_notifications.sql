-- Notifications: each user's settings (one JSON document, replaced whole, as the engine reads,
-- changes and writes it back), their devices' Web Push subscriptions (keyed by user and the
-- SHA-256 of the endpoint, which may be long), and the server secrets every node shares (the
-- VAPID key pair), written once.
CREATE TABLE kanect_notification_settings (
    user_id  UUID PRIMARY KEY,
    settings JSONB NOT NULL
);

CREATE TABLE kanect_push_subscriptions (
    user_id       UUID NOT NULL,
    endpoint_hash BYTEA NOT NULL,
    subscription  JSONB NOT NULL,
    PRIMARY KEY (user_id, endpoint_hash)
);

CREATE TABLE kanect_server_secrets (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
