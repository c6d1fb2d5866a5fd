-- Pipeline runs and their steps. A run is created pending; an executor claims it (pending →
-- running, once, whatever the number of replicas), resolves its commit, stores the definition it
-- runs and one row per step, and proves it is alive with heartbeats so that a run whose
-- executor died can be found and retried.
CREATE TABLE pipelines (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repository_id    BIGINT  NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    git_ref          TEXT    NOT NULL,
    commit_sha       TEXT,
    trigger_kind     TEXT    NOT NULL,
    pr_number        BIGINT,
    status           TEXT    NOT NULL,
    reason           TEXT,
    retry_of         BIGINT,
    definition       TEXT,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    claimed_by       TEXT,
    heartbeat_ms     BIGINT,
    created_at_ms    BIGINT  NOT NULL,
    started_at_ms    BIGINT,
    finished_at_ms   BIGINT
);
CREATE INDEX pipelines_by_status ON pipelines (status, id);
CREATE INDEX pipelines_by_repository ON pipelines (repository_id, id);

CREATE TABLE pipeline_steps (
    pipeline_id    BIGINT  NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    step_order     INTEGER NOT NULL,
    image          TEXT    NOT NULL,
    depends_on     TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    exit_code      INTEGER,
    reason         TEXT,
    log_key        TEXT,
    started_at_ms  BIGINT,
    finished_at_ms BIGINT,
    PRIMARY KEY (pipeline_id, name)
);
