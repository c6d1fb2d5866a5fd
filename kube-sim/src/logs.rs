//! Container logs: every line a simulated container writes, kept after it exits (so a client
//! that opens the stream late still gets everything), served by `GET .../pods/{name}/log`
//! with `container`, `follow`, `timestamps` (RFC 3339 with nanoseconds, as the kubelet writes
//! them), `sinceTime` (second precision, as the API server takes it) and `tailLines`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::stream;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::watch;

use crate::Sim;
use crate::resources::PODS;
use crate::status::ApiError;

/// When a line was written, and its text.
type Line = (OffsetDateTime, String);

/// The lines of one container, and whether it has finished writing.
#[derive(Debug)]
pub struct LogBuffer {
    lines: Mutex<Vec<Line>>,
    /// Number of lines written; closed (sender dropped) is signalled by `finished`.
    written: watch::Sender<(usize, bool)>,
}

impl LogBuffer {
    fn new() -> Self {
        Self {
            lines: Mutex::new(Vec::new()),
            written: watch::channel((0, false)).0,
        }
    }

    pub fn push(&self, line: String) {
        let count = {
            let mut lines = self
                .lines
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            lines.push((OffsetDateTime::now_utc(), line));
            lines.len()
        };
        self.written.send_modify(|state| state.0 = count);
    }

    /// No more lines will come (the container exited).
    pub fn finish(&self) {
        self.written.send_modify(|state| state.1 = true);
    }

    fn snapshot(&self, from: usize) -> Vec<Line> {
        let lines = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        lines.get(from..).map(<[_]>::to_vec).unwrap_or_default()
    }
}

/// Log buffers by `(namespace, pod, container)`.
#[derive(Debug, Default)]
pub struct Logs {
    buffers: Mutex<HashMap<(String, String, String), Arc<LogBuffer>>>,
}

impl Logs {
    /// A fresh buffer for a container (re)start; replaces the previous run's lines.
    pub fn start(&self, namespace: &str, pod: &str, container: &str) -> Arc<LogBuffer> {
        let buffer = Arc::new(LogBuffer::new());
        let key = (namespace.to_owned(), pod.to_owned(), container.to_owned());
        self.buffers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, buffer.clone());
        buffer
    }

    fn get(&self, namespace: &str, pod: &str, container: &str) -> Option<Arc<LogBuffer>> {
        let key = (namespace.to_owned(), pod.to_owned(), container.to_owned());
        self.buffers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .cloned()
    }

    /// Forgets a deleted pod's logs.
    pub fn remove_pod(&self, namespace: &str, pod: &str) {
        self.buffers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|(ns, p, _), _| !(ns == namespace && p == pod));
    }
}

fn format_line(timestamps: bool, (at, text): &Line) -> Bytes {
    if timestamps {
        let at = at.format(&Rfc3339).unwrap_or_default();
        Bytes::from(format!("{at} {text}\n"))
    } else {
        Bytes::from(format!("{text}\n"))
    }
}

pub async fn respond(
    sim: &Arc<Sim>,
    namespace: &str,
    pod_name: &str,
    params: &std::collections::BTreeMap<String, String>,
) -> Result<Response, ApiError> {
    let pod = sim.store.get(&PODS, namespace, pod_name)?;
    let names: Vec<&str> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    let init_names: Vec<&str> = pod["spec"]["initContainers"]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    let container = match (params.get("container"), names.as_slice()) {
        (Some(c), _) if names.contains(&c.as_str()) || init_names.contains(&c.as_str()) => {
            c.clone()
        }
        (Some(c), _) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {pod_name}"
            )));
        }
        (None, [only]) => (*only).to_owned(),
        (None, _) => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                names.join(" ")
            )));
        }
    };
    let Some(buffer) = sim.logs.get(namespace, pod_name, &container) else {
        let reason = waiting_reason(&pod, &container).unwrap_or_else(|| "ContainerCreating".into());
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {reason}"
        )));
    };
    let timestamps = params.get("timestamps").is_some_and(|v| v == "true");
    let follow = params.get("follow").is_some_and(|v| v == "true");
    let since = match (params.get("sinceTime"), params.get("sinceSeconds")) {
        (Some(t), _) => Some(OffsetDateTime::parse(t, &Rfc3339).map_err(|e| {
            ApiError::bad_request(format!("sinceTime {t:?} is not an RFC 3339 time: {e}"))
        })?),
        (None, Some(s)) => {
            let seconds: i64 = s.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                ApiError::bad_request(format!("sinceSeconds {s:?} is not a positive number"))
            })?;
            Some(OffsetDateTime::now_utc() - time::Duration::seconds(seconds))
        }
        (None, None) => None,
    };
    let all = buffer.snapshot(0);
    let recent: Vec<&Line> = all
        .iter()
        .filter(|(at, _)| since.is_none_or(|since| *at >= since))
        .collect();
    let start = params
        .get("tailLines")
        .and_then(|t| t.parse::<usize>().ok())
        .map_or(0, |tail| recent.len().saturating_sub(tail));
    let existing: Vec<Bytes> = recent[start..]
        .iter()
        .map(|l| format_line(timestamps, l))
        .collect();
    if !follow {
        return Ok(([(header::CONTENT_TYPE, "text/plain")], existing.concat()).into_response());
    }
    let next_index = all.len();
    let receiver = buffer.written.subscribe();
    let stopping = sim.stopping.clone();
    // The knob's dropped connection: the body breaks off without its end.
    let allowance = sim.knobs.drop_logs_after().unwrap_or(u64::MAX);
    let state = (
        existing.into_iter(),
        next_index,
        buffer,
        false,
        receiver,
        allowance,
    );
    let followed = stream::unfold(
        state,
        move |(mut pending, mut index, buffer, mut ended, mut receiver, mut allowance)| {
            let stopping = stopping.clone();
            async move {
                loop {
                    if let Some(bytes) = pending.next() {
                        if allowance == 0 {
                            // Let the server send what it has (the headers at least) first, so
                            // the break comes mid-stream rather than before the response.
                            tokio::task::yield_now().await;
                            return Some((
                                Err(std::io::Error::other("log stream dropped (knob)")),
                                (Vec::new().into_iter(), index, buffer, true, receiver, 0),
                            ));
                        }
                        allowance -= 1;
                        return Some((
                            Ok::<_, std::io::Error>(bytes),
                            (pending, index, buffer, ended, receiver, allowance),
                        ));
                    }
                    if ended {
                        return None;
                    }
                    let (written, finished) = *receiver.borrow_and_update();
                    if written > index {
                        let fresh: Vec<Bytes> = buffer
                            .snapshot(index)
                            .iter()
                            .map(|l| format_line(timestamps, l))
                            .collect();
                        index += fresh.len();
                        pending = fresh.into_iter();
                    } else if finished {
                        // Count and the finished flag change together, so nothing is left to send.
                        ended = true;
                    } else {
                        tokio::select! {
                            changed = receiver.changed() => ended = changed.is_err(),
                            () = stopping.cancelled() => ended = true,
                        }
                    }
                }
            }
        },
    );
    Ok((
        [(header::CONTENT_TYPE, "text/plain")],
        Body::from_stream(followed),
    )
        .into_response())
}

fn waiting_reason(pod: &serde_json::Value, container: &str) -> Option<String> {
    pod["status"]["containerStatuses"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == container)
        .and_then(|s| s["state"]["waiting"]["reason"].as_str())
        .map(str::to_owned)
}
