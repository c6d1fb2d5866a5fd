-- Artifact files steps left behind: the object holding each, its size, type, checksum and when
-- it expires (an expired file is removed from storage, then from here).
CREATE TABLE artifact_files (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline_id   BIGINT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    artifact      TEXT   NOT NULL,
    path          TEXT   NOT NULL,
    object_key    TEXT   NOT NULL,
    size          BIGINT NOT NULL,
    content_type  TEXT   NOT NULL,
    sha256        TEXT   NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    UNIQUE (pipeline_id, artifact, path)
);
CREATE INDEX artifact_files_by_expiry ON artifact_files (expires_at_ms);
