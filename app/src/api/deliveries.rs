//! Deliveries for the dashboard: a filtered page of them, one with its payload (secrets
//! masked), and "process again".

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
    use domain::{DeliveryFilter, DeliveryStatus};
    let status = match query.status.trim() {
        "" => None,
        text => Some(DeliveryStatus::parse(text).ok_or_else(|| {
            AppError::new(
                crate::error::ErrorKind::InvalidInput,
                format!("status `{text}` is not a delivery status"),
            )
        })?),
    };
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let filter = DeliveryFilter {
        event: text(&query.event),
        status,
        repository: text(&query.repository),
        before: query.before,
        limit: PAGE,
    };
    let services = crate::services::services()?;
    Ok(services.store.list_deliveries(&filter).await?)
}

#[server(prefix = "/rpc", endpoint = "get_delivery", input = GetUrl)]
pub async fn get_delivery(id: String) -> Result<DeliveryDetail, AppError> {
    let services = crate::services::services()?;
    let (delivery, payload) = services.store.get_delivery(&id).await?;
    let payload = match serde_json::from_str::<serde_json::Value>(&payload) {
        Ok(mut value) => {
            domain::delivery::mask_secrets(&mut value);
            serde_json::to_string_pretty(&value).unwrap_or(payload)
        }
        Err(_) => payload,
    };
    Ok(DeliveryDetail { delivery, payload })
}

#[server(prefix = "/rpc", endpoint = "redeliver_delivery")]
pub async fn redeliver_delivery(id: String) -> Result<(), AppError> {
    let services = crate::services::services()?;
    services.store.requeue_delivery(&id).await?;
    tracing::info!(delivery.id = %id, "delivery queued again from the dashboard");
    let wake = domain::BusEvent::Wake {
        worker: domain::delivery::DELIVERY_WORKER.to_owned(),
    };
    if let Err(error) = services.bus.publish(&wake).await {
        // The worker also polls the Store: processing is late, not lost.
        tracing::warn!(error = %crate::error::error_chain(&error), "could not wake the delivery worker");
    }
    Ok(())
}
