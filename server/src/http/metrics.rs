//! `GET /metrics`: Prometheus text exposition of what operators alert on — whether each
//! dependency answers, previews by status (failed cleanups among them), and GitHub's remaining
//! API budget.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;

fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Previews by status (failed cleanups included: operators alert on them).
async fn preview_counts(state: &AppState, text: &mut String) {
    use domain::preview::{PreviewFilter, PreviewStatus};
    let _ = writeln!(
        text,
        "# HELP slipway_previews Preview environments by status (deleted ones not counted)."
    );
    let _ = writeln!(text, "# TYPE slipway_previews gauge");
    for status in PreviewStatus::ALL
        .into_iter()
        .filter(|s| *s != PreviewStatus::Deleted)
    {
        let filter = PreviewFilter {
            status: Some(status),
            ..PreviewFilter::default()
        };
        if let Ok(count) = state.services.store.count_previews(&filter).await {
            let _ = writeln!(
                text,
                "slipway_previews{{status=\"{}\"}} {count}",
                status.as_str()
            );
        }
    }
}

/// Whether the request may read the metrics: always without `SLIPWAY_METRICS_TOKEN`, else
/// with `Authorization: Bearer <that token>`.
fn allowed(state: &AppState, headers: &axum::http::HeaderMap) -> bool {
    use secrecy::ExposeSecret;
    use sha2::{Digest, Sha256};
    let Some(token) = &state.metrics_token else {
        return true;
    };
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Compared as digests, so the time taken says nothing about the token.
    Sha256::digest(sent.as_bytes()) == Sha256::digest(token.expose_secret().as_bytes())
}

pub async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    if !allowed(&state, &headers) {
        let refused = services::Error::Unauthenticated(
            "/metrics needs Authorization: Bearer with SLIPWAY_METRICS_TOKEN".into(),
        );
        return super::answer::ApiError(refused).into_response();
    }
    let readiness = state.services.readiness().await;
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# HELP slipway_dependency_up Whether a dependency answers (1) or not (0)."
    );
    let _ = writeln!(text, "# TYPE slipway_dependency_up gauge");
    for check in &readiness.checks {
        let _ = writeln!(
            text,
            "slipway_dependency_up{{name=\"{}\",backend=\"{}\"}} {}",
            label(&check.name),
            label(&check.backend),
            u8::from(check.ok)
        );
    }
    preview_counts(&state, &mut text).await;
    if let Some(budget) = state
        .services
        .git_host
        .as_ref()
        .and_then(|g| g.rate_budget())
    {
        for (name, help, value) in [
            (
                "remaining",
                "GitHub API requests left in the current window.",
                budget.remaining,
            ),
            (
                "limit",
                "GitHub API requests allowed per window.",
                budget.limit,
            ),
            (
                "reset_time_seconds",
                "When the GitHub API window refills (Unix time).",
                budget.reset_at,
            ),
        ] {
            let _ = writeln!(text, "# HELP slipway_github_rate_limit_{name} {help}");
            let _ = writeln!(text, "# TYPE slipway_github_rate_limit_{name} gauge");
            let _ = writeln!(text, "slipway_github_rate_limit_{name} {value}");
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
