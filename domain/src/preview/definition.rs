//! A repository's preview as the `preview:` section of `.platform.yaml` defines it, after
//! validation: what to deploy (the built-in app template, a folder of manifests, or a Helm
//! chart), how long it lives, where it is reached, and the environment every kind shares.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A preview lives this long after the last push unless `ttl` says otherwise.
pub const DEFAULT_TTL_SECS: u64 = 72 * 3600;
/// The built-in template's container port unless `port` says otherwise.
pub const DEFAULT_APP_PORT: u16 = 8080;
/// Limits of a container that sets none (the namespace's LimitRange default).
pub const DEFAULT_CONTAINER_CPU: &str = "500m";
pub const DEFAULT_CONTAINER_MEMORY: &str = "512Mi";

/// The validated `preview:` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewDefinition {
    pub kind: PreviewKind,
    /// Removed this long after the last push.
    pub ttl_secs: u64,
    /// Host name pattern of the public URL (`{{ namespace }}.preview.example.com`); `None`:
    /// Slipway's configured pattern.
    pub domain: Option<String>,
    /// Environment shared by every kind (the app's container, manifest and chart variables).
    pub env: BTreeMap<String, String>,
    /// What the namespace may use in all; `None` for each: Slipway's configured quota.
    pub quota: Quota,
}

/// CPU and memory (Kubernetes quantities).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub cpu: Option<String>,
    pub memory: Option<String>,
}

/// What a preview deploys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreviewKind {
    App(AppTemplate),
    Manifests(ManifestsSource),
    Chart(ChartSource),
}

impl PreviewKind {
    /// `app`, `manifests` or `chart`, as the file names them.
    pub fn name(&self) -> &'static str {
        match self {
            Self::App(_) => "app",
            Self::Manifests(_) => "manifests",
            Self::Chart(_) => "chart",
        }
    }
}

/// The built-in template: a Deployment, a Service and an Ingress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppTemplate {
    /// `None`: the image the pipeline published for the commit.
    pub image: Option<String>,
    pub port: u16,
    pub env: BTreeMap<String, String>,
    /// Replaces the image's entrypoint when not empty.
    pub command: Vec<String>,
    pub args: Vec<String>,
    /// Container limits (requests are set equal); `None`: the namespace's defaults.
    pub cpu: Option<String>,
    pub memory: Option<String>,
    /// HTTP path of the readiness probe; `None`: a TCP check of the port.
    pub health_path: Option<String>,
    pub replicas: u32,
}

impl Default for AppTemplate {
    fn default() -> Self {
        Self {
            image: None,
            port: DEFAULT_APP_PORT,
            env: BTreeMap::new(),
            command: Vec::new(),
            args: Vec::new(),
            cpu: None,
            memory: None,
            health_path: None,
            replicas: 1,
        }
    }
}

/// A folder of YAML templates in the repository, rendered and applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestsSource {
    /// Relative to the repository root.
    pub path: String,
}

/// A Helm chart installed with the `helm` CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartSource {
    /// A chart folder in the repository, or a chart name in `repo`.
    pub chart: ChartLocation,
    /// A values file in the repository.
    pub values: Option<String>,
    /// `--set key=value` overrides (templated with the preview's variables).
    pub set: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartLocation {
    Path(String),
    Repository {
        repo: String,
        name: String,
        version: Option<String>,
    },
}
