//! The deliveries as JSON: `GET /api/deliveries` (newest first, filtered, paged with
//! `before`), `GET /api/deliveries/{id}` (with the payload, secrets masked) and
//! `POST /api/deliveries/{id}/redeliver` ("process again"), `{id}` being GitHub's delivery id.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use domain::Delivery;
use services::deliveries::{DeliveryDetail, DeliveryPage, ListDeliveries};

use super::AppState;
use super::answer::ApiResult;
use super::caller::Calling;

pub async fn list(
    State(state): State<AppState>,
    Calling(caller): Calling,
    Query(query): Query<ListDeliveries>,
) -> ApiResult<Json<DeliveryPage>> {
    Ok(Json(state.services.list_deliveries(&caller, query).await?))
}

pub async fn show(
    State(state): State<AppState>,
    Calling(caller): Calling,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryDetail>> {
    Ok(Json(state.services.get_delivery(&caller, &id).await?))
}

/// Queues the delivery again (`202` with the delivery, now `queued`).
pub async fn redeliver(
    State(state): State<AppState>,
    Calling(caller): Calling,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    let delivery = state.services.redeliver(&caller, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}
