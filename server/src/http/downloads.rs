//! `GET /objects/{key}?expires=…&signature=…`: serves an object behind one of Slipway's own
//! signed links (backends that cannot presign, such as the filesystem).

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::{ObjectKey, ObjectsError};
use serde::Deserialize;

use super::AppState;
use crate::objects::DOWNLOAD_ROUTE_PREFIX;

#[derive(Debug, Deserialize)]
pub struct SignedQuery {
    expires: Option<u64>,
    signature: Option<String>,
}

pub async fn download(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(query): Query<SignedQuery>,
) -> Response {
    let (Some(expires), Some(signature)) = (query.expires, query.signature) else {
        return (
            StatusCode::FORBIDDEN,
            "this link needs `expires` and `signature` parameters",
        )
            .into_response();
    };
    let path = format!("{DOWNLOAD_ROUTE_PREFIX}{key}");
    if let Err(refused) = state.signer.verify(&path, expires, &signature) {
        return (StatusCode::FORBIDDEN, refused.to_string()).into_response();
    }
    let key = match ObjectKey::new(&key) {
        Ok(key) => key,
        Err(error) => return (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    };
    match state.services.objects.stream(&key).await {
        Ok(stream) => {
            let file_name = key
                .as_str()
                .rsplit('/')
                .next()
                .unwrap_or("download")
                .replace('"', "");
            let disposition =
                HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
                    .unwrap_or(HeaderValue::from_static("attachment"));
            (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(crate::objects::content_type(key.as_str())),
                    ),
                    (header::CONTENT_DISPOSITION, disposition),
                    (
                        header::X_CONTENT_TYPE_OPTIONS,
                        HeaderValue::from_static("nosniff"),
                    ),
                ],
                Body::from_stream(stream),
            )
                .into_response()
        }
        Err(ObjectsError::NotFound(_)) => (StatusCode::NOT_FOUND, "no such object").into_response(),
        Err(error) => {
            tracing::error!(error = %domain::error_chain(&error), object.key = %key, "download failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "object storage is unavailable",
            )
                .into_response()
        }
    }
}
