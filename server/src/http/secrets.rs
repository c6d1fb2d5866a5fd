//! A repository's secrets as JSON: `GET /api/projects/{id}/secrets` lists names and when each
//! was set (never values), `PUT /api/projects/{id}/secrets/{name}` with `{"value": "..."}`
//! sets one (encrypted before it reaches the database), `DELETE …/{name}` removes it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::RepositoryId;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::answer::{Answer, app_failure, store_failure};

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
    let value = body.value.unwrap_or_default();
    match state
        .services
        .set_secret(RepositoryId(project), &name, &value)
        .await
    {
        Ok(info) => (StatusCode::OK, Json(json!(info))),
        Err(error) => app_failure(&error),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    Path((project, name)): Path<(i64, String)>,
) -> Answer {
    match state
        .services
        .remove_secret(RepositoryId(project), &name)
        .await
    {
        Ok(()) => (StatusCode::OK, Json(json!({ "removed": name }))),
        Err(error) => app_failure(&error),
    }
}
