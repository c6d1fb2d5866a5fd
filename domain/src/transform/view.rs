//! Transform runs as the API, the pages and MCP show them: an execution with whether it is
//! ready to publish and where its artifacts are, a run with its executions, and what an
//! opened execution shows (the end of its log and its patch, file by file).

use serde::{Deserialize, Serialize};

use super::patch::ShownPatch;
use super::run::{Execution, TransformRun};

/// The end of an execution's log a page shows (the whole of it is a download).
pub const LOG_TAIL_LINES: usize = 2_000;

/// One repository's execution, with whether it is ready to publish and its artifacts' links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExecutionView {
    #[serde(flatten)]
    pub execution: Execution,
    /// It succeeded with a non-empty patch.
    pub ready_to_publish: bool,
    /// `logs.txt`, once the execution has run.
    pub log_url: Option<String>,
    /// `patch.diff`, when it succeeded with changes.
    pub patch_url: Option<String>,
    /// `summary.json`, once the execution has run.
    pub summary_url: Option<String>,
}

impl ExecutionView {
    pub fn of(execution: Execution) -> Self {
        let base = format!(
            "/api/runs/{}/executions/{}/artifacts",
            execution.run_id, execution.id
        );
        let ran = execution.started_at_ms.is_some() && execution.status.is_finished();
        let ready_to_publish = execution.ready_to_publish();
        Self {
            log_url: ran.then(|| format!("{base}/logs.txt")),
            patch_url: ready_to_publish.then(|| format!("{base}/patch.diff")),
            summary_url: ran.then(|| format!("{base}/summary.json")),
            ready_to_publish,
            execution,
        }
    }
}

/// A run with the executions the viewer can see (its totals count only those).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransformRunDetail {
    pub run: TransformRun,
    pub executions: Vec<ExecutionView>,
}

/// What an opened execution shows: the end of its log and its patch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionOutput {
    pub log: Option<String>,
    /// Lines of the log before the part shown.
    pub log_lines_before: usize,
    pub patch: ShownPatch,
}

impl ExecutionOutput {
    /// The last [`LOG_TAIL_LINES`] of `log`, and `patch` split into files.
    pub fn of(log: Option<&str>, patch: Option<&str>) -> Self {
        let (log, log_lines_before) = match log {
            Some(log) => {
                let lines: Vec<&str> = log.lines().collect();
                let before = lines.len().saturating_sub(LOG_TAIL_LINES);
                (Some(lines[before..].join("\n")), before)
            }
            None => (None, 0),
        };
        Self {
            log,
            log_lines_before,
            patch: patch.map(super::patch::show).unwrap_or_default(),
        }
    }
}
