//! The `ExecuteTransform` task: what an entry of the `preview.tasks` stream asks for — one
//! repository's execution of a run — and its strict reading. The type is also the source of
//! the task's published JSON Schema (`slipway schema task`), and [`read`] checks everything the
//! schema says (types, required and unknown fields, patterns, bounds) before the one rule a
//! schema cannot say: `task_id` is the execution's key, `preview:{run_id}:{repository}`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::run::{Execution, TransformRunId};

/// `owner/name`, as GitHub spells repository names.
pub const REPOSITORY_PATTERN: &str = r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$";
/// `preview:{run_id}:{repository}`.
pub const TASK_ID_PATTERN: &str = r"^preview:[1-9][0-9]*:[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$";
/// The longest repository name a task may carry.
pub const MAX_REPOSITORY_LENGTH: usize = 200;
/// The longest entry read from the stream; a longer one is dead-lettered unread.
pub const MAX_TASK_BYTES: usize = 4096;

/// The only kind of task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TaskType {
    ExecuteTransform,
}

/// Run one repository's execution of a transform run. Other systems may add these to the
/// stream too: a task for an execution that exists is run once (the same task twice is one
/// execution); any other task goes to `preview.tasks.dlq` with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Slipway ExecuteTransform task")]
pub struct ExecuteTransform {
    #[serde(rename = "type")]
    pub kind: TaskType,
    /// The execution's key, `preview:{run_id}:{repository}`; the same task twice is one
    /// execution.
    #[schemars(pattern(TASK_ID_PATTERN), length(max = 230))]
    pub task_id: String,
    /// The transform run.
    #[schemars(range(min = 1))]
    pub run_id: i64,
    /// The repository, `owner/name`.
    #[schemars(pattern(REPOSITORY_PATTERN), length(max = 200))]
    pub repository: String,
}

impl ExecuteTransform {
    /// The task of `repository`'s execution in `run`.
    pub fn new(run: TransformRunId, repository: &str) -> Self {
        Self {
            kind: TaskType::ExecuteTransform,
            task_id: Execution::key_for(run, repository),
            run_id: run.0,
            repository: repository.to_owned(),
        }
    }

    /// The entry's text (JSON).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether this task breaks none of the schema's rules, nor the key rule; the first broken
    /// one otherwise. Checked before a task is added to the stream, and again when taken.
    pub fn check(&self) -> Result<(), TaskError> {
        if self.run_id < 1 {
            return Err(TaskError::at("run_id", "must be at least 1"));
        }
        if self.repository.len() > MAX_REPOSITORY_LENGTH || !is_repository(&self.repository) {
            return Err(TaskError::at(
                "repository",
                format!(
                    "must match {REPOSITORY_PATTERN} (at most {MAX_REPOSITORY_LENGTH} characters)"
                ),
            ));
        }
        let key = Execution::key_for(TransformRunId(self.run_id), &self.repository);
        if self.task_id != key {
            return Err(TaskError::at(
                "task_id",
                format!("must be `preview:{{run_id}}:{{repository}}`, here `{key}`"),
            ));
        }
        Ok(())
    }
}

/// Why a stream entry is not a valid task: where (a JSON path, `.` for the whole entry) and
/// what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}`: {reason}")]
pub struct TaskError {
    pub path: String,
    pub reason: String,
}

impl TaskError {
    fn at(path: &str, reason: impl Into<String>) -> Self {
        Self {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Reads an entry's text as a task, strictly: JSON, the schema, then the key rule.
pub fn read(text: &str) -> Result<ExecuteTransform, TaskError> {
    if text.len() > MAX_TASK_BYTES {
        return Err(TaskError::at(
            ".",
            format!(
                "is {} bytes; a task is at most {MAX_TASK_BYTES}",
                text.len()
            ),
        ));
    }
    let mut json = serde_json::Deserializer::from_str(text);
    let task: ExecuteTransform = serde_path_to_error::deserialize(&mut json).map_err(|e| {
        // `?` where the text is not JSON at all.
        let path = Some(e.path().to_string())
            .filter(|path| !path.contains('?'))
            .unwrap_or_else(|| ".".to_owned());
        let reason = e.into_inner().to_string();
        TaskError { path, reason }
    })?;
    json.end().map_err(|e| TaskError::at(".", e.to_string()))?;
    task.check()?;
    Ok(task)
}

/// The task's JSON Schema, published for the systems that add tasks (`slipway schema task`).
pub fn json_schema() -> serde_json::Value {
    schemars::schema_for!(ExecuteTransform).to_value()
}

fn is_repository(name: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    };
    matches!(name.split_once('/'), Some((owner, repo)) if part(owner) && part(repo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_reads_back_as_written() {
        let task = ExecuteTransform::new(TransformRunId(12), "acme/shop");
        assert_eq!(
            task.to_json(),
            r#"{"type":"ExecuteTransform","task_id":"preview:12:acme/shop","run_id":12,"repository":"acme/shop"}"#
        );
        assert_eq!(read(&task.to_json()), Ok(task));
    }

    #[test]
    fn a_broken_task_names_where_and_why() {
        let cases = [
            ("not json", "."),
            (
                r#"{"type":"ExecuteTransform","task_id":"preview:1:a/b","run_id":"1","repository":"a/b"}"#,
                "run_id",
            ),
            (
                r#"{"type":"Other","task_id":"preview:1:a/b","run_id":1,"repository":"a/b"}"#,
                "type",
            ),
            (
                r#"{"type":"ExecuteTransform","task_id":"preview:1:a/b","run_id":1,"repository":"a/b","x":1}"#,
                "x",
            ),
            (
                r#"{"type":"ExecuteTransform","task_id":"preview:1:a/b","run_id":1}"#,
                ".",
            ),
            (
                r#"{"type":"ExecuteTransform","task_id":"preview:1:a/b","run_id":0,"repository":"a/b"}"#,
                "run_id",
            ),
            (
                r#"{"type":"ExecuteTransform","task_id":"preview:1:a/b","run_id":1,"repository":"a b"}"#,
                "repository",
            ),
            (
                r#"{"type":"ExecuteTransform","task_id":"preview:2:a/b","run_id":1,"repository":"a/b"}"#,
                "task_id",
            ),
            (
                r#"{"type":"ExecuteTransform","task_id":"preview:1:a/b","run_id":1,"repository":"a/b"} {}"#,
                ".",
            ),
        ];
        for (text, path) in cases {
            let error = read(text).expect_err(text);
            assert_eq!(error.path, path, "{text}: {error}");
            assert!(!error.reason.is_empty());
        }
        let error = read(r#"{"type":"ExecuteTransform","task_id":"preview:1:a/b","run_id":1}"#)
            .expect_err("missing");
        assert!(error.reason.contains("repository"), "{error}");
    }

    #[test]
    fn the_schema_states_the_rules_the_reader_checks() {
        let schema = json_schema();
        let properties = &schema["properties"];
        assert_eq!(properties["repository"]["pattern"], REPOSITORY_PATTERN);
        assert_eq!(properties["task_id"]["pattern"], TASK_ID_PATTERN);
        assert_eq!(properties["run_id"]["minimum"], 1);
        assert_eq!(schema["additionalProperties"], false);
        let required: Vec<&str> = schema["required"]
            .as_array()
            .expect("required")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(required, ["type", "task_id", "run_id", "repository"]);
    }
}
