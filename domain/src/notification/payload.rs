//! Which event a pipeline run or preview is at, the key that makes its delivery happen once per
//! subscription, and the JSON body receivers get: the event, the repository, and the run
//! (status, commit, pull request, steps, why it failed, its page) or the preview (status, URL,
//! namespace, commit, its page).

use serde_json::{Value, json};

use super::NotificationEvent;
use crate::pipeline::{PipelineRun, PipelineStatus};
use crate::preview::{Preview, PreviewStatus};

/// The event a run is at, if it is one a subscription can hear: started once a step has
/// started, then its ending.
pub fn pipeline_event(run: &PipelineRun) -> Option<NotificationEvent> {
    match run.status {
        PipelineStatus::Succeeded => Some(NotificationEvent::PipelineSucceeded),
        PipelineStatus::Failed => Some(NotificationEvent::PipelineFailed),
        PipelineStatus::Cancelled => Some(NotificationEvent::PipelineCancelled),
        PipelineStatus::Running if run.steps.iter().any(|s| s.started_at_ms.is_some()) => {
            Some(NotificationEvent::PipelineStarted)
        }
        PipelineStatus::Pending | PipelineStatus::Running => None,
    }
}

/// The event a preview is at, if any.
pub fn preview_event(preview: &Preview) -> Option<NotificationEvent> {
    match preview.status {
        PreviewStatus::Running => Some(NotificationEvent::PreviewRunning),
        PreviewStatus::Failed => Some(NotificationEvent::PreviewFailed),
        PreviewStatus::Deleted => Some(NotificationEvent::PreviewRemoved),
        _ => None,
    }
}

/// Each run's event is delivered once.
pub fn pipeline_key(run: &PipelineRun, event: NotificationEvent) -> String {
    format!("pipeline:{}:{}", run.id, event.as_str())
}

/// Each deploy attempt's event is delivered once (a push or a retry is a new attempt).
pub fn preview_key(preview: &Preview, event: NotificationEvent) -> String {
    format!(
        "preview:{}:{}@{}:{}",
        preview.id,
        preview.head_sha,
        preview.round,
        event.as_str()
    )
}

/// The body for a run's event; `run_url` is its page on Slipway.
pub fn pipeline_payload(
    run: &PipelineRun,
    event: NotificationEvent,
    run_url: &str,
    at_ms: i64,
) -> Value {
    let steps: Vec<Value> = run
        .steps
        .iter()
        .map(|step| {
            json!({
                "name": step.name,
                "status": step.status,
                "exit_code": step.exit_code,
                "duration_ms": step.duration_ms(),
            })
        })
        .collect();
    json!({
        "event": event.as_str(),
        "at_ms": at_ms,
        "repository": run.repository,
        "pipeline": {
            "id": run.id,
            "url": run_url,
            "status": run.status,
            "git_ref": run.git_ref,
            "commit_sha": run.commit_sha,
            "pull_request": run.pr_number,
            "trigger": run.trigger,
            "reason": run.reason,
            "retry_of": run.retry_of,
            "started_at_ms": run.started_at_ms,
            "finished_at_ms": run.finished_at_ms,
            "duration_ms": run.duration_ms(),
            "steps": steps,
        },
    })
}

/// The body for a preview's event; `preview_url` is its page on Slipway.
pub fn preview_payload(
    preview: &Preview,
    event: NotificationEvent,
    preview_url: &str,
    at_ms: i64,
) -> Value {
    json!({
        "event": event.as_str(),
        "at_ms": at_ms,
        "repository": preview.repository,
        "preview": {
            "id": preview.id,
            "url": preview_url,
            "environment_url": preview.url.as_ref().filter(|_| preview.status == PreviewStatus::Running),
            "status": preview.status,
            "namespace": preview.namespace,
            "pull_request": preview.number,
            "head_sha": preview.head_sha,
            "reason": preview.reason,
        },
    })
}
