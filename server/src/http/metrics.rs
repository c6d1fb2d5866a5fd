//! `GET /metrics`: the Prometheus text exposition of `crate::metrics`, behind
//! `SLIPWAY_METRICS_TOKEN` when one is set; what it reads at each scrape is read here.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::metrics::{Scraped, exposition};

use super::AppState;

/// Previews by status, deleted ones left out (failed cleanups included: operators alert on them).
async fn preview_counts(state: &AppState) -> Vec<(&'static str, i64)> {
    use domain::preview::{PreviewFilter, PreviewStatus};
    let mut counts = Vec::new();
    for status in PreviewStatus::ALL
        .into_iter()
        .filter(|s| *s != PreviewStatus::Deleted)
    {
        let filter = PreviewFilter {
            status: Some(status),
            ..PreviewFilter::default()
        };
        if let Ok(count) = state.services.store.count_previews(&filter).await {
            counts.push((status.as_str(), i64::try_from(count).unwrap_or(i64::MAX)));
        }
    }
    counts
}

/// The Redis task stream as two queues: its tasks, and its dead letters.
fn task_stream_depths(
    tasks: &domain::transform::TaskStreamState,
) -> [domain::health::QueueDepth; 2] {
    [
        domain::health::QueueDepth {
            queue: "transform_tasks",
            depth: tasks.depth,
            oldest_at_ms: tasks.oldest_at_ms,
        },
        domain::health::QueueDepth {
            queue: "transform_dead_letters",
            depth: tasks.dead_letters,
            oldest_at_ms: None,
        },
    ]
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
    let services = &state.services;
    let readiness = services.readiness().await;
    let mut queues = services.store.queue_depths().await.unwrap_or_default();
    if let Some(tasks) = readiness
        .transform_queue
        .as_ref()
        .and_then(|q| q.tasks.as_ref())
    {
        queues.extend(task_stream_depths(tasks));
    }
    let scraped = Scraped {
        transforms_paused: readiness.transform_queue.as_ref().map(|q| q.paused),
        dependencies: readiness.checks,
        previews: preview_counts(&state).await,
        queues,
        now_ms: domain::time::now_ms(),
        github: services.git_host.as_ref().and_then(|g| g.rate_budget()),
    };
    let text = exposition(&scraped);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
