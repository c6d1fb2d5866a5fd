//! Who uses Slipway: users (local accounts now, GitHub accounts when sign-in with GitHub is
//! configured), their instance role, sessions and personal API tokens, teams that grant
//! repositories, and the audit log of what was done. The Store keeps them
//! ([`IdentityStore`]); the application layer decides what each may do.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::repository::RepositoryId;
use crate::store::Result;

/// Database identity of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserId(pub i64);

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// How much a caller may do on a repository, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// See previews, pipelines, logs, artifacts, deliveries.
    Read,
    /// Trigger, cancel and retry pipelines; retry and delete previews.
    Write,
    /// Settings, rules, cluster, secrets, removal.
    Admin,
}

impl Level {
    pub const ALL: [Self; 3] = [Self::Read, Self::Write, Self::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|level| level.as_str() == text)
    }
}

/// A user's role on the whole instance, beside what they hold per repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InstanceRole {
    /// Only what their teams (and, with GitHub sign-in, GitHub) grant.
    #[default]
    Member,
    /// Reads everything, sees the Operator page, deletes and cleans up any preview.
    Operator,
    /// Everything: users, teams, others' tokens, every repository, the audit log.
    Admin,
}

impl InstanceRole {
    pub const ALL: [Self; 3] = [Self::Member, Self::Operator, Self::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == text)
    }
}

/// A person who can sign in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: UserId,
    /// Unique; a GitHub user's login, copied at sign-in.
    pub login: String,
    /// GitHub's numeric id, for users who sign in with GitHub (the key, not the login).
    pub github_id: Option<i64>,
    pub role: InstanceRole,
    /// Whether a password is set (local sign-in possible).
    pub has_password: bool,
    pub created_at_ms: i64,
    pub last_login_at_ms: Option<i64>,
}

/// A user to record.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub login: String,
    pub role: InstanceRole,
    /// A PHC-format hash (argon2id), never the password.
    pub password_hash: Option<String>,
    pub github_id: Option<i64>,
}

/// A signed-in browser: the cookie holds a random token, the Store only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    pub id: i64,
    pub user_id: UserId,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub last_seen_at_ms: i64,
    pub user_agent: Option<String>,
    pub address: Option<String>,
}

/// A session to record.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: String,
    pub user_id: UserId,
    pub expires_at_ms: i64,
    pub user_agent: Option<String>,
    pub address: Option<String>,
}

/// A personal API token (`Authorization: Bearer slw_…`); the Store keeps only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiToken {
    pub id: i64,
    pub user_id: UserId,
    pub name: String,
    /// The most it may do on any repository (never more than its user can do now).
    pub scope: Level,
    /// The repositories it may reach; empty: every repository its user can.
    pub repositories: Vec<RepositoryId>,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub last_used_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
}

/// A token to record.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub token_hash: String,
    pub user_id: UserId,
    pub name: String,
    pub scope: Level,
    pub repositories: Vec<RepositoryId>,
    pub expires_at_ms: i64,
}

/// A group of users that is granted repositories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Team {
    pub id: i64,
    pub name: String,
    pub members: Vec<UserId>,
    pub repositories: Vec<TeamGrant>,
    pub created_at_ms: i64,
}

/// A repository a team holds, at a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamGrant {
    pub repository_id: RepositoryId,
    pub level: Level,
}

/// Who did something, as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    Token,
    System,
    Webhook,
    Anonymous,
}

impl ActorKind {
    pub const ALL: [Self; 5] = [
        Self::User,
        Self::Token,
        Self::System,
        Self::Webhook,
        Self::Anonymous,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Token => "token",
            Self::System => "system",
            Self::Webhook => "webhook",
            Self::Anonymous => "anonymous",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Denied,
    Error,
}

impl Outcome {
    pub const ALL: [Self; 3] = [Self::Success, Self::Denied, Self::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == text)
    }
}

/// One row of the audit log (append-only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at_ms: i64,
    pub actor_kind: ActorKind,
    pub actor_id: Option<UserId>,
    /// The login at the time, copied (it survives the user's removal).
    pub actor_login: Option<String>,
    pub token_id: Option<i64>,
    /// `entity.verb`: `auth.login`, `pipeline.cancel`, `token.create`, …
    pub action: String,
    /// What it was done to (`preview 7`, `token 3`, a login), when not the repository itself.
    pub target: Option<String>,
    pub repository_id: Option<RepositoryId>,
    pub repository: Option<String>,
    pub outcome: Outcome,
    pub source: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// Why it was denied or failed, or what changed; never a secret value.
    pub details: Option<String>,
}

/// An audit row to append (its id and time are given by the Store).
#[derive(Debug, Clone, Default)]
pub struct NewAuditEntry {
    pub at_ms: i64,
    pub actor_kind: Option<ActorKind>,
    pub actor_id: Option<UserId>,
    pub actor_login: Option<String>,
    pub token_id: Option<i64>,
    pub action: String,
    pub target: Option<String>,
    pub repository_id: Option<RepositoryId>,
    pub repository: Option<String>,
    pub outcome: Option<Outcome>,
    pub source: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub details: Option<String>,
}

/// Which audit rows to list: newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub repository_id: Option<RepositoryId>,
    /// Only rows about these repositories (`None`: every row).
    pub visible: Option<Vec<RepositoryId>>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    /// Rows older than this id (the cursor).
    pub before: Option<i64>,
    pub limit: u32,
}

/// The caller as they see themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    pub user: User,
    /// `session` or `token`.
    pub via: String,
    /// The token's id, scope and repositories, for a token.
    pub token: Option<MeToken>,
    /// Every repository they can see, with their level on it.
    pub repositories: Vec<RepositoryLevel>,
}

/// What the token a request came with allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeToken {
    pub id: i64,
    pub scope: Level,
    pub repositories: Vec<RepositoryId>,
}

/// A repository and the caller's level on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepositoryLevel {
    pub id: RepositoryId,
    pub name: String,
    pub level: Level,
}

/// What the Store keeps about users, sessions, tokens, teams and the audit log.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Adds a user; `Conflict` when the login is taken.
    async fn create_user(&self, user: &NewUser) -> Result<User>;
    async fn get_user(&self, id: UserId) -> Result<User>;
    async fn get_user_by_login(&self, login: &str) -> Result<Option<User>>;
    /// The user a GitHub account signs in as.
    async fn get_user_by_github_id(&self, github_id: i64) -> Result<Option<User>>;
    /// Follows a rename at GitHub.
    async fn set_user_login(&self, id: UserId, login: &str) -> Result<User>;
    /// The user and their password hash, for a password sign-in.
    async fn password_of(&self, login: &str) -> Result<Option<(User, Option<String>)>>;
    async fn list_users(&self) -> Result<Vec<User>>;
    async fn count_users(&self) -> Result<u64>;
    async fn set_user_role(&self, id: UserId, role: InstanceRole) -> Result<User>;
    async fn set_password(&self, id: UserId, password_hash: &str) -> Result<()>;
    async fn record_login(&self, id: UserId, at_ms: i64) -> Result<()>;
    /// Removes a user with their sessions, tokens and team memberships.
    async fn delete_user(&self, id: UserId) -> Result<()>;

    async fn create_session(&self, session: &NewSession, at_ms: i64) -> Result<Session>;
    /// The unexpired session whose token hashes to `token_hash`, with its user.
    async fn session_by_hash(
        &self,
        token_hash: &str,
        at_ms: i64,
    ) -> Result<Option<(Session, User)>>;
    async fn touch_session(&self, id: i64, at_ms: i64) -> Result<()>;
    async fn list_sessions(&self, user: UserId, at_ms: i64) -> Result<Vec<Session>>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// Ends every session of `user`; how many there were.
    async fn delete_sessions_of(&self, user: UserId) -> Result<u64>;

    async fn create_token(&self, token: &NewApiToken, at_ms: i64) -> Result<ApiToken>;
    /// The token that hashes to `token_hash` (revoked and expired ones too), with its user.
    async fn token_by_hash(&self, token_hash: &str) -> Result<Option<(ApiToken, User)>>;
    async fn get_token(&self, id: i64) -> Result<ApiToken>;
    async fn touch_token(&self, id: i64, at_ms: i64) -> Result<()>;
    /// A user's tokens (every user's when `None`), newest first.
    async fn list_tokens(&self, user: Option<UserId>) -> Result<Vec<ApiToken>>;
    async fn revoke_token(&self, id: i64, at_ms: i64) -> Result<ApiToken>;

    async fn create_team(&self, name: &str, at_ms: i64) -> Result<Team>;
    async fn list_teams(&self) -> Result<Vec<Team>>;
    async fn get_team(&self, id: i64) -> Result<Team>;
    async fn delete_team(&self, id: i64) -> Result<()>;
    async fn add_team_member(&self, team: i64, user: UserId) -> Result<()>;
    async fn remove_team_member(&self, team: i64, user: UserId) -> Result<()>;
    async fn grant_team(&self, team: i64, grant: TeamGrant) -> Result<()>;
    async fn revoke_team(&self, team: i64, repository: RepositoryId) -> Result<()>;
    /// The highest level each repository is granted to `user` through their teams.
    async fn grants_of(&self, user: UserId) -> Result<Vec<TeamGrant>>;

    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<()>;
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>>;
}

/// How a set of visible repositories travels to SQL: `,1,5,9,` (matched with `LIKE`), or
/// `None` for "every repository".
pub fn visible_list(visible: Option<&[RepositoryId]>) -> Option<String> {
    visible.map(|ids| {
        let mut text = String::from(",");
        for id in ids {
            text.push_str(&id.0.to_string());
            text.push(',');
        }
        text
    })
}
