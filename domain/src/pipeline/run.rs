//! Pipeline runs as the Store keeps them and pages show them: a run's trigger, commit, status
//! and steps, and the rules for moving between statuses.

use serde::{Deserialize, Serialize};

use super::dag::StepStatus;
use crate::repository::RepositoryId;

/// Database identity of a pipeline run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PipelineId(pub i64);

impl std::fmt::Display for PipelineId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PipelineStatus {
    /// Waiting for an executor to claim it.
    Pending,
    Running,
    Succeeded,
    /// A step failed, the definition was invalid, or the run hit its deadline.
    Failed,
    Cancelled,
}

impl PipelineStatus {
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

impl crate::state::StateMachine for PipelineStatus {
    const ENTITY: &'static str = "pipeline";
    const ALL: &'static [Self] = &Self::ALL;

    fn name(self) -> &'static str {
        self.as_str()
    }

    /// An executor claims a pending run; a run ends once, from pending (cancelled, or a file
    /// that cannot be read) or running. An ended run is final: a retry is a new run.
    fn can_become(self, next: Self) -> bool {
        use PipelineStatus::*;
        matches!(
            (self, next),
            (Pending, Running) | (Pending | Running, Succeeded | Failed | Cancelled)
        )
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TriggerKind {
    Push,
    PullRequest,
    Schedule,
    Api,
    /// Started again from a finished run (by a person, or after an interruption).
    Retry,
}

impl TriggerKind {
    pub const ALL: [Self; 5] = [
        Self::Push,
        Self::PullRequest,
        Self::Schedule,
        Self::Api,
        Self::Retry,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Push => "push",
            Self::PullRequest => "pull_request",
            Self::Schedule => "schedule",
            Self::Api => "api",
            Self::Retry => "retry",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// `trigger_detail` of a retry that runs only what did not succeed the first time.
pub const RETRY_FAILED_STEPS: &str = "failed steps";

/// A run to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPipeline {
    pub repository_id: RepositoryId,
    /// Branch, tag or full ref (`main`, `refs/heads/main`, `v1.2`).
    pub git_ref: String,
    /// Known when the event names it (pushes, pull requests); otherwise resolved at start.
    pub commit_sha: Option<String>,
    pub trigger: TriggerKind,
    /// More about the trigger: the pull request action (`opened`, `synchronize`, …).
    pub trigger_detail: Option<String>,
    pub pr_number: Option<i64>,
    /// The run this one retries, if any.
    pub retry_of: Option<PipelineId>,
    /// The GitHub delivery that asked for it: handling that delivery again (its outcome was
    /// lost) finds this run instead of queuing a second one.
    #[serde(default)]
    pub delivery_id: Option<String>,
}

impl NewPipeline {
    /// `run` again at the same commit: every step, or with `failed_only` only those that did
    /// not succeed (the others keep their outcome and log).
    pub fn retry(run: &PipelineRun, failed_only: bool) -> Self {
        Self {
            repository_id: run.repository_id,
            git_ref: run.git_ref.clone(),
            commit_sha: run.commit_sha.clone(),
            trigger: TriggerKind::Retry,
            trigger_detail: failed_only.then(|| RETRY_FAILED_STEPS.to_owned()),
            pr_number: run.pr_number,
            retry_of: Some(run.id),
            delivery_id: None,
        }
    }
}

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepRun {
    pub name: String,
    pub image: String,
    pub depends_on: Vec<String>,
    pub status: StepStatus,
    pub exit_code: Option<i32>,
    /// Why it failed, was skipped or cancelled, in words.
    pub reason: Option<String>,
    /// Object key of its stored log, once it has one.
    pub log_key: Option<String>,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
}

impl StepRun {
    pub fn duration_ms(&self) -> Option<i64> {
        Some(self.finished_at_ms? - self.started_at_ms?)
    }
}

/// A run: list rows leave `steps` empty, the detail fills it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PipelineRun {
    pub id: PipelineId,
    pub repository_id: RepositoryId,
    pub repository: String,
    pub git_ref: String,
    pub commit_sha: Option<String>,
    pub trigger: TriggerKind,
    pub trigger_detail: Option<String>,
    pub pr_number: Option<i64>,
    pub status: PipelineStatus,
    pub reason: Option<String>,
    pub retry_of: Option<PipelineId>,
    /// Someone asked to cancel it; the executor stops its steps.
    pub cancel_requested: bool,
    pub created_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    pub steps: Vec<StepRun>,
}

impl PipelineRun {
    pub fn duration_ms(&self) -> Option<i64> {
        Some(self.finished_at_ms? - self.started_at_ms?)
    }

    /// The branch a ref names (`refs/heads/x` → `x`), or the ref itself.
    pub fn branch(&self) -> &str {
        self.git_ref
            .strip_prefix("refs/heads/")
            .unwrap_or(&self.git_ref)
    }
}

/// Which runs a list shows; `before` pages backwards by id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineFilter {
    pub repository_id: Option<RepositoryId>,
    pub status: Option<PipelineStatus>,
    pub git_ref: Option<String>,
    pub trigger: Option<TriggerKind>,
    /// Only runs of this pull request's pushes.
    pub pr_number: Option<i64>,
    pub before: Option<PipelineId>,
    /// Only runs of these repositories (`None`: every repository); the caller's reach.
    pub visible: Option<Vec<RepositoryId>>,
    pub limit: u32,
}

/// How a step ended, as the executor records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    pub status: StepStatus,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub log_key: Option<String>,
}

/// One (redacted) line of a step's log, numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub seq: u64,
    /// Milliseconds since the Unix epoch when Slipway received it.
    pub at_ms: i64,
    pub text: String,
}

/// The bus stream name and object key of a step's log.
pub fn step_log_stream(id: PipelineId, step: &str) -> String {
    format!("pipeline/{id}/{step}")
}

/// Where a finished step's log is stored.
pub fn step_log_key(id: PipelineId, step: &str) -> String {
    format!("logs/pipelines/{id}/{step}.log")
}

/// Where a running step's log is stored, part by part, until it ends.
pub fn step_log_parts_prefix(id: PipelineId, step: &str) -> String {
    format!("logs/pipelines/{id}/{step}.parts/")
}

/// A repository's cron schedule and when it next runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleEntry {
    pub repository_id: RepositoryId,
    pub cron: String,
    pub branch: String,
    pub next_at_ms: i64,
}

/// The image a pipeline published for a commit: what a preview of that commit deploys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublishedImage {
    pub repository_id: RepositoryId,
    pub commit_sha: String,
    /// `$REGISTRY/$PROJECT:$COMMIT_SHA`.
    pub image_ref: String,
    pub pipeline_id: PipelineId,
    pub published_at_ms: i64,
}
