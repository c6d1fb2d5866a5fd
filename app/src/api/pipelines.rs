//! Pipeline runs for the dashboard: a filtered page of them, one with its steps and artifacts,
//! and starting, cancelling and retrying runs — each one call into the application layer
//! (`services`), as the JSON API makes.

use domain::pipeline::PipelineRun;
use domain::pipeline::artifact::ArtifactLink;
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
    let (services, caller) = crate::context::request()?;
    let input = services::pipelines::ListPipelines {
        repository: Some(query.repository),
        status: Some(query.status),
        before: query.before,
        limit: Some(PAGE),
        ..Default::default()
    };
    Ok(services.list_pipelines(&caller, input).await?.items)
}

#[server(prefix = "/rpc", endpoint = "get_pipeline", input = GetUrl)]
pub async fn get_pipeline(id: i64) -> Result<PipelineRun, AppError> {
    use services::pipelines::PipelineRef;
    let (services, caller) = crate::context::request()?;
    Ok(services.get_pipeline(&caller, PipelineRef::id(id)).await?)
}

#[server(prefix = "/rpc", endpoint = "list_artifacts", input = GetUrl)]
pub async fn list_artifacts(id: i64) -> Result<Vec<ArtifactLink>, AppError> {
    use services::pipelines::PipelineRef;
    let (services, caller) = crate::context::request()?;
    Ok(services
        .list_artifacts(&caller, PipelineRef::id(id))
        .await?)
}

#[server(prefix = "/rpc", endpoint = "trigger_pipeline")]
pub async fn trigger_pipeline(input: TriggerInput) -> Result<PipelineRun, AppError> {
    let (services, caller) = crate::context::request()?;
    let input = services::pipelines::TriggerPipeline {
        repository: domain::RepositoryId(input.repository_id),
        git_ref: input.git_ref,
    };
    Ok(services.trigger_pipeline(&caller, input).await?)
}

#[server(prefix = "/rpc", endpoint = "cancel_pipeline")]
pub async fn cancel_pipeline(id: i64) -> Result<PipelineRun, AppError> {
    use services::pipelines::PipelineRef;
    let (services, caller) = crate::context::request()?;
    Ok(services
        .cancel_pipeline(&caller, PipelineRef::id(id))
        .await?)
}

/// `failed_only`: a checkbox ("on") or absent.
#[server(prefix = "/rpc", endpoint = "retry_pipeline")]
pub async fn retry_pipeline(id: i64, failed_only: Option<String>) -> Result<PipelineRun, AppError> {
    use services::pipelines::{PipelineRef, RetryPipeline};
    let (services, caller) = crate::context::request()?;
    let input = RetryPipeline {
        run: PipelineRef::id(id),
        failed_only: failed_only.is_some(),
    };
    Ok(services.retry_pipeline(&caller, input).await?)
}
