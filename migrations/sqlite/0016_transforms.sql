-- Transform runs: one change tried across many repositories. A run keeps its validated spec
-- (JSON) and a status kept in step with its executions; an execution is one repository's
-- task, unique on its key `preview:{run_id}:{repository}` (the same task twice is one
-- execution). Pending executions are the embedded queue: a worker claims one when it is due,
-- for a while, counting an attempt; a claim nobody renews is taken over. The repository's
-- name is kept, so a run still reads after its repository was removed.
CREATE TABLE transform_runs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT    NOT NULL,
    spec             TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    started_by       TEXT,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    created_at_ms    BIGINT  NOT NULL,
    finished_at_ms   BIGINT
);

CREATE TABLE transform_executions (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id             BIGINT NOT NULL REFERENCES transform_runs (id) ON DELETE CASCADE,
    repository_id      BIGINT NOT NULL,
    repository         TEXT   NOT NULL,
    task_key           TEXT   NOT NULL UNIQUE,
    status             TEXT   NOT NULL,
    attempts           BIGINT NOT NULL DEFAULT 0,
    max_attempts       BIGINT NOT NULL,
    next_attempt_at_ms BIGINT NOT NULL,
    claimed_by         TEXT,
    claimed_until_ms   BIGINT,
    base_sha           TEXT,
    exit_code          BIGINT,
    reason             TEXT,
    diff               TEXT,
    patch_sha256       TEXT,
    created_at_ms      BIGINT NOT NULL,
    started_at_ms      BIGINT,
    finished_at_ms     BIGINT
);
CREATE INDEX transform_executions_due ON transform_executions (status, next_attempt_at_ms);
CREATE INDEX transform_executions_by_run ON transform_executions (run_id, repository);
CREATE INDEX transform_executions_by_repository ON transform_executions (repository_id);

-- Whether workers take new executions (one row, id 1; none: they do). Pausing stops new
-- executions from starting on every replica; running ones go on.
CREATE TABLE transform_queue (
    id            BIGINT  PRIMARY KEY,
    paused        BOOLEAN NOT NULL,
    changed_by    TEXT,
    changed_at_ms BIGINT  NOT NULL
);
