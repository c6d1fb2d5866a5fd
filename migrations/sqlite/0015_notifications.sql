-- Outgoing notifications. A subscription is a repository's receiver: its URL, the events it
-- wants (comma-separated names) and its signing secret, sealed like repository secrets. A
-- delivery is one event for one subscription, unique per subject event (the same run's ending
-- observed twice, or by two replicas, is one delivery); a sender claims due ones for a while,
-- and each attempt is kept with its answer. Both go with their subscription.
CREATE TABLE notification_subscriptions (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id     BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    url               TEXT   NOT NULL,
    events            TEXT   NOT NULL,
    secret_nonce      TEXT   NOT NULL,
    secret_ciphertext TEXT   NOT NULL,
    created_at_ms     BIGINT NOT NULL
);
CREATE INDEX notification_subscriptions_by_repository ON notification_subscriptions (repository_id);

CREATE TABLE notification_deliveries (
    id                 TEXT   PRIMARY KEY,
    subscription_id    BIGINT NOT NULL REFERENCES notification_subscriptions (id) ON DELETE CASCADE,
    event              TEXT   NOT NULL,
    subject_key        TEXT   NOT NULL,
    payload            TEXT   NOT NULL,
    status             TEXT   NOT NULL,
    attempts           BIGINT NOT NULL DEFAULT 0,
    next_attempt_at_ms BIGINT NOT NULL,
    last_status_code   BIGINT,
    last_error         TEXT,
    redelivery_of      TEXT,
    claimed_by         TEXT,
    claimed_until_ms   BIGINT,
    created_at_ms      BIGINT NOT NULL,
    delivered_at_ms    BIGINT,
    UNIQUE (subscription_id, subject_key)
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (status, next_attempt_at_ms);
CREATE INDEX notification_deliveries_by_subscription ON notification_deliveries (subscription_id, created_at_ms);

CREATE TABLE notification_attempts (
    delivery_id TEXT   NOT NULL REFERENCES notification_deliveries (id) ON DELETE CASCADE,
    attempt     BIGINT NOT NULL,
    at_ms       BIGINT NOT NULL,
    status_code BIGINT,
    error       TEXT,
    duration_ms BIGINT NOT NULL,
    response    TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
