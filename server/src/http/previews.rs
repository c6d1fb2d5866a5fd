//! Preview environments as JSON: `GET /api/previews` (filters `status`, `repository`,
//! `search`, `include_deleted`; paginated with `limit` and `offset`), `GET /api/previews/{id or
//! namespace}` (with attempts, usage and the cluster's events), `POST /api/previews/{id}/retry`,
//! `DELETE /api/previews/{id}`, `GET /api/operator/usage`, and
//! `GET /api/previews/{id}/logs` (`tail`, `timestamps`, `follow` as `text/event-stream`).

use std::convert::Infallible;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use domain::preview::model::{PreviewDetail, UsageReport};
use domain::preview::{Preview, PreviewAttempt};
use futures::StreamExt;
use serde_json::json;
use services::previews::{ListPreviews, PreviewLog, PreviewLogQuery, PreviewPage};

use super::AppState;
use super::answer::{ApiError, ApiResult, ErrorBody, StreamEvent};
use super::caller::Calling;
use super::extract::{ApiPath, ApiQuery};

#[utoipa::path(
    get,
    path = "/api/previews",
    operation_id = "list_previews",
    tag = "previews",
    summary = "List previews, most recently changed first",
    params(ListPreviews),
    responses(
        (status = 200, description = "A page of previews", body = PreviewPage),
        (status = 400, description = "Invalid input; `field` names it", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiQuery(query): ApiQuery<ListPreviews>,
) -> ApiResult<Json<PreviewPage>> {
    Ok(Json(state.services.list_previews(&caller, query).await?))
}

#[utoipa::path(
    get,
    path = "/api/previews/{key}",
    operation_id = "get_preview",
    tag = "previews",
    summary = "A preview with its attempts, usage, pods and events",
    params(("key" = String, Path, description = "the preview's id or namespace")),
    responses(
        (status = 200, description = "The preview", body = PreviewDetail),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Json<PreviewDetail>> {
    Ok(Json(state.services.get_preview(&caller, &key).await?))
}

#[utoipa::path(
    post,
    path = "/api/previews/{key}/retry",
    operation_id = "retry_preview",
    tag = "previews",
    summary = "Deploy the head commit again",
    params(("key" = String, Path, description = "the preview's id or namespace")),
    responses(
        (status = 202, description = "The new attempt", body = PreviewAttempt),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Not in a state that allows it", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn retry(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<PreviewAttempt>)> {
    let attempt = state.services.retry_preview(&caller, &key).await?;
    Ok((StatusCode::ACCEPTED, Json(attempt)))
}

#[utoipa::path(
    delete,
    path = "/api/previews/{key}",
    operation_id = "delete_preview",
    tag = "previews",
    summary = "Remove the preview now",
    params(("key" = String, Path, description = "the preview's id or namespace")),
    responses(
        (status = 202, description = "The preview, being removed", body = Preview),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Not in a state that allows it", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<Preview>)> {
    let preview = state.services.delete_preview(&caller, &key).await?;
    Ok((StatusCode::ACCEPTED, Json(preview)))
}

#[utoipa::path(
    get,
    path = "/api/operator/usage",
    operation_id = "get_usage_report",
    tag = "previews",
    summary = "Every live preview's CPU and memory against its quota",
    responses(
        (status = 200, description = "The usage report", body = UsageReport),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn usage(
    State(state): State<AppState>,
    Calling(caller): Calling,
) -> ApiResult<Json<UsageReport>> {
    Ok(Json(state.services.usage_report(&caller).await?))
}

/// The log of one of the preview's pods: text, or with `follow=true` an event stream of each
/// line (`data:`) ending with an `end` event when the container stops.
#[utoipa::path(
    get,
    path = "/api/previews/{key}/logs",
    operation_id = "get_preview_logs",
    tag = "previews",
    summary = "A preview pod's log: text, or followed as server-sent events",
    params(("key" = String, Path, description = "the preview's id or namespace"), PreviewLogQuery),
    responses(
        (status = 200, description = "The log", content((String = "text/plain"), (StreamEvent = "text/event-stream"))),
        (status = 400, description = "Invalid input; `field` names it", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn logs(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(key): ApiPath<String>,
    ApiQuery(query): ApiQuery<PreviewLogQuery>,
) -> Response {
    let follow = query.follow;
    match state.services.preview_log(&caller, &key, query).await {
        Ok(PreviewLog::Lines(lines)) if follow => event_stream(lines),
        Ok(PreviewLog::Lines(lines)) => text(lines).await,
        Ok(PreviewLog::Gone(message)) if follow => ended(&message),
        Ok(PreviewLog::Gone(message)) => {
            (StatusCode::NOT_FOUND, Json(json!({ "error": message }))).into_response()
        }
        Err(error) => ApiError(error).into_response(),
    }
}

type Lines = futures::stream::BoxStream<'static, Result<String, domain::ClusterError>>;

async fn text(lines: Lines) -> Response {
    let text: Vec<String> = lines.filter_map(|l| async { l.ok() }).collect().await;
    let mut body = text.join("\n");
    if !body.is_empty() {
        body.push('\n');
    }
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

fn event_stream(lines: Lines) -> Response {
    let events = lines
        .map(|line| match line {
            Ok(line) => format!("data: {line}\n\n"),
            Err(error) => format!("event: error\ndata: {error}\n\n"),
        })
        .chain(futures::stream::once(async {
            "event: end\ndata: {}\n\n".to_owned()
        }))
        .map(|chunk| Ok::<_, Infallible>(Bytes::from(chunk)));
    sse(Body::from_stream(events))
}

/// A followed log that cannot be read: the stream ends at once saying why (an event stream
/// answered with an error status would only make the browser retry).
fn ended(message: &str) -> Response {
    let data = json!({ "error": message });
    sse(Body::from(format!("event: end\ndata: {data}\n\n")))
}

fn sse(body: Body) -> Response {
    super::answer::event_stream(body)
}
