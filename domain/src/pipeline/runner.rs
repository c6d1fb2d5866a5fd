//! The Runner port: runs one pipeline step to its end and reports its output line by line.
//! Implemented by local processes (embedded default) and Kubernetes pods in `server`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use futures::channel::mpsc;
use futures::future::BoxFuture;

use super::definition::{ArtifactDefinition, StepDefinition};
use super::run::PipelineId;

/// Everything a runner needs to run one step.
#[derive(Debug, Clone)]
pub struct StepSpec {
    pub pipeline_id: PipelineId,
    pub step: StepDefinition,
    /// Where to clone the source from (a URL or a local path).
    pub clone_url: String,
    /// The commit the workspace is checked out at.
    pub commit_sha: String,
    /// The step's complete environment: Slipway's variables, the step's own, secrets resolved.
    pub environment: BTreeMap<String, String>,
    /// The artifacts this step produces, collected after it succeeds.
    pub artifacts: Vec<ArtifactDefinition>,
    /// A short-lived token to clone `clone_url` with, for runners that clone it themselves
    /// (never part of the step's environment).
    pub clone_token: Option<String>,
}

/// Why a step was stopped before it ended by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    TimedOut {
        after_secs: u64,
    },
    Cancelled,
    /// The run hit its deadline.
    Deadline {
        after_secs: u64,
    },
    /// Slipway is stopping. A runner whose steps survive restarts leaves the step running (it
    /// is followed again once Slipway is back, `Runner::resume_step`); others stop it, and the
    /// run is retried.
    Interrupted,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TimedOut { after_secs } => {
                write!(f, "timed out after {}", human_secs(*after_secs))
            }
            Self::Cancelled => f.write_str("cancelled"),
            Self::Deadline { after_secs } => write!(
                f,
                "stopped: the pipeline reached its {} deadline",
                human_secs(*after_secs)
            ),
            Self::Interrupted => f.write_str("interrupted: Slipway stopped"),
        }
    }
}

/// Whether a recorded reason (a step's or a run's) says it was stopped for taking too long: a
/// step's timeout or the pipeline's deadline, as [`StopReason`] words them.
pub fn is_timeout(reason: &str) -> bool {
    reason.starts_with("timed out after")
        || reason.contains("reached its") && reason.contains("deadline")
}

/// `90` → `1m30s`, `600` → `10m`, `172800` → `2d`.
pub fn human_secs(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    let mut out = String::new();
    if d > 0 {
        out.push_str(&format!("{d}d"));
    }
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepExit {
    /// The commands ran to the end; 0 is success.
    Exited(i32),
    Stopped(StopReason),
    /// The step could not run at all, and why (an image that cannot be pulled, a failed clone).
    Refused(String),
}

/// A failure of the machinery, not of the step: worth retrying.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RunnerError {
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl RunnerError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// The message with what caused it (the cluster's own words: a 403 names the permission
    /// Slipway lacks), as a step's log and reason show it.
    pub fn explained(&self) -> String {
        match &self.source {
            Some(source) => format!("{}: {}", self.message, crate::error_chain(source.as_ref())),
            None => self.message.clone(),
        }
    }

    /// A failure that trying again cannot mend: the cluster refused the request as forbidden
    /// or invalid.
    pub fn is_permanent(&self) -> bool {
        self.source
            .as_ref()
            .and_then(|source| source.downcast_ref::<crate::cluster::ClusterError>())
            .is_some_and(|error| {
                matches!(
                    error,
                    crate::cluster::ClusterError::Forbidden(_)
                        | crate::cluster::ClusterError::Invalid(_)
                )
            })
    }
}

/// Where a runner puts the files of a step's artifacts.
#[async_trait]
pub trait ArtifactSink: Send + Sync {
    /// Keeps one file of `artifact`; `path` is relative to the artifact's `path`.
    async fn store(
        &self,
        artifact: &ArtifactDefinition,
        path: &str,
        content: bytes::Bytes,
    ) -> Result<(), RunnerError>;
}

/// Resolves when the step must stop, saying why.
pub type StopSignal = BoxFuture<'static, StopReason>;

#[async_trait]
pub trait Runner: Send + Sync + 'static {
    /// `local` or `kubernetes`, as pages and logs name it.
    fn kind(&self) -> &'static str;

    /// Whether `StepSpec::clone_url` should be the path of the run's local clone (cheap for a
    /// runner on this host) rather than the repository's URL.
    fn clones_from_local_source(&self) -> bool {
        false
    }

    /// Frees what a finished step still holds, once its log is stored (a pod, its Secret).
    async fn release(&self, _pipeline: PipelineId, _step: &str) {}

    /// Whether steps go on while Slipway is away (pods do, local processes do not): a run that
    /// a restart interrupted is then followed again (`resume_step`) instead of failed.
    fn survives_restart(&self) -> bool {
        false
    }

    /// Follows a step started before Slipway restarted, sending its output from the very first
    /// line, until it ends or `stop` resolves. `None` when nothing of it is left to follow (it
    /// was never started, or was removed): the caller runs it again.
    async fn resume_step(
        &self,
        _pipeline: PipelineId,
        _step: &StepDefinition,
        _output: mpsc::Sender<String>,
        _stop: StopSignal,
    ) -> Result<Option<StepExit>, RunnerError> {
        Ok(None)
    }

    /// Runs the step, sending every output line (stdout and stderr, unredacted: the caller
    /// redacts) to `output`, until it ends or `stop` resolves; when it succeeds, hands the
    /// files of its artifacts to `artifacts`.
    async fn run_step(
        &self,
        spec: StepSpec,
        output: mpsc::Sender<String>,
        stop: StopSignal,
        artifacts: std::sync::Arc<dyn ArtifactSink>,
    ) -> Result<StepExit, RunnerError>;
}
