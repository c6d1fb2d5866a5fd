//! Transform runs and their executions (one per repository) as persisted state machines, and
//! what an execution leaves: its diff summary, and whether it is ready to publish.

use serde::{Deserialize, Serialize};

use super::definition::TransformSpec;
use crate::RepositoryId;
use crate::state::StateMachine;

/// A transform run's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransformRunId(pub i64);

impl std::fmt::Display for TransformRunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a run is: queued until an execution starts, running until every execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TransformRunStatus {
    Queued,
    Running,
    /// Every execution ended well (with a patch, without changes, or recorded).
    Completed,
    /// At least one execution failed, timed out or went to the dead letters.
    PartiallyFailed,
    Cancelled,
}

impl TransformRunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::PartiallyFailed => "partially_failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::PartiallyFailed | Self::Cancelled
        )
    }

    /// What a run is, given its executions' statuses and whether a cancel was asked for.
    pub fn of(executions: &[ExecutionStatus], cancel_requested: bool) -> Self {
        let all_ended = executions.iter().all(|s| s.is_finished());
        if !all_ended {
            let started = executions.iter().any(|s| *s != ExecutionStatus::Pending);
            return if started { Self::Running } else { Self::Queued };
        }
        if cancel_requested || executions.contains(&ExecutionStatus::Cancelled) {
            Self::Cancelled
        } else if executions.iter().any(|s| s.is_failure()) {
            Self::PartiallyFailed
        } else {
            Self::Completed
        }
    }
}

impl StateMachine for TransformRunStatus {
    const ENTITY: &'static str = "transform run";
    const ALL: &'static [Self] = &[
        Self::Queued,
        Self::Running,
        Self::Completed,
        Self::PartiallyFailed,
        Self::Cancelled,
    ];

    fn name(self) -> &'static str {
        self.as_str()
    }

    fn can_become(self, next: Self) -> bool {
        use TransformRunStatus::*;
        match (self, next) {
            (Queued, Running | Completed | PartiallyFailed | Cancelled) => true,
            (Running, Completed | PartiallyFailed | Cancelled) => true,
            // Its only started execution was handed back (Slipway stopping).
            (Running, Queued) => true,
            // Retrying executions of an ended run runs it again.
            (Completed | PartiallyFailed | Cancelled, Queued | Running) => true,
            _ => false,
        }
    }
}

/// Where one repository's execution is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ExecutionStatus {
    /// Waiting for a worker (again, after a failed attempt: when its backoff has passed).
    Pending,
    /// A worker took it and is preparing the checkout.
    Scheduled,
    Running,
    /// The steps succeeded and changed files: the patch is kept.
    Succeeded,
    /// The steps succeeded and changed nothing.
    NoChanges,
    Failed,
    TimedOut,
    Cancelled,
    /// Its last attempt failed for a reason that is not the steps' (or the task was invalid).
    DeadLettered,
    /// A dry run: recorded, nothing run.
    Recorded,
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::NoChanges => "no_changes",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
            Self::DeadLettered => "dead_lettered",
            Self::Recorded => "recorded",
        }
    }

    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Pending | Self::Scheduled | Self::Running)
    }

    /// Ended badly (counted as failed).
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::TimedOut | Self::DeadLettered)
    }

    /// Ended without succeeding: what a retry (one, or "retry all failed") runs again.
    pub fn is_retriable(self) -> bool {
        self.is_failure() || self == Self::Cancelled
    }
}

impl StateMachine for ExecutionStatus {
    const ENTITY: &'static str = "transform execution";
    const ALL: &'static [Self] = &[
        Self::Pending,
        Self::Scheduled,
        Self::Running,
        Self::Succeeded,
        Self::NoChanges,
        Self::Failed,
        Self::TimedOut,
        Self::Cancelled,
        Self::DeadLettered,
        Self::Recorded,
    ];

    fn name(self) -> &'static str {
        self.as_str()
    }

    fn can_become(self, next: Self) -> bool {
        use ExecutionStatus::*;
        match (self, next) {
            (Pending, Scheduled | Cancelled) => true,
            // Taken over from a worker that stopped renewing its claim.
            (Scheduled | Running, Scheduled) => true,
            // Handed back (shutdown, a worker that died), or refused before it ran.
            (Scheduled, Pending | Running | Recorded | Cancelled | DeadLettered) => true,
            (Running, Pending | Succeeded | NoChanges | Failed | TimedOut | Cancelled) => true,
            (Running, DeadLettered) => true,
            // Retried by hand, or requeued from the dead letters.
            (Failed | TimedOut | Cancelled | DeadLettered, Pending) => true,
            _ => false,
        }
    }
}

/// One file a patch changes; `None` counts for a binary file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileChange {
    pub path: String,
    pub additions: Option<u64>,
    pub deletions: Option<u64>,
}

/// What a patch changes, file by file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiffSummary {
    pub files: Vec<FileChange>,
    pub additions: u64,
    pub deletions: u64,
}

impl DiffSummary {
    /// Reads `git diff --numstat -z` output: `added\tdeleted\tpath\0` per file (`-\t-\t` for
    /// binary files; a rename is `added\tdeleted\t\0from\0to\0`).
    pub fn from_numstat_z(text: &str) -> Self {
        let mut summary = Self::default();
        let mut fields = text.split('\0');
        while let Some(entry) = fields.next() {
            let mut parts = entry.splitn(3, '\t');
            let (Some(added), Some(deleted), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let path = if path.is_empty() {
                let from = fields.next().unwrap_or_default();
                let to = fields.next().unwrap_or_default();
                format!("{from} → {to}")
            } else {
                path.to_owned()
            };
            let additions = added.parse::<u64>().ok();
            let deletions = deleted.parse::<u64>().ok();
            summary.additions += additions.unwrap_or(0);
            summary.deletions += deletions.unwrap_or(0);
            summary.files.push(FileChange {
                path,
                additions,
                deletions,
            });
        }
        summary
    }
}

/// A run as it is listed: its spec, status and how many executions are where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransformRun {
    pub id: TransformRunId,
    pub name: String,
    pub status: TransformRunStatus,
    pub spec: TransformSpec,
    /// The login of who started it (absent for the system).
    pub started_by: Option<String>,
    pub cancel_requested: bool,
    pub totals: ExecutionTotals,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
}

/// How many of a run's executions are in each state, as the run page's header shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExecutionTotals {
    pub total: u32,
    /// Pending or scheduled.
    pub waiting: u32,
    pub running: u32,
    pub succeeded: u32,
    pub no_changes: u32,
    /// Failed, timed out or dead-lettered.
    pub failed: u32,
    pub cancelled: u32,
    pub recorded: u32,
}

impl ExecutionTotals {
    pub fn of(statuses: &[ExecutionStatus]) -> Self {
        let mut totals = Self::default();
        for status in statuses {
            totals.total += 1;
            let slot = match status {
                ExecutionStatus::Pending | ExecutionStatus::Scheduled => &mut totals.waiting,
                ExecutionStatus::Running => &mut totals.running,
                ExecutionStatus::Succeeded => &mut totals.succeeded,
                ExecutionStatus::NoChanges => &mut totals.no_changes,
                ExecutionStatus::Failed
                | ExecutionStatus::TimedOut
                | ExecutionStatus::DeadLettered => &mut totals.failed,
                ExecutionStatus::Cancelled => &mut totals.cancelled,
                ExecutionStatus::Recorded => &mut totals.recorded,
            };
            *slot += 1;
        }
        totals
    }
}

/// One repository's execution of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Execution {
    pub id: i64,
    pub run_id: TransformRunId,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub repository_id: RepositoryId,
    pub repository: String,
    /// `preview:{run_id}:{repository}`: the same task twice is one execution.
    pub key: String,
    pub status: ExecutionStatus,
    /// Attempts made so far (a retry by hand starts again at 0).
    pub attempts: u32,
    pub max_attempts: u32,
    /// The commit the change was made from.
    pub base_sha: Option<String>,
    pub exit_code: Option<i32>,
    /// Why it did not succeed, in words (a step that timed out says which, after how long).
    pub reason: Option<String>,
    pub diff: Option<DiffSummary>,
    /// SHA-256 of `patch.diff`, hex.
    pub patch_sha256: Option<String>,
    pub created_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
}

impl Execution {
    /// Only a success with a non-empty patch is worth a pull request.
    pub fn ready_to_publish(&self) -> bool {
        ready(self.status, self.diff.as_ref())
    }

    /// `preview:{run_id}:{repository}`.
    pub fn key_for(run: TransformRunId, repository: &str) -> String {
        format!("preview:{run}:{repository}")
    }
}

/// `acme/shop` → `acme-shop`: the repository's part of its artifacts' keys.
pub fn repo_slug(repository: &str) -> String {
    repository
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The three artifacts an execution keeps.
pub const ARTIFACTS: [&str; 3] = ["logs.txt", "patch.diff", "summary.json"];

/// The bus stream an execution's attempt publishes its log lines on (numbered from 1).
pub fn log_stream(execution: i64, attempt: u32) -> String {
    format!("transform/{execution}/{attempt}")
}

/// `preview/{run_id}/{repo_slug}/{file}`: where an execution's artifact is kept.
pub fn artifact_key(run: TransformRunId, repository: &str, file: &str) -> String {
    format!("preview/{run}/{}/{file}", repo_slug(repository))
}

/// A run to record, with the repositories it was resolved to.
#[derive(Debug, Clone)]
pub struct NewTransformRun {
    pub spec: TransformSpec,
    pub repositories: Vec<(RepositoryId, String)>,
    pub started_by: Option<String>,
    pub max_attempts: u32,
}

/// How an attempt ended, as the worker records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionOutcome {
    pub status: ExecutionStatus,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub diff: Option<DiffSummary>,
    pub patch_sha256: Option<String>,
}

impl ExecutionOutcome {
    /// Only a success with a non-empty patch is worth a pull request.
    pub fn ready_to_publish(&self) -> bool {
        ready(self.status, self.diff.as_ref())
    }
}

fn ready(status: ExecutionStatus, diff: Option<&DiffSummary>) -> bool {
    status == ExecutionStatus::Succeeded && diff.is_some_and(|d| !d.files.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExecutionStatus::*;

    #[test]
    fn a_run_is_what_its_executions_are() {
        use TransformRunStatus as Run;
        assert_eq!(Run::of(&[Pending, Pending], false), Run::Queued);
        assert_eq!(Run::of(&[Running, Pending], false), Run::Running);
        assert_eq!(
            Run::of(&[Succeeded, NoChanges, Recorded], false),
            Run::Completed
        );
        assert_eq!(Run::of(&[Succeeded, TimedOut], false), Run::PartiallyFailed);
        assert_eq!(Run::of(&[Succeeded, Cancelled], true), Run::Cancelled);
        assert_eq!(Run::of(&[Failed, Running], true), Run::Running);
    }

    #[test]
    fn only_a_success_with_files_is_ready_to_publish() {
        let mut execution = Execution {
            id: 1,
            run_id: TransformRunId(1),
            repository_id: RepositoryId(1),
            repository: "acme/a".into(),
            key: Execution::key_for(TransformRunId(1), "acme/a"),
            status: Succeeded,
            attempts: 1,
            max_attempts: 3,
            base_sha: None,
            exit_code: Some(0),
            reason: None,
            diff: Some(DiffSummary::default()),
            patch_sha256: None,
            created_at_ms: 0,
            started_at_ms: None,
            finished_at_ms: None,
        };
        assert!(!execution.ready_to_publish(), "an empty patch");
        execution.diff = Some(DiffSummary::from_numstat_z("1\t0\tREADME.md\0"));
        assert!(execution.ready_to_publish());
        execution.status = Failed;
        assert!(!execution.ready_to_publish());
        assert_eq!(execution.key, "preview:1:acme/a");
    }

    #[test]
    fn numstat_counts_text_binary_and_renamed_files() {
        let summary = DiffSummary::from_numstat_z(
            "3\t1\tsrc/lib.rs\0-\t-\tlogo.png\x000\t0\t\0old.txt\0new.txt\0",
        );
        assert_eq!(summary.additions, 3);
        assert_eq!(summary.deletions, 1);
        let paths: Vec<&str> = summary.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["src/lib.rs", "logo.png", "old.txt → new.txt"]);
        assert_eq!(summary.files[1].additions, None, "binary");
    }

    #[test]
    fn artifacts_are_kept_under_the_run_and_the_repository() {
        assert_eq!(
            artifact_key(TransformRunId(7), "acme/shop", "patch.diff"),
            "preview/7/acme-shop/patch.diff"
        );
    }

    #[test]
    fn what_is_retried_may_go_back_to_pending() {
        for status in ExecutionStatus::ALL.iter().filter(|s| s.is_retriable()) {
            assert!(status.can_become(Pending), "{status:?}");
        }
    }

    #[test]
    fn an_ended_execution_may_only_go_back_to_pending() {
        for ended in ExecutionStatus::ALL.iter().filter(|s| s.is_finished()) {
            for next in ExecutionStatus::ALL {
                if ended.can_become(*next) {
                    assert_eq!(*next, Pending, "{ended:?} → {next:?}");
                }
            }
        }
    }
}
