//! The tools Slipway offers agents, in the fixed order `tools/list` answers them: each with its
//! description, its input's JSON Schema and explicit annotations. A `read` token (or
//! `SLIPWAY_MCP=read-only`) is offered only the read-only ones.

use std::sync::Arc;

use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;

use super::inputs;

/// One tool: its name, what it does, and what it changes.
pub struct ToolSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// Changes nothing.
    pub read_only: bool,
    /// Removes or stops something.
    pub destructive: bool,
    /// Calling it twice is calling it once.
    pub idempotent: bool,
    schema: fn() -> Arc<JsonObject>,
}

fn schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    schema_for_type::<T>()
}

const fn read(
    name: &'static str,
    title: &'static str,
    description: &'static str,
    schema: fn() -> Arc<JsonObject>,
) -> ToolSpec {
    ToolSpec {
        name,
        title,
        description,
        read_only: true,
        destructive: false,
        idempotent: true,
        schema,
    }
}

const fn write(
    name: &'static str,
    title: &'static str,
    description: &'static str,
    (destructive, idempotent): (bool, bool),
    schema: fn() -> Arc<JsonObject>,
) -> ToolSpec {
    ToolSpec {
        name,
        title,
        description,
        read_only: false,
        destructive,
        idempotent,
        schema,
    }
}

/// Every tool, in the order they are listed.
pub const TOOLS: &[ToolSpec] = &[
    read(
        "list_repositories",
        "List repositories",
        "The repositories you can see, with your level on each (read, write, admin).",
        schema::<inputs::NoInput>,
    ),
    read(
        "list_preview_environments",
        "List preview environments",
        "Pull request previews you can see, newest first: status, URL, repository, pull request, branch. Filter by status, repository or search; page with `cursor`.",
        schema::<inputs::ListPreviewEnvironments>,
    ),
    read(
        "get_preview_environment",
        "Get a preview environment",
        "One preview by id, namespace, or repository + pull request number: status and why, URL, deploy attempts with their reasons, resource usage, pods and recent Kubernetes events.",
        schema::<inputs::PreviewKey>,
    ),
    read(
        "get_preview_logs",
        "Read a preview's pod log",
        "The last lines of a preview pod's log (default 200, at most 2,000); says whether lines were left out.",
        schema::<inputs::GetPreviewLogs>,
    ),
    write(
        "retry_preview_deployment",
        "Retry a preview deployment",
        "Deploys the preview again at its pull request's head commit. Refused when the pull request no longer wants a preview.",
        (false, false),
        schema::<inputs::PreviewKey>,
    ),
    write(
        "delete_preview_environment",
        "Delete a preview environment",
        "Removes the preview's namespace and everything in it.",
        (true, true),
        schema::<inputs::PreviewKey>,
    ),
    read(
        "list_pipeline_runs",
        "List pipeline runs",
        "Pipeline runs you can see, newest first. Filter by repository, status or ref; page with `cursor`.",
        schema::<inputs::ListPipelineRuns>,
    ),
    read(
        "get_pipeline_run",
        "Get a pipeline run",
        "One run with its steps: status, exit code, duration and why a step failed.",
        schema::<inputs::RunId>,
    ),
    read(
        "get_step_logs",
        "Read a step's log",
        "The last lines of a pipeline step's log (default 200, at most 2,000); without `step`, the failing step's. Says whether lines were left out.",
        schema::<inputs::GetStepLogs>,
    ),
    read(
        "list_artifacts",
        "List a run's artifacts",
        "Files a run kept, each with a short-lived download link.",
        schema::<inputs::RunId>,
    ),
    write(
        "trigger_pipeline",
        "Trigger a pipeline",
        "Starts a run of a repository's pipeline at a ref (default: its default branch).",
        (false, false),
        schema::<inputs::TriggerPipeline>,
    ),
    write(
        "retry_pipeline_run",
        "Retry a pipeline run",
        "Runs a finished run again as a new run; `failed_only` keeps the steps that succeeded.",
        (false, false),
        schema::<inputs::RetryPipelineRun>,
    ),
    write(
        "cancel_pipeline_run",
        "Cancel a pipeline run",
        "Stops a pending or running run and its steps.",
        (true, true),
        schema::<inputs::RunId>,
    ),
    read(
        "list_transform_runs",
        "List transform runs",
        "Transform runs (one change tried across many repositories) you can see, newest first, with their totals; page with `cursor`.",
        schema::<inputs::ListTransformRuns>,
    ),
    read(
        "get_transform_run",
        "Get a transform run",
        "One transform run: its spec and totals, and per repository the execution's status, exit code, reason, files changed and whether it is ready to publish.",
        schema::<inputs::TransformRunId>,
    ),
    read(
        "get_transform_patch",
        "Read a transform's patch",
        "One repository's patch (for `git apply`) and summary from a transform run; the patch is cut past 48 KB (the answer says so).",
        schema::<inputs::TransformExecution>,
    ),
    write(
        "start_transform_run",
        "Start a transform run",
        "Runs a spec's steps in each repository it selects and keeps each patch, log and summary; nothing is written to GitHub. Needs write access to every repository.",
        (false, false),
        schema::<inputs::StartTransformRun>,
    ),
    write(
        "retry_transform_executions",
        "Retry transform executions",
        "Runs a transform run's failed, timed-out, dead-lettered or cancelled executions again (or only one repository's).",
        (false, false),
        schema::<inputs::RetryTransformExecutions>,
    ),
    write(
        "cancel_transform_run",
        "Cancel a transform run",
        "Stops a transform run: waiting executions never start, running ones are stopped.",
        (true, true),
        schema::<inputs::TransformRunId>,
    ),
];

/// The tool called `name`.
pub fn named(name: &str) -> Option<&'static ToolSpec> {
    TOOLS.iter().find(|t| t.name == name)
}

impl ToolSpec {
    /// As `tools/list` describes it.
    pub fn describe(&self) -> Tool {
        let annotations = ToolAnnotations::with_title(self.title)
            .read_only(self.read_only)
            .destructive(self.destructive)
            .idempotent(self.idempotent)
            .open_world(false);
        Tool::new(self.name, self.description, (self.schema)())
            .with_title(self.title)
            .with_annotations(annotations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_a_unique_name_and_an_object_schema() {
        let mut names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TOOLS.len());
        for tool in TOOLS {
            let described = tool.describe();
            assert_eq!(
                described.input_schema.get("type").and_then(|t| t.as_str()),
                Some("object"),
                "{}",
                tool.name
            );
            assert!(!(tool.read_only && tool.destructive), "{}", tool.name);
        }
    }
}
