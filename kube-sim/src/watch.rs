//! Watch streams: newline-delimited JSON events (`ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK`,
//! `ERROR` with a 410 Status when the requested version is too old), ended by `timeoutSeconds`
//! or, on purpose, by the dropped-watch knob.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::stream::{self, Stream};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::Sim;
use crate::path::Target;
use crate::selector::{FieldSelector, Selector};
use crate::store::{Event, labels_of};

/// What a watch request asked for.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    pub target: Target,
    pub from: Option<u64>,
    pub selector: Selector,
    pub fields: FieldSelector,
    pub bookmarks: bool,
    pub timeout: Option<Duration>,
    /// Events as one-row Tables (`kubectl get -w`); `Some(true)`: rows with the whole object.
    pub table: Option<bool>,
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut text = json!({ "type": kind, "object": object }).to_string();
    text.push('\n');
    Bytes::from(text)
}

struct Watching {
    sim: Arc<Sim>,
    request: WatchRequest,
    receiver: broadcast::Receiver<Event>,
    sent: u64,
    last_version: u64,
}

impl Watching {
    fn wants(&self, event: &Event) -> bool {
        let target = &self.request.target;
        event.resource == target.resource
            && target
                .namespace
                .as_ref()
                .is_none_or(|ns| &event.namespace == ns)
            && self.request.fields.matches(&event.object)
            && self.request.selector.matches(&labels_of(&event.object))
    }

    fn event_line(&self, event: &Event) -> Bytes {
        match self.request.table {
            None => line(event.kind.as_str(), &event.object),
            Some(whole) => {
                let version = event.resource_version.to_string();
                let resource = self.request.target.resource;
                let table = crate::tables::table(resource, &[&event.object], &version, whole);
                line(event.kind.as_str(), &table)
            }
        }
    }

    fn bookmark(&self) -> Bytes {
        let target = self.request.target.resource;
        let object = json!({ "kind": target.kind, "apiVersion": target.api_version(), "metadata": { "resourceVersion": self.last_version.to_string() } });
        line("BOOKMARK", &object)
    }
}

/// The response for a watch request.
pub fn respond(sim: Arc<Sim>, request: WatchRequest) -> Response {
    let namespace = request.target.namespace.clone().unwrap_or_default();
    let (initial, receiver) =
        match sim
            .store
            .watch(request.target.resource, &namespace, request.from)
        {
            Ok(started) => started,
            Err(gone) => {
                // Like the API server: 200, then one ERROR event carrying the 410 Status.
                let body = line("ERROR", &gone.to_status());
                return ([(header::CONTENT_TYPE, "application/json")], body).into_response();
            }
        };
    let last_version = request.from.unwrap_or_else(|| sim.store.resource_version());
    let watching = Watching {
        sim,
        request,
        receiver,
        sent: 0,
        last_version,
    };
    let initial: Vec<Event> = initial.into_iter().filter(|e| watching.wants(e)).collect();
    let body = events(watching, initial);
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response()
}

fn events(
    watching: Watching,
    initial: Vec<Event>,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    let deadline = watching
        .request
        .timeout
        .map(|t| tokio::time::Instant::now() + t);
    stream::unfold(
        (watching, initial.into_iter()),
        move |(mut w, mut pending)| async move {
            if w.sim
                .knobs
                .drop_watch_after()
                .is_some_and(|limit| w.sent >= limit)
            {
                return None;
            }
            if let Some(event) = pending.next() {
                w.sent += 1;
                w.last_version = w.last_version.max(event.resource_version);
                let bytes = w.event_line(&event);
                return Some((Ok(bytes), (w, pending)));
            }
            loop {
                let bookmark_in = w.sim.knobs.bookmark_interval();
                let stopping = w.sim.stopping.clone();
                let next = async {
                    let received = async {
                        match deadline {
                            Some(d) => tokio::time::timeout_at(d, w.receiver.recv()).await.ok(),
                            None => Some(w.receiver.recv().await),
                        }
                    };
                    tokio::select! {
                        received = received => received,
                        () = stopping.cancelled() => None,
                    }
                };
                let received = if w.request.bookmarks {
                    match tokio::time::timeout(bookmark_in, next).await {
                        Ok(received) => received,
                        Err(_) => return Some((Ok(w.bookmark()), (w, pending))),
                    }
                } else {
                    next.await
                };
                match received {
                    None => return None,
                    Some(Ok(event)) if w.wants(&event) => {
                        w.sent += 1;
                        w.last_version = event.resource_version;
                        let bytes = w.event_line(&event);
                        return Some((Ok(bytes), (w, pending)));
                    }
                    Some(Ok(event)) => w.last_version = w.last_version.max(event.resource_version),
                    // A watcher that fell too far behind is closed; the client resumes from its last version.
                    Some(Err(_)) => return None,
                }
            }
        },
    )
}
