-- Every verified GitHub webhook delivery, once per delivery id, and what became of it.
CREATE TABLE deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id     TEXT    NOT NULL UNIQUE,
    event           TEXT    NOT NULL,
    action          TEXT,
    repository      TEXT,
    pull_request    BIGINT,
    received_at_ms  BIGINT  NOT NULL,
    payload         TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    error           TEXT,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    processed_at_ms BIGINT
);
CREATE INDEX deliveries_by_status ON deliveries (status, seq);
