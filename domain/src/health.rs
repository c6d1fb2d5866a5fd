//! Readiness of Slipway's dependencies, as `/readyz` and the dashboard report it.

use serde::{Deserialize, Serialize};

/// The outcome of checking one dependency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DependencyCheck {
    /// `store`, `objects`, `bus`, later one per cluster.
    pub name: String,
    /// Which implementation serves it (`sqlite`, `s3`, `redis`, ...).
    pub backend: String,
    pub ok: bool,
    /// Why it is not ready; absent when it is.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// Reported, but Slipway is ready without it (webhooks before a secret is configured).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub optional: bool,
}

/// Every dependency's check; ready only when all are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Readiness {
    pub ready: bool,
    pub checks: Vec<DependencyCheck>,
    /// Whether transform workers take new executions (absent when the Store did not say).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub transform_queue: Option<crate::transform::QueueState>,
}

impl Readiness {
    pub fn from_checks(checks: Vec<DependencyCheck>) -> Self {
        Self {
            ready: checks.iter().all(|c| c.ok || c.optional),
            checks,
            transform_queue: None,
        }
    }
}

/// The instance's version, public URL and the state of its dependencies, for the Settings and
/// Operator pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceInfo {
    pub version: String,
    pub public_url: String,
    pub readiness: Readiness,
    /// Names of the configured clusters, the default first.
    pub clusters: Vec<String>,
    /// GitHub's API budget as last seen, when Slipway talks to GitHub.
    pub github_budget: Option<crate::git_host::RateBudget>,
}

/// One queue of waiting work, as `/metrics` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    /// `deliveries`, `pipelines`, `previews`, `notifications`, `transforms`; with Redis also
    /// `transform_tasks` and `transform_dead_letters` (the task stream).
    pub queue: &'static str,
    /// Items waiting (or, for deliveries, being processed).
    pub depth: i64,
    /// When the oldest of them was made (Unix milliseconds); absent when the queue is empty.
    pub oldest_at_ms: Option<i64>,
}

/// The queues [`QueueDepth::queue`] names, in the order the Store reports them.
pub const QUEUES: [&str; 5] = [
    "deliveries",
    "pipelines",
    "previews",
    "notifications",
    "transforms",
];
