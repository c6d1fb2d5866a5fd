//! Artifacts over HTTP: `GET /api/pipelines/{id}/artifacts` (and within a project) lists a run's
//! files with a short-lived download link each (presigned on S3, Slipway's own signed link on
//! the filesystem), `GET /api/projects/{id}/pipelines/{pipeline_id}/artifacts/{artifact_id}/download`
//! redirects to one file's link, and `PUT /api/artifacts/{pipeline}/{artifact}/{path}?expires=…&signature=…`
//! takes a file from a pod, with an upload link scoped to that pipeline and artifact.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::pipeline::PipelineId;
use domain::pipeline::artifact::ArtifactLink;
use serde::Deserialize;
use serde_json::json;
use services::pipelines::PipelineRef;

use super::AppState;
use super::answer::{ApiError, ApiResult, ErrorBody, Items, status_of};
use super::caller::Calling;
use super::extract::{ApiPath, ApiQuery};
use crate::pipelines::artifacts::{Upload, UploadRefused, accept_upload};

/// Uploads larger than this are refused (413).
pub const MAX_UPLOAD: usize = 512 * 1024 * 1024;

#[utoipa::path(
    get,
    path = "/api/pipelines/{id}/artifacts",
    operation_id = "list_artifacts",
    tag = "artifacts",
    summary = "A run's artifact files with download links",
    params(("id" = i64, Path, description = "the run's id")),
    responses(
        (status = 200, description = "The files", body = Items<ArtifactLink>),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Items<ArtifactLink>>> {
    list_links(state, caller, PipelineRef::id(id)).await
}

#[utoipa::path(
    get,
    path = "/api/projects/{id}/pipelines/{pipeline_id}/artifacts",
    operation_id = "list_project_artifacts",
    tag = "artifacts",
    summary = "A repository run's artifact files with download links",
    params(("id" = i64, Path, description = "the repository's id"), ("pipeline_id" = i64, Path, description = "the run's id")),
    responses(
        (status = 200, description = "The files", body = Items<ArtifactLink>),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn list_in_project(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((project, id)): ApiPath<(i64, i64)>,
) -> ApiResult<Json<Items<ArtifactLink>>> {
    list_links(state, caller, PipelineRef::in_project(project, id)).await
}

async fn list_links(
    state: AppState,
    caller: services::Caller,
    run: PipelineRef,
) -> ApiResult<Json<Items<ArtifactLink>>> {
    Ok(Items::json(
        state.services.list_artifacts(&caller, run).await?,
    ))
}

/// A redirect to the file's short-lived download link.
#[utoipa::path(
    get,
    path = "/api/projects/{id}/pipelines/{pipeline_id}/artifacts/{artifact_id}/download",
    operation_id = "download_project_artifact",
    tag = "artifacts",
    summary = "Redirect to one artifact file's download link",
    params(("id" = i64, Path, description = "the repository's id"), ("pipeline_id" = i64, Path, description = "the run's id"), ("artifact_id" = i64, Path, description = "the file's id")),
    responses(
        (status = 307, description = "To the signed link"),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn download_in_project(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((project, id, artifact)): ApiPath<(i64, i64, i64)>,
) -> ApiResult<Redirect> {
    let run = PipelineRef::in_project(project, id);
    let url = state
        .services
        .artifact_download(&caller, run, artifact)
        .await?;
    Ok(Redirect::temporary(&url))
}

/// The signed link's parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    pub expires: Option<u64>,
    pub signature: Option<String>,
}

#[utoipa::path(
    put,
    path = "/api/artifacts/{pipeline}/{artifact}/{path}",
    operation_id = "upload_artifact",
    tag = "artifacts",
    summary = "A pod's upload of an artifact file, through a link signed for that run and artifact",
    params(("pipeline" = i64, Path, description = "the run's id"), ("artifact" = String, Path, description = "the artifact's name"), ("path" = String, Path, description = "the file's path in the artifact"), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "Stored"),
        (status = 403, description = "The link is not valid for this", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Not in a state that allows it", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn upload(
    State(state): State<AppState>,
    ApiPath((pipeline, artifact, path)): ApiPath<(i64, String, String)>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    content: Bytes,
) -> Response {
    let upload = Upload {
        pipeline: PipelineId(pipeline),
        artifact,
        path,
        expires: query.expires,
        signature: query.signature,
        content,
    };
    let (artifact, path) = (upload.artifact.clone(), upload.path.clone());
    let services = &state.services;
    let (store, objects) = (services.store.clone(), services.objects.clone());
    match accept_upload(store, objects, &state.signer, upload).await {
        Ok(()) => {
            let stored = json!({ "artifact": artifact, "path": path });
            (StatusCode::CREATED, Json(stored)).into_response()
        }
        Err(UploadRefused::Store(error)) => ApiError(error.into()).into_response(),
        Err(refused) => {
            tracing::warn!(pipeline.id = pipeline, artifact = %artifact, error = %refused, "artifact upload refused");
            let body = json!({ "error": refused.to_string() });
            (status_of(refused.kind()), Json(body)).into_response()
        }
    }
}
