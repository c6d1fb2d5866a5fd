//! Transform runs as JSON: `GET|POST /api/runs` (list; start one from a spec sent as YAML or
//! as `{"spec": "..."}`), `GET /api/runs/{id}`, `GET /api/runs/{id}/executions` (per
//! repository), an execution's `logs.txt`, `patch.diff` and `summary.json`, cancel, retry every
//! failed execution, retry one; and the queue's switch, `/api/transform-queue` (pause, resume).

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::transform::{ExecutionView, QueueState, TransformRun};
use services::transforms::{ListTransformRuns, StartTransform, TransformRunPage};

use super::AppState;
use super::answer::{ApiError, ApiResult, ErrorBody, Items};
use super::caller::Calling;
use super::extract::{ApiJson, ApiPath, ApiQuery, BodyRejection};

/// A spec, sent as YAML (`Content-Type: application/yaml` or `text/yaml`) or as JSON.
pub struct SpecBody(StartTransform);

impl<S: Send + Sync> FromRequest<S> for SpecBody {
    type Rejection = BodyRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, BodyRejection> {
        let yaml = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("yaml"));
        if !yaml {
            let ApiJson(body) = ApiJson::<StartTransform>::from_request(request, state).await?;
            return Ok(Self(body));
        }
        let text =
            String::from_request(request, state)
                .await
                .map_err(|rejection| match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => BodyRejection::TooLarge,
                    _ => ApiError(services::Error::invalid("spec", rejection.body_text())).into(),
                })?;
        Ok(Self(StartTransform { spec: text }))
    }
}

#[utoipa::path(
    get,
    path = "/api/runs",
    operation_id = "list_transform_runs",
    tag = "transforms",
    summary = "Transform runs with an execution you can see, newest first",
    params(ListTransformRuns),
    responses(
        (status = 200, description = "A page of runs", body = TransformRunPage),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiQuery(query): ApiQuery<ListTransformRuns>,
) -> ApiResult<Json<TransformRunPage>> {
    Ok(Json(
        state.services.list_transform_runs(&caller, query).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/runs",
    operation_id = "start_transform_run",
    tag = "transforms",
    summary = "Start a transform run: one execution per repository the spec selects; nothing is written to GitHub",
    request_body(content(
        (StartTransform = "application/json"),
        (String = "application/yaml")
    )),
    responses(
        (status = 201, description = "The run, queued", body = TransformRun),
        (status = 400, description = "The spec is invalid (each problem with its line and column) or selects nothing", body = ErrorBody),
        (status = 403, description = "You may not change one of the repositories", body = ErrorBody),
        (status = 409, description = "This Slipway cannot run it", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn start(
    State(state): State<AppState>,
    Calling(caller): Calling,
    SpecBody(body): SpecBody,
) -> ApiResult<(StatusCode, Json<TransformRun>)> {
    let run = state.services.start_transform(&caller, body).await?;
    Ok((StatusCode::CREATED, Json(run)))
}

#[utoipa::path(
    get,
    path = "/api/runs/{id}",
    operation_id = "get_transform_run",
    tag = "transforms",
    summary = "A transform run with its totals",
    params(("id" = i64, Path, description = "the run's id")),
    responses(
        (status = 200, description = "The run", body = TransformRun),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<TransformRun>> {
    Ok(Json(state.services.get_transform_run(&caller, id).await?))
}

#[utoipa::path(
    get,
    path = "/api/runs/{id}/executions",
    operation_id = "list_transform_executions",
    tag = "transforms",
    summary = "A run's executions, one per repository: status, exit code, diff summary, ready to publish, artifact links",
    params(("id" = i64, Path, description = "the run's id")),
    responses(
        (status = 200, description = "The executions", body = Items<ExecutionView>),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn executions(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Items<ExecutionView>>> {
    Ok(Items::json(
        state
            .services
            .list_transform_executions(&caller, id)
            .await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/runs/{id}/executions/{execution}/artifacts/{file}",
    operation_id = "get_transform_artifact",
    tag = "transforms",
    summary = "An execution's logs.txt, patch.diff (for `git apply`) or summary.json",
    params(
        ("id" = i64, Path, description = "the run's id"),
        ("execution" = i64, Path, description = "the execution's id"),
        ("file" = String, Path, description = "logs.txt, patch.diff or summary.json")
    ),
    responses(
        (status = 200, description = "The file", content(
            (String = "text/plain"),
            (String = "text/x-diff"),
            (String = "application/json")
        )),
        (status = 404, description = "Not found (or not made yet)", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn artifact(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((id, execution, file)): ApiPath<(i64, i64, String)>,
) -> ApiResult<Response> {
    let found = state
        .services
        .transform_artifact(&caller, id, execution, &file)
        .await?;
    let mut response = found.content.clone().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(found.content_type()),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

#[utoipa::path(
    post,
    path = "/api/runs/{id}/cancel",
    operation_id = "cancel_transform_run",
    tag = "transforms",
    summary = "Cancel a run: waiting executions end at once, running ones within seconds",
    params(("id" = i64, Path, description = "the run's id")),
    responses(
        (status = 200, description = "The run", body = TransformRun),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "The run already ended", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<TransformRun>> {
    Ok(Json(
        state.services.cancel_transform_run(&caller, id).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/runs/{id}/retry-failed",
    operation_id = "retry_failed_transform_executions",
    tag = "transforms",
    summary = "Run every failed, timed-out, dead-lettered or cancelled execution of a run again",
    params(("id" = i64, Path, description = "the run's id")),
    responses(
        (status = 200, description = "The executions queued again (none: nothing had failed)", body = Items<ExecutionView>),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn retry_failed(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Items<ExecutionView>>> {
    Ok(Items::json(
        state.services.retry_failed_transforms(&caller, id).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/runs/{id}/executions/{execution}/retry",
    operation_id = "retry_transform_execution",
    tag = "transforms",
    summary = "Run one ended execution again (also one from the dead letters)",
    params(
        ("id" = i64, Path, description = "the run's id"),
        ("execution" = i64, Path, description = "the execution's id")
    ),
    responses(
        (status = 200, description = "The execution, queued again", body = ExecutionView),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "It has not ended, or it succeeded", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn retry(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((id, execution)): ApiPath<(i64, i64)>,
) -> ApiResult<Json<ExecutionView>> {
    Ok(Json(
        state
            .services
            .retry_transform_execution(&caller, id, execution)
            .await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/transform-queue",
    operation_id = "get_transform_queue",
    tag = "transforms",
    summary = "Whether workers take new transform executions (and who paused them)",
    responses(
        (status = 200, description = "The queue's state", body = QueueState),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn queue(
    State(state): State<AppState>,
    Calling(caller): Calling,
) -> ApiResult<Json<QueueState>> {
    Ok(Json(state.services.transform_queue(&caller).await?))
}

#[utoipa::path(
    post,
    path = "/api/transform-queue/pause",
    operation_id = "pause_transform_queue",
    tag = "transforms",
    summary = "Stop workers taking new transform executions, on every replica (running ones go on); instance admins",
    responses(
        (status = 200, description = "The queue's state", body = QueueState),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn pause(
    State(state): State<AppState>,
    Calling(caller): Calling,
) -> ApiResult<Json<QueueState>> {
    Ok(Json(
        state
            .services
            .set_transform_queue_paused(&caller, true)
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/transform-queue/resume",
    operation_id = "resume_transform_queue",
    tag = "transforms",
    summary = "Let workers take new transform executions again; instance admins",
    responses(
        (status = 200, description = "The queue's state", body = QueueState),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn resume(
    State(state): State<AppState>,
    Calling(caller): Calling,
) -> ApiResult<Json<QueueState>> {
    Ok(Json(
        state
            .services
            .set_transform_queue_paused(&caller, false)
            .await?,
    ))
}
