//! Preview environments for the dashboard: a filtered page of them, one with its attempts,
//! usage and events, retrying and deleting one, and the operator's usage report — each one
//! call into the application layer (`services`), as the JSON API makes.

use domain::preview::model::{PreviewDetail, UsageReport};
use domain::preview::{Preview, PreviewAttempt};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Rows per page on the Previews page.
pub const PAGE: u32 = 50;

/// The Previews page's filters, as in its URL (blank: any).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewQuery {
    #[serde(default)]
    pub status: String,
    /// `owner/name`.
    #[serde(default)]
    pub repository: String,
    #[serde(default)]
    pub search: String,
    #[serde(default)]
    pub offset: u32,
}

/// One page of previews and how many match in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewList {
    pub items: Vec<Preview>,
    pub total: u64,
    /// The server's clock, for ages.
    pub now_ms: i64,
}

#[server(prefix = "/rpc", endpoint = "list_previews", input = GetUrl)]
pub async fn list_previews(query: PreviewQuery) -> Result<PreviewList, AppError> {
    let (services, caller) = crate::context::request()?;
    let input = services::previews::ListPreviews {
        status: Some(query.status),
        repository: Some(query.repository),
        search: Some(query.search),
        include_deleted: false,
        limit: Some(PAGE),
        offset: Some(query.offset),
    };
    let page = services.list_previews(&caller, input).await?;
    Ok(PreviewList {
        items: page.items,
        total: page.total,
        now_ms: page.now_ms,
    })
}

/// `key`: the preview's id or namespace.
#[server(prefix = "/rpc", endpoint = "get_preview", input = GetUrl)]
pub async fn get_preview(key: String) -> Result<PreviewDetail, AppError> {
    let (services, caller) = crate::context::request()?;
    Ok(services.get_preview(&caller, &key).await?)
}

#[server(prefix = "/rpc", endpoint = "retry_preview")]
pub async fn retry_preview(key: String) -> Result<PreviewAttempt, AppError> {
    let (services, caller) = crate::context::request()?;
    Ok(services.retry_preview(&caller, &key).await?)
}

#[server(prefix = "/rpc", endpoint = "delete_preview")]
pub async fn delete_preview(key: String) -> Result<Preview, AppError> {
    let (services, caller) = crate::context::request()?;
    Ok(services.delete_preview(&caller, &key).await?)
}

#[server(prefix = "/rpc", endpoint = "get_usage_report", input = GetUrl)]
pub async fn get_usage_report() -> Result<UsageReport, AppError> {
    let (services, caller) = crate::context::request()?;
    Ok(services.usage_report(&caller).await?)
}
