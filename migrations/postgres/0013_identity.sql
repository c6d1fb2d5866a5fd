-- Who uses Slipway: users (local accounts, or GitHub accounts keyed on GitHub's numeric id),
-- browser sessions and personal API tokens (only their SHA-256 hashes are kept), teams that
-- grant repositories at a level, and the append-only audit log.
CREATE TABLE users (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login            TEXT   NOT NULL UNIQUE,
    github_id        BIGINT UNIQUE,
    role             TEXT   NOT NULL DEFAULT 'member',
    password_hash    TEXT,
    created_at_ms    BIGINT NOT NULL,
    last_login_at_ms BIGINT
);

CREATE TABLE sessions (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash      TEXT   NOT NULL UNIQUE,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at_ms   BIGINT NOT NULL,
    expires_at_ms   BIGINT NOT NULL,
    last_seen_at_ms BIGINT NOT NULL,
    user_agent      TEXT,
    address         TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash      TEXT   NOT NULL UNIQUE,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT   NOT NULL,
    scope           TEXT   NOT NULL,
    -- `,1,5,` for tokens limited to repositories; empty for every repository the user can reach.
    repositories    TEXT   NOT NULL DEFAULT '',
    created_at_ms   BIGINT NOT NULL,
    expires_at_ms   BIGINT NOT NULL,
    last_used_at_ms BIGINT,
    revoked_at_ms   BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE teams (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT   NOT NULL UNIQUE,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE team_members (
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

CREATE TABLE team_repositories (
    team_id       BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    level         TEXT   NOT NULL,
    PRIMARY KEY (team_id, repository_id)
);

CREATE TABLE audit_log (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms         BIGINT NOT NULL,
    actor_kind    TEXT   NOT NULL,
    actor_id      BIGINT,
    actor_login   TEXT,
    token_id      BIGINT,
    action        TEXT   NOT NULL,
    target        TEXT,
    repository_id BIGINT,
    repository    TEXT,
    outcome       TEXT   NOT NULL,
    source        TEXT,
    user_agent    TEXT,
    request_id    TEXT,
    details       TEXT
);
CREATE INDEX audit_log_at ON audit_log (at_ms);
