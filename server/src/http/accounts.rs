//! The caller's own account as JSON: `GET /api/me`, their API tokens (`GET/POST /api/tokens`,
//! `DELETE /api/tokens/{id}`) and sessions (`GET /api/sessions`, `DELETE /api/sessions` signs
//! out everywhere).

use axum::Json;
use axum::extract::State;
use domain::identity::{ApiToken, Session};
use serde::{Deserialize, Serialize};
use services::accounts::Me;
use services::tokens::{CreateToken, CreatedToken};

use super::AppState;
use super::answer::{ApiResult, ErrorBody, Items};
use super::caller::Calling;
use super::extract::{ApiJson, ApiPath, ApiQuery};

#[utoipa::path(
    get,
    path = "/api/me",
    operation_id = "get_me",
    tag = "identity",
    summary = "Who is calling: the user, how (session or token), and their level per repository",
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "Not signed in", body = ErrorBody)
    )
)]
pub async fn me(State(state): State<AppState>, Calling(caller): Calling) -> ApiResult<Json<Me>> {
    Ok(Json(state.services.accounts().me(&caller).await?))
}

/// Which tokens to list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// Every user's tokens (instance admins).
    #[serde(default)]
    all: bool,
}

#[utoipa::path(
    get,
    path = "/api/tokens",
    operation_id = "list_tokens",
    tag = "identity",
    summary = "The caller's API tokens (with `all`, everyone's), with their last use",
    params(TokenQuery),
    responses(
        (status = 200, description = "The tokens, never their secrets", body = Items<ApiToken>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody)
    )
)]
pub async fn list_tokens(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> ApiResult<Json<Items<ApiToken>>> {
    let tokens = state
        .services
        .accounts()
        .list_tokens(&caller, query.all)
        .await?;
    Ok(Items::json(tokens))
}

#[utoipa::path(
    post,
    path = "/api/tokens",
    operation_id = "create_token",
    tag = "identity",
    summary = "Make an API token; its secret is in this answer only",
    request_body = CreateToken,
    responses(
        (status = 200, description = "The token and its secret", body = CreatedToken),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody)
    )
)]
pub async fn create_token(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiJson(input): ApiJson<CreateToken>,
) -> ApiResult<Json<CreatedToken>> {
    Ok(Json(
        state
            .services
            .accounts()
            .create_token(&caller, input)
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/tokens/{id}",
    operation_id = "revoke_token",
    tag = "identity",
    summary = "Revoke a token (your own; admins any)",
    params(("id" = i64, Path, description = "the token's id")),
    responses(
        (status = 200, description = "The revoked token", body = ApiToken),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)
    )
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ApiToken>> {
    Ok(Json(
        state.services.accounts().revoke_token(&caller, id).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/sessions",
    operation_id = "list_sessions",
    tag = "identity",
    summary = "The caller's signed-in browsers",
    responses(
        (status = 200, description = "Sessions that have not expired", body = Items<Session>),
        (status = 401, description = "Not signed in", body = ErrorBody)
    )
)]
pub async fn list_sessions(
    State(state): State<AppState>,
    Calling(caller): Calling,
) -> ApiResult<Json<Items<Session>>> {
    Ok(Items::json(
        state.services.accounts().list_sessions(&caller).await?,
    ))
}

/// What signing out everywhere ended.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignedOut {
    /// How many sessions ended.
    ended: u64,
}

#[utoipa::path(
    delete,
    path = "/api/sessions",
    operation_id = "end_sessions",
    tag = "identity",
    summary = "Sign out everywhere: end every session of the caller",
    responses(
        (status = 200, description = "How many ended", body = SignedOut),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody)
    )
)]
pub async fn end_sessions(
    State(state): State<AppState>,
    Calling(caller): Calling,
) -> ApiResult<Json<SignedOut>> {
    let ended = state
        .services
        .accounts()
        .sign_out_everywhere(&caller)
        .await?;
    Ok(Json(SignedOut { ended }))
}
