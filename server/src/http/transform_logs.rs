//! `GET /api/runs/{id}/executions/{execution}/log`: an execution's log followed live as
//! server-sent events — every line of its current attempt so far (from what the worker stored,
//! on whichever replica it runs), then each new one as the bus carries it, exactly once and in
//! order (`id:` is the line number; a reconnecting client's `Last-Event-ID` continues), then an
//! `end` event with the execution's status once it is no longer running (one still waiting
//! to run is followed from when its attempt starts). A line heard out of
//! order (one published before this follower subscribed and not stored yet) waits until the
//! stored log catches up. The stored `logs.txt` is the same log once the attempt ended.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use serde_json::json;

use domain::BusEvent;
use domain::transform::run::log_stream;
use domain::transform::{Execution, ExecutionStatus};
use services::Caller;

use super::AppState;
use super::answer::{ApiError, ErrorBody, StreamEvent, event_stream_of};
use super::caller::Calling;
use super::extract::ApiPath;

/// The execution and its stored log are looked at again this often.
const RECHECK: Duration = Duration::from_secs(1);
/// A quiet stream sends a comment this often, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[utoipa::path(
    get,
    path = "/api/runs/{id}/executions/{execution}/log",
    operation_id = "follow_transform_log",
    tag = "transforms",
    summary = "An execution's log followed live, as server-sent events (`line`, then `end`)",
    params(("id" = i64, Path, description = "the run's id"), ("execution" = i64, Path, description = "the execution's id")),
    responses(
        (status = 200, description = "The log's lines, then its end", content((StreamEvent = "text/event-stream"))),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn follow(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((run, execution)): ApiPath<(i64, i64)>,
    headers: HeaderMap,
) -> Response {
    let found = match state
        .services
        .get_transform_execution(&caller, run, execution)
        .await
    {
        Ok(found) => found,
        Err(error) => return ApiError(error).into_response(),
    };
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let (sender, receiver) = mpsc::channel::<Bytes>(64);
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        let mut out = Writer {
            sender,
            last: after,
        };
        let _ = follow_execution(&state, &caller, found, &mut out).await;
    });
    event_stream_of(receiver, shutdown)
}

/// The follower went away.
struct Gone;

/// Writes the stream: lines numbered above `last`, once each.
struct Writer {
    sender: mpsc::Sender<Bytes>,
    last: u64,
}

impl Writer {
    async fn line(&mut self, seq: u64, text: &str) -> Result<(), Gone> {
        if seq != self.last + 1 {
            return Ok(());
        }
        self.last = seq;
        let data = json!({ "seq": seq, "text": text });
        self.send(format!("event: line\nid: {seq}\ndata: {data}\n\n"))
            .await
    }

    async fn end(&mut self, execution: &Execution) -> Result<(), Gone> {
        let data = json!({
            "status": execution.status,
            "exit_code": execution.exit_code,
            "reason": execution.reason,
        });
        self.send(format!("event: end\ndata: {data}\n\n")).await
    }

    async fn send(&mut self, chunk: String) -> Result<(), Gone> {
        self.sender.send(Bytes::from(chunk)).await.map_err(|_| Gone)
    }
}

/// The stored log's lines (the log so far while the attempt runs), numbered from 1.
async fn stored(state: &AppState, caller: &Caller, execution: &Execution) -> Vec<String> {
    let found = state
        .services
        .read_transform_artifact(caller, execution.run_id.0, execution.id, "logs.txt")
        .await;
    match found {
        Ok(Some(artifact)) => String::from_utf8_lossy(&artifact.content)
            .lines()
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

async fn catch_up(
    state: &AppState,
    caller: &Caller,
    execution: &Execution,
    held: &mut BTreeMap<u64, String>,
    out: &mut Writer,
) -> Result<(), Gone> {
    let lines = stored(state, caller, execution).await;
    for (index, text) in lines.iter().enumerate() {
        out.line(index as u64 + 1, text).await?;
    }
    while let Some(entry) = held.first_entry() {
        if *entry.key() > out.last + 1 {
            break;
        }
        let (seq, text) = entry.remove_entry();
        out.line(seq, &text).await?;
    }
    Ok(())
}

async fn follow_execution(
    state: &AppState,
    caller: &Caller,
    mut execution: Execution,
    out: &mut Writer,
) -> Result<(), Gone> {
    let mut stream = log_stream(execution.id, execution.attempts);
    // Subscribed before the stored log is read, so a line is either stored or heard.
    let mut bus = match state.services.bus.subscribe().await {
        Ok(events) => events,
        Err(_) => futures::stream::pending().boxed(),
    };
    let mut held = BTreeMap::new();
    let mut recheck = tokio::time::interval(RECHECK);
    let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
    keep_alive.reset();
    loop {
        if !matches!(
            execution.status,
            ExecutionStatus::Pending | ExecutionStatus::Scheduled | ExecutionStatus::Running
        ) {
            catch_up(state, caller, &execution, &mut held, out).await?;
            return out.end(&execution).await;
        }
        tokio::select! {
            event = bus.next() => match event {
                Some(BusEvent::LogLine { stream: heard, seq, line }) if heard == stream => {
                    if seq == out.last + 1 {
                        out.line(seq, &line).await?;
                        while let Some(next) = held.remove(&(out.last + 1)) {
                            out.line(out.last + 1, &next).await?;
                        }
                    } else if seq > out.last {
                        held.insert(seq, line);
                    }
                }
                Some(_) => {}
                None => bus = futures::stream::pending().boxed(),
            },
            _ = recheck.tick() => {
                if !held.is_empty() || out.last == 0 {
                    catch_up(state, caller, &execution, &mut held, out).await?;
                }
                match state.services.get_transform_execution(caller, execution.run_id.0, execution.id).await {
                    // Another attempt began: its log is another stream. Followed from its start
                    // when nothing of an earlier one was sent (the execution was waiting).
                    Ok(now) if now.attempts != execution.attempts => {
                        if out.last > 0 {
                            return out.end(&now).await;
                        }
                        stream = log_stream(now.id, now.attempts);
                        held.clear();
                        execution = now;
                    }
                    Ok(now) => execution = now,
                    Err(_) => return out.end(&execution).await,
                }
            }
            _ = keep_alive.tick() => out.send(": keep-alive\n\n".to_owned()).await?,
        }
    }
}
