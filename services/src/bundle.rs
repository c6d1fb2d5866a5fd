//! The bundle of ports every application function reaches (the Store, object storage, the bus,
//! the clusters, GitHub) and which cluster a repository's previews and pipelines use.

use std::sync::Arc;

use domain::git_host::GitHost;
use domain::preview::Preview;
use domain::{Bus, Cluster, Objects, Repository, Store};

use crate::error::{Error, Result};
use crate::github_levels::GitHubLevels;
use crate::github_sign_in::GitHubSignIn;
use crate::secret_box::SecretBox;

/// A cluster previews and pipelines can use.
#[derive(Clone)]
pub struct ClusterEntry {
    pub name: String,
    /// `kubernetes`, or `kube-sim` for the embedded simulated cluster.
    pub backend: &'static str,
    pub cluster: Arc<dyn Cluster>,
}

/// Everything an application function may reach.
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
    pub git_host: Option<Arc<dyn GitHost>>,
    /// Seals and opens repository secrets (and the browser's half of a GitHub sign-in).
    pub secret_box: SecretBox,
    /// What GitHub lets GitHub users do, when Slipway can ask GitHub.
    pub github_levels: Option<Arc<GitHubLevels>>,
    /// Sign in with GitHub, when configured.
    pub github_sign_in: Option<GitHubSignIn>,
    /// With Redis: the stream transform tasks travel on.
    pub task_queue: Option<Arc<dyn domain::transform::TaskQueue>>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clusters: Vec<&str> = self.clusters.iter().map(|c| c.name.as_str()).collect();
        f.debug_struct("Services")
            .field("store", &self.store.backend())
            .field("objects", &self.objects.backend())
            .field("bus", &self.bus.backend())
            .field("clusters", &clusters)
            .finish()
    }
}

/// Said wherever a cluster is needed and none is configured.
pub const NO_CLUSTER: &str =
    "no cluster is configured (SLIPWAY_KUBECONFIG, SLIPWAY_CLUSTER or [[clusters]])";

impl Services {
    /// The configured cluster called `name`, or an invalid-input error listing the configured ones.
    pub fn cluster_named(&self, name: &str) -> Result<&ClusterEntry> {
        self.clusters
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.clusters.iter().map(|c| c.name.as_str()).collect();
                let configured = if names.is_empty() {
                    NO_CLUSTER.to_owned()
                } else {
                    format!("configured: {}", names.join(", "))
                };
                Error::invalid(
                    "cluster",
                    format!("cluster `{name}` is not configured; {configured}"),
                )
            })
    }

    /// Where `repository`'s previews and pipelines run: its pinned cluster, or the default
    /// (the first configured); `None` when no cluster is configured (local processes).
    pub fn cluster_for(&self, repository: &Repository) -> Result<Option<&ClusterEntry>> {
        match &repository.cluster {
            Some(name) => self.cluster_named(name).map(Some),
            None => Ok(self.clusters.first()),
        }
    }

    /// The cluster a preview runs on; `None` when none is configured.
    pub async fn preview_cluster(&self, preview: &Preview) -> Result<Option<ClusterEntry>> {
        let repository = self.store.get_repository_named(&preview.repository).await?;
        Ok(match &repository {
            Some(repository) => self.cluster_for(repository)?.cloned(),
            None => self.clusters.first().cloned(),
        })
    }
}
