-- Images pipeline steps published (`publishes: image`, or a kaniko step), one per repository and
-- commit: what a preview of that commit deploys. The run that published it is kept too.
CREATE TABLE published_images (
    repository_id  BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    commit_sha     TEXT   NOT NULL,
    image_ref      TEXT   NOT NULL,
    pipeline_id    BIGINT NOT NULL,
    published_at_ms BIGINT NOT NULL,
    PRIMARY KEY (repository_id, commit_sha)
);
