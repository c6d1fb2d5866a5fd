//! What each tool does: read its input, call one application function with the token's
//! caller, and shape the answer (see `answers`). Nothing here decides who may do what.

use domain::pipeline::PipelineId;
use domain::pipeline::StepStatus;
use futures::StreamExt;
use serde_json::{Value, json};
use services::pipelines::{ListPipelines, PipelineRef, RetryPipeline, TriggerPipeline};
use services::previews::{ListPreviews, PreviewLog, PreviewLogQuery};
use services::{Caller, Error};

use super::answers::{cursor, fit, input, limit, tail_lines, tail_of, to_value};
use super::inputs;
use crate::http::AppState;

/// The preview key a person would give: id or namespace, or repository + number.
async fn preview_key(
    state: &AppState,
    caller: &Caller,
    key: &inputs::PreviewKey,
) -> Result<String, Error> {
    if let Some(key) = key.preview.as_deref().filter(|k| !k.trim().is_empty()) {
        return Ok(key.trim().to_owned());
    }
    let (Some(repository), Some(number)) = (key.repository.as_deref(), key.number) else {
        return Err(Error::invalid(
            "preview",
            "give `preview` (an id or namespace), or `repository` and `number`",
        ));
    };
    state
        .services
        .preview_of_pull_request(caller, repository, number)
        .await
}

/// Runs the tool `name` for `caller`: its structured answer, or the application's error.
pub async fn call(
    state: &AppState,
    caller: &Caller,
    name: &str,
    arguments: Option<serde_json::Map<String, Value>>,
) -> Result<Value, Error> {
    let services = &state.services;
    match name {
        "list_repositories" => {
            let _: inputs::NoInput = input(arguments)?;
            let repositories = services.list_repositories(caller).await?;
            let items: Vec<Value> = repositories
                .iter()
                .map(|r| {
                    json!({
                        "id": r.id.0,
                        "name": r.name,
                        "default_branch": r.default_branch,
                        "level": caller.level_on(r.id).map(|l| l.as_str()),
                    })
                })
                .collect();
            Ok(json!({ "items": items }))
        }
        "list_preview_environments" => {
            let asked: inputs::ListPreviewEnvironments = input(arguments)?;
            let offset = cursor(asked.cursor.as_deref(), 'p')?.unwrap_or(0);
            let query = ListPreviews {
                status: asked.status,
                repository: asked.repository,
                search: asked.search,
                include_deleted: asked.include_removed,
                limit: Some(limit(asked.limit)),
                offset: Some(u32::try_from(offset).unwrap_or(0)),
            };
            let mut page = services.list_previews(caller, query).await?;
            let next = if fit(&mut page.items) {
                Some(offset as u64 + page.items.len() as u64)
            } else {
                page.next_offset
            };
            Ok(json!({
                "items": to_value(&page.items)?,
                "total": page.total,
                "next_cursor": next.map(|o| format!("p{o}")),
            }))
        }
        "get_preview_environment" => {
            let key: inputs::PreviewKey = input(arguments)?;
            let key = preview_key(state, caller, &key).await?;
            to_value(&services.get_preview(caller, &key).await?)
        }
        "get_preview_logs" => {
            let asked: inputs::GetPreviewLogs = input(arguments)?;
            let key = preview_key(state, caller, &asked.key).await?;
            let tail = tail_lines(asked.tail_lines);
            let query = PreviewLogQuery {
                pod: asked.pod,
                container: asked.container,
                // One line more than asked: its presence says lines were left out.
                tail: Some((tail + 1).to_string()),
                timestamps: asked.timestamps,
                since_seconds: asked.since_seconds,
                follow: false,
            };
            match services.preview_log(caller, &key, query).await? {
                PreviewLog::Gone(why) => {
                    Ok(json!({ "lines": [], "truncated": false, "note": why }))
                }
                PreviewLog::Lines(stream) => {
                    let mut lines = Vec::new();
                    let mut read = stream;
                    while let Some(line) = read.next().await {
                        match line {
                            Ok(line) => lines.push(line),
                            Err(error) => {
                                return Err(services::previews::cluster_failure(error));
                            }
                        }
                    }
                    let (lines, left_out) = tail_of(lines, tail);
                    Ok(json!({ "lines": lines, "truncated": left_out > 0 }))
                }
            }
        }
        "retry_preview_deployment" => {
            let key: inputs::PreviewKey = input(arguments)?;
            let key = preview_key(state, caller, &key).await?;
            to_value(&services.retry_preview(caller, &key).await?)
        }
        "delete_preview_environment" => {
            let key: inputs::PreviewKey = input(arguments)?;
            let key = preview_key(state, caller, &key).await?;
            to_value(&services.delete_preview(caller, &key).await?)
        }
        "list_pipeline_runs" => {
            let asked: inputs::ListPipelineRuns = input(arguments)?;
            let repository = match asked.repository.as_deref().filter(|r| !r.is_empty()) {
                Some(name) => Some(
                    services
                        .repository_named(caller, name)
                        .await?
                        .id
                        .to_string(),
                ),
                None => None,
            };
            let query = ListPipelines {
                repository,
                status: asked.status,
                git_ref: asked.git_ref,
                trigger: None,
                pull_request: asked.pull_request,
                before: cursor(asked.cursor.as_deref(), 'r')?,
                limit: Some(limit(asked.limit)),
            };
            let mut page = services.list_pipelines(caller, query).await?;
            let next = if fit(&mut page.items) {
                page.items.last().map(|run| run.id)
            } else {
                page.next_before
            };
            Ok(json!({
                "items": to_value(&page.items)?,
                "next_cursor": next.map(|b| format!("r{}", b.0)),
            }))
        }
        "get_pipeline_run" => {
            let asked: inputs::RunId = input(arguments)?;
            to_value(
                &services
                    .get_pipeline(caller, PipelineRef::id(asked.run_id))
                    .await?,
            )
        }
        "get_step_logs" => {
            let asked: inputs::GetStepLogs = input(arguments)?;
            step_logs(state, caller, asked).await
        }
        "list_artifacts" => {
            let asked: inputs::RunId = input(arguments)?;
            let items = services
                .list_artifacts(caller, PipelineRef::id(asked.run_id))
                .await?;
            Ok(json!({ "items": to_value(&items)? }))
        }
        "trigger_pipeline" => {
            let asked: inputs::TriggerPipeline = input(arguments)?;
            let repository = services.repository_named(caller, &asked.repository).await?;
            let git_ref = asked
                .git_ref
                .filter(|r| !r.trim().is_empty())
                .unwrap_or(repository.default_branch);
            let input = TriggerPipeline {
                repository: repository.id,
                git_ref,
            };
            to_value(&services.trigger_pipeline(caller, input).await?)
        }
        "retry_pipeline_run" => {
            let asked: inputs::RetryPipelineRun = input(arguments)?;
            let input = RetryPipeline {
                run: PipelineRef::id(asked.run_id),
                failed_only: asked.failed_only,
            };
            to_value(&services.retry_pipeline(caller, input).await?)
        }
        "cancel_pipeline_run" => {
            let asked: inputs::RunId = input(arguments)?;
            to_value(
                &services
                    .cancel_pipeline(caller, PipelineRef::id(asked.run_id))
                    .await?,
            )
        }
        other if super::transform_calls::NAMES.contains(&other) => {
            super::transform_calls::call(services, caller, other, arguments).await
        }
        other => Err(Error::invalid(
            "name",
            format!("there is no tool `{other}`"),
        )),
    }
}

async fn step_logs(
    state: &AppState,
    caller: &Caller,
    asked: inputs::GetStepLogs,
) -> Result<Value, Error> {
    let run = state
        .services
        .get_pipeline(caller, PipelineRef::id(asked.run_id))
        .await?;
    let failed = run.steps.iter().find(|s| s.status == StepStatus::Failed);
    let step = match (&asked.step, failed) {
        (Some(name), _) => run
            .steps
            .iter()
            .find(|s| &s.name == name)
            .ok_or_else(|| Error::NotFound(format!("run {} has no step `{name}`", run.id)))?,
        (None, Some(failed)) => failed,
        (None, None) if asked.failed_only => {
            return Err(Error::invalid(
                "failed_only",
                format!("no step of run {} failed", run.id),
            ));
        }
        (None, None) => run
            .steps
            .last()
            .ok_or_else(|| Error::NotFound(format!("run {} has no steps yet", run.id)))?,
    };
    if asked.failed_only && step.status != StepStatus::Failed {
        return Err(Error::invalid(
            "failed_only",
            format!("step `{}` did not fail", step.name),
        ));
    }
    let lines = crate::http::step_log_lines(state, PipelineId(run.id.0), step).await?;
    let text: Vec<String> = lines.into_iter().map(|l| l.text).collect();
    let total = text.len();
    let (lines, left_out) = tail_of(text, tail_lines(asked.tail_lines));
    Ok(json!({
        "run_id": run.id.0,
        "step": step.name,
        "status": step.status.as_str(),
        "exit_code": step.exit_code,
        "reason": step.reason,
        "total_lines": total,
        "lines": lines,
        "truncated": left_out > 0,
        "lines_left_out": left_out,
    }))
}
