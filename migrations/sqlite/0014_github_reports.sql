-- What GitHub was last told about each pipeline run (its check run or commit status) and each
-- preview (its deployment): GitHub's id of the object, the attempt a deployment is for, a digest
-- of the last report it accepted and the subject's status then. A replica claims a row for a
-- few seconds while it reports, so two replicas never create the same check run twice. The
-- sweep that finds changes whose notification was lost reads recent runs and previews by time.
CREATE TABLE github_reports (
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
