//! The GitHost port: what Slipway says back to GitHub — one sticky comment per pull request,
//! commit statuses, check runs, deployments — and the repository files it reads at a commit.
//! Implemented with octocrab in `server::github`; tested against a fake GitHub HTTP server.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::report::{CheckReport, DeploymentReport};

pub type Result<T, E = GitHostError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum GitHostError {
    #[error("{0} not found on GitHub")]
    NotFound(String),
    #[error("GitHub refused: {0}")]
    Forbidden(String),
    #[error("GitHub's rate limit is spent until {reset_at} (Unix time)")]
    RateLimited { reset_at: i64 },
    #[error("GitHub rejected the request: {0}")]
    Invalid(String),
    #[error("GitHub is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A commit status's state, as GitHub names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitState {
    Pending,
    Success,
    Failure,
    Error,
}

/// A status on a commit: shown in the pull request's checks, linking to the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitStatus {
    pub state: CommitState,
    pub target_url: String,
    /// At most 140 characters (GitHub's limit); longer text is cut.
    pub description: String,
    /// `slipway/preview`, `slipway/pipeline`.
    pub context: String,
}

/// What GitHub says a person may do on a repository: the collaborator permission's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepositoryRole {
    Admin,
    Maintain,
    Write,
    Triage,
    Read,
    /// No access, or not a collaborator GitHub tells us about.
    None,
}

impl RepositoryRole {
    /// The role from GitHub's answer: its `role_name` (which names maintain and triage), or
    /// the coarser `permission` for a custom role.
    pub fn from_answer(role_name: Option<&str>, permission: Option<&str>) -> Self {
        let parse = |name: &str| match name {
            "admin" => Some(Self::Admin),
            "maintain" => Some(Self::Maintain),
            "write" | "push" => Some(Self::Write),
            "triage" => Some(Self::Triage),
            "read" | "pull" => Some(Self::Read),
            "none" => Some(Self::None),
            _ => None,
        };
        role_name
            .and_then(parse)
            .or_else(|| permission.and_then(parse))
            .unwrap_or(Self::None)
    }

    /// The Slipway level it gives: admin → admin, maintain and write → write, triage and
    /// read → read.
    pub fn level(self) -> Option<crate::identity::Level> {
        use crate::identity::Level;
        match self {
            Self::Admin => Some(Level::Admin),
            Self::Maintain | Self::Write => Some(Level::Write),
            Self::Triage | Self::Read => Some(Level::Read),
            Self::None => None,
        }
    }
}

/// GitHub's API budget as last reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateBudget {
    pub remaining: i64,
    pub limit: i64,
    /// When it refills (Unix time, seconds).
    pub reset_at: i64,
}

#[async_trait]
pub trait GitHost: Send + Sync + 'static {
    /// Proves the API answers with the configured credentials.
    async fn check(&self) -> Result<()>;

    /// Writes the sticky comment of pull request `number` in `repository` (`owner/name`):
    /// edits the comment `known` (Slipway's stored id) or the one carrying `marker`, and
    /// creates it when neither exists (it was deleted, or this is the first status). Returns
    /// the comment's id.
    async fn upsert_comment(
        &self,
        repository: &str,
        number: i64,
        known: Option<u64>,
        marker: &str,
        body: &str,
    ) -> Result<u64>;

    async fn set_status(&self, repository: &str, sha: &str, status: &CommitStatus) -> Result<()>;

    /// The text of `path` at commit `sha`; `None` when there is no such file.
    async fn file_at(&self, repository: &str, sha: &str, path: &str) -> Result<Option<String>>;

    /// The open pull requests of `repository`, at most `limit` of them (newest first).
    async fn open_pull_requests(
        &self,
        repository: &str,
        limit: usize,
    ) -> Result<Vec<crate::pull_request::PullRequestSnapshot>>;

    /// A token git can fetch `repository` (`owner/name`) from `clone_url` with over HTTP(S),
    /// valid for at least `valid_for` more (an installation token, or the configured token);
    /// `None` when `clone_url` is not one of this host's remotes (a token is never sent
    /// elsewhere).
    async fn clone_token(
        &self,
        repository: &str,
        clone_url: &str,
        valid_for: std::time::Duration,
    ) -> Result<Option<String>>;

    /// What the GitHub user `login` may do on `repository` (`owner/name`), asked of GitHub now.
    async fn role_of(&self, repository: &str, login: &str) -> Result<RepositoryRole>;

    /// Whether `clone_url` is one of this host's remotes (its repositories' permissions are
    /// this host's to tell).
    fn serves(&self, clone_url: &str) -> bool;

    /// The API budget from the last answer, if any was seen.
    fn rate_budget(&self) -> Option<RateBudget>;

    /// Whether check runs can be written (only a GitHub App may); without, pipeline runs are
    /// reported as commit statuses.
    fn writes_checks(&self) -> bool;

    /// Creates a check run for `report.head_sha`; GitHub's id of it.
    async fn create_check_run(&self, repository: &str, report: &CheckReport) -> Result<i64>;

    /// Rewrites check run `id` to say what `report` says.
    async fn update_check_run(&self, repository: &str, id: i64, report: &CheckReport)
    -> Result<()>;

    /// Creates a deployment of `report.sha` in `report.environment`; GitHub's id of it.
    async fn create_deployment(&self, repository: &str, report: &DeploymentReport) -> Result<i64>;

    /// Adds a status to deployment `id`: `report.state` with its URLs and description.
    async fn set_deployment_status(
        &self,
        repository: &str,
        id: i64,
        report: &DeploymentReport,
    ) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Level;

    #[test]
    fn github_roles_give_the_levels_the_issue_names() {
        let level = |role: Option<&str>, permission: Option<&str>| {
            RepositoryRole::from_answer(role, permission).level()
        };
        assert_eq!(level(Some("admin"), Some("admin")), Some(Level::Admin));
        assert_eq!(level(Some("maintain"), Some("write")), Some(Level::Write));
        assert_eq!(level(Some("write"), Some("write")), Some(Level::Write));
        assert_eq!(level(Some("triage"), Some("read")), Some(Level::Read));
        assert_eq!(level(Some("read"), Some("read")), Some(Level::Read));
        assert_eq!(
            level(Some("release-manager"), Some("write")),
            Some(Level::Write)
        );
        assert_eq!(level(None, Some("none")), None);
        assert_eq!(level(None, None), None);
    }
}
