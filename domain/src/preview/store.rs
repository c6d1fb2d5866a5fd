//! The part of the Store port that keeps preview environments and their deployment attempts.
//!
//! What a pull request wants is written with the pull request itself
//! ([`crate::pull_request::PullRequestStore::record_pull_request`]): a wanted head commit adds
//! an attempt for (preview, commit, round) unless one exists — so the same commit is never
//! deployed twice — and cancels older attempts still pending or deploying.

use async_trait::async_trait;

use super::model::{Preview, PreviewAttempt, PreviewFilter};
use super::status::{AttemptStatus, PreviewStatus};
use crate::store::Result;

/// A claimed attempt and its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedAttempt {
    pub preview: Preview,
    pub attempt: PreviewAttempt,
}

#[async_trait]
pub trait PreviewStore: Send + Sync {
    async fn list_previews(&self, filter: &PreviewFilter) -> Result<Vec<Preview>>;

    /// How many previews the filter matches, ignoring its limit and offset.
    async fn count_previews(&self, filter: &PreviewFilter) -> Result<u64>;

    /// `NotFound` when there is none.
    async fn get_preview(&self, id: i64) -> Result<Preview>;

    async fn get_preview_by_namespace(&self, namespace: &str) -> Result<Preview>;

    /// Its attempts, newest first.
    async fn preview_attempts(&self, preview_id: i64) -> Result<Vec<PreviewAttempt>>;

    /// Atomically takes up to `limit` of the oldest pending attempts of wanted previews
    /// (pending → deploying), and also attempts left deploying since before `stale_before_ms`
    /// by a replica that stopped; oldest first, empty when nothing waits. Each attempt is
    /// taken by one claimer only, however many claim at once.
    async fn claim_preview_attempts(
        &self,
        at_ms: i64,
        stale_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<PreviewAttempt>>;

    /// Proves a claimed attempt is still alive (see `stale_before_ms`) and still wanted:
    /// `false` once it was cancelled by a newer push or a removal.
    async fn heartbeat_preview_attempt(&self, attempt_id: i64, at_ms: i64) -> Result<bool>;

    /// Records the environment's status on behalf of an attempt; refused (`false`) when the
    /// attempt is no longer current or the change is not allowed.
    async fn set_attempt_progress(
        &self,
        attempt_id: i64,
        status: PreviewStatus,
        reason: Option<&str>,
        at_ms: i64,
    ) -> Result<bool>;

    /// Ends an attempt and, when it is still the current one, moves its environment to the
    /// matching status (with the URL on success) and sets when it expires; `false` when it was
    /// no longer current.
    async fn finish_preview_attempt(
        &self,
        attempt_id: i64,
        outcome: AttemptOutcome<'_>,
        expires_at_ms: Option<i64>,
        at_ms: i64,
    ) -> Result<bool>;

    /// Previews to remove: no longer wanted or expired, and still holding a namespace (failed
    /// removals included once `retry_before_ms` has passed since they failed, and removals whose
    /// replica stopped heartbeating them).
    async fn previews_to_remove(&self, at_ms: i64, retry_before_ms: i64) -> Result<Vec<Preview>>;

    /// Starts removing a preview (→ deleting), cancelling its open attempts; `false` when
    /// another replica is removing it (its removal's heartbeat is recent).
    async fn begin_preview_removal(&self, id: i64, why: &str, at_ms: i64) -> Result<bool>;

    /// Proves the replica removing a preview is alive; `false` once it is no longer deleting.
    async fn heartbeat_preview_removal(&self, id: i64, at_ms: i64) -> Result<bool>;

    /// Ends a removal: `deleted`, or `cleanup_failed` with the reason.
    async fn finish_preview_removal(
        &self,
        id: i64,
        failure: Option<&str>,
        at_ms: i64,
    ) -> Result<Preview>;

    /// A user asks for another deployment of the head commit; `None` when the pull request no
    /// longer wants a preview (closed, or not matching the rules) or it is being removed.
    async fn retry_preview(&self, id: i64, at_ms: i64) -> Result<Option<PreviewAttempt>>;

    /// A user removes a preview: it is no longer wanted until the next push.
    async fn request_preview_removal(&self, id: i64, why: &str, at_ms: i64) -> Result<Preview>;

    async fn set_preview_comment(&self, id: i64, comment_id: i64) -> Result<()>;

    /// Namespaces of previews that may still hold one (not deleted or skipped).
    async fn live_preview_namespaces(&self) -> Result<Vec<String>>;
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome<'a> {
    Succeeded { url: &'a str },
    Failed { reason: &'a str },
    Skipped { reason: &'a str },
}

impl AttemptOutcome<'_> {
    pub fn attempt_status(&self) -> AttemptStatus {
        match self {
            Self::Succeeded { .. } => AttemptStatus::Succeeded,
            Self::Failed { .. } => AttemptStatus::Failed,
            Self::Skipped { .. } => AttemptStatus::Skipped,
        }
    }

    pub fn preview_status(&self) -> PreviewStatus {
        match self {
            Self::Succeeded { .. } => PreviewStatus::Running,
            Self::Failed { .. } => PreviewStatus::Failed,
            Self::Skipped { .. } => PreviewStatus::Skipped,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Succeeded { .. } => None,
            Self::Failed { reason } | Self::Skipped { reason } => Some(reason),
        }
    }
}
