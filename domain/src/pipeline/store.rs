//! The part of the Store port that keeps pipeline runs and their steps.

use async_trait::async_trait;

use super::definition::PipelineDefinition;
use super::run::{
    NewPipeline, PipelineFilter, PipelineId, PipelineRun, PipelineStatus, StepOutcome,
};
use crate::store::Result;

#[async_trait]
pub trait PipelineStore: Send + Sync {
    /// Records a pending run; executors pick it up.
    async fn create_pipeline(&self, new: &NewPipeline, at_ms: i64) -> Result<PipelineRun>;

    /// Atomically takes the oldest pending run for `worker` (pending → running), whatever the
    /// number of replicas asking at once; `None` when nothing is waiting.
    async fn claim_pipeline(&self, worker: &str, at_ms: i64) -> Result<Option<PipelineRun>>;

    /// Records the commit a run resolved to and the definition it runs, with its steps pending.
    async fn plan_pipeline(
        &self,
        id: PipelineId,
        commit_sha: &str,
        definition: &PipelineDefinition,
    ) -> Result<()>;

    /// The definition a run was planned with.
    async fn pipeline_definition(&self, id: PipelineId) -> Result<Option<PipelineDefinition>>;

    /// Marks a step running.
    async fn start_step(&self, id: PipelineId, step: &str, at_ms: i64) -> Result<()>;

    /// Records how a step ended.
    async fn finish_step(
        &self,
        id: PipelineId,
        step: &str,
        outcome: &StepOutcome,
        at_ms: i64,
    ) -> Result<()>;

    /// Ends a run that has not ended yet; `false` when it already had. Steps still pending or
    /// running are marked skipped (or cancelled, when the run is).
    async fn finish_pipeline(
        &self,
        id: PipelineId,
        status: PipelineStatus,
        reason: Option<&str>,
        at_ms: i64,
    ) -> Result<bool>;

    /// Proves the executor of a running run is alive (see [`Self::interrupted_pipelines`]).
    async fn heartbeat_pipeline(&self, id: PipelineId, at_ms: i64) -> Result<()>;

    /// Running runs whose executor has not proved alive since `stale_before_ms`.
    async fn interrupted_pipelines(&self, stale_before_ms: i64) -> Result<Vec<PipelineRun>>;

    /// Asks for a run to stop: a pending run is cancelled at once, a running one is flagged for
    /// its executor. Returns the run as it now is.
    async fn request_cancel(&self, id: PipelineId, at_ms: i64) -> Result<PipelineRun>;

    /// Runs, newest first, without their steps.
    async fn list_pipelines(&self, filter: &PipelineFilter) -> Result<Vec<PipelineRun>>;

    /// One run with its steps; `NotFound` when there is none.
    async fn get_pipeline(&self, id: PipelineId) -> Result<PipelineRun>;
}
