//! Slipway's configuration: one validated [`Config`] built from `SLIPWAY_*` environment
//! variables over an optional TOML file over embedded defaults. This is the only module that
//! reads the environment for settings.

mod describe;
mod parse;
mod settings;
mod sources;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

pub use settings::{SETTINGS, Setting, markdown_table};
pub use sources::{ClusterTable, Sources};

/// Where the Store lives.
#[derive(Debug, Clone)]
pub enum DatabaseConfig {
    Sqlite {
        path: PathBuf,
    },
    /// The URL may hold a password: it is a secret.
    Postgres {
        url: SecretString,
        display: String,
    },
}

/// Where the Objects live.
#[derive(Debug, Clone)]
pub enum ObjectsConfig {
    Fs { root: PathBuf },
    S3(S3Config),
}

#[derive(Debug, Clone)]
pub struct S3Config {
    pub bucket: String,
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    pub path_style: bool,
}

/// Which bus carries events.
#[derive(Debug, Clone)]
pub enum BusConfig {
    InProcess,
    /// The URL may hold a password: it is a secret.
    Redis {
        url: SecretString,
        display: String,
    },
}

/// How Slipway reaches one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterSource {
    Kubeconfig {
        path: PathBuf,
        context: Option<String>,
    },
    /// The service account of the pod Slipway runs in.
    InCluster,
    /// An embedded kube-sim (demo mode).
    Sim,
}

/// A named cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    pub name: String,
    pub source: ClusterSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The validated configuration of one Slipway process.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub public_url: Url,
    pub site_root: PathBuf,
    pub database: DatabaseConfig,
    pub objects: ObjectsConfig,
    pub bus: BusConfig,
    /// Clusters previews and pipelines can use; the first is the default.
    pub clusters: Vec<ClusterConfig>,
    pub log_format: LogFormat,
    pub log_filter: String,
    /// Key for Slipway's own signed URLs; `None` means "generate one in the data dir".
    pub signing_key: Option<SecretString>,
    /// Key repository secrets are sealed with; `None` means "generate one in the data dir".
    pub secrets_key: Option<SecretString>,
    /// Secrets GitHub webhook signatures are checked against (more than one while rotating);
    /// empty means webhooks are refused.
    pub webhook_secrets: Vec<SecretString>,
    /// Token for writing to GitHub; `None` means Slipway does not talk back to GitHub.
    pub github_token: Option<SecretString>,
    /// Bearer token `/metrics` asks for; `None`: open.
    pub metrics_token: Option<SecretString>,
    /// What `/mcp` offers.
    pub mcp: crate::mcp::McpMode,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub github_api_url: String,
    /// The GitHub App to act as: its id and private key file.
    pub github_app: Option<(u64, PathBuf)>,
    /// Sign in with GitHub, when its client id and secret are set.
    pub github_sign_in: Option<GitHubSignInConfig>,
    /// GitHub logins made instance admins at sign-in.
    pub admins: Vec<String>,
    /// How long a GitHub permission answer is trusted.
    pub github_permission_cache: Duration,
    /// Interval of the reconciliation pass.
    pub reconcile_every: Duration,
    /// The first gap before a failed notification delivery is tried again.
    pub notification_retry: Duration,
    /// The first gap before a failed transform attempt is tried again.
    pub transform_retry: Duration,
    /// How long a transform execution stays its worker's without a renewal.
    pub transform_claim: Duration,
    /// Registry pipeline steps push images to (`$REGISTRY`).
    pub registry: String,
    /// Steps this instance runs at once, across all pipelines.
    pub pipeline_steps: usize,
    /// Namespace step pods run in.
    pub pipelines_namespace: String,
    /// Where and how transform Jobs run on the default cluster.
    pub transforms: TransformSettings,
    pub previews: PreviewConfig,
    pub startup_retry: Duration,
    pub shutdown_grace: Duration,
    /// How long a client may take over a request's headers, or stall while sending its body.
    pub client_timeout: Duration,
}

/// The OAuth client people sign in with.
#[derive(Debug, Clone)]
pub struct GitHubSignInConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    /// GitHub's web address (`https://github.com`).
    pub web_url: String,
}

/// How previews are deployed and reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewConfig {
    /// Host name pattern of preview URLs (minijinja: `{{ namespace }}.preview.example.com`).
    pub domain: String,
    pub ingress_class: String,
    pub ingress_namespace: String,
    pub cert_issuer: Option<String>,
    /// How long a rollout may take.
    pub deadline: Duration,
    /// The most a preview namespace may use (ResourceQuota).
    pub quota_cpu: String,
    pub quota_memory: String,
    /// The helm executable: a name looked up on PATH, or a path.
    pub helm: String,
}

/// One thing wrong with the configuration, naming the setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub setting: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.setting, self.message)
    }
}

/// Everything wrong with the configuration, one problem per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError(pub Vec<Problem>);

impl Config {
    /// Reads the process environment and, when given, the TOML file.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let sources = Sources::from_process(file)?;
        Self::from_sources(&sources)
    }

    /// Like [`Config::load`], with command-line `overrides` (setting, value) on top, also
    /// returning the sources, for `check-config`.
    pub fn load_with_sources(
        file: Option<&Path>,
        overrides: &[(&str, &str)],
    ) -> Result<(Self, Sources), ConfigError> {
        let mut sources = Sources::from_process(file)?;
        for (setting, value) in overrides {
            sources.set(setting, value);
        }
        Ok((Self::from_sources(&sources)?, sources))
    }

    /// Every setting's effective value (secrets redacted) and where it came from.
    pub fn describe(&self, sources: &Sources) -> String {
        describe::describe(self, sources)
    }

    /// Builds the configuration from already collected sources (tests pass their own).
    pub fn from_sources(sources: &Sources) -> Result<Self, ConfigError> {
        parse::parse(sources)
    }
}

/// Transform Jobs on the default cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformSettings {
    pub namespace: String,
    /// Ranges the Jobs may reach besides DNS and Slipway's pods.
    pub egress_cidrs: Vec<String>,
    /// The upload sidecar's image.
    pub uploader_image: String,
}
