//! Pipelines: runs of a repository's `.platform.yaml`. Runs are created (API, and later pushes,
//! pull requests and schedules), claimed by the executor, and run step by step through the
//! Runner with their logs redacted, streamed live and stored.

pub mod environment;
pub mod executor;
pub mod local;
pub mod logs;
pub mod redact;
pub mod run;
pub mod source;

use domain::pipeline::{NewPipeline, PipelineRun};
use domain::{Bus, BusEvent, EntityKind, Store, StoreError};

/// Records a pending run and wakes the executors.
pub async fn start_pipeline(
    store: &dyn Store,
    bus: &dyn Bus,
    new: &NewPipeline,
) -> Result<PipelineRun, StoreError> {
    let run = store.create_pipeline(new, now_ms()).await?;
    let events = [
        BusEvent::Changed {
            entity: EntityKind::Pipeline,
            id: run.id.to_string(),
            status: run.status.as_str().to_owned(),
        },
        BusEvent::Wake {
            worker: executor::WORKER.to_owned(),
        },
    ];
    for event in &events {
        // The executor also polls: a lost wake-up only delays the run.
        if let Err(error) = bus.publish(event).await {
            tracing::warn!(pipeline.id = %run.id, error = %error, "cannot announce a new pipeline");
        }
    }
    Ok(run)
}

/// Milliseconds since the Unix epoch, as the Store records times.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
