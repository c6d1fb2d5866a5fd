//! The deliveries as JSON: `GET /api/deliveries` (newest first, filtered, paged with
//! `before`), `GET /api/deliveries/{id}` (with the payload, secrets masked) and
//! `POST /api/deliveries/{id}/redeliver` ("process again"), `{id}` being GitHub's delivery id.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use domain::{BusEvent, DeliveryFilter, DeliveryStatus, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::answer::{Answer, parse_choice, store_failure};
use crate::webhooks::worker::WORKER;

const DEFAULT_PAGE: u32 = 50;

fn failure(error: &StoreError) -> Answer {
    store_failure(error, "deliveries")
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    event: Option<String>,
    status: Option<String>,
    repository: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

pub async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>) -> Answer {
    let known: Vec<&str> = DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect();
    let status = match parse_choice(
        "status",
        query.status.as_deref(),
        DeliveryStatus::parse,
        &known,
    ) {
        Ok(status) => status,
        Err(answer) => return answer,
    };
    let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
    let filter = DeliveryFilter {
        event: non_empty(query.event),
        status,
        repository: non_empty(query.repository),
        before: query.before,
        limit: query.limit.unwrap_or(DEFAULT_PAGE),
    };
    match state.services.store.list_deliveries(&filter).await {
        Ok(items) => {
            let full_page = items.len() >= filter.limit.clamp(1, 200) as usize;
            let next_before = items.last().filter(|_| full_page).map(|d| d.seq);
            (
                StatusCode::OK,
                Json(json!({ "items": items, "next_before": next_before })),
            )
        }
        Err(error) => failure(&error),
    }
}

pub async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    match state.services.store.get_delivery(&id).await {
        Ok((delivery, payload)) => {
            let payload = match serde_json::from_str::<Value>(&payload) {
                Ok(mut value) => {
                    domain::delivery::mask_secrets(&mut value);
                    value
                }
                // Unreadable payloads are shown as text, as received.
                Err(_) => Value::String(payload),
            };
            (
                StatusCode::OK,
                Json(json!({ "delivery": delivery, "payload": payload })),
            )
        }
        Err(error) => failure(&error),
    }
}

pub async fn redeliver(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    if let Err(error) = state.services.store.requeue_delivery(&id).await {
        return failure(&error);
    }
    let wake = BusEvent::Wake {
        worker: WORKER.to_owned(),
    };
    if let Err(error) = state.services.bus.publish(&wake).await {
        tracing::warn!(error = %app::error::error_chain(&error), "could not wake the delivery worker");
    }
    tracing::info!(delivery.id = %id, "delivery queued again");
    (StatusCode::ACCEPTED, Json(json!({ "status": "queued" })))
}
