//! What this Slipway instance is running on, for the Settings and Operator pages.

use domain::Readiness;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The instance's version, public URL and the state of its dependencies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceInfo {
    pub version: String,
    pub public_url: String,
    pub readiness: Readiness,
    /// Names of the configured clusters, the default first.
    pub clusters: Vec<String>,
    /// GitHub's API budget as last seen, when Slipway talks to GitHub.
    pub github_budget: Option<domain::git_host::RateBudget>,
}

#[server(prefix = "/rpc", endpoint = "get_instance_info", input = GetUrl)]
pub async fn get_instance_info() -> Result<InstanceInfo, AppError> {
    let services = crate::services::services()?;
    Ok(InstanceInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        public_url: services.public_url.clone(),
        readiness: services.readiness().await,
        clusters: services.clusters.iter().map(|c| c.name.clone()).collect(),
        github_budget: services.git_host.as_ref().and_then(|g| g.rate_budget()),
    })
}
