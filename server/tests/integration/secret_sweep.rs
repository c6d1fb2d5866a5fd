//! Secrets never leak, searched for in every sink at once: on PostgreSQL, S3 and Redis (each
//! signing in with its own secret), after a pull request's pipeline ran a step that uses a
//! repository secret and prints a token-shaped string, its preview's pod crashed printing that
//! string too, and a transform run's Job did both, none of the secrets Slipway holds (the
//! repository secret, the GitHub token, the webhook secret, the metrics token, the database
//! password, the S3 secret key, the Redis password) nor the printed token is in the database,
//! object storage, the bus's messages, the data folder, any API answer or page, what was sent
//! to GitHub, `/metrics`, `check-config`, or Slipway's own log.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::preview_support::{SECRET as WEBHOOK_SECRET, World};
use crate::support::{S3_SECRET_KEY, TestPostgres, TestRedis, TestS3};

const REPOSITORY_SECRET: &str = "sweep-repository-secret-5b1e0c";
/// Token-shaped (as GitHub's personal tokens are): masked though nobody registered it.
const PRINTED: &str = "ghp_SweepPrinted0123456789abcdefABCDEF01";
const GITHUB_TOKEN: &str = "ghp_testtoken";
const METRICS_TOKEN: &str = "sweep-metrics-token-77aa";
const DATABASE_PASSWORD: &str = "sweep-database-password-3c9d41";
const REDIS_PASSWORD: &str = "sweep-redis-password-8e21f0";
const NUMBER: i64 = 9;
const NAMESPACE: &str = "pr-acme-shop-9";

// The token is put together by the shell, so that only what the steps print holds it.
const PLATFORM: &str = r#"
pipeline:
  steps:
    - name: deploy
      image: alpine
      environment:
        API_TOKEN: ${{ secrets.API_TOKEN }}
      commands:
        - echo "using $API_TOKEN"
        - echo "printed ghp_""SweepPrinted0123456789abcdefABCDEF01"
preview:
  app:
    image: registry.example.com/shop:1
    command: [sh, -c, 'echo "boot ghp_""SweepPrinted0123456789abcdefABCDEF01"; exit 3']
    port: 3000
"#;

/// Slipway's own log, as JSON lines, for the whole test process.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

fn secrets() -> [(&'static str, &'static str); 8] {
    [
        ("the repository secret", REPOSITORY_SECRET),
        ("the printed token", PRINTED),
        ("the GitHub token", GITHUB_TOKEN),
        ("the webhook secret", WEBHOOK_SECRET),
        ("the metrics token", METRICS_TOKEN),
        ("the database password", DATABASE_PASSWORD),
        ("the S3 secret key", S3_SECRET_KEY),
        ("the Redis password", REDIS_PASSWORD),
    ]
}

/// The transform run: its Job's step uses the repository secret and prints the token.
const TRANSFORM: &str = r#"name: sweep
repositories: [acme/shop]
steps:
  - name: leak
    image: alpine
    secrets: [API_TOKEN]
    commands:
      - echo "using $API_TOKEN"
      - echo "printed ghp_""SweepPrinted0123456789abcdefABCDEF01"
"#;

/// Every message on the Redis bus while the test runs, as JSON.
fn record_bus(bus: server::bus::RedisBus) -> Arc<Mutex<Vec<String>>> {
    use domain::Bus;
    use futures::StreamExt;
    let heard = Arc::new(Mutex::new(Vec::new()));
    let into = heard.clone();
    tokio::spawn(async move {
        let mut events = bus.subscribe().await.expect("subscribe");
        while let Some(event) = events.next().await {
            let text = serde_json::to_string(&event).expect("json");
            into.lock().expect("lock").push(text);
        }
    });
    heard
}

/// Every file under `folder` (but git mirrors): searched, and counted.
fn sweep_folder(folder: &std::path::Path, found: &mut Vec<String>) -> usize {
    let mut files = 0;
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("a folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "mirrors") {
                    continue;
                }
                pending.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                files += 1;
                found.extend(leaks(&path.display().to_string(), &bytes));
            }
        }
    }
    files
}

/// Every secret found in `text`, named with where it was.
fn leaks(place: &str, text: &[u8]) -> Vec<String> {
    secrets()
        .iter()
        .filter(|(_, value)| text.windows(value.len()).any(|w| w == value.as_bytes()))
        .map(|(name, _)| format!("{name} in {place}"))
        .collect()
}

async fn read(world: &World, path: &str) -> (u16, String) {
    let mut request = world.server.http.get(world.server.url(path));
    if path == "/metrics" {
        request = request.bearer_auth(METRICS_TOKEN);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn no_secret_reaches_any_sink() {
    // Made before Slipway's log is captured: the test's own statement names the password.
    let database = TestPostgres::create_owned(DATABASE_PASSWORD).await;
    let log = Captured::default();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .json()
            .with_env_filter("debug")
            .with_writer(log.clone())
            .finish(),
    )
    .expect("the only subscriber of this test process");

    let s3 = TestS3::start().await;
    let redis = TestRedis::start_with_password(REDIS_PASSWORD).await;
    let bus = server::bus::RedisBus::open(&redis.url().into(), "the test's Redis")
        .await
        .expect("the test listens on the bus");
    let heard = record_bus(bus);
    let mut settings = vec![
        ("SLIPWAY_METRICS_TOKEN", METRICS_TOKEN.to_owned()),
        ("SLIPWAY_DATABASE_URL", database.url.clone()),
        ("SLIPWAY_REDIS_URL", redis.url()),
    ];
    settings.extend(s3.settings());
    let (sim, cluster) = crate::preview_support::start_sim().await;
    let mut world = World::start_on(sim, cluster, &[(".platform.yaml", PLATFORM)], &settings).await;
    let (_, projects) = read(&world, "/api/projects").await;
    let projects: Value = serde_json::from_str(&projects).expect("projects");
    let project = projects["items"][0]["id"].as_i64().expect("a project");
    let put = world
        .server
        .http
        .put(
            world
                .server
                .url(&format!("/api/projects/{project}/secrets/API_TOKEN")),
        )
        .json(&json!({ "value": REPOSITORY_SECRET }))
        .send()
        .await
        .expect("secret");
    assert_eq!(put.status(), 200);

    let sha = world.first_sha.clone();
    let mut runs = crate::pipeline_support::RunWatcher::new(&world.server).await;
    world.pull_request("opened", NUMBER, &sha).await;
    let (_, listed) = read(&world, &format!("/api/pipelines?pull_request={NUMBER}")).await;
    let listed: Value = serde_json::from_str(&listed).expect("runs");
    let run = listed["items"][0]["id"].as_i64().expect("a run");
    let ended = runs
        .until(&world.server, run, &["succeeded", "failed"])
        .await;
    assert_eq!(
        ended["status"], "succeeded",
        "the step had its secret: {ended}"
    );
    let failed = world.until(NAMESPACE, &["failed"], Some(&sha)).await;
    let preview_id = failed["preview"]["id"].as_i64().expect("preview id");
    world.server.until_reported().await;

    let (_, step_log) = read(&world, &format!("/api/pipelines/{run}/steps/deploy/logs")).await;
    assert!(
        step_log.contains("using ***"),
        "the step printed its masked secret: {step_log}"
    );
    assert!(step_log.contains("printed "), "{step_log}");

    // A transform run, as a Job on the cluster.
    let (status, started) = crate::transforms_local::start(&world.server, TRANSFORM).await;
    assert_eq!(status, 201, "{started}");
    let transform = started["id"].as_i64().expect("a transform run");
    crate::transforms_local::until_run(&world.server, transform, crate::transforms_local::finished)
        .await;
    let execution = crate::transforms_local::executions(&world.server, transform).await[0].clone();
    assert_eq!(execution["status"], "no_changes", "{execution}");
    let execution = execution["id"].as_i64().expect("an execution");
    let transform_log = format!("/api/runs/{transform}/executions/{execution}/artifacts/logs.txt");
    let (_, kept) = read(&world, &transform_log).await;
    assert!(
        kept.contains("using ***"),
        "the Job had its masked secret: {kept}"
    );

    let mut found = Vec::new();
    let (_, delivery_list) = read(&world, "/api/deliveries").await;
    let deliveries: Value = serde_json::from_str(&delivery_list).unwrap_or_default();
    let mut paths = vec![
        "/api/projects".to_owned(),
        format!("/api/projects/{project}/pipelines"),
        format!("/api/projects/{project}/notifications"),
        format!("/api/projects/{project}/secrets"),
        "/api/pipelines".to_owned(),
        format!("/api/pipelines/{run}"),
        format!("/api/pipelines/{run}/steps/deploy/logs"),
        "/api/previews".to_owned(),
        format!("/api/previews/{NAMESPACE}"),
        format!("/api/previews/{NAMESPACE}/logs"),
        "/api/deliveries".to_owned(),
        "/api/operator/usage".to_owned(),
        "/api/audit".to_owned(),
        "/metrics".to_owned(),
        "/readyz".to_owned(),
        "/".to_owned(),
        "/pipelines".to_owned(),
        format!("/pipelines/{run}"),
        "/previews".to_owned(),
        format!("/previews/{preview_id}"),
        "/deliveries".to_owned(),
        "/operator".to_owned(),
        "/settings".to_owned(),
        "/settings/members".to_owned(),
        "/api/runs".to_owned(),
        format!("/api/runs/{transform}"),
        format!("/api/runs/{transform}/executions"),
        transform_log,
        format!("/api/runs/{transform}/executions/{execution}/artifacts/summary.json"),
        "/api/transform-queue".to_owned(),
        "/transforms".to_owned(),
        format!("/transforms/{transform}"),
    ];
    for item in deliveries["items"].as_array().into_iter().flatten() {
        if let Some(id) = item["id"].as_str().or(item["delivery_id"].as_str()) {
            paths.push(format!("/api/deliveries/{id}"));
        }
    }
    let mut answered = 0;
    for path in &paths {
        let (status, body) = read(&world, path).await;
        if status == 200 {
            answered += 1;
        } else {
            println!("{path} answered {status}");
        }
        found.extend(leaks(path, body.as_bytes()));
    }
    assert!(
        answered >= paths.len() - 3,
        "most places answered ({answered} of {})",
        paths.len()
    );

    let github = &world.github;
    let sent_to_github = json!({
        "comments": github.comments.lock().expect("lock").values().map(|c| c.body.clone()).collect::<Vec<_>>(),
        "statuses": github.statuses.lock().expect("lock").iter().map(|(_, _, s)| s.clone()).collect::<Vec<_>>(),
        "checks": github.check_runs.lock().expect("lock").values().map(|(_, bodies)| bodies.clone()).collect::<Vec<_>>(),
        "deployments": github.deployment_list().iter().map(|(_, d)| json!({ "body": d.body, "statuses": d.statuses })).collect::<Vec<_>>(),
    });
    assert!(
        sent_to_github.to_string().contains("boot"),
        "the comment quotes the crashed pod's log: {sent_to_github}"
    );
    found.extend(leaks(
        "what was sent to GitHub",
        sent_to_github.to_string().as_bytes(),
    ));
    let config = world.server.slipway(&["check-config"], None).await;
    found.extend(leaks("check-config", config.as_bytes()));

    let data = world.server.stop_keeping_data().await;
    sweep_folder(data.path(), &mut found);
    let objects = sweep_folder(s3.folder(), &mut found);
    assert!(
        objects >= 4,
        "the stored logs and artifacts were searched ({objects} objects)"
    );
    let dump = database.dump();
    assert!(dump.len() > 10_000, "the database holds the runs");
    found.extend(leaks("the database", &dump));
    database.drop_database().await;
    let heard = heard.lock().expect("lock").join("\n");
    assert!(
        heard.contains("using ***"),
        "the bus carried the live log lines"
    );
    found.extend(leaks("the Redis bus", heard.as_bytes()));
    let log = log.0.lock().expect("lock").clone();
    assert!(log.len() > 10_000, "Slipway logged as it worked");
    found.extend(leaks("Slipway's own log", &log));
    assert!(found.is_empty(), "{found:#?}");
}
