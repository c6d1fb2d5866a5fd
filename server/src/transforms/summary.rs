//! `summary.json`: what one repository's execution did, for people and for whatever publishes
//! the patch later — its outcome, the files it changes with their line counts, and the SHA-256
//! of `patch.diff` (so a downloaded patch can be checked).

use std::time::Duration;

use serde::Serialize;

use domain::transform::{ClaimedExecution, ExecutionOutcome, FileChange};

#[derive(Debug, Serialize)]
pub struct Summary {
    pub run_id: i64,
    pub execution_id: i64,
    pub repository: String,
    /// The spec's name.
    pub transform: String,
    pub status: &'static str,
    pub attempt: u32,
    /// The ref asked for (absent: the repository's default branch) and the commit it was.
    pub base_ref: Option<String>,
    pub base_sha: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub files: Vec<FileChange>,
    pub additions: u64,
    pub deletions: u64,
    pub patch_sha256: Option<String>,
    pub ready_to_publish: bool,
    pub duration_ms: u64,
    /// Test totals the steps printed (cargo, pytest, Jest), when they printed any.
    pub tests: Option<domain::transform::test_report::TestCounts>,
}

impl Summary {
    pub fn new(
        claimed: &ClaimedExecution,
        base_sha: &str,
        outcome: &ExecutionOutcome,
        took: Duration,
    ) -> Self {
        let execution = &claimed.execution;
        let diff = outcome.diff.clone().unwrap_or_default();
        let ready_to_publish = outcome.ready_to_publish();
        Self {
            run_id: execution.run_id.0,
            execution_id: execution.id,
            repository: execution.repository.clone(),
            transform: claimed.spec.name.clone(),
            status: outcome.status.as_str(),
            attempt: execution.attempts,
            base_ref: claimed.spec.base_ref.clone(),
            base_sha: base_sha.to_owned(),
            exit_code: outcome.exit_code,
            reason: outcome.reason.clone(),
            additions: diff.additions,
            deletions: diff.deletions,
            files: diff.files,
            patch_sha256: outcome.patch_sha256.clone(),
            ready_to_publish,
            duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            tests: None,
        }
    }
}
