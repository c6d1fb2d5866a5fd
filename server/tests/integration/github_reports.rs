//! What a developer sees on the pull request, through signed webhooks, the local runner and
//! the fake GitHub: a pipeline run becomes one check run (as a GitHub App) that moves from
//! queued or in progress to its conclusion, with the steps as a table, links to Slipway and
//! the failing step's last lines redacted; a newer push ends the older check `cancelled`;
//! GitHub's re-run buttons run the pipeline again (every step, or the failed ones); with a
//! plain token the run is a commit status instead; with the budget nearly spent intermediate
//! updates are coalesced and the final one is sent.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use domain::{BusEvent, EntityKind};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::{Value, json};
use server::webhooks::signature::sign;

use crate::fake_github::{self, Fake};
use crate::pipeline_support::{add_project, commit, sample_repository};
use crate::support::TestServer;

const SECRET: &str = "reports-webhook-secret";
const REPOSITORY: &str = "acme/shop";
const API_KEY: &str = "sk_live_reports_0123456789abcdef";

const FAILING: &str = r#"
pipeline:
  steps:
    - name: build
      image: alpine
      commands: ['while [ ! -f GATE ]; do sleep 0.05; done', echo built]
    - name: unit-tests
      image: alpine
      depends_on: [build]
      environment: { API_KEY: "${{ secrets.API_KEY }}" }
      commands:
        - 'i=1; while [ $i -le 50 ]; do echo "test line $i"; i=$((i+1)); done'
        - echo "calling the API with $API_KEY"
        - exit 3
    - name: deploy
      image: alpine
      depends_on: [unit-tests]
      commands: [echo deployed]
"#;

const SLOW: &str = r#"
pipeline:
  steps:
    - name: wait
      image: alpine
      commands: [sleep 120]
"#;

/// Four short steps one after the other: a run with updates worth coalescing. Like
/// [`FAILING`], its first step waits for the test to open the gate.
const STEPS: &str = r#"
pipeline:
  steps:
    - name: one
      image: alpine
      commands: ['while [ ! -f GATE ]; do sleep 0.05; done', sleep 0.3]
    - name: two
      image: alpine
      depends_on: [one]
      commands: [sleep 0.3]
    - name: three
      image: alpine
      depends_on: [two]
      commands: [sleep 0.3]
    - name: four
      image: alpine
      depends_on: [three]
      commands: [sleep 0.3]
"#;

struct Reports {
    server: TestServer,
    github: Arc<Fake>,
    repo: PathBuf,
    first_sha: String,
    /// Steps wait until this file exists.
    gate: PathBuf,
    events: BoxStream<'static, BusEvent>,
    deliveries: u32,
    _dir: tempfile::TempDir,
}

impl Reports {
    /// Slipway as a GitHub App (`app`) or with a token, on a repository holding `platform`.
    async fn start(app: bool, platform: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (url, github) = fake_github::start().await;
        let gate = dir.path().join("gate");
        let platform = platform.replace("GATE", &gate.display().to_string());
        let (repo, first_sha) = sample_repository(dir.path(), &[(".platform.yaml", &platform)]);
        let mut settings = vec![
            ("SLIPWAY_GITHUB_WEBHOOK_SECRET", SECRET.to_owned()),
            ("SLIPWAY_GITHUB_API_URL", url),
        ];
        if app {
            let key = dir.path().join("app.pem");
            let generated = std::process::Command::new("openssl")
                .args(["genrsa", "-traditional", "-out"])
                .arg(&key)
                .arg("2048")
                .output()
                .expect("openssl runs");
            assert!(generated.status.success(), "{generated:?}");
            settings.push(("SLIPWAY_GITHUB_APP_ID", "42".to_owned()));
            settings.push((
                "SLIPWAY_GITHUB_APP_PRIVATE_KEY_FILE",
                key.display().to_string(),
            ));
        } else {
            settings.push(("SLIPWAY_GITHUB_TOKEN", "ghp_testtoken".to_owned()));
        }
        let server = TestServer::start(&settings).await;
        let project = add_project(&server, REPOSITORY, &repo).await;
        let response = server
            .http
            .put(server.url(&format!("/api/projects/{project}/secrets/API_KEY")))
            .json(&json!({ "value": API_KEY }))
            .send()
            .await
            .expect("secret");
        assert!(response.status().is_success(), "{response:?}");
        let events = server.running.adapters.bus.subscribe().await.expect("bus");
        Self {
            server,
            github,
            repo,
            first_sha,
            gate,
            events,
            deliveries: 0,
            _dir: dir,
        }
    }

    /// Lets the waiting steps go on.
    fn open_gate(&self) {
        std::fs::write(&self.gate, "open").expect("gate");
    }

    /// Sends a signed delivery and waits until the worker processed it; its note.
    async fn deliver(&mut self, event: &str, payload: &Value) -> Option<String> {
        self.deliveries += 1;
        let id = format!("reports-delivery-{}", self.deliveries);
        let body = serde_json::to_vec(payload).expect("body");
        let response = self
            .server
            .http
            .post(self.server.url("/webhooks/github"))
            .header("x-github-delivery", &id)
            .header("x-github-event", event)
            .header("x-hub-signature-256", sign(SECRET, &body))
            .body(body)
            .send()
            .await
            .expect("delivery");
        assert_eq!(response.status(), 202);
        let events = &mut self.events;
        let processed = async {
            loop {
                match events.next().await {
                    Some(BusEvent::Changed {
                        entity: EntityKind::Delivery,
                        id: changed,
                        ..
                    }) if changed == id => return,
                    Some(_) => {}
                    None => panic!("the bus ended"),
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), processed)
            .await
            .expect("the delivery is processed");
        let (delivery, _) = self
            .server
            .running
            .adapters
            .store
            .get_delivery(&id)
            .await
            .expect("delivery");
        delivery.error
    }

    async fn pull_request(&mut self, action: &str, sha: &str) -> Option<String> {
        let mut payload = example("pull_request.opened.payload.json");
        payload["action"] = action.into();
        payload["number"] = 7.into();
        let pr = &mut payload["pull_request"];
        pr["number"] = 7.into();
        pr["head"]["ref"] = "feature".into();
        pr["head"]["sha"] = sha.into();
        pr["head"]["repo"]["full_name"] = REPOSITORY.into();
        pr["base"]["ref"] = "main".into();
        pr["updated_at"] = format!("2026-11-25T10:{:02}:00Z", self.deliveries).into();
        payload["repository"]["full_name"] = REPOSITORY.into();
        self.deliver("pull_request", &payload).await
    }

    /// Waits until a check run of `sha` has ended; its id and every body sent for it.
    async fn completed_check(&self, sha: &str) -> (u64, Vec<Value>) {
        let done = |fake: &Fake| {
            fake.checks_of(sha)
                .iter()
                .any(|(_, bodies)| last(bodies)["status"] == "completed")
        };
        self.github
            .until(&format!("a completed check run on {sha}"), done)
            .await;
        let checks = self.github.checks_of(sha);
        assert_eq!(checks.len(), 1, "one check run per run: {checks:?}");
        checks.into_iter().next().expect("check")
    }
}

fn example(name: &str) -> Value {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github-payloads")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).expect("example payload")).expect("json")
}

fn last(bodies: &[Value]) -> &Value {
    bodies.last().expect("a body")
}

fn statuses(bodies: &[Value]) -> Vec<String> {
    bodies
        .iter()
        .map(|b| b["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_pull_request_s_pipeline_is_one_check_run_with_its_steps_and_failing_lines() {
    let mut world = Reports::start(true, FAILING).await;
    let sha = world.first_sha.clone();
    world.pull_request("opened", &sha).await;
    world
        .github
        .until("the run in progress", |fake| {
            fake.checks_of(&sha)
                .iter()
                .any(|(_, bodies)| last(bodies)["status"] == "in_progress")
        })
        .await;
    world.open_gate();
    let (check, bodies) = world.completed_check(&sha).await;

    let created = &bodies[0];
    assert_eq!(created["name"], "slipway/pipeline");
    assert_eq!(created["head_sha"], sha.as_str());
    let run: i64 = created["external_id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("external_id names the run");
    let run_url = world.server.url(&format!("/pipelines/{run}"));
    assert_eq!(created["details_url"], run_url.as_str());
    let seen = statuses(&bodies);
    assert_eq!(
        seen.last().map(String::as_str),
        Some("completed"),
        "{seen:?}"
    );
    let running = &bodies[seen
        .iter()
        .position(|s| s == "in_progress")
        .expect("shown running")];
    assert!(
        running["output"]["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("Running: 0 of 3 steps done")),
        "{running}"
    );
    assert!(running.get("conclusion").is_none());

    let done = last(&bodies);
    assert_eq!(done["conclusion"], "failure");
    assert!(done["completed_at"].as_str().is_some());
    let title = done["output"]["title"].as_str().unwrap_or_default();
    assert!(title.starts_with("Failed"), "{title}");
    assert!(title.contains("unit-tests"), "{title}");
    let summary = done["output"]["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains(&format!("| [build]({run_url}?step=build) | ✅ Succeeded |")),
        "{summary}"
    );
    assert!(
        summary.contains("❌ Failed (exit code 3)"),
        "the failing step and its exit code: {summary}"
    );
    assert!(summary.contains("| [deploy]"), "{summary}");
    assert!(summary.contains("⏭️ Skipped"), "{summary}");
    assert!(summary.contains("### Last lines of `unit-tests`"));
    assert!(summary.contains("test line 50"), "{summary}");
    assert!(
        summary.contains("calling the API with"),
        "the last line: {summary}"
    );
    assert!(
        !summary.contains(API_KEY),
        "the secret is not on GitHub: {summary}"
    );
    assert!(
        !summary.contains("test line 10\n"),
        "only the last lines: {summary}"
    );
    assert_eq!(done["actions"][0]["identifier"], "rerun-failed");

    // "Re-run failed steps" on GitHub: a new run of the failed steps only, with its own check.
    let mut request = json!({
        "action": "requested_action",
        "requested_action": { "identifier": "rerun-failed" },
        "check_run": { "id": check, "name": "slipway/pipeline", "external_id": run.to_string(), "head_sha": sha },
        "repository": { "full_name": REPOSITORY },
    });
    let note = world.deliver("check_run", &request).await;
    assert!(
        note.as_deref()
            .is_some_and(|n| n.contains("failed steps of run")),
        "{note:?}"
    );
    let retried = |fake: &Fake| {
        fake.checks_of(&sha).len() == 2
            && fake
                .checks_of(&sha)
                .iter()
                .all(|(_, bodies)| last(bodies)["status"] == "completed")
    };
    world.github.until("the retried run's check", retried).await;
    let second = world
        .github
        .checks_of(&sha)
        .into_iter()
        .find(|(id, _)| *id != check)
        .expect("a second check run");
    let summary = last(&second.1)["output"]["summary"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        summary.contains(&format!("Retry of run #{run}")),
        "{summary}"
    );
    let retry: Value = world
        .server
        .http
        .get(world.server.url(&format!(
            "/api/pipelines/{}",
            last(&second.1)["external_id"].as_str().unwrap_or_default()
        )))
        .send()
        .await
        .expect("run")
        .json()
        .await
        .expect("json");
    assert_eq!(retry["trigger_detail"], "failed steps", "{retry}");
    assert_eq!(retry["retry_of"], run);

    // "Re-run" on GitHub: every step again.
    request["action"] = "rerequested".into();
    let note = world.deliver("check_run", &request).await;
    assert!(
        note.as_deref().is_some_and(|n| n.contains("every step")),
        "{note:?}"
    );
    // Someone else's check, and an action Slipway does not offer, ask nothing.
    request["check_run"]["name"] = "ci/other".into();
    let note = world.deliver("check_run", &request).await;
    assert_eq!(note.as_deref(), Some("the check run is not Slipway's"));
    world.server.stop().await;
}

#[tokio::test]
async fn a_newer_push_ends_the_older_check_cancelled_and_re_run_all_runs_the_commit_again() {
    let mut world = Reports::start(true, SLOW).await;
    world.open_gate();
    let first = world.first_sha.clone();
    world.pull_request("opened", &first).await;
    world
        .github
        .until("the slow run in progress", |fake| {
            fake.checks_of(&first)
                .iter()
                .any(|(_, bodies)| last(bodies)["status"] == "in_progress")
        })
        .await;
    let faster = STEPS.replace("GATE", &world.gate.display().to_string());
    let (_, newer) = commit(
        &world.repo,
        &[(".platform.yaml", &faster)],
        "faster pipeline",
    );
    world.pull_request("synchronize", &newer).await;
    let (_, bodies) = world.completed_check(&first).await;
    assert_eq!(last(&bodies)["conclusion"], "cancelled");
    let (_, bodies) = world.completed_check(&newer).await;
    assert_eq!(last(&bodies)["conclusion"], "success");
    let title = last(&bodies)["output"]["title"]
        .as_str()
        .unwrap_or_default();
    assert!(title.starts_with("Succeeded"), "{title}");

    // "Re-run all checks" on the newer commit's suite.
    let request = json!({
        "action": "rerequested",
        "check_suite": { "head_sha": newer, "head_branch": "feature" },
        "repository": { "full_name": REPOSITORY },
    });
    let note = world.deliver("check_suite", &request).await;
    assert!(
        note.as_deref().is_some_and(|n| n.contains("every step")),
        "{note:?}"
    );
    world
        .github
        .until("a second check on the newer commit", |fake| {
            fake.checks_of(&newer).len() == 2
        })
        .await;
    world.server.stop().await;
}

#[tokio::test]
async fn with_a_token_the_run_is_a_commit_status() {
    let mut world = Reports::start(false, STEPS).await;
    let sha = world.first_sha.clone();
    world.pull_request("opened", &sha).await;
    let pipeline_statuses = |fake: &Fake| -> Vec<Value> {
        fake.statuses
            .lock()
            .expect("lock")
            .iter()
            .filter(|(_, s, status)| *s == sha && status["context"] == "slipway/pipeline")
            .map(|(_, _, status)| status.clone())
            .collect()
    };
    world
        .github
        .until("a pending pipeline status", |fake| {
            pipeline_statuses(fake)
                .last()
                .is_some_and(|s| s["state"] == "pending")
        })
        .await;
    world.open_gate();
    world
        .github
        .until("a successful pipeline status", |fake| {
            pipeline_statuses(fake)
                .last()
                .is_some_and(|s| s["state"] == "success")
        })
        .await;
    let seen = pipeline_statuses(&world.github);
    assert_eq!(seen[0]["state"], "pending");
    let last = seen.last().expect("status");
    assert!(
        last["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Succeeded")),
        "{last}"
    );
    assert!(
        last["target_url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&world.server.url("/pipelines/"))),
        "{last}"
    );
    assert!(
        world.github.check_runs.lock().expect("lock").is_empty(),
        "a token makes no check runs"
    );
    world.server.stop().await;
}

#[tokio::test]
async fn with_the_budget_nearly_spent_updates_are_coalesced_and_the_last_is_sent() {
    let mut world = Reports::start(true, STEPS).await;
    world.open_gate();
    let first = world.first_sha.clone();
    world.pull_request("opened", &first).await;
    let (_, full_budget) = world.completed_check(&first).await;
    assert_eq!(last(&full_budget)["conclusion"], "success");

    // 100 of 5,000 requests left: below a tenth.
    world
        .github
        .remaining
        .store(100, std::sync::atomic::Ordering::SeqCst);
    let (_, second) = commit(&world.repo, &[("README.md", "again")], "again");
    world.pull_request("synchronize", &second).await;
    let (_, low_budget) = world.completed_check(&second).await;
    assert_eq!(last(&low_budget)["conclusion"], "success");
    let summary = last(&low_budget)["output"]["summary"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        summary.matches("✅ Succeeded").count(),
        4,
        "the final report is whole: {summary}"
    );
    println!(
        "check run writes per 4-step run: {} with a full budget, {} with a low one",
        full_budget.len(),
        low_budget.len()
    );
    assert!(
        low_budget.len() < full_budget.len(),
        "fewer writes with a low budget: {} ≥ {}",
        low_budget.len(),
        full_budget.len()
    );
    assert!(
        low_budget.len() <= 3,
        "created, at most one update in between, and the final one: {:?}",
        statuses(&low_budget)
    );
    world.server.stop().await;
}

/// Sets what is reported about `acme/shop` through the Settings page's server function.
async fn set_reporting(server: &TestServer, fields: &str) {
    let repositories: Value = server
        .http
        .get(server.url("/api/projects"))
        .send()
        .await
        .expect("projects")
        .json()
        .await
        .expect("json");
    let id = repositories["items"]
        .as_array()
        .and_then(|list| list.iter().find(|r| r["name"] == REPOSITORY))
        .and_then(|r| r["id"].as_i64())
        .expect("the repository");
    let response = server
        .http
        .post(server.url("/rpc/set_reporting"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("input[id]={id}&{fields}"))
        .send()
        .await
        .expect("set reporting");
    assert!(response.status().is_success(), "{response:?}");
}

#[tokio::test]
async fn a_repository_that_turns_checks_off_gets_none() {
    let mut world = Reports::start(true, STEPS).await;
    world.open_gate();
    set_reporting(&world.server, "input[deployments]=on&input[comment]=on").await;
    let first = world.first_sha.clone();
    world.pull_request("opened", &first).await;
    let mut watcher = crate::pipeline_support::RunWatcher::new(&world.server).await;
    let runs: Value = world
        .server
        .http
        .get(world.server.url("/api/pipelines?pull_request=7"))
        .send()
        .await
        .expect("runs")
        .json()
        .await
        .expect("json");
    let run = runs["items"][0]["id"].as_i64().expect("a run");
    watcher.until(&world.server, run, &["succeeded"]).await;

    // Turned on again, the next push gets its check; the earlier run still has none.
    set_reporting(
        &world.server,
        "input[checks]=on&input[deployments]=on&input[comment]=on",
    )
    .await;
    let (_, second) = commit(&world.repo, &[("README.md", "again")], "again");
    world.pull_request("synchronize", &second).await;
    world.completed_check(&second).await;
    assert!(
        world.github.checks_of(&first).is_empty(),
        "no check for the run made while checks were off"
    );
    world.server.stop().await;
}

#[tokio::test]
async fn a_run_its_on_section_discards_leaves_nothing_on_the_commit() {
    let only_main = "pipeline:\n  steps:\n    - name: check\n      image: alpine\n      commands: [echo checked]\n  on:\n    push:\n      branches: [main]\n";
    let mut world = Reports::start(true, only_main).await;
    let sha = world.first_sha.clone();
    world.pull_request("opened", &sha).await;
    let events = &mut world.events;
    let discarded = async {
        loop {
            match events.next().await {
                Some(BusEvent::Changed {
                    entity: EntityKind::Pipeline,
                    status,
                    ..
                }) if status == "discarded" => return,
                Some(_) => {}
                None => panic!("the bus ended"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), discarded)
        .await
        .expect("the run is discarded");
    world.server.until_reported().await;
    let runs: Value = world
        .server
        .http
        .get(world.server.url("/api/pipelines"))
        .send()
        .await
        .expect("runs")
        .json()
        .await
        .expect("json");
    assert_eq!(runs["items"], json!([]), "the run was discarded");
    assert!(world.github.checks_of(&sha).is_empty(), "no check run");
    world.server.stop().await;
}
