//! The Kubernetes adapter for the Cluster port, on kube-rs: server-side apply with field
//! manager `slipway`, watches instead of polling, retries of transient failures, and the
//! refusal to delete namespaces Slipway did not create.

mod apply;
mod errors;
mod events;
mod jobs;
mod logs;
mod namespaces;
mod objects;
mod pods;
mod rollout;
mod usage;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use domain::cluster::{
    Cluster, ClusterError, ClusterEvent, JobOutcome, Manifest, NamespaceSpec, NamespaceState,
    ObjectKind, PodOutcome, PodRun, PodUsage, Result, RolloutOutcome,
};
use futures::stream::BoxStream;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

pub use pods::pod_manifest;

/// A Kubernetes cluster reached through kube-rs.
#[derive(Clone)]
pub struct KubeCluster {
    client: Client,
    kinds: std::sync::Arc<apply::KindCache>,
}

impl std::fmt::Debug for KubeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KubeCluster")
    }
}

/// Why a cluster's configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot read the kubeconfig {0}")]
    Kubeconfig(String, #[source] kube::config::KubeconfigError),
    #[error("the kubeconfig {0} is not usable")]
    Config(String, #[source] kube::Error),
    #[error("not running in a cluster (no service account found)")]
    InCluster(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl KubeCluster {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            kinds: std::sync::Arc::default(),
        }
    }

    /// The kube-rs client, for what the Cluster port does not cover (tests set up clusters
    /// with it).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// A client from a kubeconfig file, using `context` or the file's current context.
    pub async fn from_kubeconfig_file(
        path: &Path,
        context: Option<&str>,
    ) -> Result<Self, ConnectError> {
        let shown = path.display().to_string();
        let kubeconfig =
            Kubeconfig::read_from(path).map_err(|e| ConnectError::Kubeconfig(shown.clone(), e))?;
        Self::from_kubeconfig(kubeconfig, context, &shown).await
    }

    /// A client from the service account of the pod Slipway runs in.
    pub fn in_cluster() -> Result<Self, ConnectError> {
        let config = Config::incluster().map_err(|e| ConnectError::InCluster(Box::new(e)))?;
        let client = counted(config).map_err(|e| ConnectError::Config("in-cluster".into(), e))?;
        Ok(Self::new(client))
    }

    /// A client from kubeconfig YAML (the embedded kube-sim hands its own over this way).
    pub async fn from_kubeconfig_yaml(yaml: &str, origin: &str) -> Result<Self, ConnectError> {
        let kubeconfig = Kubeconfig::from_yaml(yaml)
            .map_err(|e| ConnectError::Kubeconfig(origin.to_owned(), e))?;
        Self::from_kubeconfig(kubeconfig, None, origin).await
    }

    async fn from_kubeconfig(
        kubeconfig: Kubeconfig,
        context: Option<&str>,
        origin: &str,
    ) -> Result<Self, ConnectError> {
        let options = KubeConfigOptions {
            context: context.map(str::to_owned),
            ..KubeConfigOptions::default()
        };
        let mut config = Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| ConnectError::Kubeconfig(origin.to_owned(), e))?;
        config.connect_timeout = Some(Duration::from_secs(5));
        config.read_timeout = Some(Duration::from_secs(300));
        let client = counted(config).map_err(|e| ConnectError::Config(origin.to_owned(), e))?;
        Ok(Self::new(client))
    }
}

/// A client whose every request is counted in `/metrics`.
fn counted(config: Config) -> Result<Client, kube::Error> {
    let builder = kube::client::ClientBuilder::try_from(config)?;
    Ok(builder
        .with_layer(&crate::metrics::kube_requests::CountRequests)
        .build())
}

#[async_trait]
impl Cluster for KubeCluster {
    async fn check(&self) -> Result<()> {
        errors::retrying("reach the API server", || async {
            self.client.apiserver_version().await.map(|_| ())
        })
        .await
    }

    async fn ensure_namespace(&self, spec: &NamespaceSpec) -> Result<NamespaceState> {
        namespaces::ensure(&self.client, spec).await
    }

    async fn create_namespace(&self, spec: &NamespaceSpec) -> Result<bool> {
        namespaces::create(&self.client, spec).await
    }

    async fn get_namespace(&self, name: &str) -> Result<Option<NamespaceState>> {
        namespaces::get(&self.client, name).await
    }

    async fn delete_namespace(&self, name: &str) -> Result<()> {
        namespaces::delete(&self.client, name).await
    }

    async fn wait_namespace_gone(&self, name: &str, limit: Duration) -> Result<()> {
        namespaces::wait_gone(&self.client, name, limit).await
    }

    async fn create_pod(&self, pod: &PodRun) -> Result<()> {
        pods::create(&self.client, pod).await
    }

    async fn wait_pod_finished(
        &self,
        namespace: &str,
        name: &str,
        limit: Duration,
    ) -> Result<PodOutcome> {
        pods::wait_finished(&self.client, namespace, name, limit).await
    }

    async fn follow_logs(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
    ) -> Result<BoxStream<'static, Result<String>>> {
        pods::follow_logs(&self.client, namespace, pod, container).await
    }

    async fn read_logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        options: domain::cluster::LogOptions,
    ) -> Result<BoxStream<'static, Result<String>>> {
        let api: kube::Api<k8s_openapi::api::core::v1::Pod> =
            kube::Api::namespaced(self.client.clone(), namespace);
        logs::read(api, pod, container, options).await
    }

    async fn delete_pod(&self, namespace: &str, name: &str) -> Result<()> {
        pods::delete(&self.client, namespace, name).await
    }

    async fn apply_manifest(&self, namespace: &str, manifest: &Manifest) -> Result<()> {
        apply::apply(&self.client, &self.kinds, namespace, manifest).await
    }

    async fn get_object(
        &self,
        namespace: &str,
        kind: ObjectKind<'_>,
        name: &str,
    ) -> Result<Option<Manifest>> {
        objects::get(&self.client, &self.kinds, namespace, kind, name).await
    }

    async fn list_objects(
        &self,
        namespace: &str,
        kind: ObjectKind<'_>,
        selector: &str,
    ) -> Result<Vec<Manifest>> {
        objects::list(&self.client, &self.kinds, namespace, kind, selector).await
    }

    async fn delete_object(&self, namespace: &str, kind: ObjectKind<'_>, name: &str) -> Result<()> {
        objects::delete(&self.client, &self.kinds, namespace, kind, name).await
    }

    async fn wait_job(&self, namespace: &str, name: &str, limit: Duration) -> Result<JobOutcome> {
        jobs::wait(&self.client, namespace, name, limit).await
    }

    async fn pod_usage(&self, namespace: &str) -> Result<Option<Vec<PodUsage>>> {
        usage::of_namespace(&self.client, namespace).await
    }

    async fn events(&self, namespace: &str) -> Result<Vec<ClusterEvent>> {
        events::of_namespace(&self.client, namespace).await
    }

    async fn wait_rollout(
        &self,
        namespace: &str,
        deployment: &str,
        limit: Duration,
    ) -> Result<RolloutOutcome> {
        rollout::wait(&self.client, namespace, deployment, limit).await
    }
}

/// `ClusterError` for a failed wait.
pub(crate) fn timeout(what: impl Into<String>, limit: Duration) -> ClusterError {
    ClusterError::Timeout {
        what: what.into(),
        limit,
    }
}
