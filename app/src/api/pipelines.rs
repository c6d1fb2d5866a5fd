//! Pipeline runs for the dashboard: a filtered page of them, one with its steps, and starting,
//! cancelling and retrying runs (the same actions as the JSON API).

use domain::pipeline::PipelineRun;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Rows per page on the Pipelines page.
pub const PAGE: u32 = 50;

/// The Pipelines page's filters, as in its URL (blank: any).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineQuery {
    /// A repository id.
    #[serde(default)]
    pub repository: String,
    #[serde(default)]
    pub status: String,
    /// Runs older than this id (the next page).
    #[serde(default)]
    pub before: Option<i64>,
}

/// The "Run pipeline" form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerInput {
    pub repository_id: i64,
    pub git_ref: String,
}

#[server(prefix = "/rpc", endpoint = "list_pipelines", input = GetUrl)]
pub async fn list_pipelines(query: PipelineQuery) -> Result<Vec<PipelineRun>, AppError> {
    use crate::error::ErrorKind;
    use domain::RepositoryId;
    use domain::pipeline::{PipelineFilter, PipelineId, PipelineStatus};
    let status = match query.status.trim() {
        "" => None,
        text => Some(PipelineStatus::parse(text).ok_or_else(|| {
            AppError::new(
                ErrorKind::InvalidInput,
                format!("status `{text}` is not a pipeline status"),
            )
        })?),
    };
    let repository_id = match query.repository.trim() {
        "" => None,
        text => Some(RepositoryId(text.parse().map_err(|_| {
            AppError::new(
                ErrorKind::InvalidInput,
                format!("repository `{text}` is not a repository id"),
            )
        })?)),
    };
    let filter = PipelineFilter {
        repository_id,
        status,
        git_ref: None,
        trigger: None,
        before: query.before.map(PipelineId),
        limit: PAGE,
    };
    let services = crate::services::services()?;
    Ok(services.store.list_pipelines(&filter).await?)
}

#[server(prefix = "/rpc", endpoint = "get_pipeline", input = GetUrl)]
pub async fn get_pipeline(id: i64) -> Result<PipelineRun, AppError> {
    let services = crate::services::services()?;
    Ok(services
        .store
        .get_pipeline(domain::pipeline::PipelineId(id))
        .await?)
}

/// One artifact file with a short-lived download link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactLink {
    pub artifact: String,
    pub path: String,
    pub size: i64,
    pub sha256: String,
    pub expires_at_ms: i64,
    pub download_url: Option<String>,
}

#[server(prefix = "/rpc", endpoint = "list_artifacts", input = GetUrl)]
pub async fn list_artifacts(id: i64) -> Result<Vec<ArtifactLink>, AppError> {
    let services = crate::services::services()?;
    let files = services
        .store
        .list_artifact_files(domain::pipeline::PipelineId(id))
        .await?;
    let mut links = Vec::new();
    for file in files {
        let download_url = match domain::ObjectKey::new(&file.object_key) {
            Ok(key) => services
                .objects
                .download_url(&key, std::time::Duration::from_secs(15 * 60))
                .await
                .ok(),
            Err(_) => None,
        };
        links.push(ArtifactLink {
            artifact: file.artifact,
            path: file.path,
            size: file.size,
            sha256: file.sha256,
            expires_at_ms: file.expires_at_ms,
            download_url,
        });
    }
    Ok(links)
}

#[server(prefix = "/rpc", endpoint = "trigger_pipeline")]
pub async fn trigger_pipeline(input: TriggerInput) -> Result<PipelineRun, AppError> {
    let services = crate::services::services()?;
    services
        .trigger_pipeline(domain::RepositoryId(input.repository_id), &input.git_ref)
        .await
}

#[server(prefix = "/rpc", endpoint = "cancel_pipeline")]
pub async fn cancel_pipeline(id: i64) -> Result<PipelineRun, AppError> {
    let services = crate::services::services()?;
    services
        .cancel_pipeline(domain::pipeline::PipelineId(id))
        .await
}

/// `failed_only`: a checkbox ("on") or absent.
#[server(prefix = "/rpc", endpoint = "retry_pipeline")]
pub async fn retry_pipeline(id: i64, failed_only: Option<String>) -> Result<PipelineRun, AppError> {
    let services = crate::services::services()?;
    services
        .retry_pipeline(domain::pipeline::PipelineId(id), failed_only.is_some())
        .await
}
