//! The `preview:` section of `.platform.yaml` as written (unknown keys refused), with the
//! position of every value a check may point at; also the source of its JSON Schema.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::pipeline::file::{EnvValue, ResourcesSection};

/// A running environment for every pull request: exactly one of `app`, `manifests`, `chart`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewSection {
    /// The built-in template: a Deployment, a Service and an Ingress for one container.
    #[schemars(with = "Option<AppSection>")]
    pub app: Option<Spanned<AppSection>>,
    /// A folder of Kubernetes YAML templates in the repository (`{{ namespace }}`, `{{ url }}`, …).
    #[schemars(with = "Option<String>")]
    pub manifests: Option<Spanned<String>>,
    /// A Helm chart installed with `helm upgrade --install`.
    #[schemars(with = "Option<ChartSection>")]
    pub chart: Option<Spanned<ChartSection>>,
    /// Removed this long after the last push, e.g. `72h` (the default), `7d`.
    #[schemars(with = "Option<String>")]
    pub ttl: Option<Spanned<String>>,
    /// Host name of the public URL, e.g. `{{ namespace }}.preview.example.com`.
    #[schemars(with = "Option<String>")]
    pub domain: Option<Spanned<String>>,
    /// Environment shared by every kind.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, EnvValue>")]
    pub env: BTreeMap<String, Spanned<EnvValue>>,
    /// CPU and memory the whole namespace may use (at most Slipway's configured quota).
    pub quota: Option<ResourcesSection>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppSection {
    /// Image to run; by default the one the pipeline published for the commit.
    #[schemars(with = "Option<String>")]
    pub image: Option<Spanned<String>>,
    /// Port the app listens on (8080 by default).
    #[schemars(with = "Option<u32>")]
    pub port: Option<Spanned<u32>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, EnvValue>")]
    pub env: BTreeMap<String, Spanned<EnvValue>>,
    /// Replaces the image's entrypoint.
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// CPU and memory limits of the container.
    pub resources: Option<ResourcesSection>,
    /// HTTP path the readiness probe asks, e.g. `/healthz`; without it, a TCP check.
    #[schemars(with = "Option<String>")]
    pub health_check: Option<Spanned<String>>,
    /// 1 by default.
    #[schemars(with = "Option<u32>")]
    pub replicas: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChartSection {
    /// A chart folder in the repository; or `repo` and `name`.
    #[schemars(with = "Option<String>")]
    pub path: Option<Spanned<String>>,
    /// Chart repository URL.
    #[schemars(with = "Option<String>")]
    pub repo: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    pub version: Option<String>,
    /// A values file in the repository.
    #[schemars(with = "Option<String>")]
    pub values: Option<Spanned<String>>,
    /// `--set` overrides; values may use the preview's variables.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, EnvValue>")]
    pub set: BTreeMap<String, Spanned<EnvValue>>,
}
