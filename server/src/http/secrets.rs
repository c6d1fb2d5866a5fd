//! A repository's secrets as JSON: `GET /api/projects/{id}/secrets` lists names and when each
//! was set (never values), `PUT /api/projects/{id}/secrets/{name}` with `{"value": "..."}`
//! sets one (encrypted before it reaches the database), `DELETE …/{name}` removes it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::RepositoryId;
use domain::secrets::validate_secret_name;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::answer::{Answer, bad_request, store_failure};

/// Secret values above this size are refused (they are environment variables).
const MAX_VALUE_BYTES: usize = 64 * 1024;

#[derive(Debug, Deserialize)]
pub struct SecretValue {
    value: Option<String>,
}

pub async fn list(State(state): State<AppState>, Path(project): Path<i64>) -> Answer {
    let store = state.services.store.as_ref();
    if let Err(error) = store.get_repository(RepositoryId(project)).await {
        return store_failure(&error, "secrets");
    }
    match store.list_secrets(RepositoryId(project)).await {
        Ok(items) => (StatusCode::OK, Json(json!({ "items": items }))),
        Err(error) => store_failure(&error, "secrets"),
    }
}

pub async fn put(
    State(state): State<AppState>,
    Path((project, name)): Path<(i64, String)>,
    Json(body): Json<SecretValue>,
) -> Answer {
    if let Err(error) = validate_secret_name(&name) {
        return bad_request(error.to_string());
    }
    let Some(value) = body.value.filter(|v| !v.is_empty()) else {
        return bad_request("value is required: {\"value\": \"...\"}");
    };
    if value.len() > MAX_VALUE_BYTES {
        return bad_request(format!("value is longer than {MAX_VALUE_BYTES} bytes"));
    }
    let store = state.services.store.as_ref();
    if let Err(error) = store.get_repository(RepositoryId(project)).await {
        return store_failure(&error, "secrets");
    }
    let now = crate::pipelines::now_ms();
    let sealed = match state.services.secret_box.seal(&name, &value, now) {
        Ok(sealed) => sealed,
        Err(error) => {
            tracing::error!(error = %error, "cannot encrypt a secret");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "error": "the secret could not be encrypted" })),
            );
        }
    };
    match store.put_secret(RepositoryId(project), &sealed).await {
        Ok(()) => {
            tracing::info!(repository.id = project, secret = %name, "secret set");
            (
                StatusCode::OK,
                Json(json!({ "name": name, "updated_at_ms": now })),
            )
        }
        Err(error) => store_failure(&error, "secrets"),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    Path((project, name)): Path<(i64, String)>,
) -> Answer {
    match state
        .services
        .store
        .delete_secret(RepositoryId(project), &name)
        .await
    {
        Ok(true) => {
            tracing::info!(repository.id = project, secret = %name, "secret removed");
            (StatusCode::OK, Json(json!({ "removed": name })))
        }
        Ok(false) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("repository {project} has no secret `{name}`") })),
        ),
        Err(error) => store_failure(&error, "secrets"),
    }
}
