//! Artifacts over HTTP: `GET /api/pipelines/{id}/artifacts` lists a run's files with a
//! short-lived download link each (presigned on S3, Slipway's own signed link on the
//! filesystem), and `PUT /api/artifacts/{pipeline}/{artifact}/{path}?expires=…&signature=…`
//! takes a file from a pod, with an upload link scoped to that pipeline and artifact.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use domain::ObjectKey;
use domain::pipeline::{ArtifactSink, PipelineId};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::answer::{Answer, store_failure};
use crate::pipelines::artifacts::{ArtifactStorage, verify_upload};

/// Download links in a listing work this long.
const DOWNLOAD_TTL: Duration = Duration::from_secs(15 * 60);
/// Uploads larger than this are refused (413).
pub const MAX_UPLOAD: usize = 512 * 1024 * 1024;

pub async fn list(State(state): State<AppState>, Path(id): Path<i64>) -> Answer {
    let store = state.services.store.as_ref();
    if let Err(error) = store.get_pipeline(PipelineId(id)).await {
        return store_failure(&error, "artifacts");
    }
    let files = match store.list_artifact_files(PipelineId(id)).await {
        Ok(files) => files,
        Err(error) => return store_failure(&error, "artifacts"),
    };
    let mut items = Vec::new();
    for file in files {
        let url = match ObjectKey::new(&file.object_key) {
            Ok(key) => state
                .services
                .objects
                .download_url(&key, DOWNLOAD_TTL)
                .await
                .ok(),
            Err(_) => None,
        };
        let mut item = json!(file);
        item["download_url"] = json!(url);
        items.push(item);
    }
    (StatusCode::OK, Json(json!({ "items": items })))
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
) -> Answer {
    let refuse = |status: StatusCode, message: String| (status, Json(json!({ "error": message })));
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
        Err(error) => return store_failure(&error, "artifacts"),
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
        ),
        Err(error) => {
            tracing::warn!(pipeline.id = %id, artifact = %artifact, error = %error, "artifact upload failed");
            refuse(StatusCode::BAD_REQUEST, error.message)
        }
    }
}
