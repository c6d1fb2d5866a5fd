//! The GitHost port over GitHub's REST API with octocrab (comments, statuses, check runs,
//! deployments, contents, permissions): a token or a GitHub App's installations,
//! a configurable API URL (GitHub Enterprise Server, or a fake server in tests), rate limits
//! waited out rather than failed on, and the budget kept for the dashboard.

mod auth;
mod checks;
mod clone_access;
mod comments;
mod contents;
mod deployments;
pub mod oauth;
mod permissions;
mod pulls;
mod requests;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::http::{Method, StatusCode};
use domain::git_host::{CommitStatus, GitHost, GitHostError, RateBudget, RepositoryRole, Result};
use domain::report::{CheckReport, DeploymentReport};
use octocrab::Octocrab;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

/// GitHub's limit on a commit status description.
const DESCRIPTION_MAX: usize = 140;

/// GitHub through octocrab.
pub struct GitHub {
    auth: auth::Auth,
    /// Scheme and host of the git remotes this GitHub serves (`https://github.com` for
    /// `https://api.github.com`): only clones from there get a token.
    git_origin: Option<(String, String)>,
    budget: Mutex<Option<RateBudget>>,
    /// Rate-limit waits longer than this fail instead (`RateLimited`).
    longest_wait: Duration,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHub").finish_non_exhaustive()
    }
}

/// Why a GitHub client cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum GitHubConfigError {
    #[error("SLIPWAY_GITHUB_API_URL `{0}` is not a valid URL")]
    ApiUrl(String),
    #[error("the GitHub client cannot be built")]
    Client(#[source] octocrab::Error),
    #[error("SLIPWAY_GITHUB_APP_PRIVATE_KEY_FILE `{0}` cannot be read")]
    KeyFile(String, #[source] std::io::Error),
    #[error("SLIPWAY_GITHUB_APP_PRIVATE_KEY_FILE `{0}` is not an RSA private key in PEM form")]
    Key(String),
}

impl GitHub {
    /// A client for `api_url` (e.g. `https://api.github.com`) authenticated with `token`.
    pub fn with_token(
        api_url: &str,
        token: &SecretString,
        longest_wait: Duration,
    ) -> Result<Self, GitHubConfigError> {
        let client = Octocrab::builder()
            .base_uri(api_url)
            .map_err(|_| GitHubConfigError::ApiUrl(api_url.to_owned()))?
            .personal_token(token.expose_secret().to_owned())
            .build()
            .map_err(GitHubConfigError::Client)?;
        let auth = auth::Auth::Token {
            client: Arc::new(client),
            token: token.clone(),
        };
        Ok(Self::new(auth, api_url, longest_wait))
    }

    /// A client acting as the GitHub App `app_id`, with the private key in `key_file`.
    pub fn as_app(
        api_url: &str,
        app_id: u64,
        key_file: &std::path::Path,
        longest_wait: Duration,
    ) -> Result<Self, GitHubConfigError> {
        let shown = key_file.display().to_string();
        let pem =
            std::fs::read(key_file).map_err(|e| GitHubConfigError::KeyFile(shown.clone(), e))?;
        let key =
            octocrab::EncodingKey::from_rsa_pem(&pem).map_err(|_| GitHubConfigError::Key(shown))?;
        let app = Octocrab::builder()
            .base_uri(api_url)
            .map_err(|_| GitHubConfigError::ApiUrl(api_url.to_owned()))?
            .app(octocrab::models::AppId(app_id), key)
            .build()
            .map_err(GitHubConfigError::Client)?;
        let auth = auth::Auth::App {
            app: Arc::new(app),
            installations: tokio::sync::Mutex::default(),
        };
        Ok(Self::new(auth, api_url, longest_wait))
    }

    fn new(auth: auth::Auth, api_url: &str, longest_wait: Duration) -> Self {
        Self {
            auth,
            git_origin: clone_access::git_origin(api_url),
            budget: Mutex::new(None),
            longest_wait,
        }
    }

    fn note_budget(&self, seen: RateBudget) {
        if let Ok(mut budget) = self.budget.lock() {
            *budget = Some(seen);
        }
    }
}

/// The port's error for an unexpected answer.
fn refused(what: &str, status: StatusCode, text: &str) -> GitHostError {
    let message = requests::message(status, text);
    match status {
        StatusCode::NOT_FOUND => GitHostError::NotFound(what.to_owned()),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => GitHostError::Forbidden(message),
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => {
            GitHostError::Invalid(message)
        }
        _ => GitHostError::Unavailable(format!("{what}: {status} {message}").into()),
    }
}

/// Cuts `text` to at most `max` characters, marking the cut.
fn bounded(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

#[async_trait]
impl GitHost for GitHub {
    async fn check(&self) -> Result<()> {
        let path = self.auth.check_path();
        let (status, text) = self.send(Method::GET, path, None).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(refused(path, status, &text))
        }
    }

    async fn upsert_comment(
        &self,
        repository: &str,
        number: i64,
        known: Option<u64>,
        marker: &str,
        body: &str,
    ) -> Result<u64> {
        comments::upsert(self, repository, number, known, marker, body).await
    }

    async fn set_status(&self, repository: &str, sha: &str, status: &CommitStatus) -> Result<()> {
        let body = json!({
            "state": status.state,
            "target_url": status.target_url,
            "description": bounded(&status.description, DESCRIPTION_MAX),
            "context": status.context,
        });
        let path = format!("/repos/{repository}/statuses/{sha}");
        let (code, text) = self.send(Method::POST, &path, Some(&body)).await?;
        if code.is_success() {
            Ok(())
        } else {
            Err(refused(
                &format!("commit {sha} of {repository}"),
                code,
                &text,
            ))
        }
    }

    async fn file_at(&self, repository: &str, sha: &str, path: &str) -> Result<Option<String>> {
        contents::file_at(self, repository, sha, path).await
    }

    async fn open_pull_requests(
        &self,
        repository: &str,
        limit: usize,
    ) -> Result<Vec<domain::pull_request::PullRequestSnapshot>> {
        pulls::open(self, repository, limit).await
    }

    async fn clone_token(
        &self,
        repository: &str,
        clone_url: &str,
        valid_for: Duration,
    ) -> Result<Option<String>> {
        if !self.serves(clone_url) {
            return Ok(None);
        }
        let valid_for = chrono::Duration::from_std(valid_for).unwrap_or(chrono::Duration::MAX);
        self.auth.git_token(repository, valid_for).await.map(Some)
    }

    async fn role_of(&self, repository: &str, login: &str) -> Result<RepositoryRole> {
        permissions::role_of(self, repository, login).await
    }

    fn serves(&self, clone_url: &str) -> bool {
        self.git_origin
            .as_ref()
            .is_some_and(|origin| clone_access::serves(origin, clone_url))
    }

    fn rate_budget(&self) -> Option<RateBudget> {
        self.budget.lock().ok().and_then(|b| *b)
    }

    fn writes_checks(&self) -> bool {
        matches!(self.auth, auth::Auth::App { .. })
    }

    async fn create_check_run(&self, repository: &str, report: &CheckReport) -> Result<i64> {
        checks::create(self, repository, report).await
    }

    async fn update_check_run(
        &self,
        repository: &str,
        id: i64,
        report: &CheckReport,
    ) -> Result<()> {
        checks::update(self, repository, id, report).await
    }

    async fn create_deployment(&self, repository: &str, report: &DeploymentReport) -> Result<i64> {
        deployments::create(self, repository, report).await
    }

    async fn set_deployment_status(
        &self,
        repository: &str,
        id: i64,
        report: &DeploymentReport,
    ) -> Result<()> {
        deployments::set_status(self, repository, id, report).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_descriptions_are_cut_to_github_s_limit() {
        let long = "x".repeat(200);
        let cut = bounded(&long, DESCRIPTION_MAX);
        assert_eq!(cut.chars().count(), DESCRIPTION_MAX);
        assert!(cut.ends_with('…'));
        assert_eq!(bounded("short", DESCRIPTION_MAX), "short");
    }
}
