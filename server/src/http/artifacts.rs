//! Artifacts over HTTP: `GET /api/pipelines/{id}/artifacts` (and within a project) lists a run's
//! files with a short-lived download link each (presigned on S3, Slipway's own signed link on
//! the filesystem), `GET /api/projects/{id}/pipelines/{pipeline_id}/artifacts/{artifact_id}/download`
//! redirects to one file's link, and `PUT /api/artifacts/{pipeline}/{artifact}/{path}?expires=…&signature=…`
//! takes a file from a pod, with an upload link scoped to that pipeline and artifact.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::pipeline::artifact::ArtifactLink;
use domain::pipeline::{ArtifactSink, PipelineId};
use serde::Deserialize;
use serde_json::json;
use services::pipelines::PipelineRef;

use super::AppState;
use super::answer::{ApiError, ApiResult, Items};
use super::caller::Calling;
use crate::pipelines::artifacts::{ArtifactStorage, verify_upload};

/// Uploads larger than this are refused (413).
pub const MAX_UPLOAD: usize = 512 * 1024 * 1024;

pub async fn list(
    State(state): State<AppState>,
    Calling(caller): Calling,
    Path(id): Path<i64>,
) -> ApiResult<Json<Items<ArtifactLink>>> {
    list_links(state, caller, PipelineRef::id(id)).await
}

pub async fn list_in_project(
    State(state): State<AppState>,
    Calling(caller): Calling,
    Path((project, id)): Path<(i64, i64)>,
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
pub async fn download_in_project(
    State(state): State<AppState>,
    Calling(caller): Calling,
    Path((project, id, artifact)): Path<(i64, i64, i64)>,
) -> ApiResult<Redirect> {
    let run = PipelineRef::in_project(project, id);
    let url = state
        .services
        .artifact_download(&caller, run, artifact)
        .await?;
    Ok(Redirect::temporary(&url))
}

#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    expires: Option<u64>,
    signature: Option<String>,
}

pub async fn upload(
    State(state): State<AppState>,
    Path((pipeline, artifact, path)): Path<(i64, String, String)>,
    Query(query): Query<UploadQuery>,
    body: Bytes,
) -> Response {
    let refuse = |status: StatusCode, message: String| {
        (status, Json(json!({ "error": message }))).into_response()
    };
    let (Some(expires), Some(signature)) = (query.expires, query.signature) else {
        return refuse(
            StatusCode::FORBIDDEN,
            "an upload needs `expires` and `signature`".into(),
        );
    };
    let id = PipelineId(pipeline);
    if let Err(refused) = verify_upload(&state.signer, id, &artifact, expires, &signature) {
        return refuse(StatusCode::FORBIDDEN, format!("upload refused: {refused}"));
    }
    let definition = match state.services.store.pipeline_definition(id).await {
        Ok(Some(definition)) => definition,
        Ok(None) => {
            return refuse(
                StatusCode::CONFLICT,
                format!("pipeline {id} has no plan yet"),
            );
        }
        Err(error) => return ApiError(error.into()).into_response(),
    };
    let Some(wanted) = definition.artifacts.iter().find(|a| a.name == artifact) else {
        return refuse(
            StatusCode::NOT_FOUND,
            format!("pipeline {id} defines no artifact `{artifact}`"),
        );
    };
    let storage = ArtifactStorage {
        store: state.services.store.clone(),
        objects: state.services.objects.clone(),
        pipeline: id,
    };
    match storage.store(wanted, &path, body).await {
        Ok(()) => (
            StatusCode::CREATED,
            Json(json!({ "artifact": artifact, "path": path })),
        )
            .into_response(),
        Err(error) => {
            tracing::warn!(pipeline.id = %id, artifact = %artifact, error = %error, "artifact upload failed");
            refuse(StatusCode::BAD_REQUEST, error.message)
        }
    }
}
