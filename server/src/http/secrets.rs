//! A repository's secrets as JSON: `GET /api/projects/{id}/secrets` lists names and when each
//! was set (never values), `PUT /api/projects/{id}/secrets/{name}` with `{"value": "..."}`
//! sets one (encrypted before it reaches the database), `DELETE …/{name}` removes it.

use axum::Json;
use axum::extract::State;
use domain::RepositoryId;
use domain::secrets::SecretInfo;
use serde::{Deserialize, Serialize};
use services::secrets::SetSecret;

use super::AppState;
use super::answer::{ApiResult, ErrorBody, Items};
use super::caller::Calling;
use super::extract::{ApiJson, ApiPath};

/// The body of a secret: its value (kept encrypted, never shown again).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SecretValue {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 65536)]
    value: Option<String>,
}

/// What a removal answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Removed {
    removed: String,
}

#[utoipa::path(
    get,
    path = "/api/projects/{id}/secrets",
    operation_id = "list_secrets",
    tag = "secrets",
    summary = "A repository's secrets: names and times, never values",
    params(("id" = i64, Path, description = "the repository's id")),
    responses(
        (status = 200, description = "The secrets", body = Items<SecretInfo>),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(project): ApiPath<i64>,
) -> ApiResult<Json<Items<SecretInfo>>> {
    let id = RepositoryId(project);
    Ok(Items::json(state.services.list_secrets(&caller, id).await?))
}

#[utoipa::path(
    put,
    path = "/api/projects/{id}/secrets/{name}",
    operation_id = "set_secret",
    tag = "secrets",
    summary = "Add or replace a secret",
    params(("id" = i64, Path, description = "the repository's id"), ("name" = String, Path, description = "the secret's name", pattern = "^[A-Za-z_][A-Za-z0-9_]{0,99}$")),
    request_body = SecretValue,
    responses(
        (status = 200, description = "The secret, without its value", body = SecretInfo),
        (status = 400, description = "Invalid input; `field` names it", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn put(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((project, name)): ApiPath<(i64, String)>,
    ApiJson(body): ApiJson<SecretValue>,
) -> ApiResult<Json<SecretInfo>> {
    let input = SetSecret {
        repository: RepositoryId(project),
        name,
        value: body.value.unwrap_or_default(),
    };
    Ok(Json(state.services.set_secret(&caller, input).await?))
}

#[utoipa::path(
    delete,
    path = "/api/projects/{id}/secrets/{name}",
    operation_id = "remove_secret",
    tag = "secrets",
    summary = "Remove a secret",
    params(("id" = i64, Path, description = "the repository's id"), ("name" = String, Path, description = "the secret's name")),
    responses(
        (status = 200, description = "Removed", body = Removed),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((project, name)): ApiPath<(i64, String)>,
) -> ApiResult<Json<Removed>> {
    let id = RepositoryId(project);
    state.services.remove_secret(&caller, id, &name).await?;
    Ok(Json(Removed { removed: name }))
}
