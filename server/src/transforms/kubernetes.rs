//! Transform attempts as Kubernetes Jobs in the runs namespace (prepared once: the namespace,
//! managed by Slipway and under the "restricted" pod security standard, and its egress
//! policy). Before an attempt, whatever an earlier attempt of the same execution left (a worker
//! that died) is removed, so an execution never has two Jobs; then the attempt's Secrets and
//! Job are applied (`job`), the main container's log is relayed line by line as it is written,
//! and once the pod has ended the files its sidecar uploaded are collected. Everything the
//! attempt made is deleted afterwards — only objects labelled as Slipway's.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::channel::mpsc;
use tokio::sync::OnceCell;

use domain::Objects;
use domain::cluster::{
    Cluster, ClusterError, LogOptions, MANAGED_BY_LABEL, MANAGED_BY_VALUE, NamespaceSpec,
    ObjectKind,
};
use domain::pipeline::{
    ArtifactDefinition, ArtifactSink, RunnerError, StepExit, StopReason, StopSignal,
};
use domain::transform::ClaimedExecution;

use super::job::{self, EXECUTION_LABEL, JOB_LABEL, JobInput, MAIN_CONTAINER, UPLOADED};
use super::upload::{staged_key, upload_link};
use crate::pipelines::kubernetes::relay_log;
use crate::pipelines::redact::Redactor;
use crate::signing::UrlSigner;

/// A pod may take this long beyond the execution's timeout to be scheduled and cloned.
const START_ALLOWANCE: Duration = Duration::from_secs(300);
/// How often the Job's pod is looked for until it exists.
const POD_LOOKUP_EVERY: Duration = Duration::from_millis(200);
/// Output still unread when the pod ends is read for at most this long.
const LOG_DRAIN: Duration = Duration::from_secs(5);

/// Where and how transform Jobs run.
pub struct TransformJobs {
    pub cluster: Arc<dyn Cluster>,
    pub objects: Arc<dyn Objects>,
    pub namespace: String,
    /// Ranges the runs may reach besides DNS and Slipway (the git host's).
    pub egress_cidrs: Vec<String>,
    /// The sidecar's image (it needs `sh` and `curl`).
    pub uploader_image: String,
    /// Signs the sidecar's upload links.
    pub signer: UrlSigner,
    /// Where pods reach Slipway.
    pub public_url: String,
    pub prepared: OnceCell<()>,
}

/// One attempt, as the worker hands it over.
pub struct JobAttempt<'a> {
    pub claimed: &'a ClaimedExecution,
    pub clone_url: &'a str,
    pub clone_token: Option<&'a str>,
    pub commit_sha: &'a str,
    /// The script and the steps' variables, under their carrier names.
    pub environment: &'a BTreeMap<String, String>,
}

impl TransformJobs {
    async fn prepare(&self) -> Result<(), RunnerError> {
        self.prepared
            .get_or_try_init(|| async {
                let spec = NamespaceSpec {
                    name: self.namespace.clone(),
                    labels: [
                        (MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned()),
                        (
                            "pod-security.kubernetes.io/enforce".to_owned(),
                            "restricted".to_owned(),
                        ),
                    ]
                    .into(),
                    annotations: BTreeMap::new(),
                };
                self.cluster.ensure_namespace(&spec).await.map_err(|e| {
                    RunnerError::with_source(
                        format!("cannot prepare namespace `{}`", self.namespace),
                        e,
                    )
                })?;
                self.cluster
                    .apply_manifest(&self.namespace, &job::network_policy(&self.egress_cidrs))
                    .await
                    .map_err(|e| {
                        RunnerError::with_source("cannot apply the runs' network policy", e)
                    })
            })
            .await
            .map(|_| ())
    }

    /// Deletes the Jobs (with their pods) and Secrets of `execution`'s attempts.
    async fn remove_attempts(&self, execution: i64) {
        let selector = format!("{EXECUTION_LABEL}={execution}");
        for kind in [ObjectKind::JOB, ObjectKind::SECRET] {
            let found = match self
                .cluster
                .list_objects(&self.namespace, kind, &selector)
                .await
            {
                Ok(found) => found,
                Err(error) => {
                    tracing::warn!(execution.id = execution, error = %error, "cannot look for what a transform attempt left");
                    continue;
                }
            };
            for object in found {
                if let Err(error) = self
                    .cluster
                    .delete_object(&self.namespace, kind, object.name())
                    .await
                {
                    tracing::warn!(object = %object.name(), error = %error, "cannot delete what a transform attempt left");
                }
            }
        }
    }

    /// Runs the attempt until its pod ends or `stop` resolves, relaying the main container's
    /// log to `output` and handing the uploaded patch and its numbers to `files`.
    pub async fn run(
        &self,
        attempt: JobAttempt<'_>,
        output: mpsc::Sender<String>,
        stop: StopSignal,
        files: Arc<dyn ArtifactSink>,
    ) -> Result<StepExit, RunnerError> {
        self.prepare().await?;
        let execution = &attempt.claimed.execution;
        self.remove_attempts(execution.id).await;
        let name = job::job_name(
            execution.id,
            &format!("{:06x}", rand::random::<u32>() & 0xff_ffff),
        );
        let spec = &attempt.claimed.spec;
        let deadline = Duration::from_secs(spec.timeout_secs);
        let input = JobInput {
            namespace: &self.namespace,
            name: &name,
            run_id: execution.run_id.0,
            execution_id: execution.id,
            image: spec.steps.first().map_or("", |s| s.image.as_str()),
            uploader_image: &self.uploader_image,
            clone_url: attempt.clone_url,
            commit_sha: attempt.commit_sha,
            deadline,
            has_clone_token: attempt.clone_token.is_some(),
        };
        let ended = self
            .create_and_follow(&input, &attempt, output, stop, files)
            .await;
        // Also when Slipway stops: the execution is handed back and its next attempt starts a
        // Job of its own, so this one would only run on for nothing.
        self.remove_attempts(execution.id).await;
        self.remove_staged(attempt.claimed, &name).await;
        ended
    }

    async fn create_and_follow(
        &self,
        input: &JobInput<'_>,
        attempt: &JobAttempt<'_>,
        output: mpsc::Sender<String>,
        stop: StopSignal,
        files: Arc<dyn ArtifactSink>,
    ) -> Result<StepExit, RunnerError> {
        let execution_id = input.execution_id;
        let (url, query) = upload_link(
            &self.signer,
            &self.public_url,
            execution_id,
            input.name,
            input.deadline + START_ALLOWANCE,
        );
        let mut manifests = vec![
            job::environment_secret(input, attempt.environment),
            job::upload_secret(input, &url, &query),
        ];
        if let Some(token) = attempt.clone_token {
            manifests.push(job::clone_secret(input, token));
        }
        manifests.push(
            job::job(input).map_err(|e| RunnerError::with_source("cannot build the Job", e))?,
        );
        for manifest in &manifests {
            self.cluster
                .apply_manifest(&self.namespace, manifest)
                .await
                .map_err(|e| {
                    RunnerError::with_source(
                        format!("cannot create {} `{}`", manifest.kind(), manifest.name()),
                        e,
                    )
                })?;
        }
        let mut stop = stop;
        let pod = tokio::select! {
            pod = self.find_pod(input.name) => pod?,
            reason = &mut stop => return Ok(StepExit::Stopped(reason)),
        };
        let _ = futures::SinkExt::send(
            &mut output.clone(),
            format!(
                "slipway: the transform runs in Job {}/{} (pod {pod}, image {})",
                self.namespace, input.name, input.image
            ),
        )
        .await;
        let logs = tokio::spawn(relay_log(
            self.cluster.clone(),
            self.namespace.clone(),
            pod.clone(),
            MAIN_CONTAINER,
            output,
        ));
        let finished =
            self.cluster
                .wait_pod_finished(&self.namespace, &pod, input.deadline + START_ALLOWANCE);
        let outcome = tokio::select! {
            outcome = finished => outcome,
            reason = stop => {
                logs.abort();
                return Ok(StepExit::Stopped(reason));
            }
        };
        let mut logs = logs;
        if tokio::time::timeout(LOG_DRAIN, &mut logs).await.is_err() {
            logs.abort();
        }
        let outcome = match outcome {
            Ok(outcome) => outcome,
            // The Job's deadline removes its pod.
            Err(ClusterError::NotFound { .. }) if self.deadline_passed(input.name).await => {
                return Ok(StepExit::Stopped(StopReason::TimedOut {
                    after_secs: input.deadline.as_secs(),
                }));
            }
            Err(error) => {
                return Err(RunnerError::with_source(
                    format!("lost track of pod `{pod}`"),
                    error,
                ));
            }
        };
        let main = outcome.containers.iter().find(|c| c.name == MAIN_CONTAINER);
        // A pod the Job's deadline ended may be seen failed before it is removed; only a pod
        // that did not succeed needs the Job asked.
        let succeeded = main.is_some_and(|m| m.exit_code == 0);
        if outcome.reason.as_deref() == Some("DeadlineExceeded")
            || (!succeeded && self.deadline_passed(input.name).await)
        {
            return Ok(StepExit::Stopped(StopReason::TimedOut {
                after_secs: input.deadline.as_secs(),
            }));
        }
        if let Some(main) = main {
            if succeeded {
                self.collect(attempt.claimed, input.name, files.as_ref())
                    .await?;
            }
            return Ok(StepExit::Exited(main.exit_code));
        }
        if let Some(clone) = outcome
            .containers
            .iter()
            .find(|c| c.name == job::CLONE_CONTAINER && c.exit_code != 0)
        {
            let said = self.clone_said(&pod, attempt.clone_token).await;
            return Err(RunnerError::new(format!(
                "cannot clone the repository (exit code {}){said}",
                clone.exit_code
            )));
        }
        let why = outcome
            .reason
            .map(|reason| match outcome.message {
                Some(message) => format!("{reason}: {message}"),
                None => reason,
            })
            .unwrap_or_else(|| "the Job's pod ended without running the steps".to_owned());
        Ok(StepExit::Refused(why))
    }

    /// `: ` and the last line the clone container printed (git's reason), redacted; empty when
    /// it printed nothing that can be read.
    async fn clone_said(&self, pod: &str, token: Option<&str>) -> String {
        use futures::StreamExt;
        let options = LogOptions {
            tail: Some(5),
            ..LogOptions::default()
        };
        let Ok(lines) = self
            .cluster
            .read_logs(&self.namespace, pod, Some(job::CLONE_CONTAINER), options)
            .await
        else {
            return String::new();
        };
        let lines: Vec<String> = lines.filter_map(|l| async { l.ok() }).collect().await;
        let Some(last) = lines.iter().rev().find(|l| !l.trim().is_empty()) else {
            return String::new();
        };
        let mut redactor = Redactor::new(token.map(str::to_owned));
        format!(": {}", redactor.line(last.trim()))
    }

    /// The Job's pod, once it exists; an error when the Job failed without one (admission
    /// refused it) or none appeared in time.
    async fn find_pod(&self, job: &str) -> Result<String, RunnerError> {
        let selector = format!("{JOB_LABEL}={job}");
        let started = Instant::now();
        loop {
            let pods = self
                .cluster
                .list_objects(&self.namespace, ObjectKind::POD, &selector)
                .await
                .map_err(|e| RunnerError::with_source("cannot look for the Job's pod", e))?;
            if let Some(pod) = pods.first() {
                return Ok(pod.name().to_owned());
            }
            if let Some(refusal) = self.job_failure(job).await {
                return Err(RunnerError::new(format!(
                    "the Job could not start: {refusal}"
                )));
            }
            if started.elapsed() > START_ALLOWANCE {
                return Err(RunnerError::new(format!(
                    "the Job made no pod within {} s",
                    START_ALLOWANCE.as_secs()
                )));
            }
            tokio::time::sleep(POD_LOOKUP_EVERY).await;
        }
    }

    /// The Job's `Failed` condition (`reason: message`), if it has one.
    async fn job_failure(&self, job: &str) -> Option<String> {
        let found = self
            .cluster
            .get_object(&self.namespace, ObjectKind::JOB, job)
            .await
            .ok()
            .flatten()?;
        let conditions = found.0["status"]["conditions"].as_array()?.clone();
        let failed = conditions
            .iter()
            .find(|c| c["type"] == "Failed" && c["status"] == "True")?;
        Some(format!(
            "{}: {}",
            failed["reason"].as_str().unwrap_or("Failed"),
            failed["message"].as_str().unwrap_or_default()
        ))
    }

    async fn deadline_passed(&self, job: &str) -> bool {
        self.job_failure(job)
            .await
            .is_some_and(|f| f.starts_with("DeadlineExceeded"))
    }

    /// Hands what the sidecar uploaded to `files`; an error when it uploaded nothing (the
    /// attempt is then tried again).
    async fn collect(
        &self,
        claimed: &ClaimedExecution,
        job: &str,
        files: &dyn ArtifactSink,
    ) -> Result<(), RunnerError> {
        let execution = &claimed.execution;
        let definition = ArtifactDefinition {
            name: "patch".to_owned(),
            path: super::script::OUTPUT_DIR.to_owned(),
            step: "transform".to_owned(),
            expires_secs: 0,
        };
        for file in UPLOADED {
            let key = staged_key(execution.run_id, &execution.repository, job, file)
                .map_err(|e| RunnerError::with_source("cannot name an upload", e))?;
            let content: Bytes = self.objects.get(&key).await.map_err(|e| {
                RunnerError::with_source(format!("the Job's sidecar did not upload `{file}`"), e)
            })?;
            files.store(&definition, file, content).await?;
        }
        Ok(())
    }

    async fn remove_staged(&self, claimed: &ClaimedExecution, job: &str) {
        let execution = &claimed.execution;
        for file in UPLOADED {
            if let Ok(key) = staged_key(execution.run_id, &execution.repository, job, file) {
                let _ = self.objects.delete(&key).await;
            }
        }
    }
}
