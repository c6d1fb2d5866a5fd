-- What started a run in more detail (the pull request action), and each repository's cron
-- schedules (read from .platform.yaml on its default branch) with when each runs next; replicas
-- advance `next_at_ms` with a compare-and-set, so an occurrence starts one run.
ALTER TABLE pipelines ADD COLUMN trigger_detail TEXT;

CREATE TABLE pipeline_schedules (
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    cron          TEXT   NOT NULL,
    branch        TEXT   NOT NULL,
    next_at_ms    BIGINT NOT NULL,
    PRIMARY KEY (repository_id, cron, branch)
);
