//! Server-side only: the ports server functions use, provided by the `server` crate through
//! Leptos context, and the readiness check shared by `/readyz` and the Operator page.

use std::sync::Arc;
use std::time::Duration;

use domain::{Bus, Cluster, DependencyCheck, Objects, Readiness, Store};
use leptos::prelude::use_context;

use crate::error::{AppError, ErrorKind, error_chain};

/// How long one dependency may take to answer a readiness check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// A cluster previews and pipelines can use.
#[derive(Clone)]
pub struct ClusterEntry {
    pub name: String,
    /// `kubernetes`, or `kube-sim` for the embedded simulated cluster.
    pub backend: &'static str,
    pub cluster: Arc<dyn Cluster>,
}

/// Everything a server function may reach.
#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn Store>,
    pub objects: Arc<dyn Objects>,
    pub bus: Arc<dyn Bus>,
    /// The configured clusters; the first is the default. Empty when none is configured.
    pub clusters: Vec<ClusterEntry>,
    /// The URL Slipway is reached at, for links shown to users.
    pub public_url: String,
    /// How many GitHub webhook secrets are configured (0: webhooks are refused).
    pub webhook_secrets: usize,
    /// GitHub, when Slipway has a token to write to it with.
    pub git_host: Option<Arc<dyn domain::git_host::GitHost>>,
    /// Seals and opens repository secrets.
    pub secret_box: crate::secret_box::SecretBox,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("store", &self.store.backend())
            .field("objects", &self.objects.backend())
            .field("bus", &self.bus.backend())
            .field(
                "clusters",
                &self
                    .clusters
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Services {
    /// Checks every dependency concurrently, each within [`CHECK_TIMEOUT`]; each cluster is
    /// listed as `cluster/<name>`.
    pub async fn readiness(&self) -> Readiness {
        let clusters = futures::future::join_all(
            self.clusters
                .iter()
                .map(|c| check(format!("cluster/{}", c.name), c.backend, c.cluster.check())),
        );
        let (store, objects, bus, clusters) = futures::join!(
            check("store".into(), self.store.backend(), self.store.check()),
            check(
                "objects".into(),
                self.objects.backend(),
                self.objects.check()
            ),
            check("bus".into(), self.bus.backend(), self.bus.check()),
            clusters,
        );
        let mut checks = vec![store, objects, bus];
        checks.extend(clusters);
        if let Some(github) = &self.git_host {
            checks.push(check("github".into(), "octocrab", github.check()).await);
        }
        checks.push(self.webhook_check());
        Readiness::from_checks(checks)
    }
}

async fn check<E: std::error::Error>(
    name: String,
    backend: &str,
    probe: impl std::future::Future<Output = Result<(), E>>,
) -> DependencyCheck {
    let error = match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(error_chain(&e)),
        Err(_) => Some(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
    };
    DependencyCheck {
        name: name.to_owned(),
        backend: backend.to_owned(),
        ok: error.is_none(),
        error,
        optional: false,
    }
}

impl Services {
    /// Whether GitHub deliveries are accepted; reported, but not needed to be ready.
    fn webhook_check(&self) -> DependencyCheck {
        let configured = self.webhook_secrets > 0;
        DependencyCheck {
            name: "github-webhooks".into(),
            backend: format!("hmac-sha256, {} secret(s)", self.webhook_secrets),
            ok: configured,
            error: (!configured).then(|| {
                "SLIPWAY_GITHUB_WEBHOOK_SECRET is not set: deliveries are refused with 503".into()
            }),
            optional: true,
        }
    }

    /// The configured cluster called `name`, or an error listing the configured ones.
    pub fn cluster_named(&self, name: &str) -> Result<&ClusterEntry, AppError> {
        self.clusters
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.clusters.iter().map(|c| c.name.as_str()).collect();
                let configured = if names.is_empty() {
                    "no cluster is configured (SLIPWAY_KUBECONFIG, SLIPWAY_CLUSTER or [[clusters]])"
                        .to_owned()
                } else {
                    format!("configured: {}", names.join(", "))
                };
                AppError::new(
                    ErrorKind::InvalidInput,
                    format!("cluster `{name}` is not configured; {configured}"),
                )
            })
    }

    /// Where `repository`'s previews and pipelines run: its pinned cluster, or the default
    /// (the first configured); `None` when no cluster is configured (local processes).
    pub fn cluster_for(
        &self,
        repository: &domain::Repository,
    ) -> Result<Option<&ClusterEntry>, AppError> {
        match &repository.cluster {
            Some(name) => self.cluster_named(name).map(Some),
            None => Ok(self.clusters.first()),
        }
    }
}

/// The services of this request, or an internal error if the server forgot to provide them.
pub fn services() -> Result<Services, AppError> {
    use_context::<Services>()
        .ok_or_else(|| AppError::new(ErrorKind::Internal, "server services are not configured"))
}
