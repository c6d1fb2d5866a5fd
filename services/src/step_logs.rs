//! Which step's log a caller may read, and whether it can be read now or only followed. The
//! lines themselves come from the runner's live log or object storage; the edge that streams
//! them (server-sent events) reads them.

use domain::pipeline::{PipelineRun, StepRun};

use crate::caller::{Action, Caller};
use crate::pipelines::PipelineRef;
use crate::{Error, Result, Services};

/// A step log to read.
#[derive(Debug, Clone)]
pub struct StepLogRef {
    pub run: PipelineRef,
    /// The step's name.
    pub step: String,
    /// The reader follows the log live rather than reading it once.
    pub follow: bool,
}

/// What there is to read of a step's log.
#[derive(Debug, Clone)]
pub enum StepLog {
    /// The step, planned (running, finished or waiting).
    Step { run: PipelineRun, step: StepRun },
    /// The run has not read its file yet, so it has no steps: only a follower can wait for them.
    NotPlanned { run: PipelineRun },
}

impl Services {
    /// The step whose log is asked for; `NotFound` naming the run's steps when it has no such
    /// step (or, read once, no steps yet).
    pub async fn step_log(&self, caller: &Caller, wanted: StepLogRef) -> Result<StepLog> {
        let run = self
            .pipeline(caller, Action::PipelineRead, wanted.run)
            .await?;
        if wanted.follow && run.steps.is_empty() && !run.status.is_finished() {
            return Ok(StepLog::NotPlanned { run });
        }
        let Some(step) = run.steps.iter().find(|s| s.name == wanted.step).cloned() else {
            let known: Vec<&str> = run.steps.iter().map(|s| s.name.as_str()).collect();
            return Err(Error::NotFound(if known.is_empty() {
                format!("pipeline {} has no steps yet", run.id)
            } else {
                format!(
                    "pipeline {} has no step `{}`; its steps: {}",
                    run.id,
                    wanted.step,
                    known.join(", ")
                )
            }));
        };
        Ok(StepLog::Step { run, step })
    }
}
