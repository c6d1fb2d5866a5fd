//! Runs the server: opens adapters, binds, serves until SIGTERM/SIGINT (or a cancelled token),
//! then lets in-flight requests and workers finish within the grace period.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::LeptosOptions;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use services::Services;

use crate::config::{ClusterSource, Config};
use crate::http::{self, AppState};
use crate::pipelines::executor::PipelineContext;
use crate::pipelines::kubernetes::KubernetesRunner;
use crate::pipelines::local::LocalRunner;
use crate::pipelines::logs::LogHub;
use crate::pipelines::source::Mirrors;
use crate::previews::PreviewContext;
use crate::previews::helm::KubeAccess;
use crate::startup::{self, Adapters, StartupError};
use crate::webhooks::{self, WebhookSecrets};

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("cannot listen on {address} (SLIPWAY_LISTEN)")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the HTTP server failed")]
    Http(#[source] std::io::Error),
    #[error(transparent)]
    FirstAdmin(#[from] crate::first_admin::FirstAdminError),
}

/// A server that is accepting requests.
pub struct Running {
    pub address: SocketAddr,
    pub adapters: Adapters,
    /// The application layer this instance serves, as its edges call it.
    pub services: Services,
    shutdown: CancellationToken,
    done: tokio::task::JoinHandle<Result<(), ServeError>>,
}

impl Running {
    /// Asks the server to stop (as SIGTERM would) and waits until it has.
    pub async fn stop(self) -> Result<(), ServeError> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until the server stops.
    pub async fn wait(self) -> Result<(), ServeError> {
        match self.done.await {
            Ok(result) => result,
            Err(join) => Err(ServeError::Http(std::io::Error::other(join))),
        }
    }
}

/// Opens the adapters, binds `SLIPWAY_LISTEN` and serves until `shutdown` is cancelled.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Running, ServeError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            address: config.listen,
            source,
        })?;
    start_on(config, listener, shutdown).await
}

/// Like [`start`], on a listener the caller bound (tests bind port 0).
pub async fn start_on(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<Running, ServeError> {
    let address = listener.local_addr().map_err(ServeError::Http)?;
    let adapters = startup::open(&config).await?;
    crate::first_admin::ensure(adapters.store.clone(), &config.data_dir).await?;
    if !config.site_root.join("pkg").is_dir() {
        tracing::warn!(
            site_root = %config.site_root.display(),
            "dashboard assets not found (SLIPWAY_SITE_ROOT); pages render, but without styles or interactivity"
        );
    }
    // Deliveries received and not processed yet: deploys and pipeline runs give way to them.
    let backlog = webhooks::DeliveryBacklog::default();
    let (arrivals, arrived) = webhooks::worker::arrivals();
    let state = AppState {
        services: Services {
            store: adapters.store.clone(),
            objects: adapters.objects.clone(),
            bus: adapters.bus.clone(),
            clusters: adapters.clusters.clone(),
            public_url: config.public_url.as_str().trim_end_matches('/').to_owned(),
            webhook_secrets: config.webhook_secrets.len(),
            git_host: adapters.git_host.clone(),
            secret_box: adapters.secret_box.clone(),
            github_levels: adapters.git_host.clone().map(|host| {
                Arc::new(services::github_levels::GitHubLevels::new(
                    host,
                    config.github_permission_cache,
                ))
            }),
            github_sign_in: adapters.sign_in_provider.clone().map(|provider| {
                services::github_sign_in::GitHubSignIn::new(provider, config.admins.clone())
            }),
            task_queue: adapters
                .tasks
                .clone()
                .map(|tasks| tasks as Arc<dyn domain::transform::TaskQueue>),
        },
        signer: adapters.signer.clone(),
        webhook_secrets: WebhookSecrets::new(config.webhook_secrets.clone()),
        leptos_options: leptos_options(&config, address),
        shutdown: shutdown.clone(),
        log_hub: LogHub::default(),
        backlog: backlog.clone(),
        arrivals,
        identity: http::identity::IdentityPolicy::new(
            &config.public_url,
            config.trusted_proxies.clone(),
        ),
        sign_in_limits: http::sign_in::SignInLimits::default(),
        sign_in: http::sign_in::SignInPage {
            first_password_file: crate::first_admin::password_file(&config.data_dir),
            github: config.github_sign_in.is_some(),
        },
        metrics_token: config.metrics_token.clone().map(Arc::new),
        mcp: config.mcp,
    };
    // One mirror per repository, shared by pipeline runs and previews.
    let mirrors = Mirrors::new(config.data_dir.join("mirrors"));
    let pipelines = pipeline_context(
        &config,
        &adapters,
        &state.log_hub,
        mirrors.clone(),
        backlog.clone(),
    );
    // This replica's name in claims.
    let replica = pipelines.worker_id.clone();
    let services = state.services.clone();
    let layer = state.services.clone();
    let router = http::router(state);
    let workers = TaskTracker::new();
    workers.spawn(webhooks::worker::run(
        adapters.store.clone(),
        adapters.bus.clone(),
        backlog.clone(),
        arrived,
        shutdown.clone(),
    ));
    let transforms = transform_context(&config, &adapters, &pipelines);
    workers.spawn(crate::pipelines::executor::run(pipelines, shutdown.clone()));
    workers.spawn(crate::transforms::run(transforms, shutdown.clone()));
    workers.spawn(crate::previews::worker::run(
        preview_context(&config, services.clone(), mirrors.clone(), backlog),
        shutdown.clone(),
    ));
    workers.spawn(crate::pipelines::scheduler::run(
        services,
        mirrors,
        shutdown.clone(),
    ));
    spawn_reporting(&workers, &config, &adapters, replica, &shutdown);
    if let Some(github) = &adapters.git_host {
        workers.spawn(crate::reconcile::run(
            adapters.store.clone(),
            github.clone(),
            config.reconcile_every,
            shutdown.clone(),
        ));
    }
    let grace = config.shutdown_grace;
    let client_timeout = config.client_timeout;
    let token = shutdown.clone();
    let closing = adapters.clone();
    let done = tokio::spawn(async move {
        let server = async {
            crate::http_server::serve(listener, router, client_timeout, token.clone()).await;
            Ok(())
        };
        let outcome = run_with_grace(server, &token, grace).await;
        workers.close();
        if tokio::time::timeout(grace, workers.wait()).await.is_err() {
            tracing::warn!("background work did not finish within the grace period");
        }
        closing.close().await;
        tracing::info!("stopped");
        outcome
    });
    tracing::info!(%address, "serving the dashboard on http://{address}");
    Ok(Running {
        address,
        adapters,
        services: layer,
        shutdown,
        done,
    })
}

/// The reporter (GitHub checks and deployments, notification deliveries recorded) and the
/// notification sender.
fn spawn_reporting(
    workers: &TaskTracker,
    config: &Config,
    adapters: &Adapters,
    replica: String,
    shutdown: &CancellationToken,
) {
    let reporter = crate::reports::Reporter {
        store: adapters.store.clone(),
        objects: adapters.objects.clone(),
        bus: adapters.bus.clone(),
        github: adapters.git_host.clone(),
        public_url: config.public_url.as_str().trim_end_matches('/').to_owned(),
        owner: replica.clone(),
    };
    workers.spawn(crate::reports::run(Arc::new(reporter), shutdown.clone()));
    match crate::notifications::Sender::client() {
        Ok(http) => {
            let sender = crate::notifications::Sender {
                store: adapters.store.clone(),
                bus: adapters.bus.clone(),
                secret_box: adapters.secret_box.clone(),
                http,
                owner: replica,
                first_gap: config.notification_retry,
            };
            workers.spawn(crate::notifications::run(
                Arc::new(sender),
                shutdown.clone(),
            ));
        }
        Err(error) => {
            tracing::error!(error = %domain::error_chain(&error), "cannot build the HTTP client notifications are sent with; none are sent");
        }
    }
}

/// Serves; once shutdown begins, waits at most `grace` for in-flight requests.
async fn run_with_grace(
    server: impl std::future::Future<Output = std::io::Result<()>>,
    token: &CancellationToken,
    grace: Duration,
) -> Result<(), ServeError> {
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result.map_err(ServeError::Http),
        () = token.cancelled() => tracing::info!("shutting down: finishing in-flight requests"),
    }
    match tokio::time::timeout(grace, server).await {
        Ok(result) => result.map_err(ServeError::Http),
        Err(_) => {
            tracing::warn!(
                grace_seconds = grace.as_secs(),
                "requests still running after the grace period were cut off"
            );
            Ok(())
        }
    }
}

/// The pipeline executor's dependencies. Steps run as pods on the default cluster, or without
/// one as local processes: repository code then runs on this host, so Slipway says so.
fn pipeline_context(
    config: &Config,
    adapters: &Adapters,
    hub: &LogHub,
    mirrors: Mirrors,
    backlog: webhooks::DeliveryBacklog,
) -> PipelineContext {
    let work_root = config.data_dir.join("workspaces");
    let runner: Arc<dyn domain::pipeline::Runner> = match adapters.clusters.first() {
        Some(cluster) => {
            tracing::info!(cluster = %cluster.name, namespace = %config.pipelines_namespace, "pipeline steps run as pods");
            Arc::new(KubernetesRunner::new(
                cluster.cluster.clone(),
                config.pipelines_namespace.clone(),
                adapters.signer.clone(),
                config.public_url.as_str().trim_end_matches('/').to_owned(),
            ))
        }
        None => {
            tracing::warn!(
                workspaces = %work_root.display(),
                "pipeline steps run as local processes on this host (the local runner): use it only with repositories you trust"
            );
            Arc::new(LocalRunner::new(work_root.clone()))
        }
    };
    PipelineContext {
        store: adapters.store.clone(),
        objects: adapters.objects.clone(),
        bus: adapters.bus.clone(),
        runner,
        hub: hub.clone(),
        secret_box: adapters.secret_box.clone(),
        git_host: adapters.git_host.clone(),
        mirrors,
        work_root,
        registry: config.registry.clone(),
        backlog,
        step_slots: Arc::new(Semaphore::new(config.pipeline_steps)),
        worker_id: format!(
            "slipway-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ),
    }
}

/// The transform worker's dependencies: executions run as Jobs on the default cluster, or
/// without one as local processes in their own workspaces.
fn transform_context(
    config: &Config,
    adapters: &Adapters,
    pipelines: &PipelineContext,
) -> crate::transforms::TransformContext {
    use crate::transforms::Executor;
    let executor = match adapters.clusters.first() {
        Some(cluster) => {
            let settings = &config.transforms;
            tracing::info!(cluster = %cluster.name, namespace = %settings.namespace, "transform executions run as Jobs");
            Executor::Kubernetes(Arc::new(crate::transforms::kubernetes::TransformJobs {
                cluster: cluster.cluster.clone(),
                objects: adapters.objects.clone(),
                namespace: settings.namespace.clone(),
                egress_cidrs: settings.egress_cidrs.clone(),
                uploader_image: settings.uploader_image.clone(),
                signer: adapters.signer.clone(),
                public_url: config.public_url.as_str().trim_end_matches('/').to_owned(),
                prepared: tokio::sync::OnceCell::new(),
            }))
        }
        None => Executor::Local(Arc::new(LocalRunner::new(
            config.data_dir.join("transforms"),
        ))),
    };
    crate::transforms::TransformContext {
        store: adapters.store.clone(),
        objects: adapters.objects.clone(),
        bus: adapters.bus.clone(),
        executor,
        secret_box: adapters.secret_box.clone(),
        git_host: adapters.git_host.clone(),
        mirrors: pipelines.mirrors.clone(),
        slots: config.pipeline_steps,
        retry_after: config.transform_retry,
        worker_id: pipelines.worker_id.clone(),
        claim_for: config.transform_claim,
        tasks: adapters.tasks.clone(),
    }
}

/// The preview worker's dependencies; helm reaches kubeconfig clusters with their file.
fn preview_context(
    config: &Config,
    services: Services,
    mirrors: Mirrors,
    backlog: webhooks::DeliveryBacklog,
) -> PreviewContext {
    let helm_access = config
        .clusters
        .iter()
        .filter_map(|cluster| match &cluster.source {
            ClusterSource::Kubeconfig { path, context } => Some((
                cluster.name.clone(),
                KubeAccess {
                    kubeconfig: Some(path.clone()),
                    context: context.clone(),
                },
            )),
            _ => None,
        })
        .collect();
    PreviewContext::new(
        services,
        config.previews.clone(),
        mirrors,
        config.data_dir.join("previews"),
        helm_access,
        backlog,
    )
}

fn leptos_options(config: &Config, address: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("slipway")
        .site_root(config.site_root.to_string_lossy().as_ref())
        .site_pkg_dir("pkg")
        .site_addr(address)
        .build()
}

/// Cancels `token` on SIGINT or SIGTERM.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let interrupt = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = interrupt => {},
            () = terminate => {},
        }
        token.cancel();
    });
}
