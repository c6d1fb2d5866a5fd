//! The Kubernetes runner: one Pod per step in the pipelines namespace. An init container clones
//! the repository at the commit into the pod's `/workspace` (an emptyDir); the step's container
//! runs its commands there in the step's image, under the "restricted" security profile (see
//! `cluster::pods`), with the step's resources and timeout (`activeDeadlineSeconds`). The step's
//! environment (secrets included) lives in a Secret of its own, never in the pod spec. Its log
//! is followed line by line; the pod and its Secret are deleted only once the log is stored
//! (`release`), or at once when the step is stopped. After the commands succeed, the pod uploads its artifacts with `curl` through
//! links signed for this pipeline and artifact.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use tokio::sync::OnceCell;

use super::artifacts::upload_url;
use super::local::shell_quote;
use super::source::token_config;
use crate::signing::UrlSigner;
use domain::cluster::{
    Cluster, ClusterError, ContainerRun, MANAGED_BY_LABEL, MANAGED_BY_VALUE, Manifest,
    NamespaceSpec, ObjectKind, PIPELINE_LABEL, PodRun, STEP_LABEL,
};
use domain::pipeline::{
    ArtifactSink, PipelineId, Runner, RunnerError, StepExit, StepSpec, StopReason, StopSignal,
};

/// The image of the init container that clones the repository.
pub const CLONE_IMAGE: &str = "alpine/git:2.47.2";
/// Output still unread when the pod ends is read for at most this long.
const LOG_DRAIN: Duration = Duration::from_secs(10);
/// A pod may take this long beyond its step's timeout to be scheduled and cloned.
const START_ALLOWANCE: Duration = Duration::from_secs(300);

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

    /// Deletes a step's pod and its environment Secret (both Slipway's, by label).
    async fn clean_up(&self, pod: &PodRun) {
        if let Err(error) = self.cluster.delete_pod(&pod.namespace, &pod.name).await {
            tracing::warn!(pod = %pod.name, error = %error, "cannot delete a step's pod");
        }
        for secret in [pod.name.clone(), clone_secret_name(&pod.name)] {
            match self
                .cluster
                .delete_object(&pod.namespace, SECRET_KIND, &secret)
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

/// The pod of one step, named so that retries never collide.
pub fn step_pod(spec: &StepSpec, namespace: &str, attempt_suffix: &str) -> PodRun {
    let step = &spec.step;
    let clone = format!(
        "git clone --quiet --no-checkout -- {} src && git -C src checkout --quiet --detach {}",
        shell_quote(&spec.clone_url),
        shell_quote(&spec.commit_sha)
    );
    let limits = match (&step.resources.cpu, &step.resources.memory) {
        (None, None) => None,
        (cpu, memory) => Some((
            cpu.clone().unwrap_or_else(|| "1".to_owned()),
            memory.clone().unwrap_or_else(|| "1Gi".to_owned()),
        )),
    };
    // DNS-1123, at most 63 characters, the attempt suffix always kept (so retries never collide).
    let prefix: String = format!("pl-{}-{}", spec.pipeline_id, step.name)
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(63 - 1 - attempt_suffix.len())
        .collect();
    let pod_name = format!("{}-{attempt_suffix}", prefix.trim_end_matches('-'));
    PodRun {
        namespace: namespace.to_owned(),
        name: pod_name.clone(),
        labels: [
            (PIPELINE_LABEL.to_owned(), spec.pipeline_id.to_string()),
            (STEP_LABEL.to_owned(), step.name.clone()),
        ]
        .into(),
        init_containers: vec![ContainerRun {
            name: "clone".into(),
            image: CLONE_IMAGE.into(),
            command: vec!["sh".into(), "-c".into(), clone],
            env: vec![("HOME".into(), "/tmp".into())],
            // Git reads its credentials from there (`clone_secret`); the step never sees them.
            env_from_secret: spec
                .clone_token
                .as_ref()
                .map(|_| clone_secret_name(&pod_name)),
            ..ContainerRun::default()
        }],
        containers: vec![ContainerRun {
            name: "step".into(),
            image: step.image.clone(),
            command: vec![
                "sh".into(),
                "-c".into(),
                format!(
                    "cd src\n{}{}",
                    super::local::script(&step.commands),
                    upload_script(&spec.artifacts)
                ),
            ],
            env: vec![("HOME".to_owned(), "/tmp".to_owned())],
            limits,
            // The Secret of the same name holds the step's environment.
            env_from_secret: Some(pod_name.clone()),
        }],
        deadline: Some(Duration::from_secs(step.timeout_secs)),
    }
}

/// After the commands succeed, uploads each artifact's files with `curl` through its signed
/// link (`SLIPWAY_ARTIFACT_{n}_URL`/`_QUERY`, from the step's Secret).
fn upload_script(artifacts: &[domain::pipeline::ArtifactDefinition]) -> String {
    let mut script = String::new();
    for (index, artifact) in artifacts.iter().enumerate() {
        let (name, path) = (shell_quote(&artifact.name), shell_quote(&artifact.path));
        script.push_str(&format!(
            r#"if ! command -v curl >/dev/null; then echo "slipway: artifact "{name}": curl is not in the image; nothing kept"
elif [ ! -e {path} ]; then echo "slipway: artifact "{name}": "{path}" does not exist; nothing kept"
else n=0; for f in $(find {path} -type f); do rel=${{f#{path}/}}; [ -f {path} ] && rel=$(basename {path}); curl -fsS -X PUT --data-binary @"$f" "$SLIPWAY_ARTIFACT_{index}_URL$rel?$SLIPWAY_ARTIFACT_{index}_QUERY" >/dev/null; n=$((n+1)); done; echo "slipway: artifact "{name}": $n file(s) uploaded"; fi
"#
        ));
    }
    script
}

/// The Secret holding a step's environment (and its artifact upload links), named like its pod.
pub fn environment_secret(
    spec: &StepSpec,
    pod: &PodRun,
    uploads: Vec<(String, String)>,
) -> Manifest {
    let mut environment = spec.environment.clone();
    environment.extend(uploads);
    Manifest(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": { "name": pod.name, "labels": pod.labels },
        "type": "Opaque",
        "stringData": environment,
    }))
}

fn clone_secret_name(pod: &str) -> String {
    format!("{pod}-git")
}

/// The Secret holding the clone's credentials, as the git configuration the init container
/// reads from its environment (basic auth with the token, for HTTP(S) remotes only).
pub fn clone_secret(pod: &PodRun, token: &str) -> Manifest {
    let config: BTreeMap<&str, String> = token_config(token).into_iter().collect();
    Manifest(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": { "name": clone_secret_name(&pod.name), "labels": pod.labels },
        "type": "Opaque",
        "stringData": config,
    }))
}

const POD_KIND: ObjectKind<'static> = ObjectKind {
    api_version: "v1",
    kind: "Pod",
};

const SECRET_KIND: ObjectKind<'static> = ObjectKind {
    api_version: "v1",
    kind: "Secret",
};

#[async_trait]
impl Runner for KubernetesRunner {
    fn kind(&self) -> &'static str {
        "kubernetes"
    }

    async fn release(&self, pipeline: PipelineId, step: &str) {
        let selector = format!("{PIPELINE_LABEL}={pipeline},{STEP_LABEL}={step}");
        for kind in [POD_KIND, SECRET_KIND] {
            match self
                .cluster
                .list_objects(&self.namespace, kind, &selector)
                .await
            {
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
            self.clean_up(&pod).await;
            return Err(RunnerError::with_source(
                "cannot store the clone's credentials",
                error,
            ));
        }
        if let Err(error) = self.cluster.create_pod(&pod).await {
            self.clean_up(&pod).await;
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

        // The log is read as the step writes it, in the background of the wait below.
        let cluster = self.cluster.clone();
        let (namespace, name) = (pod.namespace.clone(), pod.name.clone());
        let mut log_output = output.clone();
        let logs = tokio::spawn(async move {
            match cluster.follow_logs(&namespace, &name, "step").await {
                Ok(mut lines) => {
                    while let Some(line) = lines.next().await {
                        match line {
                            Ok(line) => {
                                if log_output.send(line).await.is_err() {
                                    break;
                                }
                            }
                            Err(error) => {
                                let _ = log_output
                                    .send(format!("slipway: the log stream broke: {error}"))
                                    .await;
                                break;
                            }
                        }
                    }
                }
                Err(error) => {
                    let _ = log_output
                        .send(format!("slipway: cannot read the step's log: {error}"))
                        .await;
                }
            }
        });

        let limit = Duration::from_secs(spec.step.timeout_secs) + START_ALLOWANCE;
        let finished = self
            .cluster
            .wait_pod_finished(&pod.namespace, &pod.name, limit);
        let outcome = tokio::select! {
            outcome = finished => Some(outcome),
            reason = stop => {
                self.clean_up(&pod).await;
                logs.abort();
                return Ok(StepExit::Stopped(reason));
            }
        };
        let _ = tokio::time::timeout(LOG_DRAIN, logs).await;
        // The pod stays until its log is stored (`release`).
        let outcome = match outcome {
            Some(Ok(outcome)) => outcome,
            Some(Err(error)) => {
                self.clean_up(&pod).await;
                return Err(RunnerError::with_source(
                    format!("lost track of pod `{}`", pod.name),
                    error,
                ));
            }
            None => return Err(RunnerError::new("the pod did not finish")),
        };
        if outcome.reason.as_deref() == Some("DeadlineExceeded") {
            return Ok(StepExit::Stopped(StopReason::TimedOut {
                after_secs: spec.step.timeout_secs,
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

#[cfg(test)]
mod tests {
    use super::*;
    use domain::pipeline::{PipelineId, StepDefinition, StepResources};

    #[test]
    fn pod_names_are_dns_labels_that_keep_their_attempt_suffix() {
        let spec = StepSpec {
            pipeline_id: PipelineId(12),
            step: StepDefinition {
                name: format!("Build_{}", "x".repeat(70)),
                image: "alpine".into(),
                commands: vec!["true".into()],
                environment: BTreeMap::new(),
                depends_on: Vec::new(),
                timeout_secs: 60,
                resources: StepResources::default(),
                publishes_image: false,
            },
            clone_url: "https://example.com/r.git".into(),
            commit_sha: "a".repeat(40),
            environment: [("TOKEN".to_owned(), "secret".to_owned())].into(),
            artifacts: Vec::new(),
            clone_token: Some("ghs_installation".into()),
        };
        let pod = step_pod(&spec, "ns", "abc123");
        assert!(
            pod.name.len() <= 63 && pod.name.ends_with("-abc123"),
            "{}",
            pod.name
        );
        assert!(pod.name.starts_with("pl-12-build-xxx"), "{}", pod.name);
        let step = &pod.containers[0];
        assert!(
            step.env.iter().all(|(k, _)| k != "TOKEN"),
            "the environment is in the Secret, not the pod spec"
        );
        assert_eq!(step.env_from_secret.as_deref(), Some(pod.name.as_str()));
        assert_eq!(pod.deadline, Some(Duration::from_secs(60)));

        // Only the clone reads the clone's credentials, from a Secret of their own.
        let clone = &pod.init_containers[0];
        let credentials = format!("{}-git", pod.name);
        assert_eq!(clone.env_from_secret.as_deref(), Some(credentials.as_str()));
        let secret = clone_secret(&pod, "ghs_installation").0;
        assert_eq!(secret["metadata"]["name"], credentials.as_str());
        assert_eq!(
            secret["metadata"]["labels"][STEP_LABEL],
            pod.labels[STEP_LABEL].as_str()
        );
        let data = &secret["stringData"];
        assert_eq!(
            (
                data["GIT_CONFIG_KEY_0"].as_str(),
                data["GIT_CONFIG_VALUE_0"].as_str()
            ),
            (
                Some("http.extraHeader"),
                // base64("x-access-token:ghs_installation")
                Some("Authorization: Basic eC1hY2Nlc3MtdG9rZW46Z2hzX2luc3RhbGxhdGlvbg==")
            )
        );
    }
}
