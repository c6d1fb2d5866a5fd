//! Repositories: list, add (by clone URL, no GitHub needed), set preview rules and remove.

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
    let services = crate::services::services()?;
    Ok(services.store.list_repositories().await?)
}

#[server(prefix = "/rpc", endpoint = "add_repository")]
pub async fn add_repository(input: AddRepositoryInput) -> Result<Repository, AppError> {
    use domain::{EntityKind, NewRepository};
    let new = NewRepository::new(&input.name, &input.clone_url, &input.default_branch)?
        .on_cluster(&input.cluster);
    let services = crate::services::services()?;
    if let Some(name) = new.cluster() {
        services.cluster_named(name)?;
    }
    let repository = services.store.add_repository(&new).await?;
    tracing::info!(repository.id = %repository.id, repository.name = %repository.name, "repository added");
    announce(
        &services,
        EntityKind::Repository,
        repository.id.to_string(),
        "added",
    )
    .await;
    Ok(repository)
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
    use crate::error::ErrorKind;
    let rules = domain::repository::PreviewRulesConfig {
        trust_forks: input.trust_forks.is_some(),
        ..domain::repository::PreviewRulesConfig::from_lists(
            &input.target_branches,
            &input.labels_required,
            &input.labels_excluded,
            input.ignore_drafts.is_some(),
        )
    };
    for branch in &rules.target_branches {
        globset::Glob::new(branch).map_err(|e| {
            AppError::new(
                ErrorKind::InvalidInput,
                format!("target branch `{branch}` is not a valid glob: {e}"),
            )
        })?;
    }
    let services = crate::services::services()?;
    let repository = services
        .store
        .set_preview_rules(domain::RepositoryId(input.id), &rules)
        .await?;
    tracing::info!(repository.id = input.id, "preview rules changed");
    announce(
        &services,
        domain::EntityKind::Repository,
        input.id.to_string(),
        "changed",
    )
    .await;
    Ok(repository)
}

#[server(prefix = "/rpc", endpoint = "remove_repository")]
pub async fn remove_repository(id: i64) -> Result<(), AppError> {
    let services = crate::services::services()?;
    services
        .store
        .remove_repository(domain::RepositoryId(id))
        .await?;
    tracing::info!(repository.id = id, "repository removed");
    announce(
        &services,
        domain::EntityKind::Repository,
        id.to_string(),
        "removed",
    )
    .await;
    Ok(())
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
    let services = crate::services::services()?;
    Ok(services
        .store
        .list_secrets(domain::RepositoryId(repository_id))
        .await?)
}

#[server(prefix = "/rpc", endpoint = "set_secret")]
pub async fn set_secret(input: SecretInput) -> Result<domain::secrets::SecretInfo, AppError> {
    let services = crate::services::services()?;
    services
        .set_secret(
            domain::RepositoryId(input.repository_id),
            &input.name,
            &input.value,
        )
        .await
}

#[server(prefix = "/rpc", endpoint = "remove_secret")]
pub async fn remove_secret(repository_id: i64, name: String) -> Result<(), AppError> {
    let services = crate::services::services()?;
    services
        .remove_secret(domain::RepositoryId(repository_id), &name)
        .await
}

/// Tells other pages and replicas; the Store already holds the change, so a bus failure is only logged.
#[cfg(feature = "ssr")]
async fn announce(
    services: &crate::services::Services,
    entity: domain::EntityKind,
    id: String,
    status: &str,
) {
    let event = domain::BusEvent::Changed {
        entity,
        id,
        status: status.to_owned(),
    };
    if let Err(error) = services.bus.publish(&event).await {
        tracing::warn!(error = %crate::error::error_chain(&error), "could not publish a change on the bus");
    }
}
