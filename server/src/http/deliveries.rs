//! The deliveries as JSON: `GET /api/deliveries` (newest first, filtered, paged with
//! `before`), `GET /api/deliveries/{id}` (with the payload, secrets masked) and
//! `POST /api/deliveries/{id}/redeliver` ("process again"), `{id}` being GitHub's delivery id.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::Delivery;
use services::deliveries::{DeliveryDetail, DeliveryPage, ListDeliveries};

use super::AppState;
use super::answer::{ApiResult, ErrorBody};
use super::caller::Calling;
use super::extract::{ApiPath, ApiQuery};

#[utoipa::path(
    get,
    path = "/api/deliveries",
    operation_id = "list_deliveries",
    tag = "deliveries",
    summary = "List webhook deliveries, newest first",
    params(ListDeliveries),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryPage),
        (status = 400, description = "Invalid input; `field` names it", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiQuery(query): ApiQuery<ListDeliveries>,
) -> ApiResult<Json<DeliveryPage>> {
    Ok(Json(state.services.list_deliveries(&caller, query).await?))
}

#[utoipa::path(
    get,
    path = "/api/deliveries/{id}",
    operation_id = "get_delivery",
    tag = "deliveries",
    summary = "A delivery with its payload (secrets masked)",
    params(("id" = String, Path, description = "GitHub's delivery id")),
    responses(
        (status = 200, description = "The delivery", body = DeliveryDetail),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<DeliveryDetail>> {
    Ok(Json(state.services.get_delivery(&caller, &id).await?))
}

/// Queues the delivery again (`202` with the delivery, now `queued`).
#[utoipa::path(
    post,
    path = "/api/deliveries/{id}/redeliver",
    operation_id = "redeliver_delivery",
    tag = "deliveries",
    summary = "Process a delivery again",
    params(("id" = String, Path, description = "GitHub's delivery id")),
    responses(
        (status = 202, description = "The delivery, queued", body = Delivery),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "A worker is processing it", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn redeliver(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    let delivery = state.services.redeliver(&caller, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}
