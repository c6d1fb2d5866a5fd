//! `GET /healthz` (the process is alive) and `GET /readyz` (every dependency answers;
//! 503 naming the one that does not).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::Readiness;

use super::AppState;

pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

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
