//! What the pipeline tests share: a sample repository in a local git remote, triggering a run
//! through the API, waiting (on the bus, not by sleeping) for it to reach a status, and reading
//! a step's log as a server-sent event stream.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use domain::{BusEvent, EntityKind};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::support::TestServer;

/// How long any run in these tests may take.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// A git repository with one commit holding `files`; returns its path and the commit.
pub fn sample_repository(dir: &Path, files: &[(&str, &str)]) -> (PathBuf, String) {
    let repo = dir.join("sample");
    std::fs::create_dir_all(&repo).expect("repo dir");
    git(&repo, &["init", "--quiet", "--initial-branch=main"]);
    commit(&repo, files, "first commit")
}

/// Adds a commit with `files` to the repository; returns the path and the new commit.
pub fn commit(repo: &Path, files: &[(&str, &str)], message: &str) -> (PathBuf, String) {
    for (name, content) in files {
        let path = repo.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("dirs");
        }
        std::fs::write(path, content).expect("write file");
    }
    git(repo, &["add", "--all"]);
    git(
        repo,
        &[
            "-c",
            "user.name=Dev",
            "-c",
            "user.email=dev@example.com",
            "commit",
            "--quiet",
            "-m",
            message,
        ],
    );
    let sha = git(repo, &["rev-parse", "HEAD"]);
    (repo.to_owned(), sha.trim().to_owned())
}

pub fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(repo)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Adds the repository through `POST /api/projects`; returns its id.
pub async fn add_project(server: &TestServer, name: &str, clone_url: &Path) -> i64 {
    let response = server
        .http
        .post(server.url("/api/projects"))
        .json(&json!({ "name": name, "clone_url": clone_url.display().to_string() }))
        .send()
        .await
        .expect("add project");
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.expect("json");
    body["id"].as_i64().expect("id")
}

/// Starts a run at `git_ref` through the API; returns its id.
pub async fn trigger(server: &TestServer, project: i64, git_ref: &str) -> i64 {
    let response = server
        .http
        .post(server.url(&format!("/api/projects/{project}/pipelines")))
        .json(&json!({ "git_ref": git_ref }))
        .send()
        .await
        .expect("trigger");
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.expect("json");
    // The executor may already have claimed it.
    assert!(
        matches!(body["status"].as_str(), Some("pending" | "running")),
        "{body}"
    );
    body["id"].as_i64().expect("id")
}

/// Follows the server's bus until the run is announced with one of `statuses` (and the API
/// agrees); returns its detail.
pub struct RunWatcher {
    events: futures::stream::BoxStream<'static, BusEvent>,
}

impl RunWatcher {
    /// Subscribe before triggering, so no announcement is missed.
    pub async fn new(server: &TestServer) -> Self {
        let events = server
            .running
            .adapters
            .bus
            .subscribe()
            .await
            .expect("subscribe");
        Self { events }
    }

    pub async fn until(&mut self, server: &TestServer, id: i64, statuses: &[&str]) -> Value {
        let reached = |detail: &Value| statuses.contains(&detail["status"].as_str().unwrap_or(""));
        self.until_detail(server, id, reached)
            .await
            .unwrap_or_else(|| panic!("pipeline {id} did not reach {statuses:?} in time"))
    }

    /// Waits until the run's step `step` is running.
    pub async fn until_step_runs(&mut self, server: &TestServer, id: i64, step: &str) {
        let running = |detail: &Value| {
            detail["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| s["name"] == step && s["status"] == "running")
        };
        if self.until_detail(server, id, running).await.is_none() {
            panic!("step {step} of pipeline {id} never ran");
        }
    }

    /// The run's detail once `done` holds for it, looking again at each announced change of the
    /// run; `None` past [`RUN_LIMIT`].
    async fn until_detail(
        &mut self,
        server: &TestServer,
        id: i64,
        done: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let wait = async {
            loop {
                let detail = detail(server, id).await;
                if done(&detail) {
                    return detail;
                }
                // Wait for the next change of this run, then look again.
                loop {
                    match self.events.next().await {
                        Some(BusEvent::Changed {
                            entity: EntityKind::Pipeline,
                            id: changed,
                            ..
                        }) if changed == id.to_string() => break,
                        Some(_) => {}
                        None => panic!("the bus ended"),
                    }
                }
            }
        };
        tokio::time::timeout(RUN_LIMIT, wait).await.ok()
    }
}

impl RunWatcher {
    /// Waits until a line containing `text` is published for the run's step `step`.
    pub async fn until_log_line(&mut self, id: i64, step: &str, text: &str) {
        let stream = format!("pipeline/{id}/{step}");
        let wait = async {
            loop {
                match self.events.next().await {
                    Some(BusEvent::LogLine {
                        stream: s, line, ..
                    }) if s == stream && line.contains(text) => return,
                    Some(_) => {}
                    None => panic!("the bus ended"),
                }
            }
        };
        tokio::time::timeout(RUN_LIMIT, wait)
            .await
            .unwrap_or_else(|_| panic!("step {step} of pipeline {id} never printed {text:?}"));
    }
}

pub async fn detail(server: &TestServer, id: i64) -> Value {
    let response = server
        .http
        .get(server.url(&format!("/api/pipelines/{id}")))
        .send()
        .await
        .expect("detail");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

pub fn step<'a>(detail: &'a Value, name: &str) -> &'a Value {
    detail["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no step {name} in {detail}"))
}

/// A step's log as text (`GET …/logs`).
pub async fn log_text(server: &TestServer, id: i64, step: &str) -> String {
    let response = server
        .http
        .get(server.url(&format!("/api/pipelines/{id}/steps/{step}/logs")))
        .send()
        .await
        .expect("log");
    assert_eq!(response.status(), 200);
    response.text().await.expect("text")
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct Sse {
    pub event: String,
    pub id: Option<String>,
    pub data: Value,
}

/// Reads a step's log as an event stream until its `end` event.
pub async fn follow_log(
    server: &TestServer,
    id: i64,
    step: &str,
    last_event_id: Option<u64>,
) -> Vec<Sse> {
    let url = server.url(&format!("/api/pipelines/{id}/steps/{step}/logs"));
    follow_events(&server.http, url, last_event_id).await
}

/// Reads the event stream at `url` until its `end` event.
pub async fn follow_events(
    http: &reqwest::Client,
    url: String,
    last_event_id: Option<u64>,
) -> Vec<Sse> {
    let (sender, mut received) = tokio::sync::mpsc::unbounded_channel();
    stream_events(http, url, last_event_id, sender).await;
    let mut events = Vec::new();
    while let Ok(event) = received.try_recv() {
        events.push(event);
    }
    events
}

/// Reads the event stream at `url` until its `end` event, handing each event to `events` as
/// it arrives.
pub async fn stream_events(
    http: &reqwest::Client,
    url: String,
    last_event_id: Option<u64>,
    events: tokio::sync::mpsc::UnboundedSender<Sse>,
) {
    let mut request = http.get(url).header("accept", "text/event-stream");
    if let Some(last) = last_event_id {
        request = request.header("last-event-id", last.to_string());
    }
    let response = request.send().await.expect("follow");
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut buffer = String::new();
    let read = async {
        while let Some(chunk) = body.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let mut event = Sse {
                    event: "message".into(),
                    id: None,
                    data: Value::Null,
                };
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        event.event = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        event.id = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        event.data = serde_json::from_str(v).expect("event data is JSON");
                    }
                }
                if event.data.is_null() {
                    continue; // keep-alive comment
                }
                let done = event.event == "end";
                let _ = events.send(event);
                if done {
                    return;
                }
            }
        }
    };
    tokio::time::timeout(RUN_LIMIT, read)
        .await
        .expect("the log stream ends");
}
