-- Repositories Slipway builds and previews.
CREATE TABLE repositories (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT    NOT NULL UNIQUE,
    clone_url      TEXT    NOT NULL,
    default_branch TEXT    NOT NULL,
    created_at_ms  BIGINT  NOT NULL
);
