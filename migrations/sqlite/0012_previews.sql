-- Preview environments, one per pull request, and their deployment attempts. An attempt is
-- unique per (preview, commit, round): the same commit is never deployed twice, unless a retry
-- or a re-creation bumps the round. `wanted` follows the pull request (open and matching the
-- repository's rules); the preview worker deploys wanted previews and removes the others.
CREATE TABLE previews (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    pull_request_id  BIGINT  NOT NULL UNIQUE REFERENCES pull_requests (id) ON DELETE CASCADE,
    namespace        TEXT    NOT NULL UNIQUE,
    status           TEXT    NOT NULL,
    wanted           BOOLEAN NOT NULL,
    round            BIGINT  NOT NULL DEFAULT 0,
    head_sha         TEXT    NOT NULL,
    url              TEXT,
    reason           TEXT,
    comment_id       BIGINT,
    created_at_ms    BIGINT  NOT NULL,
    updated_at_ms    BIGINT  NOT NULL,
    last_push_at_ms  BIGINT  NOT NULL,
    deployed_at_ms   BIGINT,
    expires_at_ms    BIGINT
);
CREATE INDEX previews_status ON previews (status);

CREATE TABLE preview_attempts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    preview_id     BIGINT  NOT NULL REFERENCES previews (id) ON DELETE CASCADE,
    sha            TEXT    NOT NULL,
    round          BIGINT  NOT NULL,
    status         TEXT    NOT NULL,
    reason         TEXT,
    created_at_ms  BIGINT  NOT NULL,
    started_at_ms  BIGINT,
    heartbeat_ms   BIGINT,
    finished_at_ms BIGINT,
    UNIQUE (preview_id, sha, round)
);
CREATE INDEX preview_attempts_status ON preview_attempts (status);
