//! The Store's part for transform runs: a run and its executions recorded together (one per
//! repository, unique on its key), the embedded queue — a due pending execution is claimed by
//! one worker for a while, counted as an attempt, and taken back when its worker stops renewing
//! the claim — and every move of an execution keeping its run's status in step.

use async_trait::async_trait;

use super::definition::TransformSpec;
use super::run::{Execution, ExecutionOutcome, NewTransformRun, TransformRun, TransformRunId};
use crate::RepositoryId;
use crate::store::Result;

/// Which runs to list: newest first.
#[derive(Debug, Clone, Default)]
pub struct TransformRunFilter {
    /// Only runs with an execution in one of these repositories, their totals counting only
    /// those executions (`None`: every run, every execution).
    pub visible: Option<Vec<RepositoryId>>,
    pub before: Option<TransformRunId>,
    pub limit: u32,
}

/// An execution a worker claimed, with the spec it runs.
#[derive(Debug, Clone)]
pub struct ClaimedExecution {
    pub execution: Execution,
    pub spec: TransformSpec,
}

/// Whether workers take new executions, and who said so last.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueState {
    /// New executions wait; running ones go on.
    pub paused: bool,
    /// The login of who paused or resumed it last (absent: never changed, or the system).
    pub changed_by: Option<String>,
    pub changed_at_ms: Option<i64>,
    /// With Redis: the task stream executions travel on (absent without Redis, or when it
    /// did not answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<super::queue::TaskStreamState>,
}

/// What renewing a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// Still this worker's: go on.
    Held,
    /// Still this worker's, but its run is to be cancelled: stop the attempt.
    CancelRequested,
    /// Another worker took it over (this one stopped renewing in time): let it go.
    Lost,
}

/// What claiming an execution by its key (a task read from the stream) found.
#[derive(Debug, Clone)]
pub enum KeyedClaim {
    /// Now this worker's: run it.
    Claimed(ClaimedExecution),
    /// Pending, but its next attempt is not due yet.
    NotDue,
    /// Claimed by a worker that still renews it.
    Held,
    /// It has ended: the task was run already.
    Ended(Execution),
    /// No execution has this key.
    Unknown,
}

#[async_trait]
pub trait TransformStore: Send + Sync {
    /// Records a run (queued) and one pending execution per repository, due now.
    async fn create_transform_run(
        &self,
        run: &NewTransformRun,
        now_ms: i64,
    ) -> Result<TransformRun>;

    /// Adds the execution of `run` in `repository` unless one with its key exists (`false`
    /// then): the same task twice is one execution.
    async fn enqueue_execution(
        &self,
        run: TransformRunId,
        repository: RepositoryId,
        repository_name: &str,
        max_attempts: u32,
        now_ms: i64,
    ) -> Result<bool>;

    async fn list_transform_runs(&self, filter: &TransformRunFilter) -> Result<Vec<TransformRun>>;

    /// `NotFound` when there is none.
    async fn get_transform_run(&self, id: TransformRunId) -> Result<TransformRun>;

    /// A run's executions, by repository name.
    async fn list_executions(&self, run: TransformRunId) -> Result<Vec<Execution>>;

    /// `NotFound` when there is none.
    async fn get_execution(&self, id: i64) -> Result<Execution>;

    /// Takes the pending execution due soonest (or one whose worker stopped renewing its
    /// claim) for `owner` until `until_ms`, counting an attempt; `None` when none is due.
    async fn claim_execution(
        &self,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<ClaimedExecution>>;

    /// Claims the execution with `key` like [`Self::claim_execution`] would, or says why not.
    async fn claim_execution_by_key(
        &self,
        key: &str,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<KeyedClaim>;

    /// Marks up to `limit` executions that may be claimed at `now_ms` and are not on the task
    /// stream as added to it; those marked, to be added.
    async fn publish_due_executions(&self, now_ms: i64, limit: u32) -> Result<Vec<Execution>>;

    /// Execution `only` (every execution not ended, when `None`) is to be added to the task
    /// stream again: adding it failed, or the stream was lost. How many.
    async fn unpublish_executions(&self, only: Option<i64>) -> Result<u64>;

    /// Extends `owner`'s claim, saying whether the attempt should go on.
    async fn renew_execution(&self, id: i64, owner: &str, until_ms: i64) -> Result<Renewal>;

    /// Scheduled → running, at `base_sha`.
    async fn start_execution(
        &self,
        id: i64,
        owner: &str,
        base_sha: &str,
        now_ms: i64,
    ) -> Result<()>;

    /// Records how an attempt ended and lets the claim go.
    async fn finish_execution(
        &self,
        id: i64,
        owner: &str,
        outcome: &ExecutionOutcome,
        now_ms: i64,
    ) -> Result<Execution>;

    /// An attempt the machinery failed (not the steps): pending again at `retry_at_ms`, or,
    /// after its last attempt (`retry_at_ms` is `None`), dead-lettered with `reason`.
    async fn fail_execution_attempt(
        &self,
        id: i64,
        owner: &str,
        reason: &str,
        retry_at_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<Execution>;

    /// Hands `owner`'s claimed executions back (pending, the attempt not counted): Slipway is
    /// stopping. How many.
    async fn release_executions(&self, owner: &str) -> Result<u64>;

    /// Marks the run to be cancelled; executions that have not started are cancelled at once
    /// (running ones stop when their worker renews its claim).
    async fn cancel_transform_run(&self, id: TransformRunId, now_ms: i64) -> Result<TransformRun>;

    /// Whether workers take new executions.
    async fn transform_queue_state(&self) -> Result<QueueState>;

    /// Pauses (or resumes) the taking of new executions, on every replica.
    async fn set_transform_queue_paused(
        &self,
        paused: bool,
        by: Option<&str>,
        now_ms: i64,
    ) -> Result<QueueState>;

    /// Makes failed, timed-out, dead-lettered and cancelled executions of `run` (only
    /// `execution`, when given) pending again with fresh attempts; those it moved.
    async fn retry_executions(
        &self,
        run: TransformRunId,
        execution: Option<i64>,
        now_ms: i64,
    ) -> Result<Vec<Execution>>;
}
