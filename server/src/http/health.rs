//! `GET /healthz` (the process is alive) and `GET /readyz` (every dependency answers;
//! 503 naming the one that does not).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::Readiness;

use super::AppState;

#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "get_health",
    tag = "health",
    summary = "The process is alive",
    responses(
        (status = 200, description = "Alive")
    )
)]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "get_readiness",
    tag = "health",
    summary = "Whether every dependency answers",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "A dependency does not answer (named)", body = Readiness)
    )
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let readiness = state.services.readiness().await;
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    if !readiness.ready {
        for check in readiness.checks.iter().filter(|c| !c.ok) {
            tracing::warn!(dependency = %check.name, backend = %check.backend, error = ?check.error, "not ready");
        }
    }
    (status, Json(readiness))
}
