//! A repository's notification subscriptions as JSON, as GitHub's webhook pages offer them:
//! `GET|POST /api/projects/{id}/notifications` (list, add), `DELETE …/{subscription}`,
//! `GET …/{subscription}/deliveries` (newest first), and a delivery with its attempts and its
//! redelivery under `/api/projects/{id}/notification-deliveries/{delivery}`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::RepositoryId;
use domain::notification::{NotificationDelivery, Subscription};
use services::notifications::{DeliveryDetail, Subscribe};

use super::AppState;
use super::answer::{ApiResult, ErrorBody, Items};
use super::caller::Calling;
use super::extract::{ApiJson, ApiPath};

#[utoipa::path(
    get,
    path = "/api/projects/{id}/notifications",
    operation_id = "list_subscriptions",
    tag = "notifications",
    summary = "A repository's notification subscriptions (secrets never shown)",
    params(("id" = i64, Path, description = "the repository's id")),
    responses(
        (status = 200, description = "The subscriptions", body = Items<Subscription>),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(project): ApiPath<i64>,
) -> ApiResult<Json<Items<Subscription>>> {
    let id = RepositoryId(project);
    Ok(Items::json(
        state.services.list_subscriptions(&caller, id).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/projects/{id}/notifications",
    operation_id = "subscribe",
    tag = "notifications",
    summary = "Add a subscription: deliveries of the chosen events, signed with its secret",
    params(("id" = i64, Path, description = "the repository's id")),
    request_body = Subscribe,
    responses(
        (status = 201, description = "The subscription", body = Subscription),
        (status = 400, description = "Invalid input; `field` names it", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn subscribe(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(project): ApiPath<i64>,
    ApiJson(body): ApiJson<Subscribe>,
) -> ApiResult<(StatusCode, Json<Subscription>)> {
    let id = RepositoryId(project);
    let subscription = state.services.subscribe(&caller, id, body).await?;
    Ok((StatusCode::CREATED, Json(subscription)))
}

#[utoipa::path(
    delete,
    path = "/api/projects/{id}/notifications/{subscription}",
    operation_id = "unsubscribe",
    tag = "notifications",
    summary = "Remove a subscription and its deliveries",
    params(("id" = i64, Path, description = "the repository's id"), ("subscription" = i64, Path, description = "the subscription's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn unsubscribe(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((project, subscription)): ApiPath<(i64, i64)>,
) -> ApiResult<StatusCode> {
    let id = RepositoryId(project);
    state
        .services
        .unsubscribe(&caller, id, subscription)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/projects/{id}/notifications/{subscription}/deliveries",
    operation_id = "list_notification_deliveries",
    tag = "notifications",
    summary = "A subscription's latest deliveries, newest first (at most 100)",
    params(("id" = i64, Path, description = "the repository's id"), ("subscription" = i64, Path, description = "the subscription's id")),
    responses(
        (status = 200, description = "The deliveries", body = Items<NotificationDelivery>),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn deliveries(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((project, subscription)): ApiPath<(i64, i64)>,
) -> ApiResult<Json<Items<NotificationDelivery>>> {
    let id = RepositoryId(project);
    Ok(Items::json(
        state
            .services
            .list_notification_deliveries(&caller, id, subscription)
            .await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/projects/{id}/notification-deliveries/{delivery}",
    operation_id = "get_notification_delivery",
    tag = "notifications",
    summary = "A delivery: its body and every attempt with the receiver's answer",
    params(("id" = i64, Path, description = "the repository's id"), ("delivery" = String, Path, description = "the delivery's id (X-Slipway-Delivery)")),
    responses(
        (status = 200, description = "The delivery", body = DeliveryDetail),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn delivery(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((project, delivery)): ApiPath<(i64, String)>,
) -> ApiResult<Json<DeliveryDetail>> {
    let id = RepositoryId(project);
    Ok(Json(
        state
            .services
            .notification_delivery(&caller, id, &delivery)
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/projects/{id}/notification-deliveries/{delivery}/redeliver",
    operation_id = "redeliver_notification",
    tag = "notifications",
    summary = "Send a delivery again, now, as a new delivery of the same body",
    params(("id" = i64, Path, description = "the repository's id"), ("delivery" = String, Path, description = "the delivery's id")),
    responses(
        (status = 202, description = "The new delivery, pending", body = NotificationDelivery),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn redeliver(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((project, delivery)): ApiPath<(i64, String)>,
) -> ApiResult<(StatusCode, Json<NotificationDelivery>)> {
    let id = RepositoryId(project);
    let again = state
        .services
        .redeliver_notification(&caller, id, &delivery)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(again)))
}
