//! Opens every adapter the configuration names, waiting briefly for services that are still
//! starting (PostgreSQL, Redis, S3), and says exactly which one is missing when it gives up.

use std::future::Future;
use std::sync::Arc;

use secrecy::ExposeSecret;
use std::time::{Duration, Instant};

use domain::{Bus, Objects, ObjectsError, Store};
use kube_sim::KubeSim;
use services::ClusterEntry;
use tokio::sync::Mutex;

use crate::bus::{InProcessBus, RedisBus, RedisOpenError};
use crate::cluster::{ConnectError, KubeCluster};
use crate::config::{BusConfig, ClusterConfig, ClusterSource, Config};
use crate::objects::{self, OpendalObjects};
use crate::signing::UrlSigner;
use crate::store;

const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// Rate-limit waits longer than this fail the GitHub call instead (it is retried later).
const GITHUB_LONGEST_WAIT: Duration = Duration::from_secs(120);

/// Why Slipway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Store(#[from] store::OpenError),
    #[error(transparent)]
    ObjectsSetup(#[from] objects::OpenError),
    #[error("cannot reach object storage: {location} (SLIPWAY_S3_*)")]
    ObjectsUnreachable {
        location: String,
        #[source]
        source: ObjectsError,
    },
    #[error(transparent)]
    Bus(#[from] RedisOpenError),
    #[error("cannot read or create the signing key in {0} (SLIPWAY_DATA_DIR, SLIPWAY_SIGNING_KEY)")]
    SigningKey(String, #[source] std::io::Error),
    #[error("cannot read or create the secrets key in {0} (SLIPWAY_DATA_DIR, SLIPWAY_SECRETS_KEY)")]
    SecretsKey(String, #[source] std::io::Error),
    #[error("cluster `{name}` is not usable ({setting})")]
    Cluster {
        name: String,
        setting: &'static str,
        #[source]
        source: ConnectError,
    },
    #[error("cannot start the embedded simulated cluster (SLIPWAY_CLUSTER=sim)")]
    Sim(#[source] std::io::Error),
    #[error("the GitHub client cannot be set up (SLIPWAY_GITHUB_*)")]
    GitHub(#[from] crate::github::GitHubConfigError),
    #[error(transparent)]
    GitHubSignIn(#[from] crate::github::oauth::OAuthConfigError),
}

/// The opened adapters.
#[derive(Clone)]
pub struct Adapters {
    pub store: Arc<dyn Store>,
    pub objects: Arc<dyn Objects>,
    pub bus: Arc<dyn Bus>,
    pub signer: UrlSigner,
    /// Seals and opens repository secrets.
    pub secret_box: services::secret_box::SecretBox,
    pub clusters: Vec<ClusterEntry>,
    /// GitHub, when a token is configured.
    pub git_host: Option<Arc<dyn domain::git_host::GitHost>>,
    /// Sign in with GitHub, when its client is configured.
    pub sign_in_provider: Option<Arc<dyn domain::oauth::SignInProvider>>,
    /// With Redis: the stream transform tasks travel on.
    pub tasks: Option<Arc<crate::transforms::stream::TaskStream>>,
    redis: Option<Arc<RedisBus>>,
    sim: Option<Arc<Mutex<Option<KubeSim>>>>,
}

impl Adapters {
    /// Closes network connections that would otherwise linger past shutdown, and stops the
    /// embedded simulated cluster (killing the commands its pods run).
    pub async fn close(&self) {
        if let Some(redis) = &self.redis {
            redis.close().await;
        }
        if let Some(tasks) = &self.tasks {
            tasks.close().await;
        }
        if let Some(sim) = &self.sim
            && let Some(sim) = sim.lock().await.take()
        {
            sim.stop().await;
        }
    }
}

/// Connects every configured cluster; the embedded kube-sim starts here in demo mode.
async fn open_clusters(
    configs: &[ClusterConfig],
) -> Result<(Vec<ClusterEntry>, Option<KubeSim>), StartupError> {
    let mut entries = Vec::new();
    let mut embedded = None;
    for config in configs {
        let setting = if config.name == "default" {
            "SLIPWAY_KUBECONFIG"
        } else {
            "[[clusters]] in the config file"
        };
        let fail = |source| StartupError::Cluster {
            name: config.name.clone(),
            setting,
            source,
        };
        let (cluster, backend) = match &config.source {
            ClusterSource::Kubeconfig { path, context } => (
                KubeCluster::from_kubeconfig_file(path, context.as_deref())
                    .await
                    .map_err(fail)?,
                "kubernetes",
            ),
            ClusterSource::InCluster => (KubeCluster::in_cluster().map_err(fail)?, "kubernetes"),
            ClusterSource::Sim => {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(StartupError::Sim)?;
                let sim = KubeSim::start(listener, kube_sim::Options::default())
                    .await
                    .map_err(StartupError::Sim)?;
                tracing::warn!(url = %sim.url(), "demo mode: a simulated cluster runs pods' commands on this machine; use it with trusted repositories only");
                let cluster =
                    KubeCluster::from_kubeconfig_yaml(&sim.kubeconfig(), "embedded kube-sim")
                        .await
                        .map_err(fail)?;
                embedded = Some(sim);
                (cluster, "kube-sim")
            }
        };
        entries.push(ClusterEntry {
            name: config.name.clone(),
            backend,
            cluster: Arc::new(cluster),
        });
    }
    Ok((entries, embedded))
}

/// Opens store, objects and bus; retries transient failures for `config.startup_retry`.
pub async fn open(config: &Config) -> Result<Adapters, StartupError> {
    let deadline = Instant::now() + config.startup_retry;
    let signer = UrlSigner::from_config_or_data_dir(config.signing_key.as_ref(), &config.data_dir)
        .map_err(|e| StartupError::SigningKey(config.data_dir.display().to_string(), e))?;
    let secrets_key = crate::signing::key_or_generated(
        config.secrets_key.as_ref(),
        &config.data_dir,
        "secrets.key",
    )
    .map_err(|e| StartupError::SecretsKey(config.data_dir.display().to_string(), e))?;
    let secret_box = services::secret_box::SecretBox::new(secrets_key.expose_secret());

    let store = retry(
        "database",
        deadline,
        || store::open(&config.database),
        store::OpenError::is_transient,
    )
    .await?;

    let opened = OpendalObjects::open(&config.objects, &config.public_url, &signer)?;
    let location = OpendalObjects::describe(&config.objects);
    retry("object storage", deadline, || opened.check(), |_| true)
        .await
        .map_err(|source| StartupError::ObjectsUnreachable { location, source })?;
    let objects: Arc<dyn Objects> = Arc::new(opened);

    let (bus, redis, tasks): (Arc<dyn Bus>, _, _) = match &config.bus {
        BusConfig::InProcess => (Arc::new(InProcessBus::default()), None, None),
        BusConfig::Redis { url, display } => {
            let unreachable = |e: &RedisOpenError| matches!(e, RedisOpenError::Unreachable { .. });
            let redis = Arc::new(
                retry(
                    "Redis",
                    deadline,
                    || RedisBus::open(url, display),
                    unreachable,
                )
                .await?,
            );
            let tasks = retry(
                "Redis",
                deadline,
                || crate::transforms::stream::TaskStream::open(url, display),
                unreachable,
            )
            .await?;
            (redis.clone(), Some(redis), Some(Arc::new(tasks)))
        }
    };
    let (clusters, sim) = open_clusters(&config.clusters).await?;
    let git_host: Option<Arc<dyn domain::git_host::GitHost>> =
        match (&config.github_app, &config.github_token) {
            (Some((app_id, key_file)), _) => Some(Arc::new(crate::github::GitHub::as_app(
                &config.github_api_url,
                *app_id,
                key_file,
                GITHUB_LONGEST_WAIT,
            )?)),
            (None, Some(token)) => Some(Arc::new(crate::github::GitHub::with_token(
                &config.github_api_url,
                token,
                GITHUB_LONGEST_WAIT,
            )?)),
            (None, None) => None,
        };
    let sign_in_provider: Option<Arc<dyn domain::oauth::SignInProvider>> =
        match &config.github_sign_in {
            Some(client) => Some(Arc::new(crate::github::oauth::GitHubOAuth::new(
                &crate::github::oauth::OAuthSettings {
                    client_id: client.client_id.clone(),
                    client_secret: client.client_secret.clone(),
                    web_url: client.web_url.clone(),
                    api_url: config.github_api_url.clone(),
                    public_url: config.public_url.to_string(),
                },
            )?)),
            None => None,
        };
    tracing::info!(
        store = store.backend(),
        objects = objects.backend(),
        bus = bus.backend(),
        clusters = clusters.len(),
        "adapters ready"
    );
    let sim = sim.map(|s| Arc::new(Mutex::new(Some(s))));
    Ok(Adapters {
        store,
        objects,
        bus,
        signer,
        secret_box,
        clusters,
        git_host,
        sign_in_provider,
        tasks,
        redis,
        sim,
    })
}

/// Runs `attempt` until it succeeds, fails for good, or `deadline` passes.
async fn retry<T, E, F, Fut>(
    what: &str,
    deadline: Instant,
    mut attempt: F,
    transient: impl Fn(&E) -> bool,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::error::Error,
{
    let mut announced = false;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) if transient(&error) && Instant::now() + RETRY_PAUSE < deadline => {
                if !announced {
                    tracing::warn!(error = %domain::error_chain(&error), "waiting for the {what} to become reachable");
                    announced = true;
                }
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(error) => return Err(error),
        }
    }
}
