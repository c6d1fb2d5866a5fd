//! Outgoing notifications end to end, with a receiver on loopback: a subscription made through
//! the API (its secret never shown back) gets a signed delivery for each event it chose as
//! pipeline runs start and end; a receiver answering 500 gets retries with growing gaps, each
//! attempt kept with its answer; a delivery can be redelivered; bad subscriptions are refused
//! naming the field; and a repository that turns notifications off sends none.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

use crate::pipeline_support::{RunWatcher, add_project, sample_repository, trigger};
use crate::support::TestServer;

const SECRET: &str = "receiver-secret-0123456789";

const FAILING: &str = r#"
pipeline:
  steps:
    - name: build
      image: alpine
      commands: ['while [ ! -f GATE ]; do sleep 0.05; done', echo built]
    - name: test
      image: alpine
      depends_on: [build]
      commands: [echo testing, exit 4]
"#;

/// What the receiver got: headers, body and when.
type Received = (HeaderMap, Bytes, Instant);

#[derive(Default)]
struct Receiver {
    received: Mutex<Vec<Received>>,
    /// Status codes to answer `pipeline.failed` deliveries with, in order; 200 once they run
    /// out (and for every other event).
    answers: Mutex<VecDeque<u16>>,
    told: tokio::sync::Notify,
}

impl Receiver {
    async fn start() -> (String, Arc<Self>) {
        let receiver = Arc::new(Self::default());
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (url, receiver)
    }

    /// The deliveries of `event` received so far.
    fn of(&self, event: &str) -> Vec<Received> {
        self.received
            .lock()
            .expect("lock")
            .iter()
            .filter(|(headers, _, _)| {
                headers.get("x-slipway-event").and_then(|v| v.to_str().ok()) == Some(event)
            })
            .cloned()
            .collect()
    }

    /// Waits until `count` deliveries of `event` arrived (a minute at most).
    async fn until(&self, event: &str, count: usize) -> Vec<Received> {
        let wait = async {
            loop {
                let told = self.told.notified();
                tokio::pin!(told);
                told.as_mut().enable();
                let seen = self.of(event);
                if seen.len() >= count {
                    return seen;
                }
                told.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(60), wait)
            .await
            .unwrap_or_else(|_| panic!("the receiver never got {count} × {event}"))
    }
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let failed =
        headers.get("x-slipway-event").and_then(|v| v.to_str().ok()) == Some("pipeline.failed");
    let planned = failed.then(|| receiver.answers.lock().expect("lock").pop_front());
    let code = planned.flatten().unwrap_or(200);
    receiver
        .received
        .lock()
        .expect("lock")
        .push((headers, body, Instant::now()));
    receiver.told.notify_waiters();
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    (
        status,
        if status.is_success() {
            "thanks"
        } else {
            "down for maintenance"
        },
    )
}

/// The signature a receiver computes over the body it got.
fn expected_signature(body: &[u8]) -> String {
    server::webhooks::signature::sign(SECRET, body)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn subscribe(server: &TestServer, project: i64, body: Value) -> (u16, Value) {
    let response = server
        .http
        .post(server.url(&format!("/api/projects/{project}/notifications")))
        .json(&body)
        .send()
        .await
        .expect("subscribe");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(server: &TestServer, path: &str) -> Value {
    let response = server.http.get(server.url(path)).send().await.expect("get");
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.expect("json")
}

/// A delivery's detail once it is no longer pending (half a minute at most).
async fn settled(server: &TestServer, project: i64, delivery: &str) -> Value {
    let path = format!("/api/projects/{project}/notification-deliveries/{delivery}");
    let wait = async {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tick.tick().await;
            let detail = get(server, &path).await;
            if detail["delivery"]["status"] != "pending" {
                return detail;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .unwrap_or_else(|_| panic!("delivery {delivery} still pending"))
}

#[tokio::test]
async fn subscribers_get_signed_deliveries_retried_until_answered_and_redeliverable() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The first run waits at its first step until the test has seen it start.
    let gate = dir.path().join("gate");
    let platform = FAILING.replace("GATE", &gate.display().to_string());
    let (repo, _) = sample_repository(dir.path(), &[(".platform.yaml", &platform)]);
    let server = TestServer::start(&[("SLIPWAY_NOTIFICATION_RETRY_SECONDS", "1".to_owned())]).await;
    let project = add_project(&server, "acme/shop", &repo).await;
    let (url, receiver) = Receiver::start().await;

    // Refused, naming what is wrong.
    for (body, field) in [
        (
            json!({ "url": "hooks.example.com", "events": ["pipeline.failed"], "secret": SECRET }),
            "url",
        ),
        (
            json!({ "url": url, "events": ["pipeline.exploded"], "secret": SECRET }),
            "events",
        ),
        (
            json!({ "url": url, "events": [], "secret": SECRET }),
            "events",
        ),
        (
            json!({ "url": url, "events": ["pipeline.failed"], "secret": "short" }),
            "secret",
        ),
    ] {
        let (status, answer) = subscribe(&server, project, body).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (400, Some(field)),
            "{answer}"
        );
    }
    let (status, subscription) = subscribe(
        &server,
        project,
        json!({ "url": url, "events": ["pipeline.started", "build.failure"], "secret": SECRET }),
    )
    .await;
    assert_eq!(status, 201, "{subscription}");
    assert_eq!(
        subscription["events"],
        json!(["pipeline.started", "pipeline.failed"])
    );
    let listed = get(&server, &format!("/api/projects/{project}/notifications")).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    assert!(
        !listed.to_string().contains(SECRET) && listed["items"][0].get("secret").is_none(),
        "the secret is never shown: {listed}"
    );

    // A run that fails: started, then failed, each signed.
    let mut watcher = RunWatcher::new(&server).await;
    let run = trigger(&server, project, "main").await;
    let started = receiver.until("pipeline.started", 1).await;
    let payload: Value = serde_json::from_slice(&started[0].1).expect("json body");
    assert_eq!(payload["pipeline"]["status"], "running");
    std::fs::write(&gate, "open").expect("gate");
    watcher.until(&server, run, &["failed"]).await;
    let failed = receiver.until("pipeline.failed", 1).await;
    let (headers, body, _) = &failed[0];
    assert_eq!(
        header(headers, "x-slipway-signature-256"),
        expected_signature(body)
    );
    assert_eq!(header(headers, "content-type"), "application/json");
    assert!(header(headers, "user-agent").starts_with("Slipway-Notifications/"));
    let delivery_id = header(headers, "x-slipway-delivery").to_owned();
    assert_eq!(delivery_id.len(), 32, "{delivery_id}");
    let payload: Value = serde_json::from_slice(body).expect("json body");
    assert_eq!(payload["event"], "pipeline.failed");
    assert_eq!(payload["repository"], "acme/shop");
    assert_eq!(payload["pipeline"]["id"], run);
    assert_eq!(payload["pipeline"]["status"], "failed");
    assert_eq!(payload["pipeline"]["reason"], "step `test` failed");
    assert_eq!(
        payload["pipeline"]["url"],
        server.url(&format!("/pipelines/{run}"))
    );
    assert_eq!(payload["pipeline"]["steps"][1]["exit_code"], 4);
    assert_eq!(receiver.of("pipeline.started").len(), 1);
    assert!(
        receiver.of("pipeline.succeeded").is_empty(),
        "not subscribed to"
    );

    // The receiver is down for two attempts: retried 1 s, then 2 s later; the third lands.
    receiver.answers.lock().expect("lock").extend([500, 503]);
    let run = trigger(&server, project, "main").await;
    watcher.until(&server, run, &["failed"]).await;
    let all = receiver.until("pipeline.failed", 4).await;
    let tries: Vec<&Received> = all.iter().skip(1).collect();
    let gaps: Vec<Duration> = tries.windows(2).map(|w| w[1].2 - w[0].2).collect();
    assert!(gaps[0] >= Duration::from_millis(900), "{gaps:?}");
    assert!(
        gaps[1] >= Duration::from_millis(1_900),
        "the gap grows: {gaps:?}"
    );
    let retried = header(&tries[0].0, "x-slipway-delivery").to_owned();
    assert!(
        tries
            .iter()
            .all(|(h, _, _)| header(h, "x-slipway-delivery") == retried),
        "one delivery, tried three times"
    );
    // The receiver has answered; Slipway records the answer right after.
    let detail = settled(&server, project, &retried).await;
    assert_eq!(detail["delivery"]["status"], "delivered", "{detail}");
    assert_eq!(detail["delivery"]["attempts"], 3);
    let codes: Vec<i64> = detail["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .filter_map(|a| a["status_code"].as_i64())
        .collect();
    assert_eq!(codes, [500, 503, 200]);
    let metrics = server.page("/metrics").await;
    assert!(
        metrics.contains("slipway_notification_attempts_total{outcome=\"retrying\"} 2"),
        "{metrics}"
    );
    assert_eq!(detail["attempts"][0]["response"], "down for maintenance");
    assert_eq!(
        detail["attempts"][0]["error"],
        "the receiver answered 500 Internal Server Error"
    );

    // The subscription's deliveries, newest first; redelivering one sends the same body again.
    let sub = subscription["id"].as_i64().expect("id");
    let listed = get(
        &server,
        &format!("/api/projects/{project}/notifications/{sub}/deliveries"),
    )
    .await;
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(4),
        "{listed}"
    );
    let response = server
        .http
        .post(server.url(&format!(
            "/api/projects/{project}/notification-deliveries/{delivery_id}/redeliver"
        )))
        .send()
        .await
        .expect("redeliver");
    assert_eq!(response.status(), 202);
    let again: Value = response.json().await.expect("json");
    assert_eq!(again["redelivery_of"], delivery_id.as_str());
    let all = receiver.until("pipeline.failed", 5).await;
    let (headers, redelivered, _) = all.last().expect("redelivered");
    assert_eq!(redelivered, body, "the same body");
    assert_eq!(
        header(headers, "x-slipway-delivery"),
        again["id"].as_str().unwrap_or_default()
    );
    assert_eq!(
        header(headers, "x-slipway-signature-256"),
        expected_signature(redelivered)
    );
    // The Settings page's Redeliver does the same through its server function.
    let response = server
        .http
        .post(server.url("/rpc/redeliver_notification"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("repository_id={project}&delivery_id={delivery_id}"))
        .send()
        .await
        .expect("redeliver");
    let status = response.status();
    assert!(
        status.is_success(),
        "{status} {}",
        response.text().await.unwrap_or_default()
    );
    let all = receiver.until("pipeline.failed", 6).await;
    assert_eq!(&all[5].1, body, "the same body again");

    // A repository that turns notifications off sends none; removing the subscription works.
    let response = server
        .http
        .post(server.url("/rpc/set_reporting"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("input[id]={project}&input[checks]=on"))
        .send()
        .await
        .expect("reporting");
    assert!(response.status().is_success());
    let run = trigger(&server, project, "main").await;
    watcher.until(&server, run, &["failed"]).await;
    server.until_reported().await;
    let response = server
        .http
        .delete(server.url(&format!("/api/projects/{project}/notifications/{sub}")))
        .send()
        .await
        .expect("unsubscribe");
    assert_eq!(response.status(), 204);
    assert_eq!(receiver.of("pipeline.failed").len(), 6, "nothing while off");
    let missing = server
        .http
        .get(server.url(&format!(
            "/api/projects/{project}/notifications/{sub}/deliveries"
        )))
        .send()
        .await
        .expect("deliveries");
    assert_eq!(missing.status(), 404);
    server.stop().await;
}
