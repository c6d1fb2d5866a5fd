//! Secrets never leak, searched for in every sink at once: after a pull request's pipeline ran
//! a step that uses a repository secret and prints a token-shaped string, and its preview's pod
//! crashed printing that string too, none of the secrets Slipway holds (the repository secret,
//! the GitHub token, the webhook secret, the metrics token) nor the printed token is in the
//! database or object files, any API answer or page, what was sent to GitHub, `/metrics`,
//! `check-config`, or Slipway's own log.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::preview_support::{SECRET as WEBHOOK_SECRET, World};

const REPOSITORY_SECRET: &str = "sweep-repository-secret-5b1e0c";
/// Token-shaped (as GitHub's personal tokens are): masked though nobody registered it.
const PRINTED: &str = "ghp_SweepPrinted0123456789abcdefABCDEF01";
const GITHUB_TOKEN: &str = "ghp_testtoken";
const METRICS_TOKEN: &str = "sweep-metrics-token-77aa";
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

fn secrets() -> [(&'static str, &'static str); 5] {
    [
        ("the repository secret", REPOSITORY_SECRET),
        ("the printed token", PRINTED),
        ("the GitHub token", GITHUB_TOKEN),
        ("the webhook secret", WEBHOOK_SECRET),
        ("the metrics token", METRICS_TOKEN),
    ]
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
    let log = Captured::default();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .json()
            .with_env_filter("debug")
            .with_writer(log.clone())
            .finish(),
    )
    .expect("the only subscriber of this test process");

    let (sim, cluster) = crate::preview_support::start_sim().await;
    let mut world = World::start_on(
        sim,
        cluster,
        &[(".platform.yaml", PLATFORM)],
        &[("SLIPWAY_METRICS_TOKEN", METRICS_TOKEN.to_owned())],
    )
    .await;
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
    let mut files = 0;
    let mut pending = vec![data.path().to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("a data folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "mirrors") {
                    continue;
                }
                pending.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                // (SQLite's -shm and -wal files may go as the database closes.)
                files += 1;
                found.extend(leaks(&path.display().to_string(), &bytes));
            }
        }
    }
    assert!(
        files >= 3,
        "the database and the stored logs were searched ({files} files)"
    );
    let log = log.0.lock().expect("lock").clone();
    assert!(log.len() > 10_000, "Slipway logged as it worked");
    found.extend(leaks("Slipway's own log", &log));
    assert!(found.is_empty(), "{found:#?}");
}
