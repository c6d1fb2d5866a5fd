//! `PUT /api/transform-uploads/{execution}/{job}/{file}`: a transform Job's sidecar hands
//! over the patch and its numbers, through a link signed for that one attempt
//! (`transforms::upload`). No caller: the signature is the permission.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;

use super::AppState;
use super::answer::{ApiError, ErrorBody, status_of};
use super::artifacts::UploadQuery;
use super::extract::{ApiPath, ApiQuery};
use crate::transforms::upload::{TransformUpload, UploadRefused, accept_transform_upload};

#[utoipa::path(
    put,
    path = "/api/transform-uploads/{execution}/{job}/{file}",
    operation_id = "upload_transform_output",
    tag = "transforms",
    summary = "A transform Job's upload of its patch, through a link signed for that attempt",
    params(("execution" = i64, Path, description = "the execution's id"), ("job" = String, Path, description = "the attempt's Job"), ("file" = String, Path, description = "`patch.diff` or `numstat`"), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "Kept"),
        (status = 403, description = "The link is not valid for this", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Not in a state that allows it", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn upload(
    State(state): State<AppState>,
    ApiPath((execution, job, file)): ApiPath<(i64, String, String)>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    content: Bytes,
) -> Response {
    let upload = TransformUpload {
        execution,
        job,
        file: file.clone(),
        expires: query.expires,
        signature: query.signature,
        content,
    };
    let services = &state.services;
    let (store, objects) = (services.store.clone(), services.objects.clone());
    match accept_transform_upload(store, objects, &state.signer, upload).await {
        Ok(()) => (StatusCode::CREATED, Json(json!({ "file": file }))).into_response(),
        Err(UploadRefused::Store(error)) => ApiError(error.into()).into_response(),
        Err(refused) => {
            tracing::warn!(execution.id = execution, file = %file, error = %refused, "transform upload refused");
            let body = json!({ "error": refused.to_string() });
            (status_of(refused.kind()), Json(body)).into_response()
        }
    }
}
