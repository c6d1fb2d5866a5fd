//! Dependencies failing under a running Slipway, through the [`FaultProxy`]: PostgreSQL slow,
//! its connections reset in the middle of work, refused and black-holed, and object storage
//! unreachable while a step's log is being written; and the Kubernetes API throttling and
//! failing, and GitHub answering 502, while a preview deploys. Slipway recovers without a restart, says
//! what is down meanwhile (`/readyz`), and loses nothing: every delivery is processed once,
//! every run it started ends, every log line is stored once, in order.

use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use server::webhooks::signature::sign;

use crate::fault_proxy::FaultProxy;
use crate::pipeline_support::{
    RunWatcher, add_project, commit, log_text, sample_repository, trigger,
};
use crate::support::{TestPostgres, TestS3, TestServer, check_named, within};

const SECRET: &str = "faults-webhook-secret";

const ON_PUSH: &str = r#"
pipeline:
  steps:
    - name: check
      image: alpine
      commands: [echo "checked $COMMIT_SHA"]
  on:
    push:
      branches: [main]
"#;

/// `url` with its host and port replaced by `address`.
fn through(url: &str, address: &str) -> String {
    let mut url = url::Url::parse(url).expect("url");
    let (host, port) = address.split_once(':').expect("host:port");
    url.set_host(Some(host)).expect("host");
    url.set_port(Some(port.parse().expect("port")))
        .expect("port");
    url.to_string()
}

/// `host:port` of `url`.
fn address_of(url: &str) -> String {
    let url = url::Url::parse(url).expect("url");
    format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port_or_known_default().expect("port")
    )
}

/// Waits until `/readyz` reports the dependency `name` as answering (`ok`) or not; returns
/// the readiness status code and document.
async fn until_ready_says(server: &TestServer, name: &str, ok: bool) -> (u16, Value) {
    within(&format!("/readyz to say {name} is ok={ok}"), async {
        loop {
            let (status, readiness) = server.readiness().await;
            if check_named(&readiness, name)["ok"] == ok {
                return (status, readiness);
            }
            // Each look takes up to the readiness check's own 2 s bound; a short pause keeps a
            // quick "no" from spinning.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
}

/// A push of `sha` to main as GitHub sends it, signed.
fn push(sha: &str) -> Vec<u8> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github-payloads/push.payload.json");
    let mut payload: Value =
        serde_json::from_slice(&std::fs::read(path).expect("example")).expect("json");
    payload["ref"] = "refs/heads/main".into();
    payload["after"] = sha.into();
    payload["deleted"] = false.into();
    payload["repository"]["full_name"] = "acme/shop".into();
    serde_json::to_vec(&payload).expect("body")
}

/// Sends delivery `id` until Slipway accepts it (`202`), as GitHub's redelivery would after an
/// error answer; returns how many answers were errors.
async fn deliver_until_accepted(server: &TestServer, id: &str, body: &[u8]) -> u32 {
    let mut refused = 0;
    loop {
        let answer = server
            .anonymous
            .post(server.url("/webhooks/github"))
            .header("content-type", "application/json")
            .header("x-github-delivery", id)
            .header("x-github-event", "push")
            .header("x-hub-signature-256", sign(SECRET, body))
            .body(body.to_vec())
            .send()
            .await
            .expect("Slipway answers");
        match answer.status().as_u16() {
            202 => return refused,
            // A delivery already recorded (the first answer was lost) is a success too.
            200 => return refused,
            status if status >= 500 && refused < 20 => refused += 1,
            status => panic!(
                "delivery {id} answered {status}: {}",
                answer.text().await.unwrap_or_default()
            ),
        }
    }
}

async fn get_json(server: &TestServer, path: &str) -> Value {
    let response = server.http.get(server.url(path)).send().await.expect("get");
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.expect("json")
}

#[tokio::test]
async fn postgres_connections_reset_mid_work_lose_no_delivery_and_start_no_run_twice() {
    // Slipway's warnings say what it went through; shown when the test fails.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn,sqlx=error")
        .with_test_writer()
        .try_init();
    let database = TestPostgres::create().await;
    let proxy = FaultProxy::start(&address_of(&database.url)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(dir.path(), &[(".platform.yaml", ON_PUSH)]);
    let server = TestServer::start(&[
        (
            "SLIPWAY_DATABASE_URL",
            through(&database.url, &proxy.address()),
        ),
        ("SLIPWAY_GITHUB_WEBHOOK_SECRET", SECRET.into()),
    ])
    .await;
    add_project(&server, "acme/shop", &repo).await;

    // Twenty pushes, each of its own commit; every fifth one, all of Slipway's database
    // connections are reset while it is recording and processing the others.
    const PUSHES: usize = 20;
    let mut shas = Vec::new();
    for n in 0..PUSHES {
        let (_, sha) = commit(&repo, &[("counter", &n.to_string())], &format!("push {n}"));
        shas.push(sha);
    }
    // The first half goes through a slow network (20 ms before every chunk either way).
    proxy.delay(Duration::from_millis(20));
    let mut error_answers = 0;
    for (n, sha) in shas.iter().enumerate() {
        if n == PUSHES / 2 {
            proxy.heal();
        }
        if n % 5 == 4 {
            proxy.cut();
        }
        error_answers += deliver_until_accepted(&server, &format!("push-{n}"), &push(sha)).await;
    }

    // Then the database refuses connections for a while, then stops answering on them:
    // readiness says so each time, and work waits.
    proxy.refuse();
    let (status, down) = until_ready_says(&server, "store", false).await;
    assert_eq!(
        (status, &down["ready"]),
        (503, &Value::Bool(false)),
        "{down}"
    );
    proxy.heal();
    until_ready_says(&server, "store", true).await;
    proxy.black_hole();
    let (_, silent) = until_ready_says(&server, "store", false).await;
    assert_eq!(
        check_named(&silent, "store")["error"],
        "no answer within 2 s",
        "{silent}"
    );
    proxy.heal();
    until_ready_says(&server, "store", true).await;

    // Every delivery is processed, once; every push started exactly one run, and each ended.
    // Work a reset connection interrupted is taken over once its lease (10 s) runs out. Each
    // delivery processed and each run's change is announced on the bus: look again at each.
    let mut changes = server.running.adapters.bus.subscribe().await.expect("bus");
    let settle = async {
        loop {
            let deliveries = get_json(&server, "/api/deliveries?limit=100").await;
            let runs = get_json(&server, "/api/pipelines?limit=100").await;
            let items = |v: &Value| v["items"].as_array().cloned().unwrap_or_default();
            let all_processed = items(&deliveries).len() == PUSHES
                && items(&deliveries)
                    .iter()
                    .all(|d| d["status"] == "processed");
            let all_ended = items(&runs)
                .iter()
                .all(|r| !matches!(r["status"].as_str(), Some("pending" | "running")));
            if all_processed && all_ended && items(&runs).len() >= PUSHES {
                return (items(&deliveries), items(&runs));
            }
            changes.next().await.expect("the bus is open");
        }
    };
    let Ok((deliveries, runs)) = tokio::time::timeout(Duration::from_secs(90), settle).await else {
        let summary = |v: Value, field: &str| -> Vec<String> {
            let items = v["items"].as_array().cloned().unwrap_or_default();
            items
                .iter()
                .map(|i| format!("{} {}", i[field], i["status"]))
                .collect()
        };
        panic!(
            "not settled within 90 s:\ndeliveries {:?}\nruns {:?}",
            summary(
                get_json(&server, "/api/deliveries?limit=100").await,
                "delivery_id"
            ),
            summary(
                get_json(&server, "/api/pipelines?limit=100").await,
                "commit_sha"
            ),
        );
    };
    let mut ran: Vec<&str> = runs
        .iter()
        .filter_map(|r| r["commit_sha"].as_str())
        .collect();
    ran.sort_unstable();
    let mut pushed: Vec<&str> = shas.iter().map(String::as_str).collect();
    pushed.sort_unstable();
    assert_eq!(ran, pushed, "one run per push, none twice");
    assert!(
        runs.iter().all(|r| r["status"] == "succeeded"),
        "every run succeeded: {runs:?}"
    );
    let taken_again = deliveries
        .iter()
        .filter(|d| d["attempts"].as_i64().unwrap_or(1) > 1)
        .count();
    println!(
        "faults: {PUSHES} deliveries ({error_answers} error answers redelivered, {taken_again} \
         processed again after a reset), {} runs",
        runs.len()
    );
    server.stop().await;
    drop(proxy);
    database.drop_database().await;
}

#[tokio::test]
async fn a_step_log_written_while_object_storage_is_unreachable_is_stored_whole_when_it_returns() {
    let s3 = TestS3::start().await;
    let proxy = FaultProxy::start(&address_of(&s3.endpoint)).await;
    let mut settings = s3.settings();
    for (name, value) in &mut settings {
        if *name == "SLIPWAY_S3_ENDPOINT" {
            *value = format!("http://{}", proxy.address());
        }
    }
    let gate = tempfile::tempdir().expect("gate dir");
    let opened = gate.path().join("open");
    let platform = format!(
        "pipeline:\n  steps:\n    - name: talk\n      image: alpine\n      commands:\n        - seq -f 'line-%g' 1 300\n        - 'until [ -e {} ]; do sleep 0.05; done'\n        - seq -f 'line-%g' 301 600\n",
        opened.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = sample_repository(dir.path(), &[(".platform.yaml", &platform)]);
    let server = TestServer::start(&settings).await;
    let project = add_project(&server, "acme/talk", &repo).await;
    let mut watcher = RunWatcher::new(&server).await;
    let id = trigger(&server, project, "main").await;
    watcher.until_log_line(id, "talk", "line-300").await;

    // Object storage goes away while the step still prints; the step ends meanwhile.
    proxy.refuse();
    until_ready_says(&server, "objects", false).await;
    std::fs::write(&opened, "").expect("open the gate");
    watcher.until_log_line(id, "talk", "line-600").await;
    let waiting = get_json(&server, &format!("/api/pipelines/{id}")).await;
    assert_eq!(
        waiting["status"], "running",
        "the run waits for its log to be stored"
    );

    proxy.heal();
    let run = watcher.until(&server, id, &["succeeded", "failed"]).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    until_ready_says(&server, "objects", true).await;
    let stored = log_text(&server, id, "talk").await;
    let lines: Vec<&str> = stored
        .lines()
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("line-")))
        .collect();
    let expected: Vec<String> = (1..=600).map(|n| format!("line-{n}")).collect();
    assert_eq!(lines, expected, "every line stored once, in order");
    server.stop().await;
}

/// The Kubernetes API throttling (429 with `Retry-After`) and failing (500, 503) while a
/// preview deploys, and GitHub answering 502 while Slipway reports it: the preview still runs
/// at its commit, with one sticky comment saying so and a `success` status, and one deploy
/// attempt.
#[tokio::test]
async fn a_preview_comes_out_right_while_kubernetes_throttles_and_github_answers_502() {
    use std::sync::atomic::Ordering;
    let mut world = crate::preview_support::World::start(
        &[(
            ".platform.yaml",
            crate::preview_support::PIPELINE_AND_PREVIEW,
        )],
        &[],
    )
    .await;
    let ns = "pr-acme-shop-7";
    world
        .sim
        .sim()
        .knobs
        .fail_next(&[429, 500, 503, 429, 500, 429, 503, 500, 429, 500, 429, 503]);
    world.github.bad_gateway_next.store(6, Ordering::SeqCst);
    let sha = world.first_sha.clone();
    world.pull_request("opened", 7, &sha).await;
    let detail = world.until(ns, &["running"], Some(&sha)).await;
    let attempts = detail["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "one attempt, retried inside: {detail}");
    world
        .until_github("the success status and the comment", |w| {
            w.statuses(&sha).last().map(String::as_str) == Some("success")
                && w.comments(7).iter().any(|c| c.contains("Ready"))
        })
        .await;
    assert_eq!(world.comments(7).len(), 1, "{:?}", world.comments(7));
    assert_eq!(
        world.github.bad_gateway_next.load(Ordering::SeqCst),
        0,
        "GitHub answered 502 to Slipway's first requests"
    );
}
