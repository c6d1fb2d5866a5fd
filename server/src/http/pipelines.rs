//! Repositories ("projects") and their pipeline runs as JSON:
//! `GET|POST /api/projects`, `GET|POST /api/projects/{id}/pipelines` (list, trigger with
//! `git_ref`), `GET /api/pipelines` (all repositories), `GET /api/pipelines/{id}` (with steps),
//! `POST /api/pipelines/{id}/cancel`, `POST /api/pipelines/{id}/retry`,
//! `GET /api/projects/{id}/images/{sha}` (the image a run published for a commit), and the same
//! run routes within a project (`/api/projects/{id}/pipelines/{pipeline_id}/…`, as the
//! build-engine design names them: a run of another project is not found).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::pipeline::{PipelineRun, PublishedImage};
use domain::{Repository, RepositoryId};
use serde::Deserialize;
use services::pipelines::{
    ListPipelines, PipelinePage, PipelineRef, RetryPipeline, TriggerPipeline,
};
use services::repositories::AddRepository;

use super::AppState;
use super::answer::{ApiResult, ErrorBody, Items};
use super::caller::Calling;
use super::extract::{ApiJson, ApiPath, ApiQuery};

#[utoipa::path(
    get,
    path = "/api/projects",
    operation_id = "list_projects",
    tag = "projects",
    summary = "List repositories",
    responses(
        (status = 200, description = "Every repository", body = Items<Repository>),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn list_projects(
    State(state): State<AppState>,
    Calling(caller): Calling,
) -> ApiResult<Json<Items<Repository>>> {
    Ok(Items::json(
        state.services.list_repositories(&caller).await?,
    ))
}

/// Adds a repository by clone URL (any git remote, a local path included).
#[utoipa::path(
    post,
    path = "/api/projects",
    operation_id = "add_project",
    tag = "projects",
    summary = "Add a repository by any git URL or local path",
    request_body = AddRepository,
    responses(
        (status = 201, description = "The repository", body = Repository),
        (status = 400, description = "Invalid input; `field` names it", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn add_project(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiJson(body): ApiJson<AddRepository>,
) -> ApiResult<(StatusCode, Json<Repository>)> {
    let repository = state.services.add_repository(&caller, body).await?;
    Ok((StatusCode::CREATED, Json(repository)))
}

/// The body of a trigger: what to run.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Trigger {
    /// A branch, tag or commit.
    #[schema(value_type = String, required = true, pattern = "^[^-\\s\\x00-\\x1f\\x7f][^\\s\\x00-\\x1f\\x7f]*$")]
    git_ref: Option<String>,
}

/// Starts a run of the project's pipeline at `git_ref` (a branch, tag or commit).
#[utoipa::path(
    post,
    path = "/api/projects/{id}/pipelines",
    operation_id = "trigger_pipeline",
    tag = "pipelines",
    summary = "Start a run at a branch, tag or commit",
    params(("id" = i64, Path, description = "the repository's id")),
    request_body = Trigger,
    responses(
        (status = 201, description = "The run", body = PipelineRun),
        (status = 400, description = "Invalid input; `field` names it", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn trigger(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(project): ApiPath<i64>,
    ApiJson(body): ApiJson<Trigger>,
) -> ApiResult<(StatusCode, Json<PipelineRun>)> {
    let input = TriggerPipeline {
        repository: RepositoryId(project),
        git_ref: body.git_ref.unwrap_or_default(),
    };
    let run = state.services.trigger_pipeline(&caller, input).await?;
    Ok((StatusCode::CREATED, Json(run)))
}

#[utoipa::path(
    get,
    path = "/api/projects/{id}/pipelines",
    operation_id = "list_project_pipelines",
    tag = "pipelines",
    summary = "List a repository's runs, newest first",
    params(("id" = i64, Path, description = "the repository's id"), ListPipelines),
    responses(
        (status = 200, description = "A page of runs", body = PipelinePage),
        (status = 400, description = "Invalid input; `field` names it", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn list_for_project(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(project): ApiPath<i64>,
    ApiQuery(query): ApiQuery<ListPipelines>,
) -> ApiResult<Json<PipelinePage>> {
    let project = RepositoryId(project);
    let page = state
        .services
        .list_project_pipelines(&caller, project, query);
    Ok(Json(page.await?))
}

#[utoipa::path(
    get,
    path = "/api/pipelines",
    operation_id = "list_pipelines",
    tag = "pipelines",
    summary = "List runs of every repository, newest first",
    params(ListPipelines),
    responses(
        (status = 200, description = "A page of runs", body = PipelinePage),
        (status = 400, description = "Invalid input; `field` names it", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiQuery(query): ApiQuery<ListPipelines>,
) -> ApiResult<Json<PipelinePage>> {
    Ok(Json(state.services.list_pipelines(&caller, query).await?))
}

/// The image a pipeline published for the repository's commit `sha` (what its preview deploys).
#[utoipa::path(
    get,
    path = "/api/projects/{id}/images/{sha}",
    operation_id = "get_published_image",
    tag = "pipelines",
    summary = "The image a run published for a commit",
    params(("id" = i64, Path, description = "the repository's id"), ("sha" = String, Path, description = "the commit")),
    responses(
        (status = 200, description = "The image", body = PublishedImage),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn published_image(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((project, sha)): ApiPath<(i64, String)>,
) -> ApiResult<Json<PublishedImage>> {
    let repository = RepositoryId(project);
    let image = state
        .services
        .published_image(&caller, repository, &sha)
        .await?;
    Ok(Json(image))
}

#[utoipa::path(
    get,
    path = "/api/pipelines/{id}",
    operation_id = "get_pipeline",
    tag = "pipelines",
    summary = "A run with its steps",
    params(("id" = i64, Path, description = "the run's id")),
    responses(
        (status = 200, description = "The run", body = PipelineRun),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<PipelineRun>> {
    show_run(state, caller, PipelineRef::id(id)).await
}

#[utoipa::path(
    get,
    path = "/api/projects/{id}/pipelines/{pipeline_id}",
    operation_id = "get_project_pipeline",
    tag = "pipelines",
    summary = "A run of the repository, with its steps",
    params(("id" = i64, Path, description = "the repository's id"), ("pipeline_id" = i64, Path, description = "the run's id")),
    responses(
        (status = 200, description = "The run", body = PipelineRun),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn show_in_project(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((project, id)): ApiPath<(i64, i64)>,
) -> ApiResult<Json<PipelineRun>> {
    show_run(state, caller, PipelineRef::in_project(project, id)).await
}

async fn show_run(
    state: AppState,
    caller: services::Caller,
    run: PipelineRef,
) -> ApiResult<Json<PipelineRun>> {
    Ok(Json(state.services.get_pipeline(&caller, run).await?))
}

/// Stops a run: a pending run ends at once, a running one within seconds.
#[utoipa::path(
    post,
    path = "/api/pipelines/{id}/cancel",
    operation_id = "cancel_pipeline",
    tag = "pipelines",
    summary = "Stop a run",
    params(("id" = i64, Path, description = "the run's id")),
    responses(
        (status = 202, description = "The run, stopping", body = PipelineRun),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Not in a state that allows it", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<(StatusCode, Json<PipelineRun>)> {
    cancel_run(state, caller, PipelineRef::id(id)).await
}

#[utoipa::path(
    post,
    path = "/api/projects/{id}/pipelines/{pipeline_id}/cancel",
    operation_id = "cancel_project_pipeline",
    tag = "pipelines",
    summary = "Stop a run of the repository",
    params(("id" = i64, Path, description = "the repository's id"), ("pipeline_id" = i64, Path, description = "the run's id")),
    responses(
        (status = 202, description = "The run, stopping", body = PipelineRun),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Not in a state that allows it", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn cancel_in_project(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((project, id)): ApiPath<(i64, i64)>,
) -> ApiResult<(StatusCode, Json<PipelineRun>)> {
    cancel_run(state, caller, PipelineRef::in_project(project, id)).await
}

async fn cancel_run(
    state: AppState,
    caller: services::Caller,
    run: PipelineRef,
) -> ApiResult<(StatusCode, Json<PipelineRun>)> {
    let run = state.services.cancel_pipeline(&caller, run).await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RetryQuery {
    /// Run only the steps that did not succeed.
    #[serde(default)]
    failed_only: bool,
}

/// Runs a finished pipeline again at the same commit (`?failed_only=true`: only what failed).
#[utoipa::path(
    post,
    path = "/api/pipelines/{id}/retry",
    operation_id = "retry_pipeline",
    tag = "pipelines",
    summary = "Run a finished pipeline again at the same commit",
    params(("id" = i64, Path, description = "the run's id"), RetryQuery),
    responses(
        (status = 201, description = "The new run", body = PipelineRun),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Not in a state that allows it", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn retry(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<RetryQuery>,
) -> ApiResult<(StatusCode, Json<PipelineRun>)> {
    let input = RetryPipeline {
        run: PipelineRef::id(id),
        failed_only: query.failed_only,
    };
    let run = state.services.retry_pipeline(&caller, input).await?;
    Ok((StatusCode::CREATED, Json(run)))
}
