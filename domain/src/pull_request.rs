//! Pull requests as GitHub describes them, and the desired state derived from each event:
//! whether a preview is wanted at the head commit, and if not, why.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::store::Result;

/// A pull request as one event describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequestSnapshot {
    /// `owner/name`.
    pub repository: String,
    pub clone_url: String,
    pub default_branch: String,
    pub number: i64,
    pub title: String,
    pub author: String,
    pub head_ref: String,
    pub head_sha: String,
    pub base_ref: String,
    pub draft: bool,
    pub labels: Vec<String>,
    pub open: bool,
    pub merged: bool,
    /// GitHub's `updated_at` (RFC 3339, UTC): newer descriptions win, older ones are ignored.
    pub updated_at: String,
}

/// Whether a preview is wanted at the snapshot's head commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PreviewVerdict {
    Wanted,
    /// Not wanted, and why (closed, draft, a label, a branch rule).
    NotWanted(String),
}

/// A pull request as Slipway knows it, with its latest preview decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    pub id: i64,
    pub snapshot: PullRequestSnapshot,
    pub preview_wanted: bool,
    pub preview_reason: Option<String>,
}

/// What recording a snapshot did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The snapshot is now the pull request's state.
    Applied,
    /// A newer description was already recorded: nothing changed.
    Stale,
}

#[async_trait]
pub trait PullRequestStore: Send + Sync {
    /// In one transaction: adds the repository if it is new, records the snapshot unless a
    /// newer one is recorded, and records the verdict for (pull request, head commit).
    async fn record_pull_request(
        &self,
        snapshot: &PullRequestSnapshot,
        verdict: &PreviewVerdict,
        at_ms: i64,
    ) -> Result<Recorded>;

    /// `NotFound` when Slipway has not heard of it.
    async fn get_pull_request(&self, repository: &str, number: i64) -> Result<PullRequest>;

    /// Numbers of the pull requests of `repository` Slipway believes open.
    async fn open_pull_request_numbers(&self, repository: &str) -> Result<Vec<i64>>;

    /// Marks a pull request closed (GitHub no longer lists it as open) and its preview as no
    /// longer wanted, saying `why`.
    async fn close_pull_request(
        &self,
        repository: &str,
        number: i64,
        why: &str,
        at_ms: i64,
    ) -> Result<()>;

    /// A GitHub repository the App was installed on (added if new, else left as it is).
    async fn add_github_repository(
        &self,
        name: &str,
        clone_url: &str,
        default_branch: &str,
        at_ms: i64,
    ) -> Result<()>;

    /// A repository the App was removed from; `false` when Slipway did not have it.
    async fn remove_repository_named(&self, name: &str) -> Result<bool>;
}
