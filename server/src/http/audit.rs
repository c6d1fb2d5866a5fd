//! The audit log as JSON: `GET /api/audit` (newest first, a page at a time, filtered by actor,
//! action, repository and time), and the same rows as JSON lines with `format=jsonl`, for
//! export.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use services::audit::{AuditPage, ListAudit};

use super::AppState;
use super::answer::{ApiResult, ErrorBody};
use super::caller::Calling;
use super::extract::ApiQuery;

/// How the rows come.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFormat {
    /// `json` (default: a page with `next_before`) or `jsonl` (one row per line).
    #[param(pattern = "^(json|jsonl)$")]
    format: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/audit",
    operation_id = "list_audit",
    tag = "identity",
    summary = "The audit log: admins see every row, repository admins their repositories' rows",
    params(ListAudit, AuditFormat),
    responses(
        (status = 200, description = "A page of rows, or with `format=jsonl` one row per line", content((AuditPage = "application/json"), (String = "application/x-ndjson"))),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody)
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiQuery(query): ApiQuery<ListAudit>,
    ApiQuery(format): ApiQuery<AuditFormat>,
) -> ApiResult<Response> {
    let page = state.services.list_audit(&caller, query).await?;
    if format.format.as_deref() != Some("jsonl") {
        return Ok(Json(page).into_response());
    }
    let mut lines = String::new();
    for row in &page.items {
        if let Ok(line) = serde_json::to_string(row) {
            lines.push_str(&line);
            lines.push('\n');
        }
    }
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], lines).into_response())
}
