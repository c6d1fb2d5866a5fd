//! The identity tables for both SQL backends (users, sessions, api_tokens, teams, the audit
//! log): their SQL and rows; `identity_store` implements `IdentityStore` over them.

use domain::RepositoryId;
use domain::StoreError;
use domain::identity::{
    ActorKind, ApiToken, AuditEntry, InstanceRole, Level, Outcome, Session, TeamGrant, User, UserId,
};

const USER_COLUMNS: &str = "id, login, github_id, role, password_hash IS NOT NULL AS has_password, \
     created_at_ms, last_login_at_ms";
const SESSION_COLUMNS: &str =
    "id, user_id, created_at_ms, expires_at_ms, last_seen_at_ms, user_agent, address";
const TOKEN_COLUMNS: &str = "id, user_id, name, scope, repositories, created_at_ms, \
     expires_at_ms, last_used_at_ms, revoked_at_ms";
const AUDIT_COLUMNS: &str = "id, at_ms, actor_kind, actor_id, actor_login, token_id, action, \
     target, repository_id, repository, outcome, source, user_agent, request_id, details";

pub(super) fn insert_user() -> String {
    format!(
        "INSERT INTO users (login, role, password_hash, github_id, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLUMNS}"
    )
}
pub(super) fn get_user() -> String {
    format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1")
}
pub(super) fn get_user_by_login() -> String {
    format!("SELECT {USER_COLUMNS} FROM users WHERE login = $1")
}
pub(super) fn get_user_by_github_id() -> String {
    format!("SELECT {USER_COLUMNS} FROM users WHERE github_id = $1")
}
pub(super) fn set_login() -> String {
    format!("UPDATE users SET login = $2 WHERE id = $1 RETURNING {USER_COLUMNS}")
}
pub(super) fn password_of() -> String {
    format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE login = $1")
}
pub(super) fn list_users() -> String {
    format!("SELECT {USER_COLUMNS} FROM users ORDER BY login")
}
pub(super) const COUNT_USERS: &str = "SELECT COUNT(*) FROM users";
pub(super) fn set_role() -> String {
    format!("UPDATE users SET role = $2 WHERE id = $1 RETURNING {USER_COLUMNS}")
}
pub(super) const SET_PASSWORD: &str = "UPDATE users SET password_hash = $2 WHERE id = $1";
pub(super) const RECORD_LOGIN: &str = "UPDATE users SET last_login_at_ms = $2 WHERE id = $1";
pub(super) const DELETE_USER: &str = "DELETE FROM users WHERE id = $1";

pub(super) fn insert_session() -> String {
    format!(
        "INSERT INTO sessions (token_hash, user_id, created_at_ms, expires_at_ms, \
         last_seen_at_ms, user_agent, address) VALUES ($1, $2, $3, $4, $3, $5, $6) \
         RETURNING {SESSION_COLUMNS}"
    )
}
pub(super) fn session_by_hash() -> String {
    format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1 AND expires_at_ms > $2")
}
pub(super) const TOUCH_SESSION: &str = "UPDATE sessions SET last_seen_at_ms = $2 WHERE id = $1";
pub(super) fn list_sessions() -> String {
    format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND expires_at_ms > $2 \
         ORDER BY id DESC"
    )
}
pub(super) const DELETE_SESSION: &str = "DELETE FROM sessions WHERE token_hash = $1";
pub(super) const DELETE_SESSIONS_OF: &str = "DELETE FROM sessions WHERE user_id = $1";

pub(super) fn insert_token() -> String {
    format!(
        "INSERT INTO api_tokens (token_hash, user_id, name, scope, repositories, created_at_ms, \
         expires_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {TOKEN_COLUMNS}"
    )
}
pub(super) fn token_by_hash() -> String {
    format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1")
}
pub(super) fn get_token() -> String {
    format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1")
}
pub(super) const TOUCH_TOKEN: &str = "UPDATE api_tokens SET last_used_at_ms = $2 WHERE id = $1";
pub(super) fn list_tokens() -> String {
    format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE ($1 IS NULL OR user_id = $1) ORDER BY id DESC"
    )
}
pub(super) fn revoke_token() -> String {
    format!(
        "UPDATE api_tokens SET revoked_at_ms = COALESCE(revoked_at_ms, $2) WHERE id = $1 \
         RETURNING {TOKEN_COLUMNS}"
    )
}

pub(super) const INSERT_TEAM: &str =
    "INSERT INTO teams (name, created_at_ms) VALUES ($1, $2) RETURNING id, name, created_at_ms";
pub(super) const LIST_TEAMS: &str = "SELECT id, name, created_at_ms FROM teams ORDER BY name";
pub(super) const GET_TEAM: &str = "SELECT id, name, created_at_ms FROM teams WHERE id = $1";
pub(super) const DELETE_TEAM: &str = "DELETE FROM teams WHERE id = $1";
pub(super) const TEAM_MEMBERS: &str =
    "SELECT team_id, user_id FROM team_members WHERE ($1 IS NULL OR team_id = $1) ORDER BY user_id";
pub(super) const TEAM_GRANTS: &str = "SELECT team_id, repository_id, level FROM team_repositories \
     WHERE ($1 IS NULL OR team_id = $1) ORDER BY repository_id";
pub(super) const ADD_MEMBER: &str = "INSERT INTO team_members (team_id, user_id) VALUES ($1, $2) \
     ON CONFLICT (team_id, user_id) DO NOTHING";
pub(super) const REMOVE_MEMBER: &str =
    "DELETE FROM team_members WHERE team_id = $1 AND user_id = $2";
pub(super) const GRANT: &str = "INSERT INTO team_repositories (team_id, repository_id, level) \
     VALUES ($1, $2, $3) ON CONFLICT (team_id, repository_id) DO UPDATE SET level = excluded.level";
pub(super) const REVOKE: &str =
    "DELETE FROM team_repositories WHERE team_id = $1 AND repository_id = $2";
pub(super) const GRANTS_OF: &str = "SELECT tr.team_id, tr.repository_id, tr.level \
     FROM team_repositories tr JOIN team_members tm ON tm.team_id = tr.team_id \
     WHERE tm.user_id = $1";

pub(super) const INSERT_AUDIT: &str = "INSERT INTO audit_log (at_ms, actor_kind, actor_id, \
     actor_login, token_id, action, target, repository_id, repository, outcome, source, \
     user_agent, request_id, details) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
pub(super) fn list_audit() -> String {
    format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE ($1 IS NULL OR actor_login = $1) \
         AND ($2 IS NULL OR action = $2) AND ($3 IS NULL OR repository_id = $3) \
         AND ($4 IS NULL OR $4 LIKE '%,' || CAST(repository_id AS TEXT) || ',%') \
         AND ($5 IS NULL OR at_ms >= $5) AND ($6 IS NULL OR at_ms < $6) \
         AND ($7 IS NULL OR id < $7) ORDER BY id DESC LIMIT $8"
    )
}

/// Audit pages are at most this long.
pub(super) const MAX_AUDIT_PAGE: u32 = 500;

fn unknown(entity: &'static str, column: &str, value: &str) -> StoreError {
    StoreError::Internal(format!("{entity} has an unknown {column} `{value}`").into())
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct UserRow {
    id: i64,
    login: String,
    github_id: Option<i64>,
    role: String,
    has_password: bool,
    created_at_ms: i64,
    last_login_at_ms: Option<i64>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: UserId(row.id),
            role: InstanceRole::parse(&row.role)
                .ok_or_else(|| unknown("user", "role", &row.role))?,
            login: row.login,
            github_id: row.github_id,
            has_password: row.has_password,
            created_at_ms: row.created_at_ms,
            last_login_at_ms: row.last_login_at_ms,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct UserWithPassword {
    #[sqlx(flatten)]
    pub(super) user: UserRow,
    pub(super) password_hash: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct SessionRow {
    id: i64,
    user_id: i64,
    created_at_ms: i64,
    expires_at_ms: i64,
    last_seen_at_ms: i64,
    user_agent: Option<String>,
    address: Option<String>,
}

impl From<SessionRow> for Session {
    fn from(row: SessionRow) -> Self {
        Self {
            id: row.id,
            user_id: UserId(row.user_id),
            created_at_ms: row.created_at_ms,
            expires_at_ms: row.expires_at_ms,
            last_seen_at_ms: row.last_seen_at_ms,
            user_agent: row.user_agent,
            address: row.address,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct TokenRow {
    id: i64,
    user_id: i64,
    name: String,
    scope: String,
    repositories: String,
    created_at_ms: i64,
    expires_at_ms: i64,
    last_used_at_ms: Option<i64>,
    revoked_at_ms: Option<i64>,
}

impl TryFrom<TokenRow> for ApiToken {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            user_id: UserId(row.user_id),
            scope: Level::parse(&row.scope)
                .ok_or_else(|| unknown("api token", "scope", &row.scope))?,
            repositories: repository_ids(&row.repositories),
            name: row.name,
            created_at_ms: row.created_at_ms,
            expires_at_ms: row.expires_at_ms,
            last_used_at_ms: row.last_used_at_ms,
            revoked_at_ms: row.revoked_at_ms,
        })
    }
}

/// `,1,5,` → [1, 5]; what `domain::identity::visible_list` wrote.
fn repository_ids(text: &str) -> Vec<RepositoryId> {
    text.split(',')
        .filter_map(|id| id.parse().ok())
        .map(RepositoryId)
        .collect()
}

/// How a token's repositories are stored: empty for "all".
pub(super) fn repositories_text(ids: &[RepositoryId]) -> String {
    if ids.is_empty() {
        String::new()
    } else {
        domain::identity::visible_list(Some(ids)).unwrap_or_default()
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct TeamRow {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) created_at_ms: i64,
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct MemberRow {
    pub(super) team_id: i64,
    pub(super) user_id: i64,
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct GrantRow {
    pub(super) team_id: i64,
    repository_id: i64,
    level: String,
}

impl TryFrom<&GrantRow> for TeamGrant {
    type Error = StoreError;

    fn try_from(row: &GrantRow) -> Result<Self, StoreError> {
        Ok(Self {
            repository_id: RepositoryId(row.repository_id),
            level: Level::parse(&row.level)
                .ok_or_else(|| unknown("team grant", "level", &row.level))?,
        })
    }
}

/// Teams with their members and grants, from the three tables' rows.
pub(super) fn teams(
    teams: Vec<TeamRow>,
    members: &[MemberRow],
    grants: &[GrantRow],
) -> Result<Vec<domain::identity::Team>, StoreError> {
    teams
        .into_iter()
        .map(|team| {
            Ok(domain::identity::Team {
                members: members
                    .iter()
                    .filter(|m| m.team_id == team.id)
                    .map(|m| UserId(m.user_id))
                    .collect(),
                repositories: grants
                    .iter()
                    .filter(|g| g.team_id == team.id)
                    .map(TeamGrant::try_from)
                    .collect::<Result<_, _>>()?,
                id: team.id,
                name: team.name,
                created_at_ms: team.created_at_ms,
            })
        })
        .collect()
}

/// The highest level per repository among a user's team grants.
pub(super) fn highest_grants(rows: &[GrantRow]) -> Result<Vec<TeamGrant>, StoreError> {
    let mut best: std::collections::BTreeMap<RepositoryId, Level> = Default::default();
    for row in rows {
        let grant = TeamGrant::try_from(row)?;
        let level = best.entry(grant.repository_id).or_insert(grant.level);
        *level = (*level).max(grant.level);
    }
    Ok(best
        .into_iter()
        .map(|(repository_id, level)| TeamGrant {
            repository_id,
            level,
        })
        .collect())
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct AuditRow {
    id: i64,
    at_ms: i64,
    actor_kind: String,
    actor_id: Option<i64>,
    actor_login: Option<String>,
    token_id: Option<i64>,
    action: String,
    target: Option<String>,
    repository_id: Option<i64>,
    repository: Option<String>,
    outcome: String,
    source: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    details: Option<String>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            at_ms: row.at_ms,
            actor_kind: ActorKind::parse(&row.actor_kind)
                .ok_or_else(|| unknown("audit entry", "actor kind", &row.actor_kind))?,
            actor_id: row.actor_id.map(UserId),
            actor_login: row.actor_login,
            token_id: row.token_id,
            action: row.action,
            target: row.target,
            repository_id: row.repository_id.map(RepositoryId),
            repository: row.repository,
            outcome: Outcome::parse(&row.outcome)
                .ok_or_else(|| unknown("audit entry", "outcome", &row.outcome))?,
            source: row.source,
            user_agent: row.user_agent,
            request_id: row.request_id,
            details: row.details,
        })
    }
}

/// `NotFound` when an update or delete by id touched nothing.
pub(super) fn one_row(
    affected: u64,
    entity: &'static str,
    key: impl ToString,
) -> Result<(), StoreError> {
    if affected == 0 {
        Err(StoreError::NotFound {
            entity,
            key: key.to_string(),
        })
    } else {
        Ok(())
    }
}
