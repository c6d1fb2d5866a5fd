//! The Cluster port: what Slipway asks of Kubernetes, in Slipway's words. Implemented over
//! kube-rs in `server::cluster`; exercised end to end against kube-sim.
//!
//! Everything Slipway creates carries [`MANAGED_BY_LABEL`]=[`MANAGED_BY_VALUE`], and the
//! adapter refuses to delete a namespace without it: Slipway never deletes what it did not create.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "slipway";
pub const PREVIEW_LABEL: &str = "slipway.dev/preview";
pub const PIPELINE_LABEL: &str = "slipway.dev/pipeline";
pub const STEP_LABEL: &str = "slipway.dev/step";
/// Field manager of every server-side apply Slipway makes.
pub const FIELD_MANAGER: &str = "slipway";

pub type Result<T, E = ClusterError> = std::result::Result<T, E>;

/// Failures callers act on; the adapter retries transient ones before returning them.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{kind} `{name}` not found")]
    NotFound { kind: &'static str, name: String },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("rejected as invalid: {0}")]
    Invalid(String),
    #[error(
        "refusing to delete `{0}`: it is not labelled {MANAGED_BY_LABEL}={MANAGED_BY_VALUE}, so Slipway did not create it"
    )]
    Unmanaged(String),
    #[error("{what} did not happen within {} s", .limit.as_secs())]
    Timeout { what: String, limit: Duration },
    #[error("the cluster is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A namespace as Slipway wants it. The managed-by label is added by the adapter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceSpec {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NamespacePhase {
    Active,
    Terminating,
}

/// A namespace as the cluster reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceState {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub phase: NamespacePhase,
}

impl NamespaceState {
    pub fn is_managed(&self) -> bool {
        self.labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE)
    }
}

/// One container of a run-to-completion pod (a pipeline step, a clone).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerRun {
    pub name: String,
    pub image: String,
    /// The command and its arguments; empty means the image's entrypoint.
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    /// CPU and memory limits, e.g. `("500m", "512Mi")`; requests are set equal.
    pub limits: Option<(String, String)>,
    /// A Secret whose keys become environment variables (values kept out of the pod spec).
    pub env_from_secret: Option<String>,
    /// A native sidecar (an init container with `restartPolicy: Always`): it starts before the
    /// containers after it, runs beside the main ones and is stopped (SIGTERM) once they end.
    #[serde(default)]
    pub sidecar: bool,
}

/// A pod that runs its containers once: init containers in order, then the main ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodRun {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub init_containers: Vec<ContainerRun>,
    pub containers: Vec<ContainerRun>,
    /// The pod fails with `DeadlineExceeded` past this.
    pub deadline: Option<Duration>,
}

/// How one container ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerExit {
    pub name: String,
    pub exit_code: i32,
    pub reason: Option<String>,
}

/// How a pod ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodOutcome {
    pub succeeded: bool,
    /// Why the pod failed as a whole (`DeadlineExceeded`), or why it never started (`ImagePullBackOff`).
    pub reason: Option<String>,
    pub message: Option<String>,
    pub containers: Vec<ContainerExit>,
}

/// A Kubernetes object to apply, as JSON (`apiVersion`, `kind`, `metadata.name`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest(pub serde_json::Value);

impl Manifest {
    pub fn kind(&self) -> &str {
        self.0["kind"].as_str().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.0["metadata"]["name"].as_str().unwrap_or_default()
    }
}

/// How a Deployment's rollout ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutOutcome {
    /// Every replica is updated and available.
    pub ready: bool,
    /// Why not, in Kubernetes' words: `ImagePullBackOff`, `CrashLoopBackOff`, `ProgressDeadlineExceeded`.
    pub reason: Option<String>,
    /// What a developer can act on (the image that cannot be pulled, the condition's message).
    pub message: Option<String>,
    /// The last log lines of a crashing container.
    pub log_excerpt: Vec<String>,
}

/// How a Job ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobOutcome {
    pub succeeded: bool,
    /// Why it failed: `BackoffLimitExceeded`, `DeadlineExceeded`, `FailedCreate`.
    pub reason: Option<String>,
    pub message: Option<String>,
    /// Pods that failed on the way.
    pub failed_pods: u32,
}

/// An object kind, as in a manifest: `apps/v1` + `Deployment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectKind<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
}

impl ObjectKind<'static> {
    pub const POD: Self = Self {
        api_version: "v1",
        kind: "Pod",
    };
    pub const SECRET: Self = Self {
        api_version: "v1",
        kind: "Secret",
    };
    pub const JOB: Self = Self {
        api_version: "batch/v1",
        kind: "Job",
    };
}

/// What a running pod uses now, summed over its containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodUsage {
    pub pod: String,
    pub cpu_millicores: u64,
    pub memory_bytes: u64,
}

/// Which part of a container's log to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogOptions {
    /// Only the last lines; `None`: all.
    pub tail: Option<u32>,
    /// Each line starts with the kubelet's RFC 3339 time.
    pub timestamps: bool,
    /// Keep reading new lines until the container stops.
    pub follow: bool,
    /// Only lines written in the last this many seconds.
    pub since_seconds: Option<u32>,
}

/// Something the cluster recorded about an object in a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClusterEvent {
    /// When it last happened (RFC 3339), if the cluster said.
    pub at: Option<String>,
    /// A `Warning` rather than a `Normal` event.
    pub warning: bool,
    /// Kubernetes' one-word reason: `Scheduled`, `BackOff`, `FailedCreate`, ...
    pub reason: String,
    /// The object it is about, as `Kind/name`.
    pub object: String,
    pub message: String,
    /// How many times it happened.
    pub count: u32,
}

#[async_trait]
pub trait Cluster: Send + Sync + 'static {
    /// Proves the API server answers.
    async fn check(&self) -> Result<()>;

    /// Creates or updates the namespace (server-side apply), labelled as Slipway's.
    async fn ensure_namespace(&self, spec: &NamespaceSpec) -> Result<NamespaceState>;

    /// Creates the namespace, labelled as Slipway's, when no namespace has its name: true. When
    /// one has (whoever created it, whatever its state), changes nothing: false. One round trip
    /// where reading first and then applying takes two.
    async fn create_namespace(&self, spec: &NamespaceSpec) -> Result<bool>;

    async fn get_namespace(&self, name: &str) -> Result<Option<NamespaceState>>;

    /// Starts deleting a namespace Slipway created (foreground); [`ClusterError::Unmanaged`]
    /// for any other. Deleting a namespace that is already gone is not an error.
    async fn delete_namespace(&self, name: &str) -> Result<()>;

    /// Waits (watching, not polling) until the namespace no longer exists.
    async fn wait_namespace_gone(&self, name: &str, limit: Duration) -> Result<()>;

    /// Creates a run-to-completion pod with the restricted security profile.
    async fn create_pod(&self, pod: &PodRun) -> Result<()>;

    /// Waits until the pod succeeded or failed (or cannot start, e.g. its image is missing).
    async fn wait_pod_finished(
        &self,
        namespace: &str,
        name: &str,
        limit: Duration,
    ) -> Result<PodOutcome>;

    /// The container's log lines from the first, following until it exits.
    async fn follow_logs(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
    ) -> Result<BoxStream<'static, Result<String>>>;

    /// A container's log as `options` say (the pod's only container when `container` is
    /// `None`).
    async fn read_logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        options: LogOptions,
    ) -> Result<BoxStream<'static, Result<String>>>;

    async fn delete_pod(&self, namespace: &str, name: &str) -> Result<()>;

    /// Server-side applies `manifest` in `namespace` (field manager `slipway`, taking over
    /// conflicting fields), labelled as Slipway's.
    async fn apply_manifest(&self, namespace: &str, manifest: &Manifest) -> Result<()>;

    /// Reads an object of any served kind; `None` when there is none by that name.
    async fn get_object(
        &self,
        namespace: &str,
        kind: ObjectKind<'_>,
        name: &str,
    ) -> Result<Option<Manifest>>;

    /// Lists the objects of a kind in `namespace` matching a label selector (`a=b,c`).
    async fn list_objects(
        &self,
        namespace: &str,
        kind: ObjectKind<'_>,
        selector: &str,
    ) -> Result<Vec<Manifest>>;

    /// Deletes an object Slipway created; refuses (`Unmanaged`) one without the managed-by
    /// label. Deleting what is already gone succeeds.
    async fn delete_object(&self, namespace: &str, kind: ObjectKind<'_>, name: &str) -> Result<()>;

    /// Watches a Job (applied with [`Cluster::apply_manifest`]) until it completes or fails.
    async fn wait_job(&self, namespace: &str, name: &str, limit: Duration) -> Result<JobOutcome>;

    /// CPU and memory of each running pod in `namespace`; `None` when the cluster serves no
    /// metrics API (no metrics-server): usage is then unknown, which is not an error.
    async fn pod_usage(&self, namespace: &str) -> Result<Option<Vec<PodUsage>>>;

    /// The events recorded in `namespace`, oldest first.
    async fn events(&self, namespace: &str) -> Result<Vec<ClusterEvent>>;

    /// Watches a Deployment and its pods until every replica is available, or the rollout
    /// fails for a reason a developer can act on.
    async fn wait_rollout(
        &self,
        namespace: &str,
        deployment: &str,
        limit: Duration,
    ) -> Result<RolloutOutcome>;
}
