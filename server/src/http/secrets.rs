//! A repository's secrets as JSON: `GET /api/projects/{id}/secrets` lists names and when each
//! was set (never values), `PUT /api/projects/{id}/secrets/{name}` with `{"value": "..."}`
//! sets one (encrypted before it reaches the database), `DELETE …/{name}` removes it.

use axum::Json;
use axum::extract::{Path, State};
use domain::RepositoryId;
use domain::secrets::SecretInfo;
use serde::{Deserialize, Serialize};
use services::secrets::SetSecret;

use super::AppState;
use super::answer::{ApiResult, Items};
use super::caller::Calling;

#[derive(Debug, Deserialize)]
pub struct SecretValue {
    value: Option<String>,
}

/// What a removal answers.
#[derive(Debug, Serialize)]
pub struct Removed {
    removed: String,
}

pub async fn list(
    State(state): State<AppState>,
    Calling(caller): Calling,
    Path(project): Path<i64>,
) -> ApiResult<Json<Items<SecretInfo>>> {
    let id = RepositoryId(project);
    Ok(Items::json(state.services.list_secrets(&caller, id).await?))
}

pub async fn put(
    State(state): State<AppState>,
    Calling(caller): Calling,
    Path((project, name)): Path<(i64, String)>,
    Json(body): Json<SecretValue>,
) -> ApiResult<Json<SecretInfo>> {
    let input = SetSecret {
        repository: RepositoryId(project),
        name,
        value: body.value.unwrap_or_default(),
    };
    Ok(Json(state.services.set_secret(&caller, input).await?))
}

pub async fn delete(
    State(state): State<AppState>,
    Calling(caller): Calling,
    Path((project, name)): Path<(i64, String)>,
) -> ApiResult<Json<Removed>> {
    let id = RepositoryId(project);
    state.services.remove_secret(&caller, id, &name).await?;
    Ok(Json(Removed { removed: name }))
}
