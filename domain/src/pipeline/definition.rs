//! A repository's pipeline as `.platform.yaml` defines it, after validation: steps, artifacts,
//! triggers and time limits. Plain data, stored with every run so a run keeps the definition it
//! started with.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A step may run this long unless it sets `timeout`.
pub const DEFAULT_STEP_TIMEOUT_SECS: u64 = 10 * 60;
/// A whole run may take this long unless the pipeline sets `timeout`.
pub const DEFAULT_PIPELINE_TIMEOUT_SECS: u64 = 45 * 60;
/// Artifacts are kept this long unless they set `expires`.
pub const DEFAULT_ARTIFACT_EXPIRY_SECS: u64 = 7 * 24 * 3600;

/// Environment variables Slipway sets in every step; a step cannot override them.
pub const INJECTED_VARIABLES: [&str; 11] = [
    "PLATFORM_PROJECT_ID",
    "PLATFORM_PROJECT_NAME",
    "COMMIT_SHA",
    "COMMIT_REF",
    "COMMIT_BRANCH",
    "PIPELINE_ID",
    "STEP_NAME",
    "REGISTRY",
    "PROJECT",
    "PR_NUMBER",
    "PREVIEW_URL",
];

/// The validated `pipeline:` section of `.platform.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineDefinition {
    /// In file order, which is also the order pages list them in.
    pub steps: Vec<StepDefinition>,
    pub artifacts: Vec<ArtifactDefinition>,
    pub triggers: Triggers,
    /// Deadline for the whole run.
    pub timeout_secs: u64,
}

/// One step: commands run in a container image (or a local shell).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepDefinition {
    pub name: String,
    pub image: String,
    pub commands: Vec<String>,
    pub environment: BTreeMap<String, String>,
    /// Steps that must succeed before this one starts.
    pub depends_on: Vec<String>,
    pub timeout_secs: u64,
    pub resources: StepResources,
    /// The step builds and pushes `$REGISTRY/$PROJECT:$COMMIT_SHA`, the image previews deploy.
    pub publishes_image: bool,
}

/// Kubernetes quantities for a step's container; unset means the cluster's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepResources {
    pub cpu: Option<String>,
    pub memory: Option<String>,
}

/// Files a step leaves behind for download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactDefinition {
    pub name: String,
    /// A file or folder, relative to the workspace.
    pub path: String,
    /// The step whose workspace holds the files; collected after it succeeds.
    pub step: String,
    pub expires_secs: u64,
}

/// When the pipeline runs on its own; the API can always start it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triggers {
    /// Pushes to branches matching these globs; `None`: pushes do not trigger.
    pub push_branches: Option<Vec<String>>,
    /// Pull request actions (`opened`, `synchronize`, …); `None`: pull requests do not trigger.
    pub pull_request_actions: Option<Vec<String>>,
    pub schedules: Vec<Schedule>,
}

impl Default for Triggers {
    /// Without `on:`, every push and every opened, updated or reopened pull request runs.
    fn default() -> Self {
        Self {
            push_branches: Some(vec!["**".to_owned()]),
            pull_request_actions: Some(
                ["opened", "synchronize", "reopened"]
                    .map(str::to_owned)
                    .to_vec(),
            ),
            schedules: Vec::new(),
        }
    }
}

/// A cron schedule running the pipeline on a branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Five fields (minute hour day month weekday), UTC.
    pub cron: String,
    /// `None`: the repository's default branch.
    pub branch: Option<String>,
}

impl PipelineDefinition {
    pub fn step(&self, name: &str) -> Option<&StepDefinition> {
        self.steps.iter().find(|step| step.name == name)
    }
}

/// One problem in a `.platform.yaml`, where it is (1-based) and what is wrong, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefinitionError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl std::fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// Every problem found in a file, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct DefinitionErrors(pub Vec<DefinitionError>);

impl std::fmt::Display for DefinitionErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}
