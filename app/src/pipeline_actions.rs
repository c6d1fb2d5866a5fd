//! Server-side only: starting, cancelling and retrying pipeline runs, shared by the dashboard's
//! server functions and the JSON API so both behave (and fail) the same way.

use domain::pipeline::{NewPipeline, PipelineId, PipelineRun, TriggerKind};
use domain::{BusEvent, EntityKind};

use crate::error::{AppError, ErrorKind};
use crate::services::Services;

/// The name the pipeline executor's wake-ups carry.
pub const PIPELINE_WORKER: &str = "pipelines";

impl Services {
    /// Records a pending run and wakes the executors.
    pub async fn start_pipeline(&self, new: &NewPipeline) -> Result<PipelineRun, AppError> {
        let run = self.store.create_pipeline(new, now_ms()).await?;
        tracing::info!(pipeline.id = %run.id, repository = %run.repository, git_ref = %run.git_ref, trigger = run.trigger.as_str(), "pipeline queued");
        self.announce_pipeline(&run).await;
        let wake = BusEvent::Wake {
            worker: PIPELINE_WORKER.to_owned(),
        };
        if let Err(error) = self.bus.publish(&wake).await {
            // The executor also polls the Store: the run starts late, not never.
            tracing::warn!(error = %crate::error::error_chain(&error), "could not wake the pipeline executor");
        }
        Ok(run)
    }

    /// Starts a run of a repository's pipeline at `git_ref` (a branch, tag or commit).
    pub async fn trigger_pipeline(
        &self,
        repository: domain::RepositoryId,
        git_ref: &str,
    ) -> Result<PipelineRun, AppError> {
        let git_ref = git_ref.trim();
        if git_ref.is_empty() {
            return Err(AppError::new(
                ErrorKind::InvalidInput,
                "git_ref is required: a branch, tag or commit, e.g. main",
            ));
        }
        if git_ref.starts_with('-') || git_ref.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(AppError::new(
                ErrorKind::InvalidInput,
                format!("git_ref `{git_ref}` is not a valid branch, tag or commit"),
            ));
        }
        let repository = self.store.get_repository(repository).await?;
        let new = NewPipeline {
            repository_id: repository.id,
            git_ref: git_ref.to_owned(),
            commit_sha: None,
            trigger: TriggerKind::Api,
            trigger_detail: None,
            pr_number: None,
            retry_of: None,
        };
        self.start_pipeline(&new).await
    }

    /// Stops a run: a pending run ends at once, a running one within seconds.
    pub async fn cancel_pipeline(&self, id: PipelineId) -> Result<PipelineRun, AppError> {
        let run = self.store.get_pipeline(id).await?;
        if run.status.is_finished() {
            return Err(AppError::new(
                ErrorKind::Conflict,
                format!("pipeline {id} already ended ({})", run.status.as_str()),
            ));
        }
        let run = self.store.request_cancel(id, now_ms()).await?;
        tracing::info!(pipeline.id = %id, "pipeline cancel requested");
        self.announce_pipeline(&run).await;
        Ok(run)
    }

    /// Runs a finished pipeline again, at the same commit: every step, or with `failed_only`
    /// only those that did not succeed (the others keep their outcome and log).
    pub async fn retry_pipeline(
        &self,
        id: PipelineId,
        failed_only: bool,
    ) -> Result<PipelineRun, AppError> {
        let run = self.store.get_pipeline(id).await?;
        if !run.status.is_finished() {
            return Err(AppError::new(
                ErrorKind::Conflict,
                format!(
                    "pipeline {id} is still {}; cancel it first",
                    run.status.as_str()
                ),
            ));
        }
        let new = NewPipeline {
            repository_id: run.repository_id,
            git_ref: run.git_ref.clone(),
            commit_sha: run.commit_sha.clone(),
            trigger: TriggerKind::Retry,
            trigger_detail: failed_only.then(|| domain::pipeline::RETRY_FAILED_STEPS.to_owned()),
            pr_number: run.pr_number,
            retry_of: Some(run.id),
        };
        self.start_pipeline(&new).await
    }

    async fn announce_pipeline(&self, run: &PipelineRun) {
        let event = BusEvent::Changed {
            entity: EntityKind::Pipeline,
            id: run.id.to_string(),
            status: run.status.as_str().to_owned(),
        };
        if let Err(error) = self.bus.publish(&event).await {
            tracing::warn!(pipeline.id = %run.id, error = %crate::error::error_chain(&error), "could not announce a pipeline change");
        }
    }
}

/// Milliseconds since the Unix epoch, as the Store records times.
pub(crate) fn now_ms() -> i64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}
