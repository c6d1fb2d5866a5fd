//! One deployment attempt of a (pull request, commit): read `preview:` from `.platform.yaml` at
//! the commit, find the image, prepare the namespace (labels, quota, limits, network policy),
//! apply the app (built-in template, manifests or Helm chart), watch the rollout with a
//! deadline, and record how it ended. Infrastructure failures are retried after 1, 2 and 4 s;
//! a newer push or a removal cancels the attempt wherever it is.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use domain::Cluster;
use domain::cluster::{ClusterError, Manifest};
use domain::pipeline::{PipelineFilter, PublishedImage};
use domain::preview::definition::{DEFAULT_TTL_SECS, PreviewDefinition, PreviewKind};
use domain::preview::namespace::is_dns_label;
use domain::preview::parse::parse_preview;
use domain::preview::template::{self, IngressSettings, PreviewVariables, is_commit_sha};
use domain::preview::{AttemptOutcome, ClaimedAttempt, Preview, PreviewAttempt, PreviewStatus};
use tokio_util::sync::CancellationToken;

use super::{PreviewContext, helm, render};
use crate::metrics::Deploy;
use crate::pipelines::source::{Source, clone_token};
use domain::time::now_ms;

/// How often a deploying attempt proves it is alive.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(3);
/// How often the Store is asked whether the pipeline has published the image.
const IMAGE_POLL: Duration = Duration::from_secs(2);
/// Pipeline runs looked at to tell whether one may still publish the image.
const RECENT_RUNS: u32 = 20;

/// Why a preview cannot deploy anywhere.
pub(crate) const NO_CLUSTER: &str = "no cluster is configured, and previews need one: set SLIPWAY_KUBECONFIG, SLIPWAY_CLUSTER=sim or [[clusters]]";

/// How an attempt ended.
pub(super) enum Ending {
    Deployed { url: String },
    Skipped(String),
    Failed(String),
}

/// Infrastructure failures worth another try (the cluster did not answer).
pub(super) fn transient(error: &ClusterError) -> bool {
    matches!(error, ClusterError::Unavailable(_))
}

/// 1 s, 2 s, 4 s between the tries of an infrastructure step.
pub(super) fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_factor(2.0)
        .with_max_times(3)
}

impl PreviewContext {
    /// Runs a claimed attempt until it ends or `stop` is cancelled (a newer attempt, a removal,
    /// or shutdown: the attempt is then left to be claimed again).
    pub(crate) async fn deploy(&self, claimed: ClaimedAttempt, stop: CancellationToken) {
        let ClaimedAttempt { preview, attempt } = claimed;
        let began = std::time::Instant::now();
        let alive = self.keep_alive(attempt.id, stop.clone());
        let mut ttl_secs = DEFAULT_TTL_SECS;
        let ending = tokio::select! {
            () = stop.cancelled() => None,
            ending = self.attempt(&preview, &attempt, &mut ttl_secs) => Some(ending),
        };
        alive.abort();
        let Some(ending) = ending else {
            tracing::info!(
                preview.id = preview.id,
                attempt.id = attempt.id,
                "deployment attempt stopped"
            );
            return;
        };
        let expires_at_ms = preview
            .last_push_at_ms
            .saturating_add(i64::try_from(ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX));
        let (outcome, counted) = match &ending {
            Ending::Deployed { url } => (AttemptOutcome::Succeeded { url }, Deploy::Succeeded),
            Ending::Skipped(reason) => (AttemptOutcome::Skipped { reason }, Deploy::Skipped),
            Ending::Failed(reason) => (AttemptOutcome::Failed { reason }, Deploy::Failed),
        };
        crate::metrics::preview_deployed(counted, began.elapsed());
        match self
            .services
            .store
            .finish_preview_attempt(attempt.id, outcome, Some(expires_at_ms), now_ms())
            .await
        {
            Ok(true) => self.report(preview.id).await,
            Ok(false) => {
                tracing::info!(
                    preview.id = preview.id,
                    attempt.id = attempt.id,
                    "deployment attempt ended after it was superseded"
                )
            }
            Err(error) => {
                tracing::warn!(preview.id = preview.id, error = %domain::error_chain(&error), "cannot record how a deployment attempt ended")
            }
        }
    }

    /// Heartbeats the attempt; cancels `stop` once the Store says it is no longer current.
    fn keep_alive(&self, attempt_id: i64, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        let store = self.services.store.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(HEARTBEAT) => {}
                }
                if let Ok(false) = store.heartbeat_preview_attempt(attempt_id, now_ms()).await {
                    stop.cancel();
                    return;
                }
            }
        })
    }

    /// Moves the preview to `status` for this attempt and reports it.
    async fn progress(
        &self,
        preview: &Preview,
        attempt: &PreviewAttempt,
        status: PreviewStatus,
        reason: Option<&str>,
    ) {
        match self
            .services
            .store
            .set_attempt_progress(attempt.id, status, reason, now_ms())
            .await
        {
            Ok(true) => self.report(preview.id).await,
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(preview.id = preview.id, error = %domain::error_chain(&error), "cannot record a preview's progress")
            }
        }
    }

    /// Deploys; sets `ttl_secs` once `.platform.yaml` has said it.
    async fn attempt(
        &self,
        preview: &Preview,
        attempt: &PreviewAttempt,
        ttl_secs: &mut u64,
    ) -> Ending {
        match self.try_attempt(preview, attempt, ttl_secs).await {
            Ok(ending) | Err(ending) => ending,
        }
    }

    async fn try_attempt(
        &self,
        preview: &Preview,
        attempt: &PreviewAttempt,
        ttl_secs: &mut u64,
    ) -> Result<Ending, Ending> {
        let failed = |reason: String| Ending::Failed(reason);
        let sha = attempt.sha.as_str();
        let short = sha.get(..7).unwrap_or(sha);
        if !is_dns_label(&preview.namespace) {
            return Err(failed(format!(
                "namespace `{}` is not a valid DNS-1123 label",
                preview.namespace
            )));
        }
        if !is_commit_sha(sha) {
            return Err(failed(format!(
                "commit `{sha}` is not a 40-character hexadecimal commit id"
            )));
        }
        let store = &self.services.store;
        let repository = store
            .get_repository_named(&preview.repository)
            .await
            .map_err(|e| {
                failed(format!(
                    "cannot read the repository: {}",
                    domain::error_chain(&e)
                ))
            })?
            .ok_or_else(|| {
                failed(format!(
                    "repository {} is not connected to Slipway",
                    preview.repository
                ))
            })?;
        let entry = self
            .services
            .cluster_for(&repository)
            .map_err(|e| failed(e.to_string()))?
            // Without a cluster Slipway runs pipelines only: nothing failed, nothing to say on
            // the pull request.
            .ok_or_else(|| Ending::Skipped(NO_CLUSTER.to_owned()))?;
        let (cluster, cluster_name) = (entry.cluster.clone(), entry.name.clone());
        let mut vars = PreviewVariables {
            preview_id: preview.id,
            pr_number: preview.number,
            branch: preview.branch.clone(),
            sha: sha.to_owned(),
            repository: preview.repository.clone(),
            namespace: preview.namespace.clone(),
            host: String::new(),
            url: String::new(),
            image: None,
        };
        // The namespace first: it needs nothing from the commit, and claims the name at once.
        self.claim_namespace(cluster.as_ref(), &vars).await?;
        // The rest is the heavy part: deliveries still being taken up go first.
        self.backlog.give_way().await;

        let token = clone_token(self.services.git_host.as_deref(), &repository)
            .await
            .map_err(|e| failed(domain::error_chain(&e)))?;
        let source = Source::fetch(
            &self.mirrors,
            &repository.clone_url,
            token.as_deref(),
            &preview.branch,
            Some(sha),
        )
        .await
        .map_err(|e| failed(domain::error_chain(&e)))?;
        let text = source
            .platform_file()
            .await
            .map_err(|e| failed(domain::error_chain(&e)))?
            .unwrap_or_default();
        let definition = match parse_preview(&text) {
            Ok(Some(definition)) => definition,
            Ok(None) => {
                // Nothing to deploy at this commit: what an earlier commit deployed goes too.
                self.release_namespace(cluster.as_ref(), &vars.namespace)
                    .await;
                return Err(Ending::Skipped(format!(
                    "`.platform.yaml` at {short} has no `preview:` section, so there is nothing to deploy"
                )));
            }
            Err(errors) => {
                return Err(failed(format!(
                    "`.platform.yaml` at {short} is not valid:\n{errors}"
                )));
            }
        };
        *ttl_secs = definition.ttl_secs;

        let image = self
            .image(preview, attempt, &repository, &definition)
            .await?;
        vars.image = image.clone();
        let pattern = definition
            .domain
            .as_deref()
            .unwrap_or(&self.settings.domain);
        vars.host = render::host(pattern, &vars).map_err(|e| failed(e.0))?;
        vars.url = format!("https://{}", vars.host);
        if url::Url::parse(&vars.url).map_or(true, |u| u.scheme() != "https") {
            return Err(failed(format!(
                "preview URL `{}` is not an https URL",
                vars.url
            )));
        }

        // Manifests and charts are read from a work tree of the commit (removed when dropped).
        let work_tree = match definition.kind {
            PreviewKind::App(_) => None,
            _ => Some(
                source
                    .check_out(&self.work_root)
                    .await
                    .map_err(|e| failed(domain::error_chain(&e)))?,
            ),
        };
        let files = work_tree
            .as_ref()
            .map(|dir| dir.path().join("repo"))
            .unwrap_or_default();
        self.progress(preview, attempt, PreviewStatus::Deploying, None)
            .await;
        self.guard_rails(cluster.as_ref(), &vars, &definition)
            .await?;
        let deployments = match &definition.kind {
            PreviewKind::App(app) => {
                let Some(image) = app.image.clone().or(image) else {
                    return Err(failed("no image to deploy".to_owned()));
                };
                let ingress = IngressSettings {
                    class: self.settings.ingress_class.clone(),
                    cert_issuer: self.settings.cert_issuer.clone(),
                };
                let manifests =
                    template::app_manifests(&vars, app, &image, &definition.env, &ingress);
                self.apply_all(cluster.as_ref(), &vars.namespace, &manifests)
                    .await?;
                vec![template::APP_NAME.to_owned()]
            }
            PreviewKind::Manifests(folder) => {
                let manifests = render::manifests(&files, &folder.path, &vars, &definition.env)
                    .await
                    .map_err(|e| failed(e.0))?;
                self.apply_all(cluster.as_ref(), &vars.namespace, &manifests)
                    .await?;
                manifests
                    .iter()
                    .filter(|m| m.kind() == "Deployment")
                    .map(|m| m.name().to_owned())
                    .collect()
            }
            PreviewKind::Chart(chart) => {
                let Some(helm) = helm::find_helm(&self.settings.helm) else {
                    return Err(failed(format!(
                        "helm (`{}`, SLIPWAY_HELM) is not installed where Slipway runs, so this chart cannot be installed: install helm, or use `preview.app` or `preview.manifests`",
                        self.settings.helm
                    )));
                };
                let access = self
                    .helm_access
                    .get(&cluster_name)
                    .cloned()
                    .unwrap_or_default();
                let args = helm::arguments(
                    chart,
                    &files,
                    &vars,
                    &definition.env,
                    self.settings.deadline,
                    &access,
                )
                .map_err(|e| failed(e.0))?;
                helm::run(
                    &helm,
                    &args,
                    self.settings.deadline + Duration::from_secs(30),
                )
                .await
                .map_err(|e| failed(domain::error_chain(&e)))?;
                Vec::new()
            }
        };
        for deployment in deployments {
            self.watch_rollout(cluster.as_ref(), &vars.namespace, &deployment)
                .await?;
        }
        Ok(Ending::Deployed { url: vars.url })
    }

    /// The image the app runs: the one `.platform.yaml` names, else the one the pipeline
    /// published for the commit, waiting (as `building`) while a pipeline for it still runs.
    async fn image(
        &self,
        preview: &Preview,
        attempt: &PreviewAttempt,
        repository: &domain::Repository,
        definition: &PreviewDefinition,
    ) -> Result<Option<String>, Ending> {
        let named = match &definition.kind {
            PreviewKind::App(app) => app.image.clone(),
            _ => None,
        };
        if named.is_some() {
            return Ok(named);
        }
        let needed = matches!(definition.kind, PreviewKind::App(_));
        let mut waiting = false;
        loop {
            let published = self
                .services
                .store
                .published_image(repository.id, &attempt.sha)
                .await
                .map_err(|e| {
                    Ending::Failed(format!(
                        "cannot read the published image: {}",
                        domain::error_chain(&e)
                    ))
                })?;
            if let Some(PublishedImage { image_ref, .. }) = published {
                return Ok(Some(image_ref));
            }
            if !needed {
                return Ok(None);
            }
            if !self
                .pipeline_may_publish(repository.id, preview.number, &attempt.sha)
                .await
            {
                let short = attempt.sha.get(..7).unwrap_or(&attempt.sha);
                return Err(Ending::Failed(format!(
                    "no image to deploy: no pipeline published one for {short}; set `preview.app.image`, or give a pipeline step `publishes: image`"
                )));
            }
            if !waiting {
                waiting = true;
                self.progress(
                    preview,
                    attempt,
                    PreviewStatus::Building,
                    Some("waiting for the pipeline to publish the image"),
                )
                .await;
            }
            tokio::time::sleep(IMAGE_POLL).await;
        }
    }

    /// Whether a run of the repository for this commit (or this pull request, before it
    /// resolved its commit) has not ended yet.
    async fn pipeline_may_publish(
        &self,
        repository: domain::RepositoryId,
        number: i64,
        sha: &str,
    ) -> bool {
        let filter = PipelineFilter {
            repository_id: Some(repository),
            limit: RECENT_RUNS,
            ..PipelineFilter::default()
        };
        let Ok(runs) = self.services.store.list_pipelines(&filter).await else {
            return false;
        };
        runs.iter().any(|run| {
            !run.status.is_finished()
                && match &run.commit_sha {
                    Some(commit) => commit == sha,
                    None => run.pr_number == Some(number),
                }
        })
    }

    pub(super) async fn apply_all(
        &self,
        cluster: &dyn Cluster,
        namespace: &str,
        manifests: &[Manifest],
    ) -> Result<(), Ending> {
        for manifest in manifests {
            (|| cluster.apply_manifest(namespace, manifest))
                .retry(backoff())
                .when(transient)
                .await
                .map_err(|e| {
                    Ending::Failed(format!(
                        "cannot apply {} `{}`: {e}",
                        manifest.kind(),
                        manifest.name()
                    ))
                })?;
        }
        Ok(())
    }

    /// Watches a Deployment until it is available, or fails with what a developer can act on.
    async fn watch_rollout(
        &self,
        cluster: &dyn Cluster,
        namespace: &str,
        deployment: &str,
    ) -> Result<(), Ending> {
        let outcome = (|| cluster.wait_rollout(namespace, deployment, self.settings.deadline))
            .retry(backoff())
            .when(transient)
            .await
            .map_err(|e| match e {
                ClusterError::Timeout { limit, .. } => Ending::Failed(format!(
                    "Deployment `{deployment}` was not ready within {} s",
                    limit.as_secs()
                )),
                other => Ending::Failed(format!("cannot watch Deployment `{deployment}`: {other}")),
            })?;
        if outcome.ready {
            return Ok(());
        }
        let mut reason = format!(
            "Deployment `{deployment}`: {}",
            outcome.reason.as_deref().unwrap_or("not ready")
        );
        if let Some(message) = &outcome.message {
            reason.push_str(&format!(": {message}"));
        }
        if !outcome.log_excerpt.is_empty() {
            reason.push_str("\nlast log lines:\n");
            reason.push_str(&outcome.log_excerpt.join("\n"));
        }
        Err(Ending::Failed(reason))
    }
}
