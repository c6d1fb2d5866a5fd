-- Pull requests as GitHub last described them, and whether each wants a preview at its head
-- commit. `updated_at` (GitHub's, RFC 3339 UTC, so it sorts as text) keeps a late, older event
-- from rolling a pull request back.
CREATE TABLE pull_requests (
    id             BIGSERIAL PRIMARY KEY,
    repository     TEXT    NOT NULL,
    number         BIGINT  NOT NULL,
    title          TEXT    NOT NULL,
    author         TEXT    NOT NULL,
    head_ref       TEXT    NOT NULL,
    head_sha       TEXT    NOT NULL,
    base_ref       TEXT    NOT NULL,
    draft          BOOLEAN NOT NULL,
    labels         TEXT    NOT NULL,
    open           BOOLEAN NOT NULL,
    merged         BOOLEAN NOT NULL,
    updated_at     TEXT    NOT NULL,
    UNIQUE (repository, number)
);

-- "A preview is wanted for (pull request, commit)", or not, and why: what the preview work
-- acts on. One row per pair, so the same commit is never deployed twice.
CREATE TABLE preview_intents (
    pull_request_id BIGINT  NOT NULL REFERENCES pull_requests (id) ON DELETE CASCADE,
    head_sha        TEXT    NOT NULL,
    wanted          BOOLEAN NOT NULL,
    reason          TEXT,
    decided_at_ms   BIGINT  NOT NULL,
    PRIMARY KEY (pull_request_id, head_sha)
);
