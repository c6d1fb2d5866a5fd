//! `GET /api/pipelines/{id}/steps/{step}/logs`: a step's log. As `text/event-stream` (when the
//! client accepts it or asks `follow=true`) it follows the log live: first every line already
//! written, then each new one, exactly once and in order (`id:` is the line number, so a
//! reconnecting client sends `Last-Event-ID` and continues), then an `end` event with the step's
//! outcome. Otherwise it answers the log so far as text. `tail=N` starts at the last N lines,
//! `timestamps=true` prefixes each line with its time, `download=true` offers a file.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;

use domain::BusEvent;
use domain::pipeline::{LogLine, PipelineId, StepRun, StepStatus, step_log_stream};

use services::pipelines::PipelineRef;
use services::step_logs::{StepLog, StepLogRef};

use super::AppState;
use super::answer::{ApiError, ErrorBody, StreamEvent, event_stream_of};
use super::caller::Calling;
use super::extract::{ApiPath, ApiQuery};
use crate::pipelines::logs::{self, LiveLog, rfc3339};
use domain::time::now_ms;

/// A viewer not told of a change looks again this often.
const RECHECK: Duration = Duration::from_secs(2);
/// A quiet stream sends a comment this often, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How to read the log.
#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    #[serde(default)]
    follow: bool,
    #[serde(default)]
    timestamps: bool,
    tail: Option<usize>,
    #[serde(default)]
    download: bool,
}

#[utoipa::path(
    get,
    path = "/api/pipelines/{id}/steps/{step}/logs",
    operation_id = "get_step_log",
    tag = "pipelines",
    summary = "A step's log: text, or followed live as server-sent events",
    params(("id" = i64, Path, description = "the run's id"), ("step" = String, Path, description = "the step's name"), LogQuery),
    responses(
        (status = 200, description = "The log", content((String = "text/plain"), (StreamEvent = "text/event-stream"))),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn step_log(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((id, step)): ApiPath<(i64, String)>,
    ApiQuery(query): ApiQuery<LogQuery>,
    headers: HeaderMap,
) -> Response {
    let wanted = wanted(PipelineRef::id(id), step, &query, &headers);
    serve(state, caller, wanted, query, &headers).await
}

#[utoipa::path(
    get,
    path = "/api/projects/{id}/pipelines/{pipeline_id}/steps/{step_id}/logs",
    operation_id = "get_project_step_log",
    tag = "pipelines",
    summary = "A repository run's step log: text, or followed live",
    params(("id" = i64, Path, description = "the repository's id"), ("pipeline_id" = i64, Path, description = "the run's id"), ("step_id" = String, Path, description = "the step's name"), LogQuery),
    responses(
        (status = 200, description = "The log", content((String = "text/plain"), (StreamEvent = "text/event-stream"))),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "A dependency is unavailable", body = ErrorBody)
    )
)]
pub async fn step_log_in_project(
    State(state): State<AppState>,
    Calling(caller): Calling,
    ApiPath((project, id, step)): ApiPath<(i64, i64, String)>,
    ApiQuery(query): ApiQuery<LogQuery>,
    headers: HeaderMap,
) -> Response {
    let run = PipelineRef::in_project(project, id);
    let wanted = wanted(run, step, &query, &headers);
    serve(state, caller, wanted, query, &headers).await
}

/// The log asked for: followed as an event stream when the client accepts one or asks
/// `follow=true`, else read once.
fn wanted(run: PipelineRef, step: String, query: &LogQuery, headers: &HeaderMap) -> StepLogRef {
    let follow = query.follow
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/event-stream"));
    StepLogRef { run, step, follow }
}

async fn serve(
    state: AppState,
    caller: services::Caller,
    wanted: StepLogRef,
    query: LogQuery,
    headers: &HeaderMap,
) -> Response {
    let (id, name, follow_it) = (wanted.run.id, wanted.step.clone(), wanted.follow);
    let step = match state.services.step_log(&caller, wanted).await {
        Ok(StepLog::Step { step, .. }) => step,
        // A run that has not read its file yet has no steps: a follower waits for them.
        Ok(StepLog::NotPlanned { .. }) => {
            return follow(state, id, name, last_event_id(headers), query.tail).await;
        }
        Err(error) => return ApiError(error).into_response(),
    };
    if follow_it {
        return follow(state, id, name, last_event_id(headers), query.tail).await;
    }
    match current_lines(&state, id, &step).await {
        Ok(lines) => text_answer(&lines, &query, &format!("pipeline-{id}-{name}.log")),
        Err(response) => response,
    }
}

/// The log as text: the last `tail` lines, with times when asked, offered as `file_name` for
/// a download.
fn text_answer(lines: &[LogLine], query: &LogQuery, file_name: &str) -> Response {
    let start = query
        .tail
        .map_or(0, |tail| lines.len().saturating_sub(tail));
    let mut text = String::new();
    for line in &lines[start..] {
        if query.timestamps {
            text.push_str(&rfc3339(line.at_ms));
            text.push(' ');
        }
        text.push_str(&line.text);
        text.push('\n');
    }
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if query.download
        && let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The step's lines so far, as an HTTP answer's error.
async fn current_lines(
    state: &AppState,
    id: PipelineId,
    step: &StepRun,
) -> Result<Vec<LogLine>, Response> {
    step_log_lines(state, id, step)
        .await
        .map_err(|error| ApiError(error).into_response())
}

/// The step's lines so far: live in this process, or stored (whole, or the parts written).
pub async fn step_log_lines(
    state: &AppState,
    id: PipelineId,
    step: &StepRun,
) -> Result<Vec<LogLine>, services::Error> {
    if let Some(live) = state.log_hub.live(id, &step.name) {
        return Ok(live.lines_from(0));
    }
    logs::stored_lines(state.services.objects.as_ref(), id, step)
        .await
        .map_err(|source| services::Error::Unavailable {
            dependency: "object storage",
            source: Box::new(source),
        })
}

async fn follow(
    state: AppState,
    id: PipelineId,
    step: String,
    after: Option<u64>,
    tail: Option<usize>,
) -> Response {
    let (sender, receiver) = mpsc::channel::<Bytes>(64);
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        let mut writer = Writer {
            sender,
            last: after.unwrap_or(0),
            tail: if after.is_some() { None } else { tail },
        };
        let _ = follow_step(&state, id, &step, &mut writer).await;
    });
    event_stream_of(receiver, shutdown)
}

/// Writes the event stream: lines with numbers above `last`, once each. Every line is its own
/// SSE event, but the lines available at once go out in one write, so a fast log costs one
/// chunk per batch rather than one per line.
struct Writer {
    sender: mpsc::Sender<Bytes>,
    last: u64,
    /// For the first batch only: send just its last N lines.
    tail: Option<usize>,
}

/// The viewer went away.
struct Gone;

impl Writer {
    async fn lines(&mut self, lines: &[LogLine]) -> Result<(), Gone> {
        let fresh: Vec<&LogLine> = lines.iter().filter(|l| l.seq > self.last).collect();
        let skip = self
            .tail
            .take()
            .map_or(0, |tail| fresh.len().saturating_sub(tail));
        let mut chunk = String::new();
        for line in &fresh[skip..] {
            self.last = line.seq;
            let data = serde_json::to_string(line).map_err(|_| Gone)?;
            chunk.push_str(&format!("event: line\nid: {}\ndata: {data}\n\n", line.seq));
        }
        self.send(chunk).await
    }

    async fn line(&mut self, line: &LogLine) -> Result<(), Gone> {
        self.lines(std::slice::from_ref(line)).await
    }

    async fn end(&mut self, step: &StepRun) -> Result<(), Gone> {
        let data = json!({
            "status": step.status,
            "exit_code": step.exit_code,
            "reason": step.reason,
        });
        self.send(format!("event: end\ndata: {data}\n\n")).await
    }

    /// A comment, so connections through proxies stay open while nothing happens.
    async fn keep_alive(&mut self) -> Result<(), Gone> {
        self.send(": keep-alive\n\n".to_owned()).await
    }

    async fn send(&mut self, chunk: String) -> Result<(), Gone> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.sender.send(Bytes::from(chunk)).await.map_err(|_| Gone)
    }
}

async fn follow_step(
    state: &AppState,
    id: PipelineId,
    step: &str,
    out: &mut Writer,
) -> Result<(), Gone> {
    let stream = step_log_stream(id, step);
    let mut bus = None;
    loop {
        if let Some(live) = state.log_hub.live(id, step) {
            follow_live(&live, out).await?;
        }
        // Subscribed before reading the Store, so no line falls between what is read and what
        // is heard (only now: a log followed in this process needs no bus).
        if bus.is_none() {
            bus = Some(match state.services.bus.subscribe().await {
                Ok(events) => events,
                Err(_) => futures::stream::pending().boxed(),
            });
        }
        let Some(bus) = bus.as_mut() else {
            return Ok(());
        };
        let Ok(run) = state.services.store.get_pipeline(id).await else {
            return Ok(());
        };
        let found = run.steps.iter().find(|s| s.name == step).cloned();
        let step_run = match found {
            Some(step_run) => step_run,
            // The run ended before it had this step (say, its file was not valid).
            None if run.status.is_finished() => {
                let reason = format!(
                    "the run ended ({}) without running `{step}`",
                    run.status.as_str()
                );
                return out
                    .end(&unplanned(step, StepStatus::Skipped, Some(reason)))
                    .await;
            }
            None if !run.steps.is_empty() => return Ok(()),
            // Not planned yet: wait below, as for a step that has not started.
            None => unplanned(step, StepStatus::Pending, None),
        };
        if step_run.status.is_finished() {
            if let Ok(lines) =
                logs::stored_lines(state.services.objects.as_ref(), id, &step_run).await
            {
                out.lines(&lines).await?;
            }
            return out.end(&step_run).await;
        }
        if step_run.started_at_ms.is_some()
            && let Ok(lines) =
                logs::stored_lines(state.services.objects.as_ref(), id, &step_run).await
        {
            out.lines(&lines).await?;
        }
        // Running elsewhere (or not started): follow the bus until something changes.
        out.keep_alive().await?;
        let recheck = tokio::time::sleep(RECHECK);
        tokio::pin!(recheck);
        loop {
            tokio::select! {
                () = &mut recheck => break,
                event = bus.next() => match event {
                    Some(BusEvent::LogLine { stream: s, seq, line }) if s == stream => {
                        // Its log is live in this process now, or a line was missed (a busy
                        // bus drops what a slow listener has not taken, announcements
                        // included): look again at once rather than at the next recheck.
                        if seq != out.last + 1 || state.log_hub.live(id, step).is_some() {
                            break;
                        }
                        out.line(&LogLine { seq, at_ms: now_ms(), text: line }).await?;
                    }
                    Some(BusEvent::Changed { id: changed, .. }) if changed == id.to_string() => break,
                    Some(_) => {}
                    None => break,
                },
            }
        }
    }
}

/// Follows a log of this process until it ends.
async fn follow_live(live: &Arc<LiveLog>, out: &mut Writer) -> Result<(), Gone> {
    let mut progress = live.progress();
    loop {
        let (count, finished) = *progress.borrow_and_update();
        let from = usize::try_from(out.last).unwrap_or(usize::MAX).min(count);
        out.lines(&live.lines_from(from)).await?;
        if finished {
            return Ok(());
        }
        tokio::select! {
            changed = progress.changed() => if changed.is_err() {
                return Ok(());
            },
            () = tokio::time::sleep(KEEP_ALIVE) => out.keep_alive().await?,
        }
    }
}

/// A step the run has no record of (yet).
fn unplanned(step: &str, status: StepStatus, reason: Option<String>) -> StepRun {
    StepRun {
        name: step.to_owned(),
        image: String::new(),
        depends_on: Vec::new(),
        status,
        exit_code: None,
        reason,
        log_key: None,
        started_at_ms: None,
        finished_at_ms: None,
    }
}

/// The line a reconnecting client saw last.
fn last_event_id(headers: &HeaderMap) -> Option<u64> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}
