//! The transform tools: read the input, call one application function with the token's caller
//! (`services::transforms`), and shape the answer. Nothing here decides who may do what.

use serde_json::{Value, json};
use services::transforms::{ListTransformRuns, StartTransform};
use services::{Caller, Error, Services};

use super::answers::{MAX_ANSWER_BYTES, cursor, fit, input, limit, to_value};
use super::inputs;

/// The tools answered here.
pub const NAMES: [&str; 6] = [
    "list_transform_runs",
    "get_transform_run",
    "get_transform_patch",
    "start_transform_run",
    "retry_transform_executions",
    "cancel_transform_run",
];

/// A patch is cut past this, leaving room for the summary in the answer.
const MAX_PATCH_BYTES: usize = MAX_ANSWER_BYTES * 3 / 4;

/// Runs the transform tool `name` for `caller`.
pub async fn call(
    services: &Services,
    caller: &Caller,
    name: &str,
    arguments: Option<serde_json::Map<String, Value>>,
) -> Result<Value, Error> {
    match name {
        "list_transform_runs" => {
            let asked: inputs::ListTransformRuns = input(arguments)?;
            let query = ListTransformRuns {
                before: cursor(asked.cursor.as_deref(), 't')?,
                limit: Some(limit(asked.limit)),
            };
            let mut page = services.list_transform_runs(caller, query).await?;
            let cut = fit(&mut page.items);
            let next = page
                .next_before
                .map(|id| id.0)
                .or_else(|| cut.then(|| page.items.last().map(|r| r.id.0)).flatten());
            Ok(json!({
                "items": to_value(&page.items)?,
                "next_cursor": next.map(|id| format!("t{id}")),
            }))
        }
        "get_transform_run" => {
            let asked: inputs::TransformRunId = input(arguments)?;
            let mut detail = services
                .get_transform_run_detail(caller, asked.transform_run_id)
                .await?;
            let cut = fit(&mut detail.executions);
            Ok(json!({
                "run": to_value(&detail.run)?,
                "executions": to_value(&detail.executions)?,
                "executions_left_out": cut,
            }))
        }
        "get_transform_patch" => {
            let asked: inputs::TransformExecution = input(arguments)?;
            let execution = services
                .transform_execution_in(caller, asked.transform_run_id, &asked.repository)
                .await?
                .execution
                .id;
            let read = |file| {
                services.read_transform_artifact(caller, asked.transform_run_id, execution, file)
            };
            let patch = read("patch.diff").await?;
            let summary = read("summary.json").await?;
            let summary: Value = summary
                .and_then(|s| serde_json::from_slice(&s.content).ok())
                .unwrap_or(Value::Null);
            let text = patch.map(|p| String::from_utf8_lossy(&p.content).into_owned());
            let truncated = text.as_ref().is_some_and(|t| t.len() > MAX_PATCH_BYTES);
            let shown = text.map(|t| {
                let mut end = t.len().min(MAX_PATCH_BYTES);
                while !t.is_char_boundary(end) {
                    end -= 1;
                }
                t[..end].to_owned()
            });
            Ok(json!({ "patch": shown, "truncated": truncated, "summary": summary }))
        }
        "start_transform_run" => {
            let asked: inputs::StartTransformRun = input(arguments)?;
            let input = StartTransform { spec: asked.spec };
            to_value(&services.start_transform(caller, input).await?)
        }
        "retry_transform_executions" => {
            let asked: inputs::RetryTransformExecutions = input(arguments)?;
            let retried = match asked.repository.as_deref() {
                Some(repository) => {
                    let execution = services
                        .transform_execution_in(caller, asked.transform_run_id, repository)
                        .await?
                        .execution
                        .id;
                    vec![
                        services
                            .retry_transform_execution(caller, asked.transform_run_id, execution)
                            .await?,
                    ]
                }
                None => {
                    services
                        .retry_failed_transforms(caller, asked.transform_run_id)
                        .await?
                }
            };
            Ok(json!({ "items": to_value(&retried)? }))
        }
        "cancel_transform_run" => {
            let asked: inputs::TransformRunId = input(arguments)?;
            to_value(
                &services
                    .cancel_transform_run(caller, asked.transform_run_id)
                    .await?,
            )
        }
        other => Err(Error::invalid(
            "name",
            format!("there is no tool `{other}`"),
        )),
    }
}
