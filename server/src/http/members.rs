//! Users and teams as JSON (instance admins change them): `GET/POST /api/users`,
//! `PATCH/DELETE /api/users/{id}`, `GET/POST /api/teams`, `DELETE /api/teams/{id}`,
//! `PUT/DELETE /api/teams/{id}/members/{user_id}` and
//! `PUT/DELETE /api/teams/{id}/repositories/{repository_id}` with `{"level": "read|write|admin"}`.

use axum::Json;
use axum::extract::State;
use domain::RepositoryId;
use domain::identity::{Team, User, UserId};
use serde::Serialize;
use services::teams::{CreateTeam, GrantLevel};
use services::users::{CreateUser, CreatedUser, UpdateUser};

use super::AppState;
use super::answer::{ApiResult, ErrorBody, Items};
use super::caller::Calling;
use super::extract::{ApiJson, ApiPath};

/// What a removal answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Deleted {
    deleted: i64,
}

#[utoipa::path(
    get, path = "/api/users", operation_id = "list_users", tag = "identity",
    summary = "Every user (instance admins)",
    responses(
        (status = 200, description = "The users", body = Items<User>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an instance admin", body = ErrorBody)
    )
)]
pub async fn list_users(
    State(state): State<AppState>,
    Calling(caller): Calling,
) -> ApiResult<Json<Items<User>>> {
    Ok(Items::json(
        state.services.accounts().list_users(&caller).await?,
    ))
}

#[utoipa::path(
    post, path = "/api/users", operation_id = "create_user", tag = "identity",
    summary = "Add a local user (a generated password is answered once)",
    request_body = CreateUser,
    responses(
        (status = 200, description = "The user", body = CreatedUser),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an instance admin", body = ErrorBody),
        (status = 409, description = "The login is taken", body = ErrorBody)
    )
)]
pub async fn create_user(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiJson(input): ApiJson<CreateUser>,
) -> ApiResult<Json<CreatedUser>> {
    Ok(Json(
        state
            .services
            .accounts()
            .create_user(&caller, input)
            .await?,
    ))
}

#[utoipa::path(
    patch, path = "/api/users/{id}", operation_id = "update_user", tag = "identity",
    summary = "Change a user's role or password",
    params(("id" = i64, Path, description = "the user's id")),
    request_body = UpdateUser,
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an instance admin", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "The last admin keeps the role", body = ErrorBody)
    )
)]
pub async fn update_user(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<UpdateUser>,
) -> ApiResult<Json<User>> {
    let accounts = state.services.accounts();
    Ok(Json(
        accounts.update_user(&caller, UserId(id), input).await?,
    ))
}

#[utoipa::path(
    delete, path = "/api/users/{id}", operation_id = "delete_user", tag = "identity",
    summary = "Remove a user with their sessions and tokens",
    params(("id" = i64, Path, description = "the user's id")),
    responses(
        (status = 200, description = "Removed", body = Deleted),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an instance admin", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "The last admin stays", body = ErrorBody)
    )
)]
pub async fn delete_user(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Deleted>> {
    state
        .services
        .accounts()
        .delete_user(&caller, UserId(id))
        .await?;
    Ok(Json(Deleted { deleted: id }))
}

#[utoipa::path(
    get, path = "/api/teams", operation_id = "list_teams", tag = "identity",
    summary = "Every team, with its members and repositories",
    responses(
        (status = 200, description = "The teams", body = Items<Team>),
        (status = 401, description = "Not signed in", body = ErrorBody)
    )
)]
pub async fn list_teams(
    State(state): State<AppState>,
    Calling(caller): Calling,
) -> ApiResult<Json<Items<Team>>> {
    Ok(Items::json(
        state.services.accounts().list_teams(&caller).await?,
    ))
}

#[utoipa::path(
    post, path = "/api/teams", operation_id = "create_team", tag = "identity",
    summary = "Add a team (instance admins)",
    request_body = CreateTeam,
    responses(
        (status = 200, description = "The team", body = Team),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an instance admin", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody)
    )
)]
pub async fn create_team(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiJson(input): ApiJson<CreateTeam>,
) -> ApiResult<Json<Team>> {
    Ok(Json(
        state
            .services
            .accounts()
            .create_team(&caller, input)
            .await?,
    ))
}

#[utoipa::path(
    delete, path = "/api/teams/{id}", operation_id = "delete_team", tag = "identity",
    summary = "Remove a team (its grants end)",
    params(("id" = i64, Path, description = "the team's id")),
    responses(
        (status = 200, description = "Removed", body = Deleted),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an instance admin", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)
    )
)]
pub async fn delete_team(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Deleted>> {
    state.services.accounts().delete_team(&caller, id).await?;
    Ok(Json(Deleted { deleted: id }))
}

#[utoipa::path(
    put, path = "/api/teams/{id}/members/{user_id}", operation_id = "add_team_member", tag = "identity",
    summary = "Add a member to a team",
    params(("id" = i64, Path, description = "the team's id"), ("user_id" = i64, Path, description = "the user's id")),
    responses(
        (status = 200, description = "The team", body = Team),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an instance admin", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)
    )
)]
pub async fn add_member(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((team, user)): ApiPath<(i64, i64)>,
) -> ApiResult<Json<Team>> {
    let accounts = state.services.accounts();
    Ok(Json(
        accounts
            .set_member(&caller, team, UserId(user), true)
            .await?,
    ))
}

#[utoipa::path(
    delete, path = "/api/teams/{id}/members/{user_id}", operation_id = "remove_team_member", tag = "identity",
    summary = "Remove a member from a team",
    params(("id" = i64, Path, description = "the team's id"), ("user_id" = i64, Path, description = "the user's id")),
    responses(
        (status = 200, description = "The team", body = Team),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an instance admin", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)
    )
)]
pub async fn remove_member(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((team, user)): ApiPath<(i64, i64)>,
) -> ApiResult<Json<Team>> {
    let accounts = state.services.accounts();
    Ok(Json(
        accounts
            .set_member(&caller, team, UserId(user), false)
            .await?,
    ))
}

#[utoipa::path(
    put, path = "/api/teams/{id}/repositories/{repository_id}", operation_id = "grant_team_repository", tag = "identity",
    summary = "Grant a repository to a team at a level",
    params(("id" = i64, Path, description = "the team's id"), ("repository_id" = i64, Path, description = "the repository's id")),
    request_body = GrantLevel,
    responses(
        (status = 200, description = "The team", body = Team),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an instance admin", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)
    )
)]
pub async fn grant(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((team, repository)): ApiPath<(i64, i64)>,
    ApiJson(level): ApiJson<GrantLevel>,
) -> ApiResult<Json<Team>> {
    let accounts = state.services.accounts();
    let repository = RepositoryId(repository);
    Ok(Json(
        accounts
            .set_grant(&caller, team, repository, Some(level))
            .await?,
    ))
}

#[utoipa::path(
    delete, path = "/api/teams/{id}/repositories/{repository_id}", operation_id = "revoke_team_repository", tag = "identity",
    summary = "Take a repository back from a team",
    params(("id" = i64, Path, description = "the team's id"), ("repository_id" = i64, Path, description = "the repository's id")),
    responses(
        (status = 200, description = "The team", body = Team),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an instance admin", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((team, repository)): ApiPath<(i64, i64)>,
) -> ApiResult<Json<Team>> {
    let accounts = state.services.accounts();
    let repository = RepositoryId(repository);
    Ok(Json(
        accounts.set_grant(&caller, team, repository, None).await?,
    ))
}
