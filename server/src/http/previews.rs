//! Preview environments as JSON: `GET /api/previews` (filters `status`, `repository`,
//! `search`, `include_deleted`; paginated with `limit` and `offset`), `GET /api/previews/{id or
//! namespace}` (with attempts, usage and the cluster's events), `POST /api/previews/{id}/retry`,
//! `DELETE /api/previews/{id}`, `GET /api/operator/usage`, and
//! `GET /api/previews/{id}/logs` (`tail`, `timestamps`, `follow` as `text/event-stream`).

use std::convert::Infallible;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use domain::cluster::LogOptions;
use domain::preview::{PreviewFilter, PreviewStatus};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::answer::{Answer, app_failure, bad_request, parse_choice};

const DEFAULT_PAGE: u32 = 50;
/// Lines a log answer holds unless `tail` says otherwise.
const DEFAULT_TAIL: u32 = 500;
const POD: domain::cluster::ObjectKind<'static> = domain::cluster::ObjectKind {
    api_version: "v1",
    kind: "Pod",
};

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
    repository: Option<String>,
    search: Option<String>,
    #[serde(default)]
    include_deleted: bool,
    limit: Option<u32>,
    offset: Option<u32>,
}

pub async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>) -> Answer {
    let statuses: Vec<&str> = PreviewStatus::ALL.iter().map(|s| s.as_str()).collect();
    let status = match parse_choice(
        "status",
        query.status.as_deref(),
        PreviewStatus::parse,
        &statuses,
    ) {
        Ok(status) => status,
        Err(answer) => return answer,
    };
    let filter = PreviewFilter {
        status,
        repository: query.repository.filter(|r| !r.is_empty()),
        search: query.search.filter(|s| !s.trim().is_empty()),
        include_deleted: query.include_deleted || status == Some(PreviewStatus::Deleted),
        limit: query.limit.unwrap_or(DEFAULT_PAGE).clamp(1, 500),
        offset: query.offset.unwrap_or(0),
    };
    match state.services.list_previews(&filter).await {
        Ok((items, total)) => {
            let next = u64::from(filter.offset) + items.len() as u64;
            let next_offset = (next < total).then_some(next);
            (
                StatusCode::OK,
                Json(json!({ "items": items, "total": total, "next_offset": next_offset })),
            )
        }
        Err(error) => app_failure(&error),
    }
}

pub async fn show(State(state): State<AppState>, Path(key): Path<String>) -> Answer {
    match state.services.preview_detail(&key).await {
        Ok(detail) => (StatusCode::OK, Json(json!(detail))),
        Err(error) => app_failure(&error),
    }
}

pub async fn retry(State(state): State<AppState>, Path(key): Path<String>) -> Answer {
    match state.services.retry_preview(&key).await {
        Ok(attempt) => (StatusCode::ACCEPTED, Json(json!(attempt))),
        Err(error) => app_failure(&error),
    }
}

pub async fn delete(State(state): State<AppState>, Path(key): Path<String>) -> Answer {
    match state.services.delete_preview(&key).await {
        Ok(preview) => (StatusCode::ACCEPTED, Json(json!(preview))),
        Err(error) => app_failure(&error),
    }
}

pub async fn usage(State(state): State<AppState>) -> Answer {
    match state.services.usage_report().await {
        Ok(report) => (StatusCode::OK, Json(json!(report))),
        Err(error) => app_failure(&error),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct LogQuery {
    /// A pod of the preview; its first pod when absent.
    pod: Option<String>,
    container: Option<String>,
    tail: Option<String>,
    #[serde(default)]
    timestamps: bool,
    #[serde(default)]
    follow: bool,
}

/// The log of one of the preview's pods: text, or with `follow=true` an event stream of each
/// line (`data:`) ending with an `end` event when the container stops.
pub async fn logs(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(query): Query<LogQuery>,
) -> Response {
    let tail = match query.tail.as_deref() {
        None | Some("") => Some(DEFAULT_TAIL),
        Some("all") => None,
        Some(n) => match n.parse::<u32>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return bad_request(format!("tail `{n}` is not a number of lines or `all`"))
                    .into_response();
            }
        },
    };
    let services = &state.services;
    let preview = match services.find_preview(&key).await {
        Ok(preview) => preview,
        Err(error) => return app_failure(&error).into_response(),
    };
    let cluster = match services.preview_cluster(&preview).await {
        Ok(Some(cluster)) => cluster,
        Ok(None) => return bad_request(crate::previews::deploy::NO_CLUSTER).into_response(),
        Err(error) => return app_failure(&error).into_response(),
    };
    let pod = match query.pod.filter(|p| !p.is_empty()) {
        Some(pod) => pod,
        None => match cluster
            .cluster
            .list_objects(&preview.namespace, POD, "")
            .await
            .map(|pods| pods.first().map(|p| p.name().to_owned()))
        {
            Ok(Some(pod)) => pod,
            Ok(None) => {
                let message = format!("preview {} has no pods", preview.namespace);
                return if query.follow {
                    ended(&message)
                } else {
                    not_found(message)
                };
            }
            Err(error) => return cluster_failure(&error),
        },
    };
    let options = LogOptions {
        tail,
        timestamps: query.timestamps,
        follow: query.follow,
    };
    let lines = match cluster
        .cluster
        .read_logs(
            &preview.namespace,
            &pod,
            query.container.as_deref(),
            options,
        )
        .await
    {
        Ok(lines) => lines,
        Err(domain::ClusterError::NotFound { .. }) => {
            let message = format!("pod {pod} is no longer in {}", preview.namespace);
            return if query.follow {
                ended(&message)
            } else {
                not_found(message)
            };
        }
        Err(error) => return cluster_failure(&error),
    };
    if query.follow {
        let events = lines
            .map(|line| match line {
                Ok(line) => format!("data: {line}\n\n"),
                Err(error) => format!("event: error\ndata: {error}\n\n"),
            })
            .chain(futures::stream::once(async {
                "event: end\ndata: {}\n\n".to_owned()
            }))
            .map(|chunk| Ok::<_, Infallible>(Bytes::from(chunk)));
        return event_stream(Body::from_stream(events));
    }
    let text: Vec<String> = lines.filter_map(|l| async { l.ok() }).collect().await;
    let mut body = text.join("\n");
    if !body.is_empty() {
        body.push('\n');
    }
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// A followed log that cannot be read: the stream ends at once saying why (an event stream
/// answered with an error status would only make the browser retry).
fn ended(message: &str) -> Response {
    let data = json!({ "error": message });
    event_stream(Body::from(format!("event: end\ndata: {data}\n\n")))
}

fn event_stream(body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The cluster could not answer: 502, saying why.
fn cluster_failure(error: &domain::ClusterError) -> Response {
    (
        StatusCode::BAD_GATEWAY,
        Json(json!({ "error": format!("cannot read the log: {error}") })),
    )
        .into_response()
}

fn not_found(message: String) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": message }))).into_response()
}
