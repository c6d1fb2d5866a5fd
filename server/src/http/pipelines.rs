//! Repositories ("projects") and their pipeline runs as JSON:
//! `GET|POST /api/projects`, `GET|POST /api/projects/{id}/pipelines` (list, trigger with
//! `git_ref`), `GET /api/pipelines` (all repositories), `GET /api/pipelines/{id}` (with steps),
//! `POST /api/pipelines/{id}/cancel`, `POST /api/pipelines/{id}/retry`, and
//! `GET /api/projects/{id}/images/{sha}` (the image a run published for a commit).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use domain::pipeline::{PipelineFilter, PipelineId, PipelineStatus, TriggerKind};
use domain::{BusEvent, EntityKind, NewRepository, RepositoryId};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::answer::{Answer, app_failure, bad_request, parse_choice, store_failure};

const DEFAULT_PAGE: u32 = 50;

#[derive(Debug, Deserialize)]
pub struct NewProject {
    name: Option<String>,
    clone_url: Option<String>,
    default_branch: Option<String>,
}

pub async fn list_projects(State(state): State<AppState>) -> Answer {
    match state.services.store.list_repositories().await {
        Ok(items) => (StatusCode::OK, Json(json!({ "items": items }))),
        Err(error) => store_failure(&error, "projects"),
    }
}

/// Adds a repository by clone URL (any git remote, a local path included).
pub async fn add_project(State(state): State<AppState>, Json(body): Json<NewProject>) -> Answer {
    let new = match NewRepository::new(
        body.name.as_deref().unwrap_or(""),
        body.clone_url.as_deref().unwrap_or(""),
        body.default_branch.as_deref().unwrap_or(""),
    ) {
        Ok(new) => new,
        Err(error) => return bad_request(error.to_string()),
    };
    match state.services.store.add_repository(&new).await {
        Ok(repository) => {
            let _ = state
                .services
                .bus
                .publish(&BusEvent::Changed {
                    entity: EntityKind::Repository,
                    id: repository.id.to_string(),
                    status: "added".into(),
                })
                .await;
            (StatusCode::CREATED, Json(json!(repository)))
        }
        Err(error) => store_failure(&error, "projects"),
    }
}

#[derive(Debug, Deserialize)]
pub struct Trigger {
    git_ref: Option<String>,
}

/// Starts a run of the project's pipeline at `git_ref` (a branch, tag or commit).
pub async fn trigger(
    State(state): State<AppState>,
    Path(project): Path<i64>,
    Json(body): Json<Trigger>,
) -> Answer {
    let git_ref = body.git_ref.unwrap_or_default();
    match state
        .services
        .trigger_pipeline(RepositoryId(project), &git_ref)
        .await
    {
        Ok(run) => (StatusCode::CREATED, Json(json!(run))),
        Err(error) => app_failure(&error),
    }
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    trigger: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

pub async fn list_for_project(
    State(state): State<AppState>,
    Path(project): Path<i64>,
    Query(query): Query<ListQuery>,
) -> Answer {
    if let Err(error) = state
        .services
        .store
        .get_repository(RepositoryId(project))
        .await
    {
        return store_failure(&error, "pipelines");
    }
    list_runs(&state, Some(RepositoryId(project)), query).await
}

pub async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>) -> Answer {
    list_runs(&state, None, query).await
}

async fn list_runs(state: &AppState, repository: Option<RepositoryId>, query: ListQuery) -> Answer {
    let statuses: Vec<&str> = PipelineStatus::ALL.iter().map(|s| s.as_str()).collect();
    let triggers: Vec<&str> = TriggerKind::ALL.iter().map(|t| t.as_str()).collect();
    let filter = match (
        parse_choice(
            "status",
            query.status.as_deref(),
            PipelineStatus::parse,
            &statuses,
        ),
        parse_choice(
            "trigger",
            query.trigger.as_deref(),
            TriggerKind::parse,
            &triggers,
        ),
    ) {
        (Ok(status), Ok(trigger)) => PipelineFilter {
            repository_id: repository,
            status,
            git_ref: query.git_ref.filter(|r| !r.is_empty()),
            trigger,
            before: query.before.map(PipelineId),
            limit: query.limit.unwrap_or(DEFAULT_PAGE),
        },
        (Err(answer), _) | (_, Err(answer)) => return answer,
    };
    match state.services.store.list_pipelines(&filter).await {
        Ok(items) => {
            let full_page = items.len() >= filter.limit.clamp(1, 200) as usize;
            let next_before = items.last().filter(|_| full_page).map(|run| run.id);
            (
                StatusCode::OK,
                Json(json!({ "items": items, "next_before": next_before })),
            )
        }
        Err(error) => store_failure(&error, "pipelines"),
    }
}

/// The image a pipeline published for the repository's commit `sha` (what its preview deploys).
pub async fn published_image(
    State(state): State<AppState>,
    Path((project, sha)): Path<(i64, String)>,
) -> Answer {
    match state
        .services
        .store
        .published_image(RepositoryId(project), &sha)
        .await
    {
        Ok(Some(image)) => (StatusCode::OK, Json(json!(image))),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(
                json!({ "error": format!("no pipeline of repository {project} published an image for {sha}") }),
            ),
        ),
        Err(error) => store_failure(&error, "images"),
    }
}

pub async fn show(State(state): State<AppState>, Path(id): Path<i64>) -> Answer {
    match state.services.store.get_pipeline(PipelineId(id)).await {
        Ok(run) => (StatusCode::OK, Json(json!(run))),
        Err(error) => store_failure(&error, "pipelines"),
    }
}

/// Stops a run: a pending run ends at once, a running one within seconds.
pub async fn cancel(State(state): State<AppState>, Path(id): Path<i64>) -> Answer {
    match state.services.cancel_pipeline(PipelineId(id)).await {
        Ok(run) => (StatusCode::ACCEPTED, Json(json!(run))),
        Err(error) => app_failure(&error),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct RetryQuery {
    /// Run only the steps that did not succeed.
    #[serde(default)]
    failed_only: bool,
}

/// Runs a finished pipeline again at the same commit (`?failed_only=true`: only what failed).
pub async fn retry(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(query): Query<RetryQuery>,
) -> Answer {
    match state
        .services
        .retry_pipeline(PipelineId(id), query.failed_only)
        .await
    {
        Ok(run) => (StatusCode::CREATED, Json(json!(run))),
        Err(error) => app_failure(&error),
    }
}
