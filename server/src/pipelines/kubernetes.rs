//! The Kubernetes runner: one Pod per step in the pipelines namespace (built by `step_pod`),
//! under the "restricted" security profile (see `cluster::pods`). Its log is followed line by
//! line; the pod and its Secrets are deleted only once the log is stored (`release`), or at once
//! when the step is cancelled or times out. When Slipway stops, pods run on: after the restart
//! each is found by its labels and followed again, its log read from the start.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use tokio::sync::OnceCell;

use super::artifacts::upload_url;
use super::step_pod::{clone_secret, clone_secret_name, environment_secret, step_pod};
use crate::signing::UrlSigner;
use domain::cluster::{
    Cluster, ClusterError, MANAGED_BY_LABEL, MANAGED_BY_VALUE, NamespaceSpec, ObjectKind,
    PIPELINE_LABEL, STEP_LABEL,
};
use domain::pipeline::{
    ArtifactSink, PipelineId, Runner, RunnerError, StepDefinition, StepExit, StepSpec, StopReason,
    StopSignal,
};

/// Output still unread when the pod ends is read for at most this long.
const LOG_DRAIN: Duration = Duration::from_secs(10);
/// A pod may take this long beyond its step's timeout to be scheduled and cloned.
const START_ALLOWANCE: Duration = Duration::from_secs(300);
/// How long a step's pod (taken over, or to release) is looked for while the cluster's API is
/// unavailable: the pod runs on meanwhile, so giving up sooner would fail a step that is fine
/// or leave its pod behind.
const LOOKUP_PATIENCE: Duration = Duration::from_secs(120);

/// Runs steps as pods on a cluster.
pub struct KubernetesRunner {
    cluster: Arc<dyn Cluster>,
    namespace: String,
    namespace_ready: OnceCell<()>,
    /// Signs the links pods upload artifacts through.
    signer: UrlSigner,
    /// Where pods reach Slipway.
    public_url: String,
}

impl KubernetesRunner {
    pub fn new(
        cluster: Arc<dyn Cluster>,
        namespace: String,
        signer: UrlSigner,
        public_url: String,
    ) -> Self {
        Self {
            cluster,
            namespace,
            namespace_ready: OnceCell::new(),
            signer,
            public_url,
        }
    }

    /// Environment variables holding each artifact's signed upload link (kept in the step's
    /// Secret, like every credential), valid a little longer than the step may run.
    fn upload_links(&self, spec: &StepSpec) -> Vec<(String, String)> {
        let ttl = Duration::from_secs(spec.step.timeout_secs) + START_ALLOWANCE;
        spec.artifacts
            .iter()
            .enumerate()
            .flat_map(|(index, artifact)| {
                let (url, query) = upload_url(
                    &self.signer,
                    &self.public_url,
                    spec.pipeline_id,
                    &artifact.name,
                    ttl,
                );
                [
                    (format!("SLIPWAY_ARTIFACT_{index}_URL"), url),
                    (format!("SLIPWAY_ARTIFACT_{index}_QUERY"), query),
                ]
            })
            .collect()
    }

    /// Deletes a step's pod and its Secrets (all Slipway's: named after the pod it made).
    async fn clean_up(&self, pod: &str) {
        if let Err(error) = self.cluster.delete_pod(&self.namespace, pod).await {
            tracing::warn!(pod = %pod, error = %error, "cannot delete a step's pod");
        }
        for secret in [pod.to_owned(), clone_secret_name(pod)] {
            match self
                .cluster
                .delete_object(&self.namespace, ObjectKind::SECRET, &secret)
                .await
            {
                Ok(_) | Err(ClusterError::NotFound { .. }) => {}
                Err(error) => {
                    tracing::warn!(secret = %secret, error = %error, "cannot delete a step's Secret")
                }
            }
        }
    }

    async fn ensure_namespace(&self) -> Result<(), RunnerError> {
        self.namespace_ready
            .get_or_try_init(|| async {
                let spec = NamespaceSpec {
                    name: self.namespace.clone(),
                    labels: [(MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned())].into(),
                    annotations: BTreeMap::new(),
                };
                self.cluster
                    .ensure_namespace(&spec)
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        RunnerError::with_source(
                            format!("cannot prepare namespace `{}`", self.namespace),
                            e,
                        )
                    })
            })
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl Runner for KubernetesRunner {
    fn kind(&self) -> &'static str {
        "kubernetes"
    }

    fn survives_restart(&self) -> bool {
        true
    }

    async fn release(&self, pipeline: PipelineId, step: &str) {
        for kind in [ObjectKind::POD, ObjectKind::SECRET] {
            match self.step_objects(pipeline, step, kind).await {
                Ok(objects) => {
                    for object in objects {
                        let deleted = if kind.kind == "Pod" {
                            self.cluster
                                .delete_pod(&self.namespace, object.name())
                                .await
                        } else {
                            self.cluster
                                .delete_object(&self.namespace, kind, object.name())
                                .await
                        };
                        if let Err(error) = deleted {
                            tracing::warn!(object = %object.name(), error = %error, "cannot delete what a step used");
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(pipeline.id = %pipeline, step, error = %error, "cannot find what a step used")
                }
            }
        }
    }

    async fn run_step(
        &self,
        spec: StepSpec,
        mut output: mpsc::Sender<String>,
        stop: StopSignal,
        _artifacts: Arc<dyn ArtifactSink>,
    ) -> Result<StepExit, RunnerError> {
        self.ensure_namespace().await?;
        let pod = step_pod(
            &spec,
            &self.namespace,
            &format!("{:06x}", rand::random::<u32>() & 0xff_ffff),
        );
        self.cluster
            .apply_manifest(
                &pod.namespace,
                &environment_secret(&spec, &pod, self.upload_links(&spec)),
            )
            .await
            .map_err(|e| RunnerError::with_source("cannot store the step's environment", e))?;
        if let Some(token) = &spec.clone_token
            && let Err(error) = self
                .cluster
                .apply_manifest(&pod.namespace, &clone_secret(&pod, token))
                .await
        {
            self.clean_up(&pod.name).await;
            return Err(RunnerError::with_source(
                "cannot store the clone's credentials",
                error,
            ));
        }
        if let Err(error) = self.cluster.create_pod(&pod).await {
            self.clean_up(&pod.name).await;
            return Err(RunnerError::with_source(
                format!("cannot create pod `{}`", pod.name),
                error,
            ));
        }
        let _ = output
            .send(format!(
                "slipway: step runs in pod {}/{} ({})",
                pod.namespace, pod.name, spec.step.image
            ))
            .await;
        self.follow(&pod.name, spec.step.timeout_secs, output, stop)
            .await
    }

    async fn resume_step(
        &self,
        pipeline: PipelineId,
        step: &StepDefinition,
        mut output: mpsc::Sender<String>,
        stop: StopSignal,
    ) -> Result<Option<StepExit>, RunnerError> {
        let pods = self
            .step_objects(pipeline, &step.name, ObjectKind::POD)
            .await
            .map_err(|e| RunnerError::with_source("cannot look for the step's pod", e))?;
        // Each attempt has a pod of its own and only the last can still be there.
        let Some(pod) = pods.last() else {
            return Ok(None);
        };
        let _ = output
            .send(format!(
                "slipway: Slipway restarted; following pod {}/{} again, its log from the start",
                self.namespace,
                pod.name()
            ))
            .await;
        self.follow(pod.name(), step.timeout_secs, output, stop)
            .await
            .map(Some)
    }
}

impl KubernetesRunner {
    /// The step's objects of `kind` (by their labels), looked for again while the cluster's API
    /// is unavailable (it throttles or fails beyond the adapter's own retries) for up to
    /// [`LOOKUP_PATIENCE`]: what a step left must be found, or its pod runs on unfollowed.
    async fn step_objects(
        &self,
        pipeline: PipelineId,
        step: &str,
        kind: ObjectKind<'_>,
    ) -> Result<Vec<domain::cluster::Manifest>, ClusterError> {
        use backon::{ExponentialBuilder, Retryable};
        let selector = format!("{PIPELINE_LABEL}={pipeline},{STEP_LABEL}={step}");
        let lookup = || self.cluster.list_objects(&self.namespace, kind, &selector);
        lookup
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(500))
                    .with_max_delay(Duration::from_secs(10))
                    .without_max_times()
                    .with_total_delay(Some(LOOKUP_PATIENCE)),
            )
            .when(|error| matches!(error, ClusterError::Unavailable(_)))
            .notify(|error, pause| {
                tracing::warn!(pipeline.id = %pipeline, step, %error, retry_in = ?pause, "cannot look for a step's {} yet", kind.kind);
            })
            .await
    }

    /// Relays the step pod's log until the pod ends or `stop` resolves, and says how the step
    /// ended. A stopped pod is deleted, except when Slipway is only stopping: it runs on, to be
    /// followed again after the restart.
    async fn follow(
        &self,
        pod: &str,
        timeout_secs: u64,
        output: mpsc::Sender<String>,
        stop: StopSignal,
    ) -> Result<StepExit, RunnerError> {
        // The log is read as the step writes it, in the background of the wait below.
        let logs = tokio::spawn(relay_log(
            self.cluster.clone(),
            self.namespace.clone(),
            pod.to_owned(),
            "step",
            output,
        ));
        let limit = Duration::from_secs(timeout_secs) + START_ALLOWANCE;
        let finished = self.cluster.wait_pod_finished(&self.namespace, pod, limit);
        let outcome = tokio::select! {
            outcome = finished => outcome,
            reason = stop => {
                logs.abort();
                if reason != StopReason::Interrupted {
                    self.clean_up(pod).await;
                }
                return Ok(StepExit::Stopped(reason));
            }
        };
        let _ = tokio::time::timeout(LOG_DRAIN, logs).await;
        // The pod stays until its log is stored (`release`).
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(error) => {
                self.clean_up(pod).await;
                return Err(RunnerError::with_source(
                    format!("lost track of pod `{pod}`"),
                    error,
                ));
            }
        };
        if outcome.reason.as_deref() == Some("DeadlineExceeded") {
            return Ok(StepExit::Stopped(StopReason::TimedOut {
                after_secs: timeout_secs,
            }));
        }
        if let Some(step) = outcome.containers.iter().find(|c| c.name == "step") {
            return Ok(StepExit::Exited(step.exit_code));
        }
        let why = outcome
            .containers
            .iter()
            .find(|c| c.name == "clone" && c.exit_code != 0)
            .map(|c| format!("cloning the repository failed (exit code {})", c.exit_code))
            .or_else(|| {
                outcome
                    .reason
                    .clone()
                    .map(|reason| match outcome.message.as_deref() {
                        Some(message) => format!("{reason}: {message}"),
                        None => reason,
                    })
            })
            .unwrap_or_else(|| "the pod ended without running the step".to_owned());
        Ok(StepExit::Refused(why))
    }
}

/// Sends each line the pod's `container` writes, from its first, to `output`.
pub(crate) async fn relay_log(
    cluster: Arc<dyn Cluster>,
    namespace: String,
    pod: String,
    container: &'static str,
    mut output: mpsc::Sender<String>,
) {
    match cluster.follow_logs(&namespace, &pod, container).await {
        Ok(mut lines) => {
            while let Some(line) = lines.next().await {
                match line {
                    Ok(line) => {
                        if output.send(line).await.is_err() {
                            break;
                        }
                    }
                    Err(error) => {
                        let _ = output
                            .send(format!("slipway: the log stream broke: {error}"))
                            .await;
                        break;
                    }
                }
            }
        }
        Err(error) => {
            let _ = output
                .send(format!("slipway: cannot read the {container} log: {error}"))
                .await;
        }
    }
}
