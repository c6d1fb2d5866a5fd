//! Deliveries for the dashboard: a filtered page of them, one with its payload (secrets
//! masked), and "process again" — each one call into the application layer (`services`).

use domain::Delivery;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Rows per page on the Deliveries page.
pub const PAGE: u32 = 50;

/// The Deliveries page's filters, as in its URL (blank: any).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryQuery {
    #[serde(default)]
    pub event: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub repository: String,
    /// Deliveries older than this `seq` (the next page).
    #[serde(default)]
    pub before: Option<i64>,
}

/// One delivery with its payload, pretty-printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryDetail {
    pub delivery: Delivery,
    pub payload: String,
}

#[server(prefix = "/rpc", endpoint = "list_deliveries", input = GetUrl)]
pub async fn list_deliveries(query: DeliveryQuery) -> Result<Vec<Delivery>, AppError> {
    let (services, caller) = crate::context::request()?;
    let input = services::deliveries::ListDeliveries {
        event: Some(query.event),
        status: Some(query.status),
        repository: Some(query.repository),
        before: query.before,
        limit: Some(PAGE),
    };
    Ok(services.list_deliveries(&caller, input).await?.items)
}

#[server(prefix = "/rpc", endpoint = "get_delivery", input = GetUrl)]
pub async fn get_delivery(id: String) -> Result<DeliveryDetail, AppError> {
    let (services, caller) = crate::context::request()?;
    let detail = services.get_delivery(&caller, &id).await?;
    let payload = match detail.payload {
        serde_json::Value::String(text) => text,
        json => serde_json::to_string_pretty(&json).unwrap_or_default(),
    };
    Ok(DeliveryDetail {
        delivery: detail.delivery,
        payload,
    })
}

#[server(prefix = "/rpc", endpoint = "redeliver_delivery")]
pub async fn redeliver_delivery(id: String) -> Result<(), AppError> {
    let (services, caller) = crate::context::request()?;
    services.redeliver(&caller, &id).await?;
    Ok(())
}
