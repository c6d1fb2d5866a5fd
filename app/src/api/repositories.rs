//! Repositories for the Settings page: list, add (by clone URL, no GitHub needed), set preview
//! rules and what is reported, remove, and their secrets — each one call into the application layer (`services`).

use domain::Repository;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The add-repository form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddRepositoryInput {
    pub name: String,
    pub clone_url: String,
    #[serde(default)]
    pub default_branch: String,
    /// A configured cluster's name; blank for the default cluster.
    #[serde(default)]
    pub cluster: String,
}

#[server(prefix = "/rpc", endpoint = "list_repositories", input = GetUrl)]
pub async fn list_repositories() -> Result<Vec<Repository>, AppError> {
    let (services, caller) = crate::context::request()?;
    Ok(services.list_repositories(&caller).await?)
}

#[server(prefix = "/rpc", endpoint = "add_repository")]
pub async fn add_repository(input: AddRepositoryInput) -> Result<Repository, AppError> {
    let (services, caller) = crate::context::request()?;
    let input = services::repositories::AddRepository {
        name: input.name,
        clone_url: input.clone_url,
        default_branch: input.default_branch,
        cluster: input.cluster,
    };
    Ok(services.add_repository(&caller, input).await?)
}

/// The preview-rules form of one repository (lists comma-separated; the checkbox sends `on`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewRulesInput {
    pub id: i64,
    #[serde(default)]
    pub target_branches: String,
    #[serde(default)]
    pub labels_required: String,
    #[serde(default)]
    pub labels_excluded: String,
    #[serde(default)]
    pub ignore_drafts: Option<String>,
    #[serde(default)]
    pub trust_forks: Option<String>,
}

#[server(prefix = "/rpc", endpoint = "set_preview_rules")]
pub async fn set_preview_rules(input: PreviewRulesInput) -> Result<Repository, AppError> {
    use domain::repository::PreviewRulesConfig;
    let (services, caller) = crate::context::request()?;
    let rules = PreviewRulesConfig {
        trust_forks: input.trust_forks.is_some(),
        ..PreviewRulesConfig::from_lists(
            &input.target_branches,
            &input.labels_required,
            &input.labels_excluded,
            input.ignore_drafts.is_some(),
        )
    };
    let id = domain::RepositoryId(input.id);
    Ok(services.set_preview_rules(&caller, id, rules).await?)
}

/// The reporting form of one repository (each checkbox sends `on` when ticked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportingInput {
    pub id: i64,
    #[serde(default)]
    pub checks: Option<String>,
    #[serde(default)]
    pub deployments: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub notifications: Option<String>,
}

#[server(prefix = "/rpc", endpoint = "set_reporting")]
pub async fn set_reporting(input: ReportingInput) -> Result<Repository, AppError> {
    let (services, caller) = crate::context::request()?;
    let reporting = domain::repository::ReportingConfig {
        checks: input.checks.is_some(),
        deployments: input.deployments.is_some(),
        comment: input.comment.is_some(),
        notifications: input.notifications.is_some(),
    };
    let id = domain::RepositoryId(input.id);
    Ok(services.set_reporting(&caller, id, reporting).await?)
}

#[server(prefix = "/rpc", endpoint = "remove_repository")]
pub async fn remove_repository(id: i64) -> Result<(), AppError> {
    let (services, caller) = crate::context::request()?;
    Ok(services
        .remove_repository(&caller, domain::RepositoryId(id))
        .await?)
}

/// The add-secret form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInput {
    pub repository_id: i64,
    pub name: String,
    pub value: String,
}

#[server(prefix = "/rpc", endpoint = "list_secrets", input = GetUrl)]
pub async fn list_secrets(
    repository_id: i64,
) -> Result<Vec<domain::secrets::SecretInfo>, AppError> {
    let (services, caller) = crate::context::request()?;
    let id = domain::RepositoryId(repository_id);
    Ok(services.list_secrets(&caller, id).await?)
}

#[server(prefix = "/rpc", endpoint = "set_secret")]
pub async fn set_secret(input: SecretInput) -> Result<domain::secrets::SecretInfo, AppError> {
    let (services, caller) = crate::context::request()?;
    let input = services::secrets::SetSecret {
        repository: domain::RepositoryId(input.repository_id),
        name: input.name,
        value: input.value,
    };
    Ok(services.set_secret(&caller, input).await?)
}

#[server(prefix = "/rpc", endpoint = "remove_secret")]
pub async fn remove_secret(repository_id: i64, name: String) -> Result<(), AppError> {
    let (services, caller) = crate::context::request()?;
    let id = domain::RepositoryId(repository_id);
    Ok(services.remove_secret(&caller, id, &name).await?)
}
