//! Repositories: list, add (by clone URL, no GitHub needed) and remove.

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
