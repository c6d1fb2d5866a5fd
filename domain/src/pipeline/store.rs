//! The parts of the Store port that keep pipeline runs and their steps, schedules, and what runs
//! leave behind (published images, artifact files).

use async_trait::async_trait;

use super::artifact::{ArtifactFile, NewArtifactFile};
use super::definition::PipelineDefinition;
use super::run::{
    NewPipeline, PipelineFilter, PipelineId, PipelineRun, PipelineStatus, PublishedImage,
    ScheduleEntry, StepOutcome,
};
use crate::repository::RepositoryId;
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

    /// Proves `worker`, the executor of a running run, is alive (see
    /// [`Self::interrupted_pipelines`]); `false` when the run is no longer its to run (another
    /// executor took it over while its heartbeats did not land, or it ended).
    async fn heartbeat_pipeline(&self, id: PipelineId, worker: &str, at_ms: i64) -> Result<bool>;

    /// Running runs whose executor has not proved alive since `stale_before_ms`.
    async fn interrupted_pipelines(&self, stale_before_ms: i64) -> Result<Vec<PipelineRun>>;

    /// Lets go of a running run whose steps go on without its executor (Slipway stopping while
    /// pods run): any executor may take it over at once ([`Self::take_over_pipeline`]).
    async fn let_go_pipeline(&self, id: PipelineId) -> Result<()>;

    /// Takes a running run whose executor has not proved alive since `stale_before_ms` over for
    /// `worker`, to follow its steps again; whether this caller got it (one racer does).
    async fn take_over_pipeline(
        &self,
        id: PipelineId,
        worker: &str,
        at_ms: i64,
        stale_before_ms: i64,
    ) -> Result<bool>;

    /// Asks for a run to stop: a pending run is cancelled at once, a running one is flagged for
    /// its executor. Returns the run as it now is.
    async fn request_cancel(&self, id: PipelineId, at_ms: i64) -> Result<PipelineRun>;

    /// Cancels a pull request's runs that have not ended (pending ones at once, running ones
    /// through their executor): a newer push supersedes them. The run delivery `delivery_id`
    /// queued is kept (the delivery is being handled again). Returns how many.
    async fn supersede_pull_request_runs(
        &self,
        repository_id: RepositoryId,
        pr_number: i64,
        delivery_id: Option<&str>,
        at_ms: i64,
    ) -> Result<u64>;

    /// Removes a run that turned out not to be wanted (its `on:` does not match the event).
    async fn discard_pipeline(&self, id: PipelineId) -> Result<()>;

    /// Runs, newest first, without their steps.
    async fn list_pipelines(&self, filter: &PipelineFilter) -> Result<Vec<PipelineRun>>;

    /// One run with its steps; `NotFound` when there is none.
    async fn get_pipeline(&self, id: PipelineId) -> Result<PipelineRun>;
}

/// Cron schedules read from repositories' `.platform.yaml`, fired once per occurrence.
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Replaces a repository's cron schedules, keeping the next time of those that stay.
    async fn set_schedules(
        &self,
        repository_id: RepositoryId,
        schedules: &[ScheduleEntry],
    ) -> Result<()>;

    /// Schedules whose next time is at or before `now_ms`.
    async fn due_schedules(&self, now_ms: i64) -> Result<Vec<ScheduleEntry>>;

    /// Moves a schedule from `expected_ms` to `next_ms`; `false` when another replica already
    /// did (so each occurrence starts one run, whatever the number of replicas).
    async fn advance_schedule(&self, entry: &ScheduleEntry, next_ms: i64) -> Result<bool>;
}

/// What runs leave behind: published images and artifact files.
#[async_trait]
pub trait PipelineOutputStore: Send + Sync {
    /// Records the image a run published for a commit (a later run of the same commit replaces
    /// it: it is the same tag, pushed again).
    async fn record_published_image(&self, image: &PublishedImage) -> Result<()>;

    /// The image published for a repository's commit, if any.
    async fn published_image(
        &self,
        repository_id: RepositoryId,
        commit_sha: &str,
    ) -> Result<Option<PublishedImage>>;

    /// Records a stored artifact file (replacing one at the same artifact and path).
    async fn add_artifact_file(&self, file: &NewArtifactFile) -> Result<ArtifactFile>;

    /// A run's artifact files, by artifact and path.
    async fn list_artifact_files(&self, pipeline: PipelineId) -> Result<Vec<ArtifactFile>>;

    /// Artifact files that expired at or before `now_ms`, oldest first, at most `limit`.
    async fn expired_artifact_files(&self, now_ms: i64, limit: u32) -> Result<Vec<ArtifactFile>>;

    /// Forgets an artifact file (after its object was deleted).
    async fn delete_artifact_file(&self, id: i64) -> Result<()>;
}
