//! Preview environments for the dashboard: a filtered page of them, one with its attempts,
//! usage and events, retrying and deleting one (the same actions as the JSON API), and the
//! operator's usage report.

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
    use crate::error::ErrorKind;
    use domain::preview::{PreviewFilter, PreviewStatus};
    let status = match query.status.trim() {
        "" => None,
        text => Some(PreviewStatus::parse(text).ok_or_else(|| {
            AppError::new(
                ErrorKind::InvalidInput,
                format!("status `{text}` is not a preview status"),
            )
        })?),
    };
    let filter = PreviewFilter {
        status,
        repository: Some(query.repository.trim().to_owned()).filter(|r| !r.is_empty()),
        search: Some(query.search.trim().to_owned()).filter(|s| !s.is_empty()),
        include_deleted: status == Some(PreviewStatus::Deleted),
        limit: PAGE,
        offset: query.offset,
    };
    let services = crate::services::services()?;
    let (items, total) = services.list_previews(&filter).await?;
    let now_ms = crate::pipeline_actions::now_ms();
    Ok(PreviewList {
        items,
        total,
        now_ms,
    })
}

/// `key`: the preview's id or namespace.
#[server(prefix = "/rpc", endpoint = "get_preview", input = GetUrl)]
pub async fn get_preview(key: String) -> Result<PreviewDetail, AppError> {
    crate::services::services()?.preview_detail(&key).await
}

#[server(prefix = "/rpc", endpoint = "retry_preview")]
pub async fn retry_preview(key: String) -> Result<PreviewAttempt, AppError> {
    crate::services::services()?.retry_preview(&key).await
}

#[server(prefix = "/rpc", endpoint = "delete_preview")]
pub async fn delete_preview(key: String) -> Result<Preview, AppError> {
    crate::services::services()?.delete_preview(&key).await
}

#[server(prefix = "/rpc", endpoint = "get_usage_report", input = GetUrl)]
pub async fn get_usage_report() -> Result<UsageReport, AppError> {
    crate::services::services()?.usage_report().await
}
