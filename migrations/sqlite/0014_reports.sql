-- What Slipway last reported about each pipeline run and each preview: to GitHub (the check run
-- or deployment's id, the attempt a deployment is for, a digest of the last report GitHub
-- accepted) and the subject's status when it was last reported (to GitHub and to notification
-- subscribers). A replica claims a row for a few seconds while it reports, so two replicas never
-- create the same check run twice. The sweep that finds changes whose notification was lost
-- reads recent runs and previews by time. `reporting` is a repository's choice of what is sent
-- (JSON; NULL: everything).
CREATE TABLE reports (
    kind             TEXT   NOT NULL,
    subject_id       BIGINT NOT NULL,
    remote_id        BIGINT,
    remote_key       TEXT,
    fingerprint      TEXT,
    sent_status      TEXT,
    sent_at_ms       BIGINT,
    claimed_by       TEXT,
    claimed_until_ms BIGINT,
    updated_at_ms    BIGINT NOT NULL,
    PRIMARY KEY (kind, subject_id)
);
CREATE INDEX pipelines_by_creation ON pipelines (created_at_ms);
CREATE INDEX previews_by_update ON previews (updated_at_ms);
ALTER TABLE repositories ADD COLUMN reporting TEXT;
