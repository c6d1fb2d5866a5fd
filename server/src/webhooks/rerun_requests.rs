//! GitHub's re-run buttons on Slipway's checks: `check_run` `rerequested` ("Re-run") and
//! `check_suite` `rerequested` ("Re-run all checks") run the pipeline again at the same commit,
//! and `check_run` `requested_action` with the "Re-run failed steps" button runs only the steps
//! that did not succeed. A check run names its pipeline run by `external_id`; a check suite by
//! its commit (the newest run there). Only checks Slipway made (named `slipway/pipeline`) and
//! runs of the delivery's own repository are retried.

use domain::pipeline::{NewPipeline, PipelineFilter, PipelineId, PipelineRun};
use domain::report::check::{CHECK_NAME, RERUN_FAILED};
use domain::{DeliveryStatus, Store};
use serde_json::Value;

use super::events::{Outcome, store_failure};

fn ignored(why: impl Into<String>) -> Outcome {
    (DeliveryStatus::Ignored, Some(why.into()))
}

/// A `check_run` delivery.
pub async fn on_check_run(
    store: &dyn Store,
    delivery_id: &str,
    action: &str,
    payload: &Value,
    now_ms: i64,
) -> Outcome {
    let check = &payload["check_run"];
    if check["name"].as_str() != Some(CHECK_NAME) {
        return ignored("the check run is not Slipway's");
    }
    let failed_only = match action {
        "rerequested" => false,
        "requested_action"
            if payload["requested_action"]["identifier"].as_str() == Some(RERUN_FAILED) =>
        {
            true
        }
        "requested_action" => return ignored("Slipway offers no such action"),
        other => return ignored(format!("check_run `{other}` asks nothing of Slipway")),
    };
    let Some(id) = check["external_id"]
        .as_str()
        .and_then(|id| id.parse::<i64>().ok())
    else {
        return (
            DeliveryStatus::Failed,
            Some("the check run has no external_id naming a pipeline run".into()),
        );
    };
    let run = match store.get_pipeline(PipelineId(id)).await {
        Ok(run) => run,
        Err(domain::StoreError::NotFound { .. }) => {
            return ignored(format!("pipeline run {id} no longer exists"));
        }
        Err(error) => return super::pipeline_triggers::unreadable_repository(&error),
    };
    if Some(run.repository.as_str()) != payload["repository"]["full_name"].as_str() {
        return ignored(format!(
            "pipeline run {id} is not of the delivery's repository"
        ));
    }
    retry(store, &run, failed_only, delivery_id, now_ms).await
}

/// A `check_suite` delivery: `rerequested` runs the commit's newest run again.
pub async fn on_check_suite(
    store: &dyn Store,
    delivery_id: &str,
    action: &str,
    payload: &Value,
    now_ms: i64,
) -> Outcome {
    if action != "rerequested" {
        return ignored(format!("check_suite `{action}` asks nothing of Slipway"));
    }
    let name = payload["repository"]["full_name"]
        .as_str()
        .unwrap_or_default();
    let sha = payload["check_suite"]["head_sha"]
        .as_str()
        .unwrap_or_default();
    let repository = match store.get_repository_named(name).await {
        Ok(Some(repository)) => repository,
        Ok(None) => return ignored(format!("Slipway does not build {name}")),
        Err(error) => return super::pipeline_triggers::unreadable_repository(&error),
    };
    let filter = PipelineFilter {
        repository_id: Some(repository.id),
        limit: 200,
        ..PipelineFilter::default()
    };
    let runs = match store.list_pipelines(&filter).await {
        Ok(runs) => runs,
        Err(error) => return super::pipeline_triggers::unreadable_repository(&error),
    };
    match runs
        .into_iter()
        .find(|run| run.commit_sha.as_deref() == Some(sha))
    {
        Some(run) => retry(store, &run, false, delivery_id, now_ms).await,
        None => ignored(format!("no pipeline run of {name} at {sha}")),
    }
}

async fn retry(
    store: &dyn Store,
    run: &PipelineRun,
    failed_only: bool,
    delivery_id: &str,
    now_ms: i64,
) -> Outcome {
    if !run.status.is_finished() {
        return ignored(format!(
            "pipeline run {} is still {}",
            run.id,
            run.status.as_str()
        ));
    }
    match store
        .create_pipeline(
            &NewPipeline {
                delivery_id: Some(delivery_id.to_owned()),
                ..NewPipeline::retry(run, failed_only)
            },
            now_ms,
        )
        .await
    {
        Ok(new) => {
            let what = if failed_only {
                "failed steps"
            } else {
                "every step"
            };
            tracing::info!(pipeline.id = %new.id, retry_of = %run.id, "pipeline run again from GitHub");
            (
                DeliveryStatus::Processed,
                Some(format!(
                    "pipeline run {} queued: {what} of run {} again",
                    new.id, run.id
                )),
            )
        }
        Err(error) => store_failure("could not queue the run again", &error),
    }
}
